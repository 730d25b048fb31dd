// API keys (src/pg/api_keys/api_keys.cpp).
#pragma once

#include "pg/identity/request_key.hpp"
#include "pg/tables/api_key_rows.hpp"

#include <string_view>

namespace iam::pg {

// Whether a verification records the key's use in last_used_at (at most
// once per iam.last_used_interval, never on a standby).
enum class LastUse { record, ignore };

// Whether `key` is a valid, active, unexpired key whose company (if any) is
// active; fills `row`. A bad credential is never an error. The row is read
// through `kept` if given.
bool verify_api_key(const IamTables& tables, const text* key, LastUse last_use, ApiKeyRow* row,
                    KeptScan* kept = nullptr);

// Whether `key` is the secret of a key row, whatever the row's state
// (revoked, expired, suspended); fills `row`. Never an error.
bool api_key_secret_matches(const IamTables& tables, const text* key, ApiKeyRow* row);

// Whether `granted` covers every permission of `wanted` (nullptr: none).
bool permissions_cover_all(const Jsonb* granted, const Jsonb* wanted);

// An iam::Error 22023 unless `permissions` is a JSON array of at most
// max_api_key_permissions valid permission strings.
void require_valid_permissions(const Jsonb* permissions);

// An iam::Error 22023 unless `name` (nullptr: NULL) has 1 to
// max_api_key_name_characters characters.
void require_valid_key_name(const text* name);

// An iam::Error 22023 unless the expiry is after the statement's start.
void require_future_expiry(TimestampTz expires_at);

// Defines iam.last_used_interval (from _PG_init).
void define_api_key_settings();

}  // namespace iam::pg
