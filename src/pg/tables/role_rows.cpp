// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/role_rows.hpp"

namespace iam::pg {

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
            Datum value = heap_getattr(tuple, attnum::roles_name, descriptor, &is_null);
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

bool user_holds_role(const IamTables& tables, const pg_uuid_t& user_id, const pg_uuid_t& role_id,
                     KeptScan* kept) {
    ScanKeyData keys[2];
    if (kept == nullptr) {
        uuid_key(&keys[0], attnum::user_roles_user_id, user_id);
        uuid_key(&keys[1], attnum::user_roles_role_id, role_id);
        return scan(tables.user_roles, tables.user_roles_pkey, keys, 2, nullptr, nullptr);
    }
    // The primary key is (user_id, role_id): index columns 1 and 2.
    uuid_key(&keys[0], 1, user_id);
    uuid_key(&keys[1], 2, role_id);
    return kept_scan_exists(kept, tables.user_roles, tables.user_roles_pkey, keys, 2);
}

RowMatch holder_row_is(const IamTables& tables, KeptScan* kept, const ItemPointerData& place,
                       const pg_uuid_t& user_id, const pg_uuid_t& role_id) {
    // Through the scan user_holds_role keeps: the primary key, two columns.
    TupleTableSlot* slot =
        kept_scan_fetch(kept, tables.user_roles, tables.user_roles_pkey, 2, place);
    if (slot == nullptr)
        return RowMatch::unreadable;
    bool user_null, role_null;
    Datum user = slot_getattr(slot, attnum::user_roles_user_id, &user_null);
    Datum role = slot_getattr(slot, attnum::user_roles_role_id, &role_null);
    RowMatch match = RowMatch::other;
    if (user_null || role_null || memcmp(DatumGetUUIDP(role)->data, role_id.data, UUID_LEN) != 0)
        match = RowMatch::unreadable;  // not a row of the role: not the one kept
    else if (memcmp(DatumGetUUIDP(user)->data, user_id.data, UUID_LEN) == 0)
        match = RowMatch::same;
    kept_scan_release(kept);
    return match;
}

void for_each_holder_of(const IamTables& tables, const pg_uuid_t& role_id,
                        bool (*visit)(const pg_uuid_t& user_id, const ItemPointerData& row,
                                      void* context),
                        void* context) {
    ScanKeyData key;
    uuid_key(&key, attnum::user_roles_role_id, role_id);
    struct Holders {
        bool (*visit)(const pg_uuid_t&, const ItemPointerData&, void*);
        void* context;
    } holders{visit, context};
    scan(
        tables.user_roles, tables.user_roles_role_id_idx, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* visited) {
            auto* holders = static_cast<Holders*>(visited);
            pg_uuid_t user_id;
            return !copy_uuid_attribute(tuple, descriptor, attnum::user_roles_user_id, &user_id) ||
                   holders->visit(user_id, tuple->t_self, holders->context);
        },
        &holders);
}

uint64 count_holder_entries(const IamTables& tables, const pg_uuid_t& role_id) {
    ScanKeyData key;
    uuid_key(&key, 1, role_id);  // the index's only column
    return count_index_entries(tables.user_roles, tables.user_roles_role_id_idx, &key, 1);
}

void for_each_role_of(const IamTables& tables, const pg_uuid_t& user_id,
                      void (*visit)(const pg_uuid_t& role_id, void* context), void* context) {
    ScanKeyData key;
    uuid_key(&key, attnum::user_roles_user_id, user_id);
    struct Roles {
        void (*visit)(const pg_uuid_t&, void*);
        void* context;
    } roles{visit, context};
    scan(
        tables.user_roles, tables.user_roles_pkey, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* visited) {
            auto* roles = static_cast<Roles*>(visited);
            pg_uuid_t role_id;
            if (copy_uuid_attribute(tuple, descriptor, attnum::user_roles_role_id, &role_id))
                roles->visit(role_id, roles->context);
            return true;
        },
        &roles);
}

}  // namespace iam::pg
