// API keys (src/pg/api_keys.cpp).
#pragma once

namespace iam::pg {

// Defines iam.last_used_interval (from _PG_init).
void define_api_key_settings();

}  // namespace iam::pg
