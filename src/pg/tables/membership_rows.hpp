// The companies and company_users rows the company checks read
// (src/pg/tables/membership_rows.cpp), through their indexes, whatever the
// caller may select.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

// Whether the company exists, is 'active' and is not deleted; through
// `kept` if given (a B-tree descent), else through a scan of its own.
bool company_is_active(const IamTables& tables, const pg_uuid_t& company_id,
                       KeptScan* kept = nullptr);
// Whether company_users has a row of the user in the company, active or not.
bool membership_exists(const IamTables& tables, const pg_uuid_t& user_id,
                       const pg_uuid_t& company_id);
// Whether the user is an active member of the company (company state aside).
bool is_active_member(const IamTables& tables, const pg_uuid_t& user_id,
                      const pg_uuid_t& company_id, KeptScan* kept = nullptr);
// Whether the user is an active admin of the company (company state aside):
// role_in_company 'admin'; on a schema older than 0.7.0, which has no
// role_in_company, an active member holding the role enterprise_admin.
bool is_active_admin(const IamTables& tables, const pg_uuid_t& user_id, const pg_uuid_t& company_id,
                     KeptScan* kept = nullptr);
// Whether the user is an active member of the company (company state
// aside), and in *is_admin whether as an admin (as is_active_admin says):
// one read of the membership for both.
bool is_active_member_as(const IamTables& tables, const pg_uuid_t& user_id,
                         const pg_uuid_t& company_id, bool* is_admin, KeptScan* kept = nullptr);
// Calls visit(company_id, is_admin, context) for every company the user is
// an active member of (company state aside), until it returns false;
// is_admin as is_active_admin says.
void for_each_membership_of(const IamTables& tables, const pg_uuid_t& user_id,
                            bool (*visit)(const pg_uuid_t& company_id, bool is_admin,
                                          void* context),
                            void* context);

// How many rows company_users has, as the planner last estimated them
// (ANALYZE, VACUUM); -1 if never estimated. Cheap: from the relcache.
double estimated_memberships(const IamTables& tables);
// How many entries the primary key of company_users has: at least its rows
// under the statement's snapshot, read from the index alone.
uint64 count_membership_entries(const IamTables& tables);
// Calls visit(user_id, company_id, row, context) for every active
// membership (company state aside), with the place of its row, in one pass
// over company_users, until it returns false.
void for_each_active_membership(const IamTables& tables,
                                bool (*visit)(const pg_uuid_t& user_id, const pg_uuid_t& company_id,
                                              const ItemPointerData& row, void* context),
                                void* context);
// Whether the company_users row at `place`, read through `kept` (the scan
// is_active_member keeps), is the active membership (user_id, company_id):
// another active membership the statement sees is RowMatch::other; a row
// it does not see, or an inactive one, RowMatch::unreadable.
RowMatch active_membership_row_is(const IamTables& tables, KeptScan* kept,
                                  const ItemPointerData& place, const pg_uuid_t& user_id,
                                  const pg_uuid_t& company_id);

}  // namespace iam::pg
