// The rules that hold whichever way a row of iam's tables is written
// (src/pg/rules/write_rules.cpp): triggers, plus their one setting.
#pragma once

namespace iam::pg {

// Defines iam.max_api_keys_per_owner (from _PG_init).
void define_write_rule_settings();

}  // namespace iam::pg
