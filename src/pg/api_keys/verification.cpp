// Verifying API keys: verify_api_key, which the other key functions and
// authenticate_request share, iam.verify_api_key, and the key functions' call
// site. The format, checksum and hash are in src/core/api_key.cpp.
//
// Verification is the hot path: the key is checked for shape and checksum
// before any table access, the row is read through the key_prefix unique
// index without SPI, and the hash compared in constant time. last_used_at is
// bookkeeping, written as the table's owner.
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/peppers.hpp"
#include "pg/api_keys/verification.hpp"
#include "pg/platform/citus.hpp"
#include "pg/platform/result_rows.hpp"
#include "pg/platform/spi.hpp"

#include "core/api_key.hpp"

#include <sodium.h>

#include <string_view>

namespace {

using iam::pg::ApiKeyRow;

int last_used_interval_seconds = 60;

using iam::pg::text_view;

bool is_query_cancel(int sqlerrcode) {
    return sqlerrcode == ERRCODE_QUERY_CANCELED || sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
           sqlerrcode == ERRCODE_OUT_OF_MEMORY;
}

// Sets last_used_at = now() unless another transaction holds the row: a
// verification never waits and never fails because of the touch (a failure
// is logged at DEBUG1; a cancel still cancels). Plain C style.
void touch_last_used(Oid api_keys, const pg_uuid_t& key_id, TimestampTz now) {
    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(caller_context);
    PG_TRY();
    {
        Oid types[2] = {UUIDOID, TIMESTAMPTZOID};
        Datum values[2] = {UUIDPGetDatum(const_cast<pg_uuid_t*>(&key_id)),
                           TimestampTzGetDatum(now)};
        iam::pg::execute_as_owner(api_keys,
                                  "UPDATE iam.api_keys SET last_used_at = $2 WHERE id = "
                                  "(SELECT id FROM iam.api_keys WHERE id = $1 "
                                  "FOR UPDATE SKIP LOCKED)",
                                  2, types, values, nullptr);
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        ErrorData* error = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
        if (is_query_cancel(error->sqlerrcode))
            ReThrowError(error);
        elog(DEBUG1, "iam: last_used_at of an API key not updated: %s", error->message);
        FreeErrorData(error);
    }
    PG_END_TRY();
}

bool touch_due(const ApiKeyRow& row, TimestampTz now) {
    // Never on a standby, nor on a Citus worker, whose copy of iam's tables
    // only the coordinator writes.
    if (RecoveryInProgress() || XactReadOnly || iam::pg::on_citus_worker())
        return false;
    return !row.has_last_use ||
           row.last_used_at <= now - int64(last_used_interval_seconds) * USECS_PER_SEC;
}

// Whether the key hashes to the row's stored hash (in constant time).
bool hash_matches(const text* key, const ApiKeyRow& row) {
    if (row.hashed_key == nullptr)
        return false;
    auto stored = iam::parse_api_key_hash(text_view(row.hashed_key));
    iam::pg::Pepper pepper;
    if (!stored || !iam::pg::find_pepper(stored->pepper_version, &pepper))
        return false;
    bool matches = iam::api_key_matches(text_view(key), *stored, pepper);
    sodium_memzero(pepper.data(), pepper.size());
    return matches;
}

}  // namespace

bool iam::pg::api_key_secret_matches(const IamTables& tables, const text* key, ApiKeyRow* row) {
    auto prefix = iam::api_key_prefix(text_view(key));
    return prefix && iam::pg::find_api_key(tables, prefix->data(), prefix->size(), row, nullptr) &&
           hash_matches(key, *row);
}

bool iam::pg::verify_api_key(const IamTables& tables, const text* key, LastUse last_use,
                             ApiKeyRow* row, KeptScan* kept) {
    auto prefix = iam::api_key_prefix(text_view(key));
    if (!prefix || !iam::pg::find_api_key(tables, prefix->data(), prefix->size(), row, kept))
        return false;
    TimestampTz now = GetCurrentStatementStartTimestamp();
    if (!iam::pg::api_key_stands(tables, row, now) || row->hashed_key == nullptr)
        return false;
    bool matches = hash_matches(key, *row);
    // A query with a parallel part writes nothing while it runs: the use is
    // recorded by the key's next verification outside one.
    if (matches && last_use == LastUse::record && !IsInParallelMode() && touch_due(*row, now))
        touch_last_used(tables.api_keys, row->id, GetCurrentTimestamp());
    return matches;
}

iam::pg::KeyCallSite* iam::pg::key_call_site(FunctionCallInfo fcinfo) {
    auto* site = static_cast<KeyCallSite*>(fcinfo->flinfo->fn_extra);
    if (site == nullptr) {
        site = static_cast<KeyCallSite*>(
            MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(KeyCallSite)));
        site->api_keys_scan.memory = fcinfo->flinfo->fn_mcxt;
        fcinfo->flinfo->fn_extra = site;
    }
    if (!iam::pg::same_statement(&site->statement) || !site->ready) {
        site->ready = false;
        iam::pg::resolve_iam_tables(&site->tables);
        site->ready = true;
    }
    return site;
}

void iam::pg::define_api_key_settings() {
    DefineCustomIntVariable(
        "iam.last_used_interval", "Seconds between two updates of an API key's last_used_at",
        "Verification updates last_used_at at most this often per key (never on a standby).",
        &last_used_interval_seconds, 60, 0, 86400 * 365, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr,
        nullptr);
}

// iam.verify_api_key(api_key text) -> TABLE(key_id, user_id, company_id,
// permissions, expires_at): one row for a valid key, none otherwise
IAM_SQL_FUNCTION(iam_verify_api_key) {
    iam::pg::KeyCallSite* site = iam::pg::key_call_site(fcinfo);
    iam::pg::ApiKeyRow row{};
    if (PG_ARGISNULL(0) ||
        !iam::pg::verify_api_key(site->tables, PG_GETARG_TEXT_PP(0), iam::pg::LastUse::record, &row,
                                 &site->api_keys_scan))
        return iam::pg::return_at_most_one_row(fcinfo, &site->declared, nullptr, nullptr);
    Datum values[5] = {UUIDPGetDatum(&row.id), UUIDPGetDatum(&row.user_id),
                       UUIDPGetDatum(&row.company_id), PointerGetDatum(row.permissions),
                       TimestampTzGetDatum(row.expires_at)};
    bool nulls[5] = {false, !row.has_user, !row.has_company, row.permissions == nullptr,
                     !row.has_expiry};
    return iam::pg::return_at_most_one_row(fcinfo, &site->declared, values, nulls);
}
