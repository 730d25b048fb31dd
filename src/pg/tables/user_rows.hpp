// The users rows a request's identity is checked against
// (src/pg/tables/user_rows.cpp), through users_pkey, whatever the caller may
// select.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

// What iam.users says of a user a request's JWT names.
enum class UserStanding {
    unknown,  // no row: a user iam does not know
    active,
    barred,  // banned until after `now` (banned_until), or deleted softly (deleted_at set)
};
// One probe of users_pkey. On a schema older than 0.7.0, which has neither
// column, a known user is active.
UserStanding user_standing(const IamTables& tables, const pg_uuid_t& user_id, TimestampTz now);

}  // namespace iam::pg
