// The extension's own bookkeeping (the audit trail, last_used_at, the
// peppers) is written as the owner of the table it goes to, whoever the
// caller is (DESIGN.md, "Security model"): callers need no privilege on it
// and cannot forge it.
#pragma once

#include "postgres.hpp"

namespace iam::pg {

// The oid of table iam.<name>; an error if it is missing.
Oid iam_relation(const char* name);

// Runs one SQL statement through SPI as the owner of `relation`, with
// SECURITY_RESTRICTED_OPERATION and search_path = pg_catalog, pg_temp;
// returns the number of rows it processed.
// The caller's identity is restored whatever happens. Plain C style: call it
// through pg_call() from C++ code.
uint64 execute_as_owner(Oid relation, const char* sql, int nargs, Oid* types, Datum* values,
                        const char* nulls);

}  // namespace iam::pg
