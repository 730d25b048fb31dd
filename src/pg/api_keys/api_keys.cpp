// API keys: iam.verify_api_key, create_api_key, rotate_api_key,
// api_key_has_permission. The format, checksum and hash are in
// src/core/api_key.cpp; this file is the table access.
//
// Verification is the hot path: the key is checked for shape and checksum
// before any table access, the row is read through the key_prefix unique
// index without SPI, and the hash compared in constant time. Creation and
// rotation write through SPI as the caller, so the RLS policies of
// iam.api_keys decide who may; last_used_at is bookkeeping, written as the
// table's owner.
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/api_keys.hpp"
#include "pg/api_keys/own_writes.hpp"
#include "pg/platform/spi.hpp"
#include "pg/platform/citus.hpp"
#include "pg/identity/context.hpp"
#include "pg/tables/membership_rows.hpp"
#include "pg/api_keys/peppers.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/platform/result_rows.hpp"
#include "pg/platform/statement.hpp"

#include "core/api_key.hpp"
#include "core/error.hpp"
#include "core/secret.hpp"

#include <sodium.h>

#include <string>
#include <string_view>

namespace {

using iam::pg::ApiKeyRow;
using iam::pg::IamTables;

int last_used_interval_seconds = 60;

// Per call site: the tables for the statement, the result row type, and
// the scan verify_api_key keeps open for the statement.
struct CallSite {
    iam::pg::StatementStamp statement;
    bool ready;  // tables resolved for the statement
    IamTables tables;
    TupleDesc declared;
    iam::pg::KeptScan api_keys_scan;
};

CallSite* call_site(FunctionCallInfo fcinfo) {
    auto* site = static_cast<CallSite*>(fcinfo->flinfo->fn_extra);
    if (site == nullptr) {
        site = static_cast<CallSite*>(
            MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CallSite)));
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

std::string_view text_view(const text* value) {
    return std::string_view(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

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
    if (matches && last_use == LastUse::record && touch_due(*row, now))
        touch_last_used(tables.api_keys, row->id, GetCurrentTimestamp());
    return matches;
}

bool iam::pg::permissions_cover_all(const Jsonb* granted, const Jsonb* wanted) {
    if (wanted == nullptr || !JB_ROOT_IS_ARRAY(wanted) || JB_ROOT_IS_SCALAR(wanted))
        return true;
    JsonbIterator* iterator = JsonbIteratorInit(const_cast<JsonbContainer*>(&wanted->root));
    JsonbValue value;
    JsonbIteratorToken token;
    bool covered = true;
    while ((token = JsonbIteratorNext(&iterator, &value, true)) != WJB_DONE) {
        if (token == WJB_ELEM && covered)
            covered = value.type == jbvString &&
                      permissions_cover(
                          granted, std::string_view(value.val.string.val, value.val.string.len));
    }
    return covered;
}

void iam::pg::require_valid_permissions(const Jsonb* permissions) {
    if (!JB_ROOT_IS_ARRAY(permissions) || JB_ROOT_IS_SCALAR(permissions))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "permissions must be a JSON array of strings", {},
                         "For example '[\"courses:read\", \"reports:*\"]'.");
    if (JB_ROOT_COUNT(permissions) > iam::max_api_key_permissions)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "an API key has at most " + std::to_string(iam::max_api_key_permissions) +
                             " permissions",
                         {}, "Use wildcards such as \"courses:*\" to grant many at once.");
    JsonbIterator* iterator = JsonbIteratorInit(const_cast<JsonbContainer*>(&permissions->root));
    JsonbValue value;
    JsonbIteratorToken token;
    int position = 0;
    while ((token = JsonbIteratorNext(&iterator, &value, true)) != WJB_DONE) {
        if (token != WJB_ELEM)
            continue;
        if (value.type != jbvString ||
            !iam::is_valid_permission(std::string_view(value.val.string.val, value.val.string.len)))
            throw iam::Error(iam::sqlstate::invalid_parameter_value,
                             "permissions[" + std::to_string(position) + "] is not a permission",
                             "A permission is 1 to 200 printable characters without spaces, "
                             "such as \"courses:read\", \"courses:*\" or \"*\".");
        ++position;
    }
}

void iam::pg::require_valid_key_name(const text* name) {
    if (name == nullptr || VARSIZE_ANY_EXHDR(name) == 0)
        throw iam::Error(iam::sqlstate::invalid_parameter_value, "an API key needs a name");
    if (pg_mbstrlen_with_len(VARDATA_ANY(name), static_cast<int>(VARSIZE_ANY_EXHDR(name))) >
        iam::max_api_key_name_characters)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "an API key's name has at most " +
                             std::to_string(iam::max_api_key_name_characters) + " characters");
}

void iam::pg::require_future_expiry(TimestampTz expires_at) {
    if (expires_at <= GetCurrentStatementStartTimestamp())
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "expires_at must be in the future");
}

namespace {

// A fresh key and its stored hash: the plaintext is wiped from C++ memory
// once it has been copied into the result.
struct NewKey {
    text* api_key;
    text* key_prefix;
    text* hashed_key;
};

NewKey new_key() {
    iam::pg::Pepper pepper;
    int version = iam::pg::current_pepper(&pepper);
    auto generated = iam::generate_api_key();
    iam::Secret key(std::move(generated.key));  // wiped on every path out of here
    std::string hashed = iam::hash_api_key(key.view(), pepper, version);
    sodium_memzero(pepper.data(), pepper.size());
    NewKey made{};
    iam::pg::pg_call([&] {
        made.api_key = cstring_to_text_with_len(key.data(), static_cast<int>(key.size()));
        made.key_prefix = cstring_to_text_with_len(generated.prefix.data(),
                                                   static_cast<int>(generated.prefix.size()));
        made.hashed_key = cstring_to_text_with_len(hashed.data(), static_cast<int>(hashed.size()));
    });
    return made;
}

// Reads the first column of the first row, a uuid, into `context`.
void read_returned_id(SPITupleTable* result, uint64 processed, void* context) {
    if (processed == 0 || result == nullptr)
        return;
    bool is_null;
    Datum id = SPI_getbinval(result->vals[0], result->tupdesc, 1, &is_null);
    if (!is_null)
        *static_cast<pg_uuid_t*>(context) = *DatumGetUUIDP(id);
}

// Runs `sql` as the caller (RLS applies); whether it returned an id.
bool execute_returning_id(const char* sql, int nargs, Oid* types, Datum* values, const char* nulls,
                          pg_uuid_t* returned_id) {
    return iam::pg::execute_as_caller(sql, nargs, types, values, nulls, read_returned_id,
                                      returned_id) > 0;
}

Datum new_key_row(FunctionCallInfo fcinfo, CallSite* site, const pg_uuid_t& id, const NewKey& key) {
    Datum values[3] = {UUIDPGetDatum(const_cast<pg_uuid_t*>(&id)), PointerGetDatum(key.api_key),
                       PointerGetDatum(key.key_prefix)};
    bool nulls[3] = {false, false, false};
    return iam::pg::return_at_most_one_row(fcinfo, &site->declared, values, nulls);
}

}  // namespace

namespace iam::pg {

void define_api_key_settings() {
    DefineCustomIntVariable(
        "iam.last_used_interval", "Seconds between two updates of an API key's last_used_at",
        "Verification updates last_used_at at most this often per key (never on a standby).",
        &last_used_interval_seconds, 60, 0, 86400 * 365, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr,
        nullptr);
}

}  // namespace iam::pg

// iam.verify_api_key(api_key text) -> TABLE(key_id, user_id, company_id,
// permissions, expires_at): one row for a valid key, none otherwise
IAM_SQL_FUNCTION(iam_verify_api_key) {
    CallSite* site = call_site(fcinfo);
    ApiKeyRow row{};
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

// iam.api_key_has_permission(api_key text, permission text) -> boolean:
// false for an invalid key; does not touch last_used_at
IAM_SQL_FUNCTION(iam_api_key_has_permission) {
    CallSite* site = call_site(fcinfo);
    ApiKeyRow row{};
    if (!iam::pg::verify_api_key(site->tables, PG_GETARG_TEXT_PP(0), iam::pg::LastUse::ignore,
                                 &row))
        PG_RETURN_BOOL(false);
    PG_RETURN_BOOL(iam::pg::permissions_cover(row.permissions, PG_GETARG_TEXT_PP(1)));
}

// iam.has_permission(permission text) -> boolean: whether the API key of the
// current request (iam.authenticate_request) grants it; false without one
IAM_SQL_FUNCTION(iam_has_permission) {
    const iam::pg::ApiKeyContext* context = iam::pg::api_key_context();
    PG_RETURN_BOOL(context != nullptr &&
                   iam::pg::permissions_cover(context->permissions, PG_GETARG_TEXT_PP(0)));
}

// iam.create_api_key(name, user_id, company_id, permissions, expires_at)
// -> TABLE(id uuid, api_key text, key_prefix text)
IAM_SQL_FUNCTION(iam_create_api_key) {
    // The trigger of iam.api_keys (src/pg/rules/api_key_rules.cpp) holds every way of
    // writing a key to these rules; checked here first, they fail before a
    // key is made and without the trigger's context.
    CallSite* site = call_site(fcinfo);
    // A key belongs to someone: it takes a caller, signed in or holding a key.
    bool is_service = iam::pg::caller_is_service();
    iam::pg::SubjectCache subject{};
    const pg_uuid_t* caller = iam::pg::current_subject(&subject);
    if (caller == nullptr && iam::pg::api_key_context() == nullptr && !is_service)
        throw iam::Error(iam::sqlstate::insufficient_privilege,
                         "creating an API key needs a signed-in user or an API key", {},
                         "Sign in first, or send an API key.");
    iam::pg::require_valid_key_name(PG_ARGISNULL(0) ? nullptr : PG_GETARG_TEXT_PP(0));
    bool has_user = !PG_ARGISNULL(1), has_company = !PG_ARGISNULL(2);
    pg_uuid_t user_id{}, company_id{};
    if (has_user)
        user_id = *PG_GETARG_UUID_P(1);
    if (has_company)
        company_id = *PG_GETARG_UUID_P(2);
    if (!has_user && !has_company && caller != nullptr) {
        user_id = *caller;
        has_user = true;
    }
    if (!has_user && !has_company)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "an API key needs an owner: user_id or company_id",
                         "There is no current user to default to.");
    Jsonb* permissions = PG_ARGISNULL(3) ? nullptr : PG_GETARG_JSONB_P(3);
    if (permissions != nullptr)
        iam::pg::require_valid_permissions(permissions);
    if (!PG_ARGISNULL(4))
        iam::pg::require_future_expiry(PG_GETARG_TIMESTAMPTZ(4));
    // A user's key acts as that user: nobody else makes one, not even a
    // platform admin (a company's key is for the company's admins: RLS).
    if (has_user && !is_service &&
        (caller == nullptr || memcmp(caller->data, user_id.data, UUID_LEN) != 0))
        throw iam::Error(iam::sqlstate::insufficient_privilege,
                         "permission denied to create an API key for another user", {},
                         "A key acts as its user: only that user creates it.");

    Oid types[7] = {UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID};
    Datum values[7] = {UUIDPGetDatum(&user_id),
                       UUIDPGetDatum(&company_id),
                       PG_GETARG_DATUM(0),
                       0,
                       0,
                       permissions != nullptr ? JsonbPGetDatum(permissions) : 0,
                       PG_ARGISNULL(4) ? 0 : PG_GETARG_DATUM(4)};
    char nulls[8] = {has_user ? ' ' : 'n',
                     has_company ? ' ' : 'n',
                     ' ',
                     ' ',
                     ' ',
                     permissions != nullptr ? ' ' : 'n',
                     PG_ARGISNULL(4) ? 'n' : ' ',
                     '\0'};
    // A key_prefix that exists already is retried with a new key.
    for (int attempt = 0; attempt < 5; ++attempt) {
        NewKey key = new_key();
        values[3] = PointerGetDatum(key.key_prefix);
        values[4] = PointerGetDatum(key.hashed_key);
        pg_uuid_t id;
        bool inserted = false;
        try {
            inserted = iam::pg::pg_call([&] {
                return execute_returning_id(
                    "INSERT INTO iam.api_keys (user_id, company_id, name, key_prefix, hashed_key, "
                    "permissions, expires_at) VALUES ($1, $2, $3, $4, $5, coalesce($6, '[]'), $7) "
                    "ON CONFLICT (key_prefix) DO NOTHING RETURNING id",
                    7, types, values, nulls, &id);
            });
        } catch (const iam::pg::PgError& error) {
            if (error.data()->sqlerrcode != ERRCODE_FOREIGN_KEY_VIOLATION)
                throw;
            // A key may name both owners: the violated constraint says which
            // one is missing.
            const char* constraint = error.data()->constraint_name;
            bool company_missing =
                constraint != nullptr && std::string_view(constraint) == "api_keys_company_id_fkey";
            throw iam::Error(iam::sqlstate::no_data_found, company_missing
                                                               ? "the key's company does not exist"
                                                               : "the key's user does not exist");
        }
        if (inserted)
            return new_key_row(fcinfo, site, id, key);
    }
    throw iam::Error(iam::sqlstate::internal_error, "could not find a free key_prefix");
}

// Rotation without a grace: the key keeps its id and takes a new secret.
const char* const replace_secret =
    "UPDATE iam.api_keys SET key_prefix = $2, hashed_key = $3 WHERE id = $1 AND is_active "
    "RETURNING id";
// With a grace: a new key, a copy of the old, replaces it; the old one
// verifies until the grace ends, never past its own expiry. Its credits
// move to the new key, which both spend meanwhile (src/pg/api_keys/key_usage.cpp);
// its rate limit is copied and counted under the same id as the old key's
// (rate_limit_key_id: the first key of the rotations), so that the two share
// one count and no rotation starts a fresh one. Both
// statements run as the caller, so the rules of creating a key and of
// narrowing one decide who may rotate.
const char* const replace_key =
    "WITH old AS (SELECT id, user_id, company_id, name, permissions, expires_at, remaining, "
    "refill_amount, refill_interval, refilled_at, rate_limit, rate_limit_window, "
    "coalesce(rate_limit_key_id, id) AS rate_limit_key_id FROM iam.api_keys "
    "WHERE id = $1 AND is_active FOR UPDATE), "
    "new AS (INSERT INTO iam.api_keys (user_id, company_id, name, key_prefix, hashed_key, "
    "permissions, expires_at, replaces_key_id, remaining, refill_amount, refill_interval, "
    "refilled_at, rate_limit, rate_limit_window, rate_limit_key_id) "
    "SELECT user_id, company_id, name, $2, $3, permissions, expires_at, id, remaining, "
    "refill_amount, refill_interval, refilled_at, rate_limit, rate_limit_window, "
    "rate_limit_key_id FROM old RETURNING id), "
    "ended AS (UPDATE iam.api_keys AS k SET expires_at = LEAST(k.expires_at, now() + $4), "
    "remaining = CASE WHEN k.remaining IS NULL THEN NULL ELSE 0 END, refill_amount = NULL, "
    "refill_interval = NULL FROM old WHERE k.id = old.id AND EXISTS (SELECT FROM new)) "
    "SELECT id FROM new";

// The longest overlap of two keys a rotation grants.
constexpr int64 max_grace_usecs = int64(90) * USECS_PER_DAY;

// iam.rotate_api_key(key_id uuid, grace interval DEFAULT '0')
//     -> TABLE(id uuid, api_key text, key_prefix text)
IAM_SQL_FUNCTION(iam_rotate_api_key) {
    CallSite* site = call_site(fcinfo);
    if (PG_ARGISNULL(0))
        throw iam::Error(iam::sqlstate::invalid_parameter_value, "key_id must not be NULL");
    pg_uuid_t key_id = *PG_GETARG_UUID_P(0);
    Interval grace{};
    if (!PG_ARGISNULL(1))
        grace = *PG_GETARG_INTERVAL_P(1);
    // An interval's months and days have no fixed length: counted as 30 and
    // 1 days for the bound only; the overlap itself is added as given.
    int64 grace_usecs = iam::pg::interval_usecs(&grace);
    if (grace_usecs < 0 || grace_usecs > max_grace_usecs)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a rotation's grace is from 0 to 90 days", {},
                         "With grace '0' the old secret stops at once.");
    bool overlap = grace_usecs > 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
        NewKey key = new_key();
        ApiKeyRow existing{};
        std::string_view prefix = text_view(key.key_prefix);
        if (iam::pg::find_api_key(site->tables, prefix.data(), prefix.size(), &existing, nullptr))
            continue;  // taken: draw another key
        Oid types[4] = {UUIDOID, TEXTOID, TEXTOID, INTERVALOID};
        Datum values[4] = {UUIDPGetDatum(&key_id), PointerGetDatum(key.key_prefix),
                           PointerGetDatum(key.hashed_key), IntervalPGetDatum(&grace)};
        pg_uuid_t id;
        bool rotated;
        if (overlap) {
            // The one way a key naming another in replaces_key_id is made
            // (guard_api_key checks the copy against this).
            iam::pg::RotationCopy copy(key_id, key.hashed_key);
            rotated = iam::pg::pg_call(
                [&] { return execute_returning_id(replace_key, 4, types, values, nullptr, &id); });
        } else {
            rotated = iam::pg::pg_call([&] {
                return execute_returning_id(replace_secret, 3, types, values, nullptr, &id);
            });
        }
        if (!rotated)
            throw iam::Error(iam::sqlstate::no_data_found,
                             "no active API key with this id that you may rotate", {},
                             "Revoked keys cannot be rotated; create a new key instead.");
        return new_key_row(fcinfo, site, id, key);
    }
    throw iam::Error(iam::sqlstate::internal_error, "could not find a free key_prefix");
}
