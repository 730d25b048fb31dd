// API keys (src/pg/api_keys.cpp).
#pragma once

#include "iam_tables.hpp"

namespace iam::pg {

// Whether `key` is a valid, active, unexpired key whose company (if any) is
// active; fills `row`. Touches last_used_at when `touch` (and due). A bad
// credential is never an error. The row is read through `kept` if given.
bool verify_api_key(const IamTables& tables, const text* key, bool touch, ApiKeyRow* row,
                    KeptScan* kept = nullptr);

// Whether the permissions (a JSON array of strings) cover `wanted`.
bool permissions_cover(const Jsonb* permissions, const text* wanted);

// Defines iam.last_used_interval (from _PG_init).
void define_api_key_settings();

}  // namespace iam::pg
