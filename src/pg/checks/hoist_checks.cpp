#include "pg/checks/hoist_checks.hpp"

#include "pg/boundary/postgres.hpp"

// Planner code calls PostgreSQL functions that may raise errors; it holds no
// C++ objects, so they may longjmp through it.
namespace {

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

// A call of an iam function that leaves arguments to their defaults gets
// them written out, as the planner would later: the default of a check's
// user argument, iam.current_user_id(), is then a constant call of its own,
// hoisted like any other, instead of a call per row inside the check.
void expand_iam_defaults(FuncExpr* call, Oid iam_namespace) {
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(call->funcid));
    if (!HeapTupleIsValid(tuple))
        return;
    auto* proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
    if (proc->pronamespace == iam_namespace && list_length(call->args) < proc->pronargs)
        call->args = expand_function_arguments(call->args, false, call->funcresulttype, tuple);
    ReleaseSysCache(tuple);
}

// Whether the call is iam's function of that name.
bool is_iam_function(const FuncExpr* call, Oid iam_namespace, const char* name) {
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(call->funcid));
    if (!HeapTupleIsValid(tuple))
        return false;
    auto* proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
    bool is = proc->pronamespace == iam_namespace && strcmp(NameStr(proc->proname), name) == 0;
    ReleaseSysCache(tuple);
    return is;
}

// `x = ANY (iam.current_company_ids())` as iam.is_current_company(x), which
// answers a row with a hash probe where the array would be compared element
// by element (PostgreSQL hashes only constant arrays); nullptr if the node
// is not that, or the installed schema predates is_current_company, or
// holds its STRICT form. The replacement answers what the expression does
// for every x, NULL included (NULL = ANY ('{}') is false, NULL = ANY
// ('{a}') NULL), so it may stand anywhere the expression stands: under
// NOT, coalesce or IS FALSE, in a user's WHERE clause, a view or a policy.
// A STRICT function would answer NULL for a caller in no company, and
// coalesce(..., true) would then let through rows the expression hides.
Node* as_current_company_check(ScalarArrayOpExpr* any, Oid iam_namespace) {
    if (!any->useOr || list_length(any->args) != 2 || get_opcode(any->opno) != F_UUID_EQ ||
        !IsA(lsecond(any->args), FuncExpr))
        return nullptr;
    auto* array = static_cast<FuncExpr*>(lsecond(any->args));
    if (array->args != NIL || !is_iam_function(array, iam_namespace, "current_company_ids"))
        return nullptr;
    Oid argument_type = UUIDOID;
    Oid check = LookupFuncName(list_make2(makeString(get_namespace_name(iam_namespace)),
                                          makeString(pstrdup("is_current_company"))),
                               1, &argument_type, true);
    if (!OidIsValid(check) || func_strict(check))
        return nullptr;
    FuncExpr* call = makeFuncExpr(check, BOOLOID, list_make1(linitial(any->args)), InvalidOid,
                                  InvalidOid, COERCE_EXPLICIT_CALL);
    call->location = any->location;
    return reinterpret_cast<Node*>(call);
}

Node* hoist_mutator(Node* node, void* context_pointer) {
    auto* context = static_cast<HoistContext*>(context_pointer);
    if (node == nullptr)
        return nullptr;
    if (IsA(node, Query)) {
        hoist_in_query(reinterpret_cast<Query*>(node), context->iam_namespace);
        return node;
    }
    if (IsA(node, ScalarArrayOpExpr)) {
        if (Node* check = as_current_company_check(reinterpret_cast<ScalarArrayOpExpr*>(node),
                                                   context->iam_namespace))
            return expression_tree_mutator(check, TREE_MUTATOR(hoist_mutator), context_pointer);
    }
    if (IsA(node, FuncExpr)) {
        auto* call = reinterpret_cast<FuncExpr*>(node);
        expand_iam_defaults(call, context->iam_namespace);
        if (is_hoistable(call, context->iam_namespace)) {
            context->changed = true;
            return as_sublink(call);
        }
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
        "(SELECT <call>), an InitPlan, instead of once per row; x = ANY "
        "(iam.current_company_ids()) is planned as iam.is_current_company(x).",
        &hoist_checks, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    previous_planner_hook = planner_hook;
    planner_hook = hoisting_planner;
}

}  // namespace iam::pg
