// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/platform/citus.hpp"

#include "core/error.hpp"
#include "pg/platform/spi.hpp"

namespace iam::pg {
namespace {

char* forwarded_value = nullptr;
bool wait_for_workers = false;

enum class CitusRole { unknown, none, coordinator, worker };
CitusRole citus_role = CitusRole::unknown;

// Citus keeps the node's group in pg_dist_local_group (one row, groupid
// first); the coordinator's group is 0.
CitusRole read_citus_role() {
    Oid local_group = get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE);
    if (!OidIsValid(local_group))
        return CitusRole::none;
    Relation catalog = table_open(local_group, AccessShareLock);
    SysScanDesc scan = systable_beginscan(catalog, InvalidOid, false, nullptr, 0, nullptr);
    HeapTuple tuple = systable_getnext(scan);
    CitusRole role = CitusRole::coordinator;
    if (HeapTupleIsValid(tuple)) {
        bool is_null;
        Datum group = heap_getattr(tuple, 1, RelationGetDescr(catalog), &is_null);
        if (!is_null && DatumGetInt32(group) != 0)
            role = CitusRole::worker;
    }
    systable_endscan(scan);
    table_close(catalog, AccessShareLock);
    return role;
}

CitusRole node_role() {
    if (citus_role == CitusRole::unknown && IsTransactionState())
        citus_role = read_citus_role();
    return citus_role;
}

// Citus is loaded in this backend: its settings exist.
bool citus_loaded() {
    return GetConfigOption("citus.propagate_set_commands", true, false) != nullptr;
}

// SET LOCAL name = value, through SPI, so that Citus's utility hook sees
// the statement and sends it to the workers.
void set_local(const char* name, const char* value) {
    StringInfoData statement;
    initStringInfo(&statement);
    appendStringInfo(&statement, "SET LOCAL %s = %s", name, quote_literal_cstr(value));
    if (execute_utility(statement.data) != SPI_OK_UTILITY)
        elog(ERROR, "iam_ext could not forward %s to the Citus workers", name);
    pfree(statement.data);
}

}  // namespace

bool on_citus_worker() {
    return node_role() == CitusRole::worker;
}

void forward_identity_to_workers(const char* api_key_context) {
    if (!citus_loaded() || !IsTransactionBlock() || node_role() == CitusRole::worker)
        return;
    set_local("citus.propagate_set_commands", "local");
    const char* claims = GetConfigOption("request.jwt.claims", true, false);
    if (claims != nullptr && claims[0] != '\0')
        set_local("request.jwt.claims", claims);
    const char* claim_sub = GetConfigOption("request.jwt.claim.sub", true, false);
    if (claim_sub != nullptr && claim_sub[0] != '\0')
        set_local("request.jwt.claim.sub", claim_sub);
    if (api_key_context != nullptr)
        set_local("iam.coordinator_api_key", api_key_context);
}

const char* forwarded_api_key_context() {
    if (forwarded_value == nullptr || forwarded_value[0] == '\0' || !on_citus_worker())
        return nullptr;
    return forwarded_value;
}

void wait_for_workers_at_commit() {
    // The extension's own bookkeeping (last_used_at, credits spent, the
    // audit trail), written as the table's owner, does not wait.
    if (!wait_for_workers || InSecurityRestrictedOperation() || on_citus_worker())
        return;
    (void)set_config_option("synchronous_commit", "remote_apply", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_LOCAL, true, 0, false);
}

void refuse_writes_on_worker(Relation relation) {
    if (!on_citus_worker())
        return;
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("iam.%s is written on the Citus coordinator, not on a worker",
                           RelationGetRelationName(relation)),
                    errhint("The workers hold a copy of iam's tables, kept by logical "
                            "replication from the coordinator: connect to the coordinator.")));
}

void define_citus_settings(GucStringAssignHook forwarded_context_changed) {
    DefineCustomStringVariable(
        "iam.coordinator_api_key", "The API-key context the Citus coordinator verified",
        "Sent to the workers by iam.authenticate_request(); read on Citus workers only.",
        &forwarded_value, "", PGC_USERSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr,
        forwarded_context_changed, nullptr);
    DefineCustomBoolVariable(
        "iam.wait_for_workers",
        "Whether a transaction writing iam's tables waits for the Citus workers to apply it",
        "On a coordinator whose workers subscribe to iam's tables: such a transaction commits "
        "with synchronous_commit = remote_apply.",
        &wait_for_workers, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
}

}  // namespace iam::pg
