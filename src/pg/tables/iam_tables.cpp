// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/iam_tables.hpp"

#include <algorithm>

namespace iam::pg {
namespace {

Oid relation_in(Oid namespace_oid, const char* name) {
    Oid oid = get_relname_relid(name, namespace_oid);
    if (!OidIsValid(oid))
        ereport(
            ERROR,
            (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation iam.%s does not exist", name),
             errhint(
                 "Reinstall the extension: DROP EXTENSION iam_ext; CREATE EXTENSION iam_ext;")));
    return oid;
}

// The relation, or InvalidOid on a schema that predates it.
Oid optional_relation_in(Oid namespace_oid, const char* name) {
    return get_relname_relid(name, namespace_oid);
}

}  // namespace

uint64 count_index_entries(Oid heap, Oid index, ScanKey keys, int nkeys) {
    Relation heap_relation = table_open(heap, AccessShareLock);
    Relation index_relation = index_open(index, AccessShareLock);
    IndexScanDesc scan =
        begin_index_scan(heap_relation, index_relation, statement_snapshot(), nkeys);
    index_rescan(scan, keys, nkeys, nullptr, 0);
    uint64 entries = 0;
    while (index_getnext_tid(scan, ForwardScanDirection) != nullptr)
        ++entries;
    index_endscan(scan);
    index_close(index_relation, AccessShareLock);
    table_close(heap_relation, AccessShareLock);
    return entries;
}

void uuid_key(ScanKey key, AttrNumber attribute, const pg_uuid_t& value) {
    ScanKeyInit(key, attribute, BTEqualStrategyNumber, F_UUID_EQ,
                UUIDPGetDatum(const_cast<pg_uuid_t*>(&value)));
}

bool copy_uuid_attribute(HeapTuple tuple, TupleDesc descriptor, AttrNumber number, pg_uuid_t* out) {
    bool is_null;
    Datum value = heap_getattr(tuple, number, descriptor, &is_null);
    if (!is_null)
        *out = *DatumGetUUIDP(value);
    return !is_null;
}

Snapshot statement_snapshot() {
    return ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
}

bool scan(Oid heap, Oid index, ScanKey keys, int nkeys, bool (*visit)(HeapTuple, TupleDesc, void*),
          void* context, Snapshot snapshot) {
    Relation relation = table_open(heap, AccessShareLock);
    SysScanDesc scan = systable_beginscan(
        relation, index, true, snapshot != nullptr ? snapshot : statement_snapshot(), nkeys, keys);
    bool found = false;
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        found = true;
        if (visit == nullptr || !visit(tuple, RelationGetDescr(relation), context))
            break;
    }
    systable_endscan(scan);
    table_close(relation, AccessShareLock);
    return found;
}

namespace {

// The oids, looked up once per backend and forgotten on any relcache
// invalidation of one of them (DROP EXTENSION, ALTER TABLE ...) or of all
// relations. Creating the tables again sends no invalidation for them, but
// by then the cache was reset by their drop.
IamTables known_tables;
bool tables_known = false;

void forget_tables(Datum, Oid relation) {
    if (!tables_known)
        return;
    const Oid* oids = reinterpret_cast<const Oid*>(&known_tables);
    for (size_t i = 0; i < sizeof(IamTables) / sizeof(Oid); ++i) {
        if (relation == InvalidOid || oids[i] == relation) {
            tables_known = false;
            return;
        }
    }
}

struct ExpectedColumn {
    Oid relation;
    const char* name;
    AttrNumber number;
};

// Which expected columns may be absent: none; those of a table an older
// schema has no column of yet; those of a table an older schema lacks.
enum class Presence { required, if_column_exists, if_table_exists };

void require_columns_at(const ExpectedColumn* columns, size_t count, Presence presence) {
    for (size_t i = 0; i < count; ++i) {
        const ExpectedColumn& column = columns[i];
        if (presence == Presence::if_table_exists && !OidIsValid(column.relation))
            continue;
        AttrNumber found = get_attnum(column.relation, column.name);
        if (found == column.number ||
            (presence == Presence::if_column_exists && found == InvalidAttrNumber))
            continue;
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_TABLE_DEFINITION),
                 errmsg("iam.%s.%s is column %d, where iam_ext reads column %d",
                        get_rel_name(column.relation), column.name, found, column.number),
                 errhint("The schema and the library disagree: ALTER EXTENSION iam_ext UPDATE, or "
                         "reinstall the extension.")));
    }
}

// The columns the code reads by position (attnum:: in iam_tables.hpp), and
// where they must be. A schema whose columns moved (a fresh install and an
// upgrade that disagree, or a hand-made change) is refused here, once per
// backend, instead of being read wrong.
void require_expected_columns(const IamTables& tables) {
    const ExpectedColumn expected[] = {
        {tables.users, "id", attnum::users_id},
        {tables.roles, "id", attnum::roles_id},
        {tables.roles, "name", attnum::roles_name},
        {tables.user_roles, "user_id", attnum::user_roles_user_id},
        {tables.user_roles, "role_id", attnum::user_roles_role_id},
        {tables.companies, "id", attnum::companies_id},
        {tables.companies, "current_iam_status", attnum::companies_current_iam_status},
        {tables.companies, "is_deleted", attnum::companies_is_deleted},
        {tables.company_users, "user_id", attnum::company_users_user_id},
        {tables.company_users, "company_id", attnum::company_users_company_id},
        {tables.company_users, "is_active_in_company", attnum::company_users_is_active_in_company},
        {tables.api_keys, "id", attnum::api_keys_id},
        {tables.api_keys, "user_id", attnum::api_keys_user_id},
        {tables.api_keys, "company_id", attnum::api_keys_company_id},
        {tables.api_keys, "key_prefix", attnum::api_keys_key_prefix},
        {tables.api_keys, "hashed_key", attnum::api_keys_hashed_key},
        {tables.api_keys, "permissions", attnum::api_keys_permissions},
        {tables.api_keys, "expires_at", attnum::api_keys_expires_at},
        {tables.api_keys, "last_used_at", attnum::api_keys_last_used_at},
        {tables.api_keys, "is_active", attnum::api_keys_is_active},
        {tables.api_key_peppers, "version", attnum::api_key_peppers_version},
        {tables.api_key_peppers, "pepper", attnum::api_key_peppers_pepper},
        {tables.referral_codes, "id", attnum::referral_codes_id},
        {tables.referral_codes, "user_id", attnum::referral_codes_user_id},
        {tables.referral_codes, "code", attnum::referral_codes_code},
        {tables.referral_codes, "is_active", attnum::referral_codes_is_active},
        {tables.referral_codes, "expires_at", attnum::referral_codes_expires_at},
    };
    require_columns_at(expected, lengthof(expected), Presence::required);
    // Read only where the table has them (0.7.0 on): see api_key_attributes
    // and membership_of.
    const ExpectedColumn since_0_7_0[] = {
        {tables.users, "banned_until", attnum::users_banned_until},
        {tables.users, "deleted_at", attnum::users_deleted_at},
        {tables.api_keys, "suspended_until", attnum::api_keys_suspended_until},
        {tables.api_keys, "remaining", attnum::api_keys_remaining},
        {tables.api_keys, "refill_amount", attnum::api_keys_refill_amount},
        {tables.api_keys, "rate_limit", attnum::api_keys_rate_limit},
        {tables.api_keys, "rate_limit_window", attnum::api_keys_rate_limit_window},
        {tables.api_keys, "rate_limit_key_id", attnum::api_keys_rate_limit_key_id},
        {tables.company_users, "role_in_company", attnum::company_users_role_in_company},
    };
    // The tables of 0.8.0, where they exist.
    const ExpectedColumn since_0_8_0[] = {
        {tables.permissions, "name", attnum::permissions_name},
        {tables.role_permissions, "role_id", attnum::role_permissions_role_id},
        {tables.role_permissions, "permission", attnum::role_permissions_permission},
        {tables.company_roles, "id", attnum::company_roles_id},
        {tables.company_roles, "company_id", attnum::company_roles_company_id},
        {tables.company_roles, "name", attnum::company_roles_name},
        {tables.company_role_permissions, "company_role_id",
         attnum::company_role_permissions_company_role_id},
        {tables.company_role_permissions, "permission",
         attnum::company_role_permissions_permission},
        {tables.company_member_roles, "user_id", attnum::company_member_roles_user_id},
        {tables.company_member_roles, "company_id", attnum::company_member_roles_company_id},
        {tables.company_member_roles, "company_role_id",
         attnum::company_member_roles_company_role_id},
        {tables.external_identities, "issuer", attnum::external_identities_issuer},
        {tables.external_identities, "subject", attnum::external_identities_subject},
        {tables.external_identities, "user_id", attnum::external_identities_user_id},
    };
    require_columns_at(since_0_8_0, lengthof(since_0_8_0), Presence::if_table_exists);
    require_columns_at(since_0_7_0, lengthof(since_0_7_0), Presence::if_column_exists);
}

}  // namespace

void resolve_iam_tables(IamTables* tables) {
    static bool callback_registered = false;
    if (!callback_registered) {
        CacheRegisterRelcacheCallback(forget_tables, Datum(0));
        callback_registered = true;
    }
    if (!tables_known) {
        Oid iam = get_namespace_oid("iam", false);
        IamTables found;
        found.users = relation_in(iam, "users");
        found.users_pkey = relation_in(iam, "users_pkey");
        found.roles = relation_in(iam, "roles");
        found.roles_pkey = relation_in(iam, "roles_pkey");
        found.roles_name_key = relation_in(iam, "roles_name_key");
        found.user_roles = relation_in(iam, "user_roles");
        found.user_roles_pkey = relation_in(iam, "user_roles_pkey");
        found.user_roles_role_id_idx = relation_in(iam, "user_roles_role_id_idx");
        found.companies = relation_in(iam, "companies");
        found.companies_pkey = relation_in(iam, "companies_pkey");
        found.company_users = relation_in(iam, "company_users");
        found.company_users_pkey = relation_in(iam, "company_users_pkey");
        found.api_keys = relation_in(iam, "api_keys");
        found.api_keys_pkey = relation_in(iam, "api_keys_pkey");
        found.api_keys_key_prefix_key = relation_in(iam, "api_keys_key_prefix_key");
        found.api_key_peppers = relation_in(iam, "api_key_peppers");
        found.api_key_peppers_pkey = relation_in(iam, "api_key_peppers_pkey");
        found.referral_codes = relation_in(iam, "referral_codes");
        found.referral_codes_pkey = relation_in(iam, "referral_codes_pkey");
        found.referral_codes_code_key = relation_in(iam, "referral_codes_code_key");
        found.referrals = relation_in(iam, "referrals");
        found.audit_log = relation_in(iam, "audit_log");
        found.permissions = optional_relation_in(iam, "permissions");
        found.permissions_pkey = optional_relation_in(iam, "permissions_pkey");
        found.role_permissions = optional_relation_in(iam, "role_permissions");
        found.role_permissions_pkey = optional_relation_in(iam, "role_permissions_pkey");
        found.company_roles = optional_relation_in(iam, "company_roles");
        found.company_roles_pkey = optional_relation_in(iam, "company_roles_pkey");
        found.company_roles_name_idx = optional_relation_in(iam, "company_roles_name_idx");
        found.company_role_permissions = optional_relation_in(iam, "company_role_permissions");
        found.company_role_permissions_pkey =
            optional_relation_in(iam, "company_role_permissions_pkey");
        found.company_member_roles = optional_relation_in(iam, "company_member_roles");
        found.company_member_roles_pkey = optional_relation_in(iam, "company_member_roles_pkey");
        // Optional: absent on a 0.7.0 schema until ALTER EXTENSION iam_ext
        // UPDATE creates it.
        found.external_identities = get_relname_relid("external_identities", iam);
        found.external_identities_pkey = OidIsValid(found.external_identities)
                                             ? relation_in(iam, "external_identities_pkey")
                                             : InvalidOid;
        require_expected_columns(found);
        known_tables = found;
        tables_known = true;
    }
    *tables = known_tables;
}

namespace {

// The kept scans hold their relation references, buffer pins and tuple
// descriptors in a resource owner of their own, not the caller's: a call
// site may outlive the owner current when it opened them (a PL/pgSQL
// expression evaluated once per row of a loop keeps its call site until the
// transaction ends, while the statement's portal goes). The locks are taken
// in the caller's owner, so they last as long as any other read of the
// statement. Every open scan is on a list, and all of them are closed when a
// (sub)transaction commits, and given up when one aborts.
ResourceOwner kept_owner = nullptr;
bool kept_scan_callbacks_registered = false;
KeptScan* open_scans = nullptr;

void unlink_kept_scan(KeptScan* kept) {
    for (KeptScan** link = &open_scans; *link != nullptr; link = &(*link)->next)
        if (*link == kept) {
            *link = kept->next;
            break;
        }
    kept->next = nullptr;
    kept->open = false;
}

void close_kept_scan(KeptScan* kept) {
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = kept_owner;
    if (kept->visibility_map != InvalidBuffer)
        ReleaseBuffer(kept->visibility_map);
    kept->visibility_map = InvalidBuffer;
    ExecDropSingleTupleTableSlot(kept->slot);
    index_endscan(kept->scan);
    index_close(kept->index, NoLock);  // the locks last until the transaction ends
    table_close(kept->heap, NoLock);
    CurrentResourceOwner = caller_owner;
    unlink_kept_scan(kept);
}

void close_every_kept_scan() {
    while (open_scans != nullptr)
        close_kept_scan(open_scans);
}

// After an abort nothing is closed one by one: the scans are forgotten and
// the owner releases what they held, as the transaction's own owner does.
// A released owner takes no new resources (PostgreSQL 17 refuses it), so it
// is deleted, and the next scan makes a new one.
void give_up_every_kept_scan() {
    while (open_scans != nullptr)
        unlink_kept_scan(open_scans);
    if (kept_owner != nullptr) {
        ResourceOwnerRelease(kept_owner, RESOURCE_RELEASE_BEFORE_LOCKS, false, false);
        ResourceOwnerRelease(kept_owner, RESOURCE_RELEASE_LOCKS, false, false);
        ResourceOwnerRelease(kept_owner, RESOURCE_RELEASE_AFTER_LOCKS, false, false);
        ResourceOwnerDelete(kept_owner);
        kept_owner = nullptr;
    }
}

void kept_scans_at_transaction_end(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
        case XACT_EVENT_PARALLEL_PRE_COMMIT:
        case XACT_EVENT_PRE_PREPARE:
            close_every_kept_scan();
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            give_up_every_kept_scan();
            break;
        default:
            break;
    }
}

void kept_scans_at_subtransaction_end(SubXactEvent event, SubTransactionId, SubTransactionId,
                                      void*) {
    if (event == SUBXACT_EVENT_PRE_COMMIT_SUB)
        close_every_kept_scan();
    else if (event == SUBXACT_EVENT_ABORT_SUB)
        give_up_every_kept_scan();
}

// When the query's memory goes: in a transaction, closed; during an abort
// already given up (above) or about to be.
void close_kept_scan_with_memory(void* argument) {
    auto* kept = static_cast<KeptScan*>(argument);
    if (kept->open && IsTransactionState())
        close_kept_scan(kept);
    unlink_kept_scan(kept);
}

void open_kept_scan(KeptScan* kept, Oid heap, Oid index, int nkeys, Snapshot snapshot) {
    if (!kept_scan_callbacks_registered) {
        RegisterXactCallback(kept_scans_at_transaction_end, nullptr);
        RegisterSubXactCallback(kept_scans_at_subtransaction_end, nullptr);
        kept_scan_callbacks_registered = true;
    }
    if (kept_owner == nullptr)
        kept_owner = ResourceOwnerCreate(nullptr, "iam_ext kept scans");
    LockRelationOid(heap, AccessShareLock);
    LockRelationOid(index, AccessShareLock);
    MemoryContext caller_context = MemoryContextSwitchTo(kept->memory);
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = kept_owner;
    kept->heap = table_open(heap, NoLock);
    kept->index = index_open(index, NoLock);
    kept->scan = begin_index_scan(kept->heap, kept->index, snapshot, nkeys);
    kept->slot = table_slot_create(kept->heap, nullptr);
    CurrentResourceOwner = caller_owner;
    MemoryContextSwitchTo(caller_context);
    kept->nkeys = nkeys;
    kept->snapshot = snapshot;
    kept->visibility_map = InvalidBuffer;
    kept->open = true;
    kept->next = open_scans;
    open_scans = kept;
    if (!kept->closes_with_memory) {
        kept->close_callback.func = close_kept_scan_with_memory;
        kept->close_callback.arg = kept;
        MemoryContextRegisterResetCallback(kept->memory, &kept->close_callback);
        kept->closes_with_memory = true;
    }
}

}  // namespace

namespace {
// Prepares `kept` for a lookup: the scan of these relations under this
// statement's snapshot, open.
void ready_kept_scan(KeptScan* kept, Oid heap, Oid index, int nkeys) {
    Snapshot snapshot = statement_snapshot();
    if (kept->open && (kept->snapshot != snapshot || RelationGetRelid(kept->heap) != heap ||
                       RelationGetRelid(kept->index) != index || kept->nkeys != nkeys))
        close_kept_scan(kept);
    if (!kept->open)
        open_kept_scan(kept, heap, index, nkeys, snapshot);
}
}  // namespace

bool kept_scan_exists(KeptScan* kept, Oid heap, Oid index, ScanKey keys, int nkeys) {
    ready_kept_scan(kept, heap, index, nkeys);
    MemoryContext caller_context = MemoryContextSwitchTo(kept->memory);
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = kept_owner;
    index_rescan(kept->scan, keys, nkeys, nullptr, 0);
    bool found = false;
    ItemPointer tid;
    while (!found && (tid = index_getnext_tid(kept->scan, ForwardScanDirection)) != nullptr) {
        // As nodeIndexonlyscan.c reads the map: an all-visible page holds
        // only rows every snapshot sees.
        if (VM_ALL_VISIBLE(kept->heap, ItemPointerGetBlockNumber(tid), &kept->visibility_map))
            found = true;
        else
            found = index_fetch_heap(kept->scan, kept->slot);
    }
    ExecClearTuple(kept->slot);
    CurrentResourceOwner = caller_owner;
    MemoryContextSwitchTo(caller_context);
    return found;
}

TupleTableSlot* kept_scan_first(KeptScan* kept, Oid heap, Oid index, ScanKey keys, int nkeys) {
    ready_kept_scan(kept, heap, index, nkeys);
    // What the scan allocates as it goes (the btree's list of dead items to
    // mark, for one) must last as long as the scan, not the call; the
    // buffer it pins belongs to the scans' owner.
    MemoryContext caller_context = MemoryContextSwitchTo(kept->memory);
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = kept_owner;
    index_rescan(kept->scan, keys, nkeys, nullptr, 0);
    bool found = index_getnext_slot(kept->scan, ForwardScanDirection, kept->slot);
    if (!found)
        ExecClearTuple(kept->slot);
    CurrentResourceOwner = caller_owner;
    MemoryContextSwitchTo(caller_context);
    return found ? kept->slot : nullptr;
}

void hold_rows_in_place(Oid heap) {
    LockRelationOid(heap, AccessShareLock);
}

TupleTableSlot* kept_scan_fetch(KeptScan* kept, Oid heap, Oid index, int nkeys,
                                const ItemPointerData& place) {
    ready_kept_scan(kept, heap, index, nkeys);
    MemoryContext caller_context = MemoryContextSwitchTo(kept->memory);
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = kept_owner;
    ItemPointerData tid = place;
    // Under the snapshot, as a fetch by ctid: a place past the page's rows,
    // or a row it does not see, is no row.
    bool found = table_tuple_fetch_row_version(kept->heap, &tid, kept->snapshot, kept->slot);
    if (!found)
        ExecClearTuple(kept->slot);
    CurrentResourceOwner = caller_owner;
    MemoryContextSwitchTo(caller_context);
    return found ? kept->slot : nullptr;
}

void kept_scan_release(KeptScan* kept) {
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = kept_owner;
    ExecClearTuple(kept->slot);
    CurrentResourceOwner = caller_owner;
}

}  // namespace iam::pg
