// The rules that hold whichever way a row of iam's tables is written:
// through the extension's functions, PostgREST's table endpoints or plain
// SQL. Each rule is a trigger, so that no path can skip it; the functions'
// own checks only give an earlier, clearer message. One file per table's
// rules, in src/pg/rules/:
//
//   key_permission.cpp       iam.require_key_permission(): BEFORE ... FOR
//       EACH STATEMENT, every table a client may write: a request
//       authenticated by an API key writes iam's tables only with the
//       permission "iam:<table>:write"; on a Citus worker nobody writes
//       them, and on a coordinator the write waits for the workers
//       (src/pg/platform/citus.hpp).
//   api_key_rules.cpp        iam.guard_api_key(): BEFORE INSERT OR UPDATE on
//       api_keys, and the setting iam.max_api_keys_per_owner.
//   referral_code_rules.cpp  iam.guard_referral_code(): BEFORE INSERT OR
//       UPDATE on referral_codes.
//   referral_rules.cpp       iam.guard_referral(): BEFORE INSERT OR UPDATE
//       on referrals.
//   role_rules.cpp           iam.guard_role(): BEFORE UPDATE OR DELETE on
//       roles.
//
// Their trigger plumbing is in trigger_rows.hpp; this header holds what
// else they share.
//
// The operator (a superuser, or the extension's owner, in the session: see
// session_is_operator) stands above these rules, and so does the extension's
// own bookkeeping, the statements its C code runs as the tables' owner; a
// restore (see is_restore) reloads rows as they were. Running as the tables'
// owner otherwise, in a SECURITY DEFINER function on a caller's behalf, is
// held to them like the caller.
#pragma once

#include "pg/boundary/postgres.hpp"
#include "pg/checks/call_site.hpp"

#include "core/error.hpp"

#include <string>

namespace iam::pg {

// Defines iam.max_api_keys_per_owner (from _PG_init; api_key_rules.cpp).
void define_write_rule_settings();

// A rule refuses the write with insufficient_privilege.
[[noreturn]] inline void refuse(const std::string& message, const std::string& hint = {}) {
    throw iam::Error(iam::sqlstate::insufficient_privilege, message, {}, hint);
}

// Whether the signed-in caller holds the role platform_admin.
bool caller_is_platform_admin();

}  // namespace iam::pg
