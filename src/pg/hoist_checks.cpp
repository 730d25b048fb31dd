#include "hoist_checks.hpp"

#include "postgres.hpp"

// Planner code calls PostgreSQL functions that may raise errors; it holds no
// C++ objects, so they may longjmp through it.
namespace {

// PostgreSQL 15 declares tree walker and mutator callbacks without a
// prototype, which C++ reads as taking no arguments; 16 gives them types.
#if PG_VERSION_NUM >= 160000
#define TREE_MUTATOR(fn) (fn)
#define TREE_WALKER(fn) (fn)
#else
#define TREE_MUTATOR(fn) reinterpret_cast<Node* (*)()>(reinterpret_cast<void (*)()>(fn))
#define TREE_WALKER(fn) reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(fn))
#endif

planner_hook_type previous_planner_hook = nullptr;
bool hoist_checks = true;

struct HoistContext {
    Oid iam_namespace;
    bool changed;
};

void hoist_in_query(Query* query, Oid iam_namespace);

bool is_hoistable(const FuncExpr* call, Oid iam_namespace) {
    if (call->funcretset)
        return false;
    const ListCell* cell;
    foreach (cell, call->args) {
        if (!IsA(lfirst(cell), Const))
            return false;
    }
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(call->funcid));
    if (!HeapTupleIsValid(tuple))
        return false;
    auto* proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
    bool hoistable = proc->pronamespace == iam_namespace &&
                     proc->provolatile == PROVOLATILE_STABLE && proc->prolang == ClanguageId;
    ReleaseSysCache(tuple);
    return hoistable;
}

// (SELECT call): an uncorrelated expression sublink, which the planner
// makes an InitPlan evaluated once per execution.
Node* as_sublink(FuncExpr* call) {
    Query* select = makeNode(Query);
    select->commandType = CMD_SELECT;
    select->querySource = QSRC_ORIGINAL;
    select->canSetTag = true;
    select->jointree = makeFromExpr(NIL, nullptr);
    select->targetList =
        list_make1(makeTargetEntry(reinterpret_cast<Expr*>(call), 1, pstrdup("hoisted"), false));
    SubLink* sublink = makeNode(SubLink);
    sublink->subLinkType = EXPR_SUBLINK;
    sublink->subselect = reinterpret_cast<Node*>(select);
    sublink->location = call->location;
    return reinterpret_cast<Node*>(sublink);
}

Node* hoist_mutator(Node* node, void* context_pointer) {
    auto* context = static_cast<HoistContext*>(context_pointer);
    if (node == nullptr)
        return nullptr;
    if (IsA(node, Query)) {
        hoist_in_query(reinterpret_cast<Query*>(node), context->iam_namespace);
        return node;
    }
    if (IsA(node, FuncExpr) &&
        is_hoistable(reinterpret_cast<FuncExpr*>(node), context->iam_namespace)) {
        context->changed = true;
        return as_sublink(reinterpret_cast<FuncExpr*>(node));
    }
    return expression_tree_mutator(node, TREE_MUTATOR(hoist_mutator), context_pointer);
}

// Finds the queries nested anywhere else (subqueries in FROM, CTEs, sublinks
// in the target list...): each has its own row security qualifications.
bool nested_query_walker(Node* node, void* context_pointer) {
    if (node == nullptr)
        return false;
    if (IsA(node, Query)) {
        hoist_in_query(reinterpret_cast<Query*>(node),
                       static_cast<HoistContext*>(context_pointer)->iam_namespace);
        return false;
    }
    return expression_tree_walker(node, TREE_WALKER(nested_query_walker), context_pointer);
}

void hoist_in_query(Query* query, Oid iam_namespace) {
    HoistContext context{iam_namespace, false};
    ListCell* cell;
    if (query->jointree != nullptr)
        query->jointree->quals = hoist_mutator(query->jointree->quals, &context);
    foreach (cell, query->rtable) {
        auto* entry = static_cast<RangeTblEntry*>(lfirst(cell));
        entry->securityQuals = reinterpret_cast<List*>(
            hoist_mutator(reinterpret_cast<Node*>(entry->securityQuals), &context));
    }
    foreach (cell, query->withCheckOptions) {
        auto* option = static_cast<WithCheckOption*>(lfirst(cell));
        option->qual = hoist_mutator(option->qual, &context);
    }
    if (context.changed)
        query->hasSubLinks = true;
    (void)query_tree_walker(query, TREE_WALKER(nested_query_walker), &context, 0);
}

PlannedStmt* hoisting_planner(Query* parse, const char* query_string, int cursor_options,
                              ParamListInfo bound_params) {
    if (hoist_checks) {
        Oid iam_namespace = get_namespace_oid("iam", true);
        if (OidIsValid(iam_namespace))
            hoist_in_query(parse, iam_namespace);
    }
    if (previous_planner_hook != nullptr)
        return previous_planner_hook(parse, query_string, cursor_options, bound_params);
    return standard_planner(parse, query_string, cursor_options, bound_params);
}

}  // namespace

namespace iam::pg {

void install_planner_hook() {
    DefineCustomBoolVariable(
        "iam.hoist_checks", "Evaluates iam's checks with constant arguments once per statement",
        "A STABLE iam function called with constants in a WHERE clause or a policy is planned as "
        "(SELECT <call>), an InitPlan, instead of once per row.",
        &hoist_checks, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    previous_planner_hook = planner_hook;
    planner_hook = hoisting_planner;
}

}  // namespace iam::pg
