// Who may act for everyone: the database roles that stand above RLS.
#pragma once

#include "postgres.hpp"

namespace iam::pg {

// Whether the current database role is a superuser or has the privileges of
// Supabase's service_role (when that role exists). These callers bypass RLS
// and may use every administrative function.
bool caller_is_service();

}  // namespace iam::pg
