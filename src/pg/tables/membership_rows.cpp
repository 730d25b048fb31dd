// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/tables/membership_rows.hpp"

#include "pg/tables/role_rows.hpp"

namespace iam::pg {
namespace {

// Whether a companies row is active. Compared in place: this runs per row
// of a policy, no copy.
bool active_company_row(HeapTuple tuple, TupleDesc descriptor) {
    bool status_null, deleted_null;
    Datum status =
        heap_getattr(tuple, attnum::companies_current_iam_status, descriptor, &status_null);
    Datum deleted = heap_getattr(tuple, attnum::companies_is_deleted, descriptor, &deleted_null);
    constexpr char active_status[] = "active";
    text* value = status_null ? nullptr : DatumGetTextPP(status);
    return value != nullptr && !deleted_null && !DatumGetBool(deleted) &&
           VARSIZE_ANY_EXHDR(value) == sizeof(active_status) - 1 &&
           memcmp(VARDATA_ANY(value), active_status, sizeof(active_status) - 1) == 0;
}

struct Membership {
    bool read_role;  // asked for: a member check reads is_active_in_company only
    bool active;
    bool admin;
    bool role_known;  // the schema has role_in_company
};

void read_membership(HeapTuple tuple, TupleDesc descriptor, Membership* found) {
    bool is_null;
    Datum flag =
        heap_getattr(tuple, attnum::company_users_is_active_in_company, descriptor, &is_null);
    found->active = !is_null && DatumGetBool(flag);
    if (!found->read_role || !found->active)
        return;
    found->role_known =
        descriptor->natts >= attnum::company_users_role_in_company &&
        !TupleDescAttr(descriptor, attnum::company_users_role_in_company - 1)->attisdropped;
    if (found->role_known) {
        Datum role =
            heap_getattr(tuple, attnum::company_users_role_in_company, descriptor, &is_null);
        if (!is_null) {
            text* name = DatumGetTextPP(role);
            found->admin =
                VARSIZE_ANY_EXHDR(name) == 5 && memcmp(VARDATA_ANY(name), "admin", 5) == 0;
            if (reinterpret_cast<Pointer>(name) != DatumGetPointer(role))
                pfree(name);
        }
    }
}

Membership membership_of(const IamTables& tables, const pg_uuid_t& user_id,
                         const pg_uuid_t& company_id, bool read_role, KeptScan* kept) {
    Membership membership{read_role, false, false, false};
    ScanKeyData keys[2];
    if (kept != nullptr) {
        // The primary key is (user_id, company_id): index columns 1 and 2.
        uuid_key(&keys[0], 1, user_id);
        uuid_key(&keys[1], 2, company_id);
        TupleTableSlot* slot =
            kept_scan_first(kept, tables.company_users, tables.company_users_pkey, keys, 2);
        if (slot != nullptr) {
            bool should_free;
            HeapTuple tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
            read_membership(tuple, slot->tts_tupleDescriptor, &membership);
            if (should_free)
                heap_freetuple(tuple);
            kept_scan_release(kept);
        }
        return membership;
    }
    uuid_key(&keys[0], attnum::company_users_user_id, user_id);
    uuid_key(&keys[1], attnum::company_users_company_id, company_id);
    scan(
        tables.company_users, tables.company_users_pkey, keys, 2,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            read_membership(tuple, descriptor, static_cast<Membership*>(context));
            return false;
        },
        &membership);
    return membership;
}

}  // namespace

bool company_is_active(const IamTables& tables, const pg_uuid_t& company_id, KeptScan* kept) {
    ScanKeyData key;
    if (kept != nullptr) {
        uuid_key(&key, 1, company_id);
        TupleTableSlot* slot =
            kept_scan_first(kept, tables.companies, tables.companies_pkey, &key, 1);
        if (slot == nullptr)
            return false;
        bool should_free;
        HeapTuple tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
        bool active = active_company_row(tuple, slot->tts_tupleDescriptor);
        if (should_free)
            heap_freetuple(tuple);
        kept_scan_release(kept);
        return active;
    }
    uuid_key(&key, attnum::companies_id, company_id);
    bool active = false;
    scan(
        tables.companies, tables.companies_pkey, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            *static_cast<bool*>(context) = active_company_row(tuple, descriptor);
            return false;
        },
        &active);
    return active;
}

bool is_active_member(const IamTables& tables, const pg_uuid_t& user_id,
                      const pg_uuid_t& company_id, KeptScan* kept) {
    return membership_of(tables, user_id, company_id, false, kept).active;
}

bool is_active_admin(const IamTables& tables, const pg_uuid_t& user_id, const pg_uuid_t& company_id,
                     KeptScan* kept) {
    bool is_admin;
    return is_active_member_as(tables, user_id, company_id, &is_admin, kept) && is_admin;
}

bool is_active_member_as(const IamTables& tables, const pg_uuid_t& user_id,
                         const pg_uuid_t& company_id, bool* is_admin, KeptScan* kept) {
    Membership membership = membership_of(tables, user_id, company_id, true, kept);
    *is_admin = false;
    if (!membership.active)
        return false;
    *is_admin = membership.role_known ? membership.admin
                                      : user_holds_named_role(tables, user_id, "enterprise_admin");
    return true;
}

void for_each_membership_of(const IamTables& tables, const pg_uuid_t& user_id,
                            bool (*visit)(const pg_uuid_t& company_id, bool is_admin,
                                          void* context),
                            void* context) {
    struct Visitor {
        const IamTables* tables;
        const pg_uuid_t* user_id;
        bool (*visit)(const pg_uuid_t&, bool, void*);
        void* context;
        int8 holds_enterprise_admin;  // -1: not read yet (only a pre-0.7.0 schema needs it)
    } visitor{&tables, &user_id, visit, context, -1};
    ScanKeyData key;
    uuid_key(&key, attnum::company_users_user_id, user_id);
    scan(
        tables.company_users, tables.company_users_pkey, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* visited) {
            auto* visitor = static_cast<Visitor*>(visited);
            Membership membership{true, false, false, false};
            read_membership(tuple, descriptor, &membership);
            pg_uuid_t company_id;
            if (!membership.active ||
                !copy_uuid_attribute(tuple, descriptor, attnum::company_users_company_id,
                                     &company_id))
                return true;
            if (!membership.role_known) {
                if (visitor->holds_enterprise_admin < 0)
                    visitor->holds_enterprise_admin = user_holds_named_role(
                        *visitor->tables, *visitor->user_id, "enterprise_admin");
                membership.admin = visitor->holds_enterprise_admin == 1;
            }
            return visitor->visit(company_id, membership.admin, visitor->context);
        },
        &visitor);
}

double estimated_memberships(const IamTables& tables) {
    Relation relation = table_open(tables.company_users, AccessShareLock);
    double rows = relation->rd_rel->reltuples;
    table_close(relation, AccessShareLock);
    return rows;
}

bool membership_exists(const IamTables& tables, const pg_uuid_t& user_id,
                       const pg_uuid_t& company_id) {
    ScanKeyData keys[2];
    uuid_key(&keys[0], attnum::company_users_user_id, user_id);
    uuid_key(&keys[1], attnum::company_users_company_id, company_id);
    return scan(tables.company_users, tables.company_users_pkey, keys, 2, nullptr, nullptr);
}

uint64 count_membership_entries(const IamTables& tables) {
    return count_index_entries(tables.company_users, tables.company_users_pkey, nullptr, 0);
}

RowMatch active_membership_row_is(const IamTables& tables, KeptScan* kept,
                                  const ItemPointerData& place, const pg_uuid_t& user_id,
                                  const pg_uuid_t& company_id) {
    // Through the scan is_active_member keeps: the primary key, two columns.
    TupleTableSlot* slot =
        kept_scan_fetch(kept, tables.company_users, tables.company_users_pkey, 2, place);
    if (slot == nullptr)
        return RowMatch::unreadable;
    bool user_null, company_null, active_null;
    Datum user = slot_getattr(slot, attnum::company_users_user_id, &user_null);
    Datum company = slot_getattr(slot, attnum::company_users_company_id, &company_null);
    Datum active = slot_getattr(slot, attnum::company_users_is_active_in_company, &active_null);
    RowMatch match = RowMatch::other;
    if (user_null || company_null || active_null || !DatumGetBool(active))
        match = RowMatch::unreadable;  // not an active membership: not the one kept
    else if (memcmp(DatumGetUUIDP(user)->data, user_id.data, UUID_LEN) == 0 &&
             memcmp(DatumGetUUIDP(company)->data, company_id.data, UUID_LEN) == 0)
        match = RowMatch::same;
    kept_scan_release(kept);
    return match;
}

void for_each_active_membership(const IamTables& tables,
                                bool (*visit)(const pg_uuid_t& user_id, const pg_uuid_t& company_id,
                                              const ItemPointerData& row, void* context),
                                void* context) {
    Relation relation = table_open(tables.company_users, AccessShareLock);
    TupleDesc descriptor = RelationGetDescr(relation);
    // No index: every row is read, in the table's order.
    SysScanDesc scan =
        systable_beginscan(relation, InvalidOid, false, statement_snapshot(), 0, nullptr);
    HeapTuple tuple;
    while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
        bool is_null;
        Datum flag =
            heap_getattr(tuple, attnum::company_users_is_active_in_company, descriptor, &is_null);
        if (is_null || !DatumGetBool(flag))
            continue;
        pg_uuid_t user_id, company_id;
        if (!copy_uuid_attribute(tuple, descriptor, attnum::company_users_user_id, &user_id) ||
            !copy_uuid_attribute(tuple, descriptor, attnum::company_users_company_id, &company_id))
            continue;
        if (!visit(user_id, company_id, tuple->t_self, context))
            break;
    }
    systable_endscan(scan);
    table_close(relation, AccessShareLock);
}

}  // namespace iam::pg
