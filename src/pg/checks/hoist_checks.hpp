// Hoisting iam's checks out of the per-row path.
//
// A policy such as
//   USING (owner = iam.current_user_id() OR iam.has_role('platform_admin'))
// calls both functions once per row. Their arguments are constants and they
// are STABLE, so their answers cannot change within the statement, but
// PostgreSQL evaluates them once only when the policy is written with the
// (SELECT ...) wrapping trick, which makes each call an InitPlan. A planner
// hook does that wrapping for the user: a call of one of the extension's
// STABLE C functions whose arguments are all constants, in a WHERE clause, a
// row security qualification or a WITH CHECK option, is planned as
// (SELECT <call>). The per-call-site cache (src/pg/checks/call_site.hpp) still serves
// the calls that stay per row. The setting iam.hoist_checks turns it off.
#pragma once

namespace iam::pg {

// Defines iam.hoist_checks and installs the planner hook; from _PG_init.
void install_planner_hook();

}  // namespace iam::pg
