// SQL run by the extension's C code through SPI. Every statement runs with
// search_path = pg_catalog, pg_temp, as a SECURITY DEFINER function with SET
// search_path would: the statements schema-qualify their tables, and their
// operators and functions must not resolve through a schema the caller put
// first in the path (an `=` of theirs would run with our privileges).
//
// The extension's own bookkeeping (the audit trail, last_used_at, the
// peppers) is written as the owner of the table it goes to, whoever the
// caller is (docs/security.md): callers need no privilege on it and cannot
// forge it. Everything else runs as the caller, so RLS decides.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// The oid of table iam.<name>, looked up by name; an error if it is
// missing. Only for the tables added in 0.7.0 (company_invitations,
// member_profiles): the others come from resolve_iam_tables, which must not
// require these, since it runs on a 0.6.0 schema too, under the triggers
// that the UPDATEs of the 0.6.0 -> 0.7.0 script fire.
Oid iam_relation(const char* name);

// Called with the statement's result before SPI lets it go.
using ResultReader = void (*)(SPITupleTable* result, uint64 processed, void* context);

// Runs one SQL statement through SPI as the caller; returns the number of
// rows it processed. `sql` must be a string constant: its plan is kept for
// the backend, found by the string's address. Plain C style: call it
// through pg_call() from C++ code.
uint64 execute_as_caller(const char* sql, int nargs, Oid* types, Datum* values, const char* nulls,
                         ResultReader read = nullptr, void* context = nullptr);

// A read-only statement as the caller, under the latest committed state
// (and this transaction's own changes) rather than the transaction's
// snapshot: for a rule checked after a lock, which under REPEATABLE READ
// would otherwise judge by a state older than the lock.
uint64 execute_as_caller_latest(const char* sql, int nargs, Oid* types, Datum* values,
                                const char* nulls, ResultReader read = nullptr,
                                void* context = nullptr);

// The same as the owner of `relation`, with SECURITY_RESTRICTED_OPERATION
// and row_security pinned on (a client's SET row_security = off must not make
// the extension's own statements look like a restore). The caller's
// identity is restored whatever happens.
uint64 execute_as_owner(Oid relation, const char* sql, int nargs, Oid* types, Datum* values,
                        const char* nulls, ResultReader read = nullptr, void* context = nullptr);

// Whether `error` is PostgreSQL's own refusal of a statement run as the
// caller: a row-level security policy's WITH CHECK ("new row violates
// row-level security policy") or a missing table or column privilege, both
// 42501 with a message that names no rule. The refusals of the extension's
// triggers carry messages of their own and are not this. Told by the
// function that raised it, which no translation changes.
bool is_policy_refusal(const ErrorData* error);

// Whether the backend is inside a statement of execute_as_owner: the
// extension's own bookkeeping, which the write rules let through. Running as
// the tables' owner otherwise (a SECURITY DEFINER function) is no such thing.
bool running_own_bookkeeping();

// A utility statement built at run time (so not kept), as the caller: for
// statements that another extension's utility hook must see, such as the
// SET LOCAL that Citus forwards to its workers. Returns SPI's result code.
int execute_utility(const char* sql);

}  // namespace iam::pg
