// The API key of the request (iam.current_api_key_id) and what a key's
// scope allows: its permissions, a JSON array of grants (a permission,
// `resource:*` or `*`; the grammar is in core/api_key.hpp).
#pragma once

#include "pg/boundary/postgres.hpp"

#include <string_view>

namespace iam::pg {

// Whether the permissions (a JSON array of strings; nullptr: none) cover
// `wanted`, a permission or a grant. Plain C style: the JSON is read by
// PostgreSQL, whose errors may unwind through it.
bool permissions_cover(const Jsonb* permissions, std::string_view wanted);
bool permissions_cover(const Jsonb* permissions, const text* wanted);

// The scope of this request's key (iam.authenticate_request) as the
// current statement sees the key's row: a key narrowed or revoked counts
// from the next statement on. nullptr without a key, or for a key that no
// longer stands (revoked, expired, suspended, its company suspended), which
// covers nothing. Read once per statement.
const Jsonb* request_key_scope();

}  // namespace iam::pg
