// Where iam_ext's own tables are, for the C code that reads them directly
// through their indexes (role and membership checks run once per row in RLS
// policies: no SPI, no planner, no RLS recursion).
#pragma once

#include "postgres.hpp"

namespace iam::pg {

// Attribute numbers as created by the install script. Upgrades only ever
// append columns, so these never move.
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
}  // namespace attnum

struct IamTables {
    Oid roles, roles_pkey, roles_name_key;
    Oid user_roles, user_roles_pkey;
    Oid companies, companies_pkey;
    Oid company_users, company_users_pkey;
};

// Looks the tables up in schema iam (an error if the extension is missing).
void resolve_iam_tables(IamTables* tables);

// The id of the role named `name`; false if there is none.
bool find_role_id(const IamTables& tables, text* name, pg_uuid_t* role_id);
// The name of the role with this id (palloc'd); NULL if there is none.
text* find_role_name(const IamTables& tables, const pg_uuid_t& role_id);
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

}  // namespace iam::pg
