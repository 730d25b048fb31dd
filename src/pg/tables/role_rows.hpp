// The roles and user_roles rows the role checks read
// (src/pg/tables/role_rows.cpp), through their indexes, whatever the caller
// may select.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

// The id of the role named `name`; false if there is none.
bool find_role_id(const IamTables& tables, text* name, pg_uuid_t* role_id);
// The name of the role with this id (palloc'd); NULL if there is none.
text* find_role_name(const IamTables& tables, const pg_uuid_t& role_id);
// Whether the user holds the role named `name` (false if there is none).
bool user_holds_named_role(const IamTables& tables, const pg_uuid_t& user_id, const char* name);
// Whether user_roles has (user_id, role_id); through `kept` if given (a
// B-tree descent), else through a scan opened and closed for this call.
bool user_holds_role(const IamTables& tables, const pg_uuid_t& user_id, const pg_uuid_t& role_id,
                     KeptScan* kept = nullptr);
// Calls visit(user_id, row, context) for every holder of the role, with the
// place of its user_roles row, until it returns false.
void for_each_holder_of(const IamTables& tables, const pg_uuid_t& role_id,
                        bool (*visit)(const pg_uuid_t& user_id, const ItemPointerData& row,
                                      void* context),
                        void* context);
// Whether the user_roles row at `place`, read through `kept` (the scan
// user_holds_role keeps), is (user_id, role_id): a row of the statement's
// snapshot for another user of the role is RowMatch::other; one it does
// not see, or not of the role, RowMatch::unreadable.
RowMatch holder_row_is(const IamTables& tables, KeptScan* kept, const ItemPointerData& place,
                       const pg_uuid_t& user_id, const pg_uuid_t& role_id);
// How many entries the index of user_roles by role has for the role: at
// least its holders under the statement's snapshot (dead and not yet
// visible rows count too), read from the index alone.
uint64 count_holder_entries(const IamTables& tables, const pg_uuid_t& role_id);
// Calls visit(role_id, context) for every role the user holds.
void for_each_role_of(const IamTables& tables, const pg_uuid_t& user_id,
                      void (*visit)(const pg_uuid_t& role_id, void* context), void* context);

}  // namespace iam::pg
