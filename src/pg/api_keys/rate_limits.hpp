// Rate limits of API keys: at most rate_limit requests per
// rate_limit_window per key, counted without writing to a table, in a
// fixed-size table of counters in shared memory (iam.rate_limit_slots). It
// exists only when iam_ext is in shared_preload_libraries; without it a key
// with a limit is refused rather than let through unlimited.
//
// The counters are a sliding window: the count of the current window plus
// the previous window's, weighted by how much of it still overlaps the last
// `window`. Under steady overload that admits the limit per window, spread
// over it, where a fixed window would let twice the limit through around a
// boundary. Per server (a standby counts its own), lost on a restart.
//
// A key without a slot among the 8 it may take gets an unused one or one
// whose count has fallen to nothing, else the slot of the key seen longest
// ago among those under their limit. A slot at its limit is never taken:
// forgetting it would give its key its quota back. When every slot the key
// may take is at its limit, the request is refused rather than counted
// nowhere (docs/api_keys.md).
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// From _PG_init while shared_preload_libraries is processed:
// iam.rate_limit_slots, the size of the table.
void define_rate_limit_settings();

// From _PG_init while shared_preload_libraries is processed.
void request_rate_limit_memory();

// Whether the table exists (iam_ext was preloaded).
bool rate_limits_available();

// A limit the table counts: a positive number of requests per 1 second to
// 1 day.
inline bool is_valid_rate_limit(int32 limit, int64 window_usecs) {
    return limit > 0 && window_usecs >= USECS_PER_SEC && window_usecs <= USECS_PER_DAY;
}

struct Admission {
    int retry_after;  // 0: admitted and counted; else the seconds until one would be
    bool table_full;  // refused because every slot the key may take is at its limit
};

// Counts a request of the key, if admitted. Needs rate_limits_available().
// Checking and counting under one lock, so concurrent requests cannot all
// pass.
Admission admit_request(const pg_uuid_t& key_id, int32 limit, int64 window_usecs);

}  // namespace iam::pg
