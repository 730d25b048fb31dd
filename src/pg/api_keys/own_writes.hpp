// The extension's own writes to iam.api_keys that the rules tell apart from
// a client's: the copy iam.rotate_api_key inserts, and the UPDATE by which
// a request spends credits. Each is known from state in this backend's
// memory, set by the C++ code that makes the write for exactly as long as
// the write runs: no setting, row value or role a client controls can
// claim it.
#pragma once

#include "pg/boundary/postgres.hpp"

#include <string>

namespace iam::pg {

// While alive, this backend is inserting, in iam.rotate_api_key, the key
// that replaces key `replaced` and whose hash is `hashed_key`.
class RotationCopy {
  public:
    RotationCopy(const pg_uuid_t& replaced, const text* hashed_key);
    ~RotationCopy();
    RotationCopy(const RotationCopy&) = delete;
    RotationCopy& operator=(const RotationCopy&) = delete;
};

// Whether a new row naming `replaced` with this hash is the copy a
// RotationCopy alive now announced.
bool is_rotation_copy(const pg_uuid_t& replaced, const text* hashed_key);

// While alive, this backend is running the statement that spends an API
// key's credits (and refills them when a refill is due).
class CreditSpend {
  public:
    CreditSpend();
    ~CreditSpend();
    CreditSpend(const CreditSpend&) = delete;
    CreditSpend& operator=(const CreditSpend&) = delete;
};

bool spending_credits();

}  // namespace iam::pg
