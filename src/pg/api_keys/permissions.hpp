// An API key's permissions (src/pg/api_keys/permissions.cpp): a JSON array
// of permission strings, their grammar and what covers what (the rules of
// one permission are in src/core/api_key.hpp).
#pragma once

#include "pg/identity/request_key.hpp"

#include <string_view>

namespace iam::pg {

// permissions_cover (one permission) is in pg/identity/request_key.hpp:
// the checks ask it too.

// Whether `granted` covers every permission of `wanted` (nullptr: none).
bool permissions_cover_all(const Jsonb* granted, const Jsonb* wanted);

// An iam::Error 22023 unless `permissions` is a JSON array of at most
// max_api_key_permissions valid permission strings.
void require_valid_permissions(const Jsonb* permissions);

}  // namespace iam::pg
