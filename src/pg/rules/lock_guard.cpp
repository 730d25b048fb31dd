// LOCK TABLE on iam's tables. A role with DELETE on a table may lock it in
// any mode (PostgreSQL's LockTableAclCheck), and the API roles need DELETE on
// iam.user_roles to revoke roles; an ACCESS EXCLUSIVE lock there would stall
// every role check until its transaction ends. So while iam_ext is loaded
// in a backend, a lock stronger than ACCESS SHARE on a table of schema iam
// is for the table's owner, superusers and the service role only. Loaded
// from shared_preload_libraries or session_preload_libraries, that is every
// session; otherwise a session that has not called the extension yet.
//
// What counts is every relation the LOCK reaches, not the one it names:
// PostgreSQL locks a view's relations too (recursively, checking privileges
// as the view's owner, so a user's own temporary view over iam.user_roles
// locks the table with the user's DELETE), and a table's inheritance
// children and partitions unless ONLY. The walk below follows
// LockTableCommand's.
//
// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/rules/lock_guard.hpp"

#include "pg/boundary/postgres.hpp"
#include "pg/identity/privileges.hpp"

namespace iam::pg {
namespace {

ProcessUtility_hook_type previous_utility_hook = nullptr;

struct Reach {
    Oid iam;                // schema iam
    const RangeVar* named;  // what the LOCK names
    Oid named_oid;
    List* ancestor_views;  // the views being walked, against self-reference
};

void refuse_if_iam(Oid relid, const Reach* reach) {
    if (get_rel_namespace(relid) != reach->iam)
        return;
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return;
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    if (has_privs_of_role(GetUserId(), owner))
        return;
    if (relid == reach->named_oid)
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                 errmsg("permission denied to lock iam.%s in this mode", get_rel_name(relid)),
                 errdetail("Role checks read iam's tables; only their owner and the service "
                           "role may block them.")));
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("permission denied to lock iam.%s in this mode", get_rel_name(relid)),
             errdetail("LOCK on %s would lock it too. Role checks read iam's tables; only their "
                       "owner and the service role may block them.",
                       reach->named->relname)));
}

void check_reached(Oid relid, bool inherit, Reach* reach);

// The relations of a view's query, as LockViewRecurse_walker finds them:
// every plain or partitioned table and view in a range table, subqueries,
// CTEs and sublinks included.
bool view_walker(Node* node, void* context) {
    auto* reach = static_cast<Reach*>(context);
    if (node == nullptr)
        return false;
    if (IsA(node, Query)) {
        auto* query = reinterpret_cast<Query*>(node);
        ListCell* cell;
        foreach (cell, query->rtable) {
            auto* entry = static_cast<RangeTblEntry*>(lfirst(cell));
            if (entry->rtekind != RTE_RELATION)
                continue;
            if (entry->relkind != RELKIND_RELATION && entry->relkind != RELKIND_PARTITIONED_TABLE &&
                entry->relkind != RELKIND_VIEW)
                continue;
            // A view's own OLD and NEW entries, or a view that reaches
            // itself: already being walked.
            if (list_member_oid(reach->ancestor_views, entry->relid))
                continue;
            check_reached(entry->relid, entry->inh, reach);
        }
        return query_tree_walker(query, TREE_WALKER(view_walker), context, QTW_IGNORE_JOINALIASES);
    }
    return expression_tree_walker(node, TREE_WALKER(view_walker), context);
}

void check_reached(Oid relid, bool inherit, Reach* reach) {
    check_stack_depth();
    refuse_if_iam(relid, reach);
    char relkind = get_rel_relkind(relid);
    if (relkind == RELKIND_VIEW) {
        // Held to the end of the transaction, as the LOCK will hold it, so
        // that the definition read here is the one the LOCK follows.
        Relation view = table_open(relid, AccessShareLock);
        Query* query = get_view_query(view);
        reach->ancestor_views = lappend_oid(reach->ancestor_views, relid);
        (void)view_walker(reinterpret_cast<Node*>(query), reach);
        reach->ancestor_views = list_delete_last(reach->ancestor_views);
        table_close(view, NoLock);
    } else if (inherit && (relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE)) {
        List* all = find_all_inheritors(relid, NoLock, nullptr);
        ListCell* cell;
        foreach (cell, all) {
            if (lfirst_oid(cell) != relid)
                refuse_if_iam(lfirst_oid(cell), reach);
        }
        list_free(all);
    }
}

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
        if (!OidIsValid(oid))
            continue;
        Reach reach{iam, relation, oid, NIL};
        check_reached(oid, relation->inh, &reach);
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
