// Failed attempts per user at guessing-prone operations (redeeming a
// referral code): after iam.referral_failures_allowed failures in
// iam.referral_failure_window, the user is refused until the window ends,
// whatever they try. Only failures are counted, and not in a table: a
// failure rolls its transaction back, and success costs no write (an
// attempt is counted before it is made and uncounted when it succeeds).
//
// The counters live in shared memory when iam_ext is in
// shared_preload_libraries (one table for the whole server), else in each
// backend's own memory (a limit per connection). The table has a fixed size:
// when it is full, the oldest window is forgotten.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// From _PG_init while shared_preload_libraries is processed.
void request_attempt_limit_memory();
void define_attempt_limit_settings();

// Before an attempt: 0 if the user may try now, the attempt then counted as
// a failure until release_attempt says otherwise; else the seconds until
// their window ends. Checking and counting under one lock keeps the limit
// exact however many of the user's sessions try at once: concurrent
// attempts cannot all pass the check before any of them is counted.
int reserve_attempt(const pg_uuid_t& user);

// After an attempt that did not fail (the code was live): uncounts it.
void release_attempt(const pg_uuid_t& user);

}  // namespace iam::pg
