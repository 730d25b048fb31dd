// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/guard.hpp).
#include "iam_tables.hpp"

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

// The statement's snapshot: these reads see what the calling statement sees.
Snapshot statement_snapshot() {
    return ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
}

void uuid_key(ScanKey key, AttrNumber attribute, const pg_uuid_t& value) {
    ScanKeyInit(key, attribute, BTEqualStrategyNumber, F_UUID_EQ,
                UUIDPGetDatum(const_cast<pg_uuid_t*>(&value)));
}

// Scans `heap` through `index` with `keys`, calling visit(tuple, descriptor,
// context) until it returns false. Returns whether any row was visited.
bool scan(Oid heap, Oid index, ScanKey keys, int nkeys, bool (*visit)(HeapTuple, TupleDesc, void*),
          void* context) {
    Relation relation = table_open(heap, AccessShareLock);
    SysScanDesc scan = systable_beginscan(relation, index, true, statement_snapshot(), nkeys, keys);
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

Datum attribute(HeapTuple tuple, TupleDesc descriptor, AttrNumber number, bool* is_null) {
    return heap_getattr(tuple, number, descriptor, is_null);
}

bool copy_uuid_attribute(HeapTuple tuple, TupleDesc descriptor, AttrNumber number, pg_uuid_t* out) {
    bool is_null;
    Datum value = attribute(tuple, descriptor, number, &is_null);
    if (!is_null)
        *out = *DatumGetUUIDP(value);
    return !is_null;
}

}  // namespace

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

// The columns the code reads by position (attnum:: in iam_tables.hpp), and
// where they must be. A schema whose columns moved (a fresh install and an
// upgrade that disagree, or a hand-made change) is refused here, once per
// backend, instead of being read wrong.
void require_expected_columns(const IamTables& tables) {
    struct ExpectedColumn {
        Oid relation;
        const char* name;
        AttrNumber number;
    };
    const ExpectedColumn expected[] = {
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
        {tables.referral_codes, "id", attnum::referral_codes_id},
        {tables.referral_codes, "user_id", attnum::referral_codes_user_id},
        {tables.referral_codes, "code", attnum::referral_codes_code},
        {tables.referral_codes, "is_active", attnum::referral_codes_is_active},
        {tables.referral_codes, "expires_at", attnum::referral_codes_expires_at},
    };
    for (const ExpectedColumn& column : expected) {
        AttrNumber found = get_attnum(column.relation, column.name);
        if (found != column.number)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_TABLE_DEFINITION),
                     errmsg("iam.%s.%s is column %d, where iam_ext reads column %d",
                            get_rel_name(column.relation), column.name, found, column.number),
                     errhint("The schema and the library disagree: ALTER EXTENSION iam_ext "
                             "UPDATE, or reinstall the extension.")));
    }
    // Read only where the table has it (0.7.0 on): see api_key_attributes.
    AttrNumber suspended = get_attnum(tables.api_keys, "suspended_until");
    if (suspended != InvalidAttrNumber && suspended != attnum::api_keys_suspended_until)
        ereport(ERROR, (errcode(ERRCODE_INVALID_TABLE_DEFINITION),
                        errmsg("iam.api_keys.suspended_until is column %d, where iam_ext reads "
                               "column %d",
                               suspended, attnum::api_keys_suspended_until)));
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
        found.roles = relation_in(iam, "roles");
        found.roles_pkey = relation_in(iam, "roles_pkey");
        found.roles_name_key = relation_in(iam, "roles_name_key");
        found.user_roles = relation_in(iam, "user_roles");
        found.user_roles_pkey = relation_in(iam, "user_roles_pkey");
        found.companies = relation_in(iam, "companies");
        found.companies_pkey = relation_in(iam, "companies_pkey");
        found.company_users = relation_in(iam, "company_users");
        found.company_users_pkey = relation_in(iam, "company_users_pkey");
        found.api_keys = relation_in(iam, "api_keys");
        found.api_keys_key_prefix_key = relation_in(iam, "api_keys_key_prefix_key");
        found.api_key_peppers = relation_in(iam, "api_key_peppers");
        found.api_key_peppers_pkey = relation_in(iam, "api_key_peppers_pkey");
        found.referral_codes = relation_in(iam, "referral_codes");
        found.referral_codes_code_key = relation_in(iam, "referral_codes_code_key");
        require_expected_columns(found);
        known_tables = found;
        tables_known = true;
    }
    *tables = known_tables;
}

bool find_role_id(const IamTables& tables, text* name, pg_uuid_t* role_id) {
    ScanKeyData key;
    ScanKeyInit(&key, attnum::roles_name, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(name));
    // Equality under the column's (deterministic) collation; ScanKeyInit's
    // default is the C collation, which the index was not built with.
    key.sk_collation = DEFAULT_COLLATION_OID;
    struct Found {
        pg_uuid_t* id;
        bool valid;
    } found{role_id, false};
    scan(
        tables.roles, tables.roles_name_key, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            auto* f = static_cast<Found*>(context);
            f->valid = copy_uuid_attribute(tuple, descriptor, attnum::roles_id, f->id);
            return false;
        },
        &found);
    return found.valid;
}

text* find_role_name(const IamTables& tables, const pg_uuid_t& role_id) {
    ScanKeyData key;
    uuid_key(&key, attnum::roles_id, role_id);
    text* name = nullptr;
    scan(
        tables.roles, tables.roles_pkey, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            bool is_null;
            Datum value = attribute(tuple, descriptor, attnum::roles_name, &is_null);
            if (!is_null)
                *static_cast<text**>(context) = DatumGetTextPCopy(value);
            return false;
        },
        &name);
    return name;
}

bool user_holds_named_role(const IamTables& tables, const pg_uuid_t& user_id, const char* name) {
    text* role_name = cstring_to_text(name);
    pg_uuid_t role_id;
    bool holds =
        find_role_id(tables, role_name, &role_id) && user_holds_role(tables, user_id, role_id);
    pfree(role_name);
    return holds;
}

bool user_holds_role(const IamTables& tables, const pg_uuid_t& user_id, const pg_uuid_t& role_id) {
    ScanKeyData keys[2];
    uuid_key(&keys[0], attnum::user_roles_user_id, user_id);
    uuid_key(&keys[1], attnum::user_roles_role_id, role_id);
    return scan(tables.user_roles, tables.user_roles_pkey, keys, 2, nullptr, nullptr);
}

namespace {
struct UuidVisitor {
    void (*visit)(const pg_uuid_t&, void*);
    void* context;
    AttrNumber attribute;
    AttrNumber active_flag;  // InvalidAttrNumber: every row counts
};

bool visit_uuid(HeapTuple tuple, TupleDesc descriptor, void* context) {
    auto* visitor = static_cast<UuidVisitor*>(context);
    if (visitor->active_flag != InvalidAttrNumber) {
        bool is_null;
        Datum active = attribute(tuple, descriptor, visitor->active_flag, &is_null);
        if (is_null || !DatumGetBool(active))
            return true;
    }
    pg_uuid_t id;
    if (copy_uuid_attribute(tuple, descriptor, visitor->attribute, &id))
        visitor->visit(id, visitor->context);
    return true;
}
}  // namespace

void for_each_role_of(const IamTables& tables, const pg_uuid_t& user_id,
                      void (*visit)(const pg_uuid_t& role_id, void* context), void* context) {
    ScanKeyData key;
    uuid_key(&key, attnum::user_roles_user_id, user_id);
    UuidVisitor visitor{visit, context, attnum::user_roles_role_id, InvalidAttrNumber};
    scan(tables.user_roles, tables.user_roles_pkey, &key, 1, visit_uuid, &visitor);
}

bool company_is_active(const IamTables& tables, const pg_uuid_t& company_id) {
    ScanKeyData key;
    uuid_key(&key, attnum::companies_id, company_id);
    bool active = false;
    scan(
        tables.companies, tables.companies_pkey, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            bool status_null, deleted_null;
            Datum status =
                attribute(tuple, descriptor, attnum::companies_current_iam_status, &status_null);
            Datum deleted =
                attribute(tuple, descriptor, attnum::companies_is_deleted, &deleted_null);
            // Compared in place: this runs per row of a policy, no copy.
            constexpr char active[] = "active";
            text* value = status_null ? nullptr : DatumGetTextPP(status);
            *static_cast<bool*>(context) =
                value != nullptr && !deleted_null && !DatumGetBool(deleted) &&
                VARSIZE_ANY_EXHDR(value) == sizeof(active) - 1 &&
                memcmp(VARDATA_ANY(value), active, sizeof(active) - 1) == 0;
            return false;
        },
        &active);
    return active;
}

bool is_active_member(const IamTables& tables, const pg_uuid_t& user_id,
                      const pg_uuid_t& company_id) {
    ScanKeyData keys[2];
    uuid_key(&keys[0], attnum::company_users_user_id, user_id);
    uuid_key(&keys[1], attnum::company_users_company_id, company_id);
    bool active = false;
    scan(
        tables.company_users, tables.company_users_pkey, keys, 2,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            bool is_null;
            Datum flag =
                attribute(tuple, descriptor, attnum::company_users_is_active_in_company, &is_null);
            *static_cast<bool*>(context) = !is_null && DatumGetBool(flag);
            return false;
        },
        &active);
    return active;
}

void for_each_membership_of(const IamTables& tables, const pg_uuid_t& user_id,
                            void (*visit)(const pg_uuid_t& company_id, void* context),
                            void* context) {
    ScanKeyData key;
    uuid_key(&key, attnum::company_users_user_id, user_id);
    UuidVisitor visitor{visit, context, attnum::company_users_company_id,
                        attnum::company_users_is_active_in_company};
    scan(tables.company_users, tables.company_users_pkey, &key, 1, visit_uuid, &visitor);
}

namespace {
// The attributes verification reads: 1 .. api_keys_suspended_until, or fewer
// in a database not yet updated to 0.7.0.
AttrNumber api_key_attributes(TupleDesc descriptor) {
    return std::min<AttrNumber>(descriptor->natts, attnum::api_keys_suspended_until);
}

// From the row's first `count` attributes, deformed in one pass.
void copy_api_key_values(const Datum* values, const bool* nulls, AttrNumber count, ApiKeyRow* row) {
    auto value = [values](AttrNumber number) { return values[number - 1]; };
    auto is_null = [nulls, count](AttrNumber number) {
        return number > count || nulls[number - 1];
    };
    row->id = *DatumGetUUIDP(value(attnum::api_keys_id));
    row->has_user = !is_null(attnum::api_keys_user_id);
    if (row->has_user)
        row->user_id = *DatumGetUUIDP(value(attnum::api_keys_user_id));
    row->has_company = !is_null(attnum::api_keys_company_id);
    if (row->has_company)
        row->company_id = *DatumGetUUIDP(value(attnum::api_keys_company_id));
    row->hashed_key = is_null(attnum::api_keys_hashed_key)
                          ? nullptr
                          : DatumGetTextPCopy(value(attnum::api_keys_hashed_key));
    row->permissions = is_null(attnum::api_keys_permissions)
                           ? nullptr
                           : DatumGetJsonbPCopy(value(attnum::api_keys_permissions));
    row->has_expiry = !is_null(attnum::api_keys_expires_at);
    row->expires_at = row->has_expiry ? DatumGetTimestampTz(value(attnum::api_keys_expires_at)) : 0;
    row->has_last_use = !is_null(attnum::api_keys_last_used_at);
    row->last_used_at =
        row->has_last_use ? DatumGetTimestampTz(value(attnum::api_keys_last_used_at)) : 0;
    row->is_active =
        !is_null(attnum::api_keys_is_active) && DatumGetBool(value(attnum::api_keys_is_active));
    row->is_suspended_ever = !is_null(attnum::api_keys_suspended_until);
    row->suspended_until =
        row->is_suspended_ever ? DatumGetTimestampTz(value(attnum::api_keys_suspended_until)) : 0;
}

bool copy_api_key_row(HeapTuple tuple, TupleDesc descriptor, void* context) {
    auto* values = static_cast<Datum*>(palloc(descriptor->natts * sizeof(Datum)));
    auto* nulls = static_cast<bool*>(palloc(descriptor->natts * sizeof(bool)));
    heap_deform_tuple(tuple, descriptor, values, nulls);
    copy_api_key_values(values, nulls, api_key_attributes(descriptor),
                        static_cast<ApiKeyRow*>(context));
    pfree(values);
    pfree(nulls);
    return false;
}

void close_kept_scan(KeptScan* kept) {
    ResourceOwner caller_owner = CurrentResourceOwner;
    CurrentResourceOwner = kept->owner;  // which holds the references
    ExecDropSingleTupleTableSlot(kept->slot);
    index_endscan(kept->scan);
    index_close(kept->index, NoLock);  // the locks last until the transaction ends
    table_close(kept->heap, NoLock);
    CurrentResourceOwner = caller_owner;
    kept->open = false;
}

// When the statement's memory goes. During an abort (of the transaction or
// of a subtransaction) the resource owner has already released the
// relations, the scan's buffer pins and the slot's: nothing is left to close.
void close_kept_scan_with_memory(void* argument) {
    auto* kept = static_cast<KeptScan*>(argument);
    if (kept->open && IsTransactionState())
        close_kept_scan(kept);
    kept->open = false;
}

void open_kept_scan(const IamTables& tables, Snapshot snapshot, KeptScan* kept) {
    MemoryContext caller_context = MemoryContextSwitchTo(kept->memory);
    kept->heap = table_open(tables.api_keys, AccessShareLock);
    kept->index = index_open(tables.api_keys_key_prefix_key, AccessShareLock);
    kept->scan = index_beginscan(kept->heap, kept->index, snapshot, 1, 0);
    kept->slot = table_slot_create(kept->heap, nullptr);
    MemoryContextSwitchTo(caller_context);
    kept->owner = CurrentResourceOwner;
    kept->snapshot = snapshot;
    kept->open = true;
    if (!kept->closes_with_memory) {
        kept->close_callback.func = close_kept_scan_with_memory;
        kept->close_callback.arg = kept;
        MemoryContextRegisterResetCallback(kept->memory, &kept->close_callback);
        kept->closes_with_memory = true;
    }
}

bool find_api_key_through(const IamTables& tables, ScanKey key, ApiKeyRow* row, KeptScan* kept) {
    Snapshot snapshot = statement_snapshot();
    if (kept->open && kept->owner != CurrentResourceOwner)
        kept->open = false;  // left to its resource owner, which may be gone
    if (kept->open &&
        (kept->snapshot != snapshot || RelationGetRelid(kept->heap) != tables.api_keys))
        close_kept_scan(kept);
    if (!kept->open)
        open_kept_scan(tables, snapshot, kept);
    key->sk_attno = 1;  // the index's first column
    // What the scan allocates as it goes (the btree's list of dead items to
    // mark, for one) must last as long as the scan, not the call.
    MemoryContext caller_context = MemoryContextSwitchTo(kept->memory);
    index_rescan(kept->scan, key, 1, nullptr, 0);
    bool found = index_getnext_slot(kept->scan, ForwardScanDirection, kept->slot);
    MemoryContextSwitchTo(caller_context);
    if (found) {
        AttrNumber count = api_key_attributes(RelationGetDescr(kept->heap));
        slot_getsomeattrs(kept->slot, count);
        copy_api_key_values(kept->slot->tts_values, kept->slot->tts_isnull, count, row);
    }
    ExecClearTuple(kept->slot);
    return found;
}

}  // namespace

bool find_api_key(const IamTables& tables, const char* prefix, size_t length, ApiKeyRow* row,
                  KeptScan* kept) {
    text* value = cstring_to_text_with_len(prefix, static_cast<int>(length));
    ScanKeyData key;
    ScanKeyInit(&key, attnum::api_keys_key_prefix, BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(value));
    key.sk_collation = DEFAULT_COLLATION_OID;
    bool found = kept != nullptr ? find_api_key_through(tables, &key, row, kept)
                                 : scan(tables.api_keys, tables.api_keys_key_prefix_key, &key, 1,
                                        copy_api_key_row, row);
    pfree(value);
    return found;
}

namespace {
bool copy_referral_code_row(HeapTuple tuple, TupleDesc descriptor, void* context) {
    auto* row = static_cast<ReferralCodeRow*>(context);
    bool is_null;
    copy_uuid_attribute(tuple, descriptor, attnum::referral_codes_id, &row->id);
    copy_uuid_attribute(tuple, descriptor, attnum::referral_codes_user_id, &row->user_id);
    Datum active = attribute(tuple, descriptor, attnum::referral_codes_is_active, &is_null);
    row->is_active = !is_null && DatumGetBool(active);
    Datum expires = attribute(tuple, descriptor, attnum::referral_codes_expires_at, &is_null);
    row->has_expiry = !is_null;
    row->expires_at = is_null ? 0 : DatumGetTimestampTz(expires);
    return false;
}
}  // namespace

bool find_referral_code(const IamTables& tables, const char* code, size_t length,
                        ReferralCodeRow* row) {
    text* value = cstring_to_text_with_len(code, static_cast<int>(length));
    ScanKeyData key;
    ScanKeyInit(&key, attnum::referral_codes_code, BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(value));
    key.sk_collation = DEFAULT_COLLATION_OID;
    bool found = scan(tables.referral_codes, tables.referral_codes_code_key, &key, 1,
                      copy_referral_code_row, row);
    pfree(value);
    return found;
}

}  // namespace iam::pg
