// What a request costs its API key (src/pg/api_keys/key_usage.cpp): one request of
// its rate limit, counted in shared memory (rate_limits.hpp), and credits,
// spent by an UPDATE of the key's row in the request's own transaction, so
// that a request that rolls back is never charged.
#pragma once

#include "pg/tables/api_key_rows.hpp"

namespace iam::pg {

struct Charge {
    bool has_credits;  // false: the key's use is not counted in credits
    int64 remaining;   // credits left after this request, when has_credits
};

// Charges a verified key for one request costing `cost` credits. Throws
// 53400 (as HTTP 429, with Retry-After for the rate limit) when the key may
// not make it, 55000 for a rate limit without the shared table, and 25006
// when credits cannot be spent here (a standby, a read-only transaction).
Charge charge_api_key(const ApiKeyRow& row, int32 cost);

}  // namespace iam::pg
