// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/permission_rows.hpp"

namespace iam::pg {

const pg_uuid_t member_template_id = {{0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0x01, 0x01}};
const pg_uuid_t admin_template_id = {{0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0x01, 0x02}};

namespace {

// A text equality key under the column's (deterministic) collation, which
// its index was built with; ScanKeyInit's default is the C collation.
void text_key(ScanKey key, AttrNumber attribute, const text* value) {
    ScanKeyInit(key, attribute, BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(const_cast<text*>(value)));
    key->sk_collation = DEFAULT_COLLATION_OID;
}

struct GrantMatch {
    AttrNumber permission;
    bool (*matches)(const char* grant, int length, void* context);
    void* context;
    bool found;
};

bool match_grant(HeapTuple tuple, TupleDesc descriptor, void* context) {
    auto* match = static_cast<GrantMatch*>(context);
    bool is_null;
    Datum value = heap_getattr(tuple, match->permission, descriptor, &is_null);
    if (is_null)
        return true;
    text* grant = DatumGetTextPP(value);
    match->found = match->matches(VARDATA_ANY(grant), VARSIZE_ANY_EXHDR(grant), match->context);
    if (reinterpret_cast<Pointer>(grant) != DatumGetPointer(value))
        pfree(grant);
    return !match->found;
}

}  // namespace

bool permission_is_registered(const IamTables& tables, const text* name) {
    if (!OidIsValid(tables.permissions))
        return false;
    ScanKeyData key;
    text_key(&key, attnum::permissions_name, name);
    return scan(tables.permissions, tables.permissions_pkey, &key, 1, nullptr, nullptr);
}

bool role_grant_matches(const IamTables& tables, RoleKind kind, const pg_uuid_t& role_id,
                        bool (*matches)(const char* grant, int length, void* context),
                        void* context, Snapshot snapshot) {
    bool platform = kind == RoleKind::platform;
    Oid heap = platform ? tables.role_permissions : tables.company_role_permissions;
    if (!OidIsValid(heap))
        return false;
    ScanKeyData key;
    uuid_key(&key,
             platform ? attnum::role_permissions_role_id
                      : attnum::company_role_permissions_company_role_id,
             role_id);
    GrantMatch match{platform ? attnum::role_permissions_permission
                              : attnum::company_role_permissions_permission,
                     matches, context, false};
    scan(heap, platform ? tables.role_permissions_pkey : tables.company_role_permissions_pkey, &key,
         1, match_grant, &match, snapshot);
    return match.found;
}

void for_each_member_role(const IamTables& tables, const pg_uuid_t& user_id,
                          const pg_uuid_t& company_id,
                          void (*visit)(const pg_uuid_t& company_role_id, void* context),
                          void* context) {
    if (!OidIsValid(tables.company_member_roles))
        return;
    ScanKeyData keys[2];
    uuid_key(&keys[0], attnum::company_member_roles_user_id, user_id);
    uuid_key(&keys[1], attnum::company_member_roles_company_id, company_id);
    struct Visit {
        void (*visit)(const pg_uuid_t&, void*);
        void* context;
    } each{visit, context};
    scan(
        tables.company_member_roles, tables.company_member_roles_pkey, keys, 2,
        [](HeapTuple tuple, TupleDesc descriptor, void* state) {
            auto* each = static_cast<Visit*>(state);
            pg_uuid_t role_id;
            if (copy_uuid_attribute(tuple, descriptor, attnum::company_member_roles_company_role_id,
                                    &role_id))
                each->visit(role_id, each->context);
            return true;
        },
        &each);
}

bool find_company_role(const IamTables& tables, const pg_uuid_t& role_id, bool* is_template,
                       pg_uuid_t* company_id) {
    if (!OidIsValid(tables.company_roles))
        return false;
    ScanKeyData key;
    uuid_key(&key, attnum::company_roles_id, role_id);
    struct Found {
        bool* is_template;
        pg_uuid_t* company_id;
    } found{is_template, company_id};
    return scan(
        tables.company_roles, tables.company_roles_pkey, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            auto* found = static_cast<Found*>(context);
            *found->is_template = !copy_uuid_attribute(
                tuple, descriptor, attnum::company_roles_company_id, found->company_id);
            return false;
        },
        &found, SnapshotSelf);
}

bool company_role_name_clashes(const IamTables& tables, const text* name, bool is_template) {
    if (!OidIsValid(tables.company_roles))
        return false;
    // An advisory lock of the name's own class, held to the transaction's
    // end; the scan then reads the rows committed since and this
    // statement's own, whatever the isolation level.
    constexpr int32 company_role_name_lock_class = 0x69616d52;  // "iamR"
    DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(company_role_name_lock_class),
                        Int32GetDatum(static_cast<int32>(
                            hash_any(reinterpret_cast<const unsigned char*>(VARDATA_ANY(name)),
                                     static_cast<int>(VARSIZE_ANY_EXHDR(name))))));
    ScanKeyData key;
    text_key(&key, attnum::company_roles_name, name);
    struct Clash {
        bool is_template, found;
    } clash{is_template, false};
    scan(
        tables.company_roles, tables.company_roles_name_idx, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            auto* clash = static_cast<Clash*>(context);
            bool is_null;
            heap_getattr(tuple, attnum::company_roles_company_id, descriptor, &is_null);
            // A template (NULL company) clashes with a company's role, and
            // the other way round; within one side the unique key decides.
            clash->found = clash->is_template != is_null;
            return !clash->found;
        },
        &clash, SnapshotSelf);
    return clash.found;
}

}  // namespace iam::pg
