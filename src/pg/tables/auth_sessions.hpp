// Supabase Auth's sessions (auth.sessions, GoTrue's table), read directly
// through its primary key, whatever the caller may select: the only question
// asked is whether the session a request's own JWT names still exists.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

enum class SessionStanding {
    no_table,  // no auth.sessions with a one-column uuid primary key: nothing to check
    live,
    gone,  // signed out (GoTrue deletes the row), or its user deleted
};

// One probe of auth.sessions' primary key under the statement's snapshot.
// Where the table and its key are is looked up once per backend and
// forgotten on the catalog's invalidations (the table or its key made,
// dropped, renamed or altered, its schema made or dropped), so a pooled
// connection sees it appear or go with the next request; nothing about a
// session is kept between calls.
SessionStanding auth_session_standing(const pg_uuid_t& session_id);

}  // namespace iam::pg
