// LOCK TABLE on iam's tables, named or reached through views and
// inheritance: refused to the API roles (src/pg/rules/lock_guard.cpp).
#pragma once

namespace iam::pg {

// From _PG_init: installs the utility hook that refuses the lock.
void install_lock_guard();

}  // namespace iam::pg
