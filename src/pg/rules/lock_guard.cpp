// LOCK TABLE on iam's tables. A role with DELETE on a table may lock it in
// any mode (PostgreSQL's LockTableAclCheck), and the API roles need DELETE on
// iam.user_roles to revoke roles; an ACCESS EXCLUSIVE lock there would stall
// every role check until its transaction ends. So while iam_ext is loaded
// in a backend, a lock stronger than ACCESS SHARE on a table of schema iam
// is for the table's owner, superusers and the service role only. Loaded
// from shared_preload_libraries or session_preload_libraries, that is every
// session; otherwise a session that has not called the extension yet.
//
// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/rules/lock_guard.hpp"

#include "pg/boundary/postgres.hpp"
#include "pg/identity/privileges.hpp"

extern "C" {
#include "tcop/utility.h"
}

namespace iam::pg {
namespace {

ProcessUtility_hook_type previous_utility_hook = nullptr;

void refuse_strong_locks(const LockStmt* lock) {
    if (lock->mode <= AccessShareLock || caller_is_service())
        return;
    Oid iam = get_namespace_oid("iam", true);
    if (!OidIsValid(iam))
        return;
    ListCell* cell;
    foreach (cell, lock->relations) {
        auto* relation = static_cast<RangeVar*>(lfirst(cell));
        Oid oid = RangeVarGetRelid(relation, NoLock, true);
        if (!OidIsValid(oid) || get_rel_namespace(oid) != iam)
            continue;
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(oid));
        if (!HeapTupleIsValid(tuple))
            continue;
        Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
        ReleaseSysCache(tuple);
        if (!has_privs_of_role(GetUserId(), owner))
            ereport(ERROR,
                    (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                     errmsg("permission denied to lock iam.%s in this mode", get_rel_name(oid)),
                     errdetail("Role checks read iam's tables; only their owner and the service "
                               "role may block them.")));
    }
}

void guard_utility(PlannedStmt* statement, const char* query, bool read_only_tree,
                   ProcessUtilityContext context, ParamListInfo params,
                   QueryEnvironment* environment, DestReceiver* destination,
                   QueryCompletion* completion) {
    if (IsA(statement->utilityStmt, LockStmt))
        refuse_strong_locks(castNode(LockStmt, statement->utilityStmt));
    if (previous_utility_hook != nullptr)
        previous_utility_hook(statement, query, read_only_tree, context, params, environment,
                              destination, completion);
    else
        standard_ProcessUtility(statement, query, read_only_tree, context, params, environment,
                                destination, completion);
}

}  // namespace

void install_lock_guard() {
    previous_utility_hook = ProcessUtility_hook;
    ProcessUtility_hook = guard_utility;
}

}  // namespace iam::pg
