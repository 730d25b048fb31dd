// Who may act for everyone: the database roles that stand above RLS, and the
// operator who stands above the extension's own rules.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// Whether the current database role is a superuser or has the privileges of
// Supabase's service_role (when that role exists). These callers bypass RLS
// and may use every administrative function.
bool caller_is_service();

// Whether the session is the service role (as above) or the operator: a
// superuser, or a role with the privileges of the extension's owner (the
// role that ran CREATE EXTENSION; `postgres` on Supabase), the only one who
// may undo what the rules make final. Both are asked of who is really in
// the session: the session
// user, or the role it SET ROLE to (GetOuterUserId), never the role a
// SECURITY DEFINER function or the extension's own statements run as. The
// write rules, the key scope, the audit trail and the restore shortcut ask
// these: running as the tables' owner makes nobody the operator.
bool session_is_service();
bool session_is_operator();

// Who stands above the write rules: the operator in the session, and the
// extension's own bookkeeping (statements its C code runs as the tables'
// owner, src/pg/platform/spi.hpp), which writes only what it is for.
bool stands_above_rules();

// Whether a write is a restore: pg_dump scripts and pg_restore set
// row_security = off, which makes an RLS-bound role's statements on iam's
// tables fail; so rows written with row_security off by the operator in
// the session are reloaded as they were, neither audited nor held to the
// write rules. The extension's own statements pin row_security on, and a
// SECURITY DEFINER function or a client's SET row_security = off makes no
// restore of a session that is not the operator's.
bool is_restore(Relation relation);

}  // namespace iam::pg
