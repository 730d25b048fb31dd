// Rate limits of API keys: at most rate_limit requests per
// rate_limit_window per key, counted without writing to a table, in a
// fixed-size table of counters in shared memory. It exists only when
// iam_ext is in shared_preload_libraries; without it a key with a limit is
// refused rather than let through unlimited.
//
// The counters are a sliding window: the count of the current window plus
// the previous window's, weighted by how much of it still overlaps the last
// `window`. Under steady overload that admits the limit per window, spread
// over it, where a fixed window would let twice the limit through around a
// boundary. Per server (a standby counts its own), lost on a restart; when
// the table is full, the counter of the key least recently seen among the
// probed slots is reused, and that key starts afresh (docs/api_keys.md).
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// From _PG_init while shared_preload_libraries is processed.
void request_rate_limit_memory();

// Whether the table exists (iam_ext was preloaded).
bool rate_limits_available();

// A limit the table counts: a positive number of requests per 1 second to
// 1 day.
inline bool is_valid_rate_limit(int32 limit, int64 window_usecs) {
    return limit > 0 && window_usecs >= USECS_PER_SEC && window_usecs <= USECS_PER_DAY;
}

// Counts a request of the key: 0 if it is admitted (and counted), else the
// seconds until one would be. Needs rate_limits_available(). Checking and
// counting under one lock, so concurrent requests cannot all pass.
int admit_request(const pg_uuid_t& key_id, int32 limit, int64 window_usecs);

}  // namespace iam::pg
