// Who may act for everyone: the database roles that stand above RLS, and the
// operator who stands above the extension's own rules.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// Whether the current database role is a superuser or has the privileges of
// Supabase's service_role (when that role exists). These callers bypass RLS
// and may use every administrative function.
bool caller_is_service();

// Whether the current database role is the operator: a superuser, or a role
// with the privileges of the extension's owner (the role that ran CREATE
// EXTENSION; `postgres` on Supabase). Only the operator may undo what the
// extension's rules make final: a revoked API key, a built-in role's name.
bool caller_is_operator();

// Whether a write to `relation` is a restore: pg_dump scripts and
// pg_restore set row_security = off, which makes an RLS-bound role's
// statements on iam's tables fail; so rows written with row_security off by
// a superuser or the table's owner are reloaded as they were, neither
// audited nor held to the write rules.
bool is_restore(Relation relation);

}  // namespace iam::pg
