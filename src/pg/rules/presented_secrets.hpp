// Secrets a caller presented in this transaction (src/pg/identity/
// presented_secrets.cpp): the state the policies of the invitation and
// leaked-key paths match rows against.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// Clears the presented secrets at the end of each transaction and with a
// rolled-back subtransaction that recorded one (from _PG_init).
void register_presented_secrets();

}  // namespace iam::pg
