// Failed attempts per user at guessing-prone operations (redeeming a
// referral code): after iam.referral_failures_allowed failures in
// iam.referral_failure_window, the user is refused until the window ends,
// whatever they try. Only failures are counted, and not in a table: a
// failure rolls its transaction back, and success costs no write.
//
// The counters live in shared memory when iam_ext is in
// shared_preload_libraries (one table for the whole server), else in each
// backend's own memory (a limit per connection). The table has a fixed size:
// when it is full, the oldest window is forgotten.
#pragma once

#include "postgres.hpp"

namespace iam::pg {

// From _PG_init while shared_preload_libraries is processed.
void request_attempt_limit_memory();
void define_attempt_limit_settings();

// 0 if the user may try now, else the seconds until their window ends.
int attempt_retry_after(const pg_uuid_t& user);

// Counts one failure of the user.
void record_failed_attempt(const pg_uuid_t& user);

}  // namespace iam::pg
