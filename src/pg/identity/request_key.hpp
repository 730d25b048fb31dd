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

}  // namespace iam::pg
