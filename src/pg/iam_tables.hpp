// Where iam_ext's own tables are, for the C code that reads them directly
// through their indexes (role and membership checks run once per row in RLS
// policies: no SPI, no planner, no RLS recursion).
#pragma once

#include "postgres.hpp"

namespace iam::pg {

// Attribute numbers as created by the install script. Upgrades only ever
// append columns, so these never move; resolve_iam_tables checks them
// against the catalog once per backend and refuses a schema that differs.
namespace attnum {
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
constexpr AttrNumber api_keys_id = 1;
constexpr AttrNumber api_keys_user_id = 2;
constexpr AttrNumber api_keys_company_id = 3;
constexpr AttrNumber api_keys_key_prefix = 5;
constexpr AttrNumber api_keys_hashed_key = 6;
constexpr AttrNumber api_keys_permissions = 7;
constexpr AttrNumber api_keys_expires_at = 8;
constexpr AttrNumber api_keys_last_used_at = 9;
constexpr AttrNumber api_keys_is_active = 11;
constexpr AttrNumber api_keys_suspended_until = 13;  // since 0.7.0
constexpr AttrNumber referral_codes_id = 1;
constexpr AttrNumber referral_codes_user_id = 2;
constexpr AttrNumber referral_codes_code = 3;
constexpr AttrNumber referral_codes_is_active = 4;
constexpr AttrNumber referral_codes_expires_at = 6;
}  // namespace attnum

struct IamTables {
    Oid roles, roles_pkey, roles_name_key;
    Oid user_roles, user_roles_pkey;
    Oid companies, companies_pkey;
    Oid company_users, company_users_pkey;
    Oid api_keys, api_keys_key_prefix_key;
    Oid api_key_peppers, api_key_peppers_pkey;
    Oid referral_codes, referral_codes_code_key;
};

// Looks the tables up in schema iam (an error if the extension is missing);
// cached for the backend until a relcache invalidation touches one of them.
void resolve_iam_tables(IamTables* tables);

// The id of the role named `name`; false if there is none.
bool find_role_id(const IamTables& tables, text* name, pg_uuid_t* role_id);
// The name of the role with this id (palloc'd); NULL if there is none.
text* find_role_name(const IamTables& tables, const pg_uuid_t& role_id);
// Whether the user holds the role named `name` (false if there is none).
bool user_holds_named_role(const IamTables& tables, const pg_uuid_t& user_id, const char* name);
// Whether user_roles has (user_id, role_id).
bool user_holds_role(const IamTables& tables, const pg_uuid_t& user_id, const pg_uuid_t& role_id);
// Calls visit(role_id, context) for every role the user holds.
void for_each_role_of(const IamTables& tables, const pg_uuid_t& user_id,
                      void (*visit)(const pg_uuid_t& role_id, void* context), void* context);
// Whether the company exists, is 'active' and is not deleted.
bool company_is_active(const IamTables& tables, const pg_uuid_t& company_id);
// Whether the user is an active member of the company (company state aside).
bool is_active_member(const IamTables& tables, const pg_uuid_t& user_id,
                      const pg_uuid_t& company_id);
// Calls visit(company_id, context) for every company the user is an active
// member of (company state aside).
void for_each_membership_of(const IamTables& tables, const pg_uuid_t& user_id,
                            void (*visit)(const pg_uuid_t& company_id, void* context),
                            void* context);

// The api_keys row with this key_prefix, as verification needs it. Values
// are copied into the current memory context.
struct ApiKeyRow {
    pg_uuid_t id;
    bool has_user, has_company, has_expiry, has_last_use, is_active, is_suspended_ever;
    pg_uuid_t user_id, company_id;
    text* hashed_key;
    Jsonb* permissions;  // nullptr for SQL NULL
    TimestampTz expires_at, last_used_at;
    TimestampTz suspended_until;  // when is_suspended_ever: the owner is banned until then
};

// An index scan of api_keys by key_prefix kept open for the rest of a
// statement, for a function called once per row (verify_api_key in FROM):
// opening the table and its index and setting up a scan cost about a third
// of the lookup itself. It lives in `memory`, the call site's per-query
// context, and is closed when that context goes at the end of the statement.
// A statement that fails does not close it: its resource owner has released
// what the scan held by then. Zero-initialised with `memory` set: closed.
struct KeptScan {
    MemoryContext memory;
    bool open, closes_with_memory;
    Relation heap, index;
    IndexScanDesc scan;
    TupleTableSlot* slot;
    ResourceOwner owner;
    Snapshot snapshot;
    MemoryContextCallback close_callback;
};

// The row with this key_prefix; through `kept` if given, else through a scan
// opened and closed for this call.
bool find_api_key(const IamTables& tables, const char* prefix, size_t length, ApiKeyRow* row,
                  KeptScan* kept);

// The referral_codes row with this code, as redemption needs it.
struct ReferralCodeRow {
    pg_uuid_t id, user_id;
    bool is_active, has_expiry;
    TimestampTz expires_at;
};
bool find_referral_code(const IamTables& tables, const char* code, size_t length,
                        ReferralCodeRow* row);

}  // namespace iam::pg
