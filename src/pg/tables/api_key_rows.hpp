// The api_keys rows verification reads (src/pg/tables/api_key_rows.cpp), through
// the key_prefix index, with an index scan kept open for a statement.
#pragma once

#include "pg/tables/iam_tables.hpp"

namespace iam::pg {

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
    bool has_credits;             // remaining is not NULL: requests spend credits
    bool has_refill;
    int32 remaining;  // as the statement's snapshot saw it, when has_credits
    bool has_rate_limit;
    int32 rate_limit;         // requests per window, when has_rate_limit
    int64 rate_limit_window;  // microseconds, when has_rate_limit
    // Whose counter the limit spends, when has_rate_limit: the first key of
    // the rotations that led to this one (rate_limit_key_id), else `id`.
    pg_uuid_t rate_limit_key_id;
};

// An interval as microseconds, months counted as 30 days, as interval
// comparison counts them; beyond int64 (a hostile interval's months), the
// nearest bound.
int64 interval_usecs(const Interval* interval);

// The row with this key_prefix; through `kept` if given, else through a scan
// opened and closed for this call.
bool find_api_key(const IamTables& tables, const char* prefix, size_t length, ApiKeyRow* row,
                  KeptScan* kept);

// The row with this id, through a scan opened and closed for this call.
bool find_api_key_by_id(const IamTables& tables, const pg_uuid_t& id, ApiKeyRow* row);

// Whether the key may be used at `now`: active, unexpired, not suspended,
// and its company (if any) active. A personal key names the company its
// owner worked for; once they are no longer an active member it is theirs
// alone: has_company is then cleared.
bool api_key_stands(const IamTables& tables, ApiKeyRow* row, TimestampTz now);

}  // namespace iam::pg
