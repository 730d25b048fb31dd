// Where iam_ext's own tables are, and the readers of the role and company
// checks, for the C code that reads them directly through their indexes
// (the checks run once per row in RLS policies: no SPI, no planner, no RLS
// recursion). The API-key rows have their own reader (api_key_rows.hpp).
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// Attribute numbers as created by the install script. Upgrades only ever
// append columns, so these never move; resolve_iam_tables checks them
// against the catalog once per backend and refuses a schema that differs.
namespace attnum {
constexpr AttrNumber users_id = 1;
constexpr AttrNumber users_banned_until = 6;  // since 0.7.0
constexpr AttrNumber users_deleted_at = 7;    // since 0.7.0
constexpr AttrNumber roles_id = 1;
constexpr AttrNumber roles_name = 2;
constexpr AttrNumber user_roles_user_id = 1;
constexpr AttrNumber user_roles_role_id = 2;
constexpr AttrNumber companies_id = 1;
constexpr AttrNumber companies_current_iam_status = 3;
constexpr AttrNumber companies_is_deleted = 6;
constexpr AttrNumber company_users_user_id = 1;
constexpr AttrNumber company_users_company_id = 2;
constexpr AttrNumber company_users_is_active_in_company = 4;
constexpr AttrNumber company_users_role_in_company = 5;  // since 0.7.0
constexpr AttrNumber api_keys_id = 1;
constexpr AttrNumber api_keys_user_id = 2;
constexpr AttrNumber api_keys_company_id = 3;
constexpr AttrNumber api_keys_key_prefix = 5;
constexpr AttrNumber api_keys_hashed_key = 6;
constexpr AttrNumber api_keys_permissions = 7;
constexpr AttrNumber api_keys_expires_at = 8;
constexpr AttrNumber api_keys_last_used_at = 9;
constexpr AttrNumber api_keys_is_active = 11;
constexpr AttrNumber api_keys_suspended_until = 13;    // since 0.7.0
constexpr AttrNumber api_keys_remaining = 15;          // since 0.7.0
constexpr AttrNumber api_keys_refill_amount = 16;      // since 0.7.0
constexpr AttrNumber api_keys_rate_limit = 19;         // since 0.7.0
constexpr AttrNumber api_keys_rate_limit_window = 20;  // since 0.7.0
constexpr AttrNumber api_keys_rate_limit_key_id = 21;  // since 0.7.0
constexpr AttrNumber referral_codes_id = 1;
constexpr AttrNumber referral_codes_user_id = 2;
constexpr AttrNumber referral_codes_code = 3;
constexpr AttrNumber referral_codes_is_active = 4;
constexpr AttrNumber referral_codes_expires_at = 6;
}  // namespace attnum

struct IamTables {
    Oid users, users_pkey;
    Oid roles, roles_pkey, roles_name_key;
    Oid user_roles, user_roles_pkey, user_roles_role_id_idx;
    Oid companies, companies_pkey;
    Oid company_users, company_users_pkey;
    Oid api_keys, api_keys_key_prefix_key;
    Oid api_key_peppers, api_key_peppers_pkey;
    Oid referral_codes, referral_codes_code_key;
};

// Looks the tables up in schema iam (an error if the extension is missing);
// cached for the backend until a relcache invalidation touches one of them.
void resolve_iam_tables(IamTables* tables);

// The snapshot the extension's reads use: the calling statement's, so that
// they see what it sees.
Snapshot statement_snapshot();

// Scans `heap` through `index` with `keys` under statement_snapshot(),
// calling visit(tuple, descriptor, context) until it returns false; returns
// whether any row was visited. The one scan of the table readers.
bool scan(Oid heap, Oid index, ScanKey keys, int nkeys, bool (*visit)(HeapTuple, TupleDesc, void*),
          void* context);

// What iam.users says of a user a request's JWT names.
enum class UserStanding {
    unknown,  // no row: a user iam does not know
    active,
    barred,  // banned until after `now` (banned_until), or deleted softly (deleted_at set)
};
// One probe of users_pkey. On a schema older than 0.7.0, which has neither
// column, a known user is active.
UserStanding user_standing(const IamTables& tables, const pg_uuid_t& user_id, TimestampTz now);

// The id of the role named `name`; false if there is none.
bool find_role_id(const IamTables& tables, text* name, pg_uuid_t* role_id);
// The name of the role with this id (palloc'd); NULL if there is none.
text* find_role_name(const IamTables& tables, const pg_uuid_t& role_id);
// Whether the user holds the role named `name` (false if there is none).
bool user_holds_named_role(const IamTables& tables, const pg_uuid_t& user_id, const char* name);
// Whether user_roles has (user_id, role_id).
bool user_holds_role(const IamTables& tables, const pg_uuid_t& user_id, const pg_uuid_t& role_id);
// Calls visit(user_id, context) for every holder of the role until it
// returns false.
void for_each_holder_of(const IamTables& tables, const pg_uuid_t& role_id,
                        bool (*visit)(const pg_uuid_t& user_id, void* context), void* context);
// Calls visit(role_id, context) for every role the user holds.
void for_each_role_of(const IamTables& tables, const pg_uuid_t& user_id,
                      void (*visit)(const pg_uuid_t& role_id, void* context), void* context);
// Whether the company exists, is 'active' and is not deleted.
bool company_is_active(const IamTables& tables, const pg_uuid_t& company_id);
// Whether the user is an active member of the company (company state aside).
bool is_active_member(const IamTables& tables, const pg_uuid_t& user_id,
                      const pg_uuid_t& company_id);
// Whether the user is an active admin of the company (company state aside):
// role_in_company 'admin'; on a schema older than 0.7.0, which has no
// role_in_company, an active member holding the role enterprise_admin.
bool is_active_admin(const IamTables& tables, const pg_uuid_t& user_id,
                     const pg_uuid_t& company_id);
// Calls visit(company_id, context) for every company the user is an active
// member of (company state aside).
void for_each_membership_of(const IamTables& tables, const pg_uuid_t& user_id,
                            void (*visit)(const pg_uuid_t& company_id, void* context),
                            void* context);

}  // namespace iam::pg
