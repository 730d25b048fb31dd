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

void uuid_key(ScanKey key, AttrNumber attribute, const pg_uuid_t& value) {
    ScanKeyInit(key, attribute, BTEqualStrategyNumber, F_UUID_EQ,
                UUIDPGetDatum(const_cast<pg_uuid_t*>(&value)));
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

Snapshot statement_snapshot() {
    return ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
}

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
    for (const ExpectedColumn& column : since_0_7_0) {
        AttrNumber found = get_attnum(column.relation, column.name);
        if (found != InvalidAttrNumber && found != column.number)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_TABLE_DEFINITION),
                     errmsg("iam.%s.%s is column %d, where iam_ext reads column %d",
                            get_rel_name(column.relation), column.name, found, column.number)));
    }
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

UserStanding user_standing(const IamTables& tables, const pg_uuid_t& user_id, TimestampTz now) {
    ScanKeyData key;
    uuid_key(&key, attnum::users_id, user_id);
    struct Found {
        TimestampTz now;
        UserStanding standing;
    } found{now, UserStanding::unknown};
    scan(
        tables.users, tables.users_pkey, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            auto* f = static_cast<Found*>(context);
            f->standing = UserStanding::active;
            // The positions were checked where the table has the columns
            // (resolve_iam_tables); a schema older than 0.7.0 has neither.
            if (descriptor->natts < attnum::users_deleted_at ||
                TupleDescAttr(descriptor, attnum::users_banned_until - 1)->attisdropped ||
                TupleDescAttr(descriptor, attnum::users_deleted_at - 1)->attisdropped)
                return false;
            bool banned_null, deleted_null;
            Datum banned = attribute(tuple, descriptor, attnum::users_banned_until, &banned_null);
            (void)attribute(tuple, descriptor, attnum::users_deleted_at, &deleted_null);
            if (!deleted_null || (!banned_null && DatumGetTimestampTz(banned) > f->now))
                f->standing = UserStanding::barred;
            return false;
        },
        &found);
    return found.standing;
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

void for_each_holder_of(const IamTables& tables, const pg_uuid_t& role_id,
                        bool (*visit)(const pg_uuid_t& user_id, void* context), void* context) {
    ScanKeyData key;
    uuid_key(&key, attnum::user_roles_role_id, role_id);
    struct Holders {
        bool (*visit)(const pg_uuid_t&, void*);
        void* context;
    } holders{visit, context};
    scan(
        tables.user_roles, tables.user_roles_role_id_idx, &key, 1,
        [](HeapTuple tuple, TupleDesc descriptor, void* visited) {
            auto* holders = static_cast<Holders*>(visited);
            pg_uuid_t user_id;
            return !copy_uuid_attribute(tuple, descriptor, attnum::user_roles_user_id, &user_id) ||
                   holders->visit(user_id, holders->context);
        },
        &holders);
}

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
            constexpr char active_status[] = "active";
            text* value = status_null ? nullptr : DatumGetTextPP(status);
            *static_cast<bool*>(context) =
                value != nullptr && !deleted_null && !DatumGetBool(deleted) &&
                VARSIZE_ANY_EXHDR(value) == sizeof(active_status) - 1 &&
                memcmp(VARDATA_ANY(value), active_status, sizeof(active_status) - 1) == 0;
            return false;
        },
        &active);
    return active;
}

namespace {

struct Membership {
    bool read_role;  // asked for: a member check reads is_active_in_company only
    bool active;
    bool admin;
    bool role_known;  // the schema has role_in_company
};

Membership membership_of(const IamTables& tables, const pg_uuid_t& user_id,
                         const pg_uuid_t& company_id, bool read_role) {
    ScanKeyData keys[2];
    uuid_key(&keys[0], attnum::company_users_user_id, user_id);
    uuid_key(&keys[1], attnum::company_users_company_id, company_id);
    Membership membership{read_role, false, false, false};
    scan(
        tables.company_users, tables.company_users_pkey, keys, 2,
        [](HeapTuple tuple, TupleDesc descriptor, void* context) {
            auto* found = static_cast<Membership*>(context);
            bool is_null;
            Datum flag =
                attribute(tuple, descriptor, attnum::company_users_is_active_in_company, &is_null);
            found->active = !is_null && DatumGetBool(flag);
            if (!found->read_role || !found->active)
                return false;
            found->role_known =
                descriptor->natts >= attnum::company_users_role_in_company &&
                !TupleDescAttr(descriptor, attnum::company_users_role_in_company - 1)->attisdropped;
            if (found->role_known) {
                Datum role =
                    attribute(tuple, descriptor, attnum::company_users_role_in_company, &is_null);
                if (!is_null) {
                    text* name = DatumGetTextPP(role);
                    found->admin =
                        VARSIZE_ANY_EXHDR(name) == 5 && memcmp(VARDATA_ANY(name), "admin", 5) == 0;
                    if (reinterpret_cast<Pointer>(name) != DatumGetPointer(role))
                        pfree(name);
                }
            }
            return false;
        },
        &membership);
    return membership;
}

}  // namespace

bool is_active_member(const IamTables& tables, const pg_uuid_t& user_id,
                      const pg_uuid_t& company_id) {
    return membership_of(tables, user_id, company_id, false).active;
}

bool is_active_admin(const IamTables& tables, const pg_uuid_t& user_id,
                     const pg_uuid_t& company_id) {
    Membership membership = membership_of(tables, user_id, company_id, true);
    if (!membership.active)
        return false;
    return membership.role_known ? membership.admin
                                 : user_holds_named_role(tables, user_id, "enterprise_admin");
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

}  // namespace iam::pg
