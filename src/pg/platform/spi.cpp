// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/platform/spi.hpp"

namespace iam::pg {
namespace {

Oid owner_of(Oid relation) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relation));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "cache lookup failed for relation %u", relation);
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
}

// The extension's statements are string constants: each is planned once per
// backend and parameter types (the audit trail's row parameter has the
// audited table's type), the plan kept by the string's address. PostgreSQL's
// plan cache replans it when a table it uses changes, or when it runs as
// another role.
constexpr int max_kept_plans = 32;
constexpr int max_kept_arguments = 16;
struct KeptPlan {
    const char* sql;
    int nargs;
    Oid types[max_kept_arguments];
    SPIPlanPtr plan;
};
KeptPlan kept_plans[max_kept_plans];
int kept_plan_count = 0;

SPIPlanPtr plan_for(const char* sql, int nargs, Oid* types) {
    for (int i = 0; i < kept_plan_count; ++i) {
        const KeptPlan& kept = kept_plans[i];
        if (kept.sql == sql && kept.nargs == nargs &&
            memcmp(kept.types, types, nargs * sizeof(Oid)) == 0)
            return kept.plan;
    }
    SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
    if (plan == nullptr)
        elog(ERROR, "iam_ext statement failed to prepare (%s): %s",
             SPI_result_code_string(SPI_result), sql);
    if (kept_plan_count == max_kept_plans || nargs > max_kept_arguments)
        return plan;  // freed with the SPI call's memory
    if (SPI_keepplan(plan) != 0)
        elog(ERROR, "SPI_keepplan failed");
    KeptPlan& kept = kept_plans[kept_plan_count++];
    kept.sql = sql;
    kept.nargs = nargs;
    memcpy(kept.types, types, nargs * sizeof(Oid));
    kept.plan = plan;
    return plan;
}

// How deep the backend is in statements the extension runs as a table's
// owner. Only execute_as_owner changes it, so no client can forge it.
int owner_statement_depth = 0;

// Removes from an error the trace of the extension's own statement `sql`:
// the line SPI's error context adds ("SQL statement \"...\""), and the
// statement as the error's internal query. The statement is the
// extension's business, not the caller's: they see the message, its hint
// and the context of their own call. Lines of other statements (an
// application's trigger, a PL/pgSQL function) stay.
void drop_own_statement(ErrorData* error, const char* sql) {
    if (error->internalquery != nullptr && strcmp(error->internalquery, sql) == 0) {
        error->internalquery = nullptr;
        error->internalpos = 0;
    }
    if (error->context == nullptr)
        return;
    const char* own = psprintf("SQL statement \"%s\"", sql);
    size_t own_length = strlen(own);
    StringInfoData kept;
    initStringInfo(&kept);
    const char* line = error->context;
    while (*line != '\0') {
        const char* end = strchr(line, '\n');
        size_t length = end != nullptr ? static_cast<size_t>(end - line) : strlen(line);
        if (length != own_length || strncmp(line, own, own_length) != 0) {
            if (kept.len > 0)
                appendStringInfoChar(&kept, '\n');
            appendBinaryStringInfo(&kept, line, static_cast<int>(length));
        }
        line += length;
        if (*line == '\n')
            ++line;
    }
    error->context = kept.len > 0 ? kept.data : nullptr;
}

uint64 execute_pinned_traced(const char* sql, int nargs, Oid* types, Datum* values,
                             const char* nulls, ResultReader read, void* context, bool as_owner,
                             bool latest);

// The statement with the path pinned (and, as the owner, row_security on);
// on an error, the abort of the (sub)transaction restores both, and the
// error goes on without the statement's own text (drop_own_statement).
// With `latest`, a read-only statement reads the latest committed state
// instead of the transaction's snapshot.
uint64 execute_pinned(const char* sql, int nargs, Oid* types, Datum* values, const char* nulls,
                      ResultReader read, void* context, bool as_owner, bool latest = false) {
    MemoryContext caller_context = CurrentMemoryContext;
    volatile uint64 processed = 0;  // set inside PG_TRY, read after it
    PG_TRY();
    {
        processed = execute_pinned_traced(sql, nargs, types, values, nulls, read, context, as_owner,
                                          latest);
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        ErrorData* error = CopyErrorData();
        FlushErrorState();
        drop_own_statement(error, sql);
        ReThrowError(error);
    }
    PG_END_TRY();
    return processed;
}

uint64 execute_pinned_traced(const char* sql, int nargs, Oid* types, Datum* values,
                             const char* nulls, ResultReader read, void* context, bool as_owner,
                             bool latest) {
    int guc_nest_level = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    if (as_owner)
        (void)set_config_option("row_security", "on", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                                true, 0, false);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    SPIPlanPtr plan = plan_for(sql, nargs, types);
    int result = latest ? SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
                                               InvalidSnapshot, true, false, 0)
                        : SPI_execute_plan(plan, values, nulls, false, 0);
    if (result < 0)
        elog(ERROR, "iam_ext statement failed (%s): %s", SPI_result_code_string(result), sql);
    uint64 processed = SPI_processed;
    if (read != nullptr)
        read(SPI_tuptable, processed, context);
    SPI_finish();
    AtEOXact_GUC(true, guc_nest_level);
    return processed;
}

}  // namespace

Oid iam_relation(const char* name) {
    Oid relation = get_relname_relid(name, get_namespace_oid("iam", false));
    if (!OidIsValid(relation))
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation iam.%s does not exist", name)));
    return relation;
}

uint64 execute_as_caller(const char* sql, int nargs, Oid* types, Datum* values, const char* nulls,
                         ResultReader read, void* context) {
    return execute_pinned(sql, nargs, types, values, nulls, read, context, false);
}

uint64 execute_as_caller_latest(const char* sql, int nargs, Oid* types, Datum* values,
                                const char* nulls, ResultReader read, void* context) {
    return execute_pinned(sql, nargs, types, values, nulls, read, context, false, true);
}

uint64 execute_as_owner(Oid relation, const char* sql, int nargs, Oid* types, Datum* values,
                        const char* nulls, ResultReader read, void* context) {
    Oid caller;
    int security_context;
    GetUserIdAndSecContext(&caller, &security_context);
    SetUserIdAndSecContext(owner_of(relation), security_context | SECURITY_LOCAL_USERID_CHANGE |
                                                   SECURITY_RESTRICTED_OPERATION);
    volatile uint64 processed = 0;  // set inside PG_TRY, read after it
    ++owner_statement_depth;
    PG_TRY();
    { processed = execute_pinned(sql, nargs, types, values, nulls, read, context, true); }
    PG_FINALLY();
    {
        --owner_statement_depth;
        SetUserIdAndSecContext(caller, security_context);
    }
    PG_END_TRY();
    return processed;
}

int execute_utility(const char* sql) {
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    int result = SPI_execute(sql, false, 0);
    SPI_finish();
    return result;
}

bool is_policy_refusal(const ErrorData* error) {
    if (error->sqlerrcode != ERRCODE_INSUFFICIENT_PRIVILEGE || error->funcname == nullptr)
        return false;
    return strcmp(error->funcname, "ExecWithCheckOptions") == 0 ||
           strcmp(error->funcname, "aclcheck_error") == 0 ||
           strcmp(error->funcname, "aclcheck_error_col") == 0;
}

bool running_own_bookkeeping() {
    return owner_statement_depth > 0;
}

}  // namespace iam::pg
