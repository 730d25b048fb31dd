// Verifying API keys (src/pg/api_keys/verification.cpp): a presented key
// against its row, and the call site the key functions share.
#pragma once

#include "pg/platform/statement.hpp"
#include "pg/tables/api_key_rows.hpp"

namespace iam::pg {

// Whether a verification records the key's use in last_used_at (at most
// once per iam.last_used_interval, never on a standby).
enum class LastUse { record, ignore };

// Whether `key` is a valid, active, unexpired key whose company (if any) is
// active; fills `row`. A bad credential is never an error. The row is read
// through `kept` if given.
bool verify_api_key(const IamTables& tables, const text* key, LastUse last_use, ApiKeyRow* row,
                    KeptScan* kept = nullptr);

// Whether `key` is the secret of a key row, whatever the row's state
// (revoked, expired, suspended); fills `row`. Never an error.
bool api_key_secret_matches(const IamTables& tables, const text* key, ApiKeyRow* row);

// Per call site of a key function (iam.verify_api_key, create_api_key,
// ...): the tables for the statement, the result row type, and the scan
// verify_api_key keeps open for the statement.
struct KeyCallSite {
    StatementStamp statement;
    bool ready;  // tables resolved for the statement
    IamTables tables;
    TupleDesc declared;
    KeptScan api_keys_scan;
};

// The call site of `fcinfo`, made on the first call, with the tables
// resolved for the current statement.
KeyCallSite* key_call_site(FunctionCallInfo fcinfo);

// Defines iam.last_used_interval (from _PG_init).
void define_api_key_settings();

}  // namespace iam::pg
