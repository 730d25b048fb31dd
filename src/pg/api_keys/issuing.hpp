// Issuing API keys (src/pg/api_keys/issuing.cpp): iam.create_api_key and
// rotate_api_key, and the checks of a new key's fields, which the write
// rules of iam.api_keys apply to every other way of writing a key too.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// An iam::Error 22023 unless `name` (nullptr: NULL) has 1 to
// max_api_key_name_characters characters.
void require_valid_key_name(const text* name);

// An iam::Error 22023 unless the expiry is after the statement's start.
void require_future_expiry(TimestampTz expires_at);

}  // namespace iam::pg
