// Issuing API keys: iam.create_api_key and rotate_api_key, and the checks of
// a new key's fields. Creation and rotation write through SPI as the
// caller, so the RLS policies of iam.api_keys decide who may.
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/issuing.hpp"
#include "pg/api_keys/own_writes.hpp"
#include "pg/api_keys/peppers.hpp"
#include "pg/api_keys/permissions.hpp"
#include "pg/api_keys/verification.hpp"
#include "pg/identity/context.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/platform/result_rows.hpp"
#include "pg/platform/spi.hpp"

#include "core/api_key.hpp"
#include "core/error.hpp"
#include "core/secret.hpp"

#include <sodium.h>

#include <string>
#include <string_view>

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

using iam::pg::KeyCallSite;

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

// How many keys are drawn before a taken key_prefix is given up on.
constexpr int max_key_draws = 5;

// Draws a key and has `place(key, &id)` store it, with a new key while
// place finds its key_prefix taken (false); returns the stored key's row
// (id, api_key, key_prefix).
template <typename Place>
Datum issue_key(FunctionCallInfo fcinfo, KeyCallSite* site, Place place) {
    for (int attempt = 0; attempt < max_key_draws; ++attempt) {
        NewKey key = new_key();
        pg_uuid_t id;
        if (!place(key, &id))
            continue;
        Datum values[3] = {UUIDPGetDatum(&id), PointerGetDatum(key.api_key),
                           PointerGetDatum(key.key_prefix)};
        bool nulls[3] = {false, false, false};
        return iam::pg::return_at_most_one_row(fcinfo, &site->declared, values, nulls);
    }
    throw iam::Error(iam::sqlstate::internal_error, "could not find a free key_prefix");
}

// Who asks for a key: the signed-in user (nullptr if none) and whether the
// caller is the service role.
struct Creator {
    iam::pg::SubjectCache subject;
    const pg_uuid_t* user;
    bool is_service;
};

// A key belongs to someone: it takes a caller, signed in or holding a key.
void require_creator(Creator* creator) {
    creator->is_service = iam::pg::caller_is_service();
    creator->user = iam::pg::current_subject(&creator->subject);
    if (creator->user == nullptr && iam::pg::api_key_context() == nullptr && !creator->is_service)
        throw iam::Error(iam::sqlstate::insufficient_privilege,
                         "creating an API key needs a signed-in user or an API key", {},
                         "Sign in first, or send an API key.");
}

// Whose key it is: user_id and company_id as given, or else the caller.
struct KeyOwner {
    bool has_user, has_company;
    pg_uuid_t user_id, company_id;
};

KeyOwner key_owner(FunctionCallInfo fcinfo, const Creator& creator) {
    KeyOwner owner{};
    owner.has_user = !PG_ARGISNULL(1);
    owner.has_company = !PG_ARGISNULL(2);
    if (owner.has_user)
        owner.user_id = *PG_GETARG_UUID_P(1);
    if (owner.has_company)
        owner.company_id = *PG_GETARG_UUID_P(2);
    if (!owner.has_user && !owner.has_company && creator.user != nullptr) {
        owner.user_id = *creator.user;
        owner.has_user = true;
    }
    if (!owner.has_user && !owner.has_company)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "an API key needs an owner: user_id or company_id",
                         "There is no current user to default to.");
    return owner;
}

// A user's key acts as that user: nobody else makes one, not even a
// platform admin (a company's key is for the company's admins: RLS).
void require_own_user_key(const KeyOwner& owner, const Creator& creator) {
    if (owner.has_user && !creator.is_service &&
        (creator.user == nullptr || memcmp(creator.user->data, owner.user_id.data, UUID_LEN) != 0))
        throw iam::Error(iam::sqlstate::insufficient_privilege,
                         "permission denied to create an API key for another user", {},
                         "A key acts as its user: only that user creates it.");
}

// The INSERT of create_api_key and its parameters but the key's own
// (key_prefix $4, hashed_key $5, set per key drawn).
struct KeyInsert {
    Oid types[7];
    Datum values[7];
    char nulls[8];
};

KeyInsert key_insert(FunctionCallInfo fcinfo, KeyOwner* owner, Jsonb* permissions) {
    bool has_expiry = !PG_ARGISNULL(4);
    return KeyInsert{
        {UUIDOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID},
        {UUIDPGetDatum(&owner->user_id), UUIDPGetDatum(&owner->company_id), PG_GETARG_DATUM(0), 0,
         0, permissions != nullptr ? JsonbPGetDatum(permissions) : 0,
         has_expiry ? PG_GETARG_DATUM(4) : 0},
        {owner->has_user ? ' ' : 'n', owner->has_company ? ' ' : 'n', ' ', ' ', ' ',
         permissions != nullptr ? ' ' : 'n', has_expiry ? ' ' : 'n', '\0'}};
}

std::string uuid_text(Datum uuid) {
    // The C string through pg_call, the std::string outside it: no C++
    // object lives across its setjmp.
    const char* text =
        iam::pg::pg_call([&] { return DatumGetCString(DirectFunctionCall1(uuid_out, uuid)); });
    return std::string(text);
}

// What RLS refused, in words: the policies of iam.api_keys let a user make
// their own key, in a company only while an active member of it, and a
// company's key only its admins.
iam::Error refusal(const KeyInsert& insert) {
    bool has_user = insert.nulls[0] != 'n', has_company = insert.nulls[1] != 'n';
    if (has_company && !has_user)
        return iam::Error(
            iam::sqlstate::insufficient_privilege,
            "permission denied to create an API key for company " + uuid_text(insert.values[1]), {},
            "Only the company's admins (role_in_company admin) and the service role "
            "make its keys; a member makes a key of their own.");
    if (has_company)
        return iam::Error(
            iam::sqlstate::insufficient_privilege,
            "permission denied to create an API key in company " + uuid_text(insert.values[1]), {},
            "A user's key in a company is for an active member of an active "
            "company.");
    return iam::Error(iam::sqlstate::insufficient_privilege,
                      "permission denied to create this API key", {},
                      "A user makes keys of their own; the service role makes any.");
}

// Inserts the key as the caller; false if its key_prefix is taken. A
// missing owner is 02000, naming which one.
bool insert_key(KeyInsert* insert, const NewKey& key, pg_uuid_t* id) {
    insert->values[3] = PointerGetDatum(key.key_prefix);
    insert->values[4] = PointerGetDatum(key.hashed_key);
    try {
        return iam::pg::pg_call([&] {
            return execute_returning_id(
                "INSERT INTO iam.api_keys (user_id, company_id, name, key_prefix, hashed_key, "
                "permissions, expires_at) VALUES ($1, $2, $3, $4, $5, coalesce($6, '[]'), $7) "
                "ON CONFLICT (key_prefix) DO NOTHING RETURNING id",
                7, insert->types, insert->values, insert->nulls, id);
        });
    } catch (const iam::pg::PgError& error) {
        if (iam::pg::is_policy_refusal(error.data()))
            throw refusal(*insert);
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
}

}  // namespace

// iam.create_api_key(name, user_id, company_id, permissions, expires_at)
// -> TABLE(id uuid, api_key text, key_prefix text)
IAM_SQL_FUNCTION(iam_create_api_key) {
    // The trigger of iam.api_keys (src/pg/rules/api_key_rules.cpp) holds every
    // way of writing a key to these rules; checked here first, they fail
    // before a key is made and without the trigger's context.
    iam::pg::KeyCallSite* site = iam::pg::key_call_site(fcinfo);
    Creator creator{};
    require_creator(&creator);
    iam::pg::require_valid_key_name(PG_ARGISNULL(0) ? nullptr : PG_GETARG_TEXT_PP(0));
    KeyOwner owner = key_owner(fcinfo, creator);
    Jsonb* permissions = PG_ARGISNULL(3) ? nullptr : PG_GETARG_JSONB_P(3);
    if (permissions != nullptr)
        iam::pg::require_valid_permissions(permissions);
    if (!PG_ARGISNULL(4))
        iam::pg::require_future_expiry(PG_GETARG_TIMESTAMPTZ(4));
    require_own_user_key(owner, creator);
    KeyInsert insert = key_insert(fcinfo, &owner, permissions);
    return issue_key(fcinfo, site, [&](const NewKey& key, pg_uuid_t* id) {
        return insert_key(&insert, key, id);
    });
}

namespace {

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

}  // namespace

// iam.rotate_api_key(key_id uuid, grace interval DEFAULT '0')
//     -> TABLE(id uuid, api_key text, key_prefix text)
IAM_SQL_FUNCTION(iam_rotate_api_key) {
    iam::pg::KeyCallSite* site = iam::pg::key_call_site(fcinfo);
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
    // Replaces the key as the caller; whether a key was replaced.
    auto rotate = [&](const NewKey& key, Datum* values, Oid* types, pg_uuid_t* id) {
        if (overlap) {
            // The one way a key naming another in replaces_key_id is made
            // (guard_api_key checks the copy against this).
            iam::pg::RotationCopy copy(key_id, key.hashed_key);
            return iam::pg::pg_call(
                [&] { return execute_returning_id(replace_key, 4, types, values, nullptr, id); });
        }
        return iam::pg::pg_call(
            [&] { return execute_returning_id(replace_secret, 3, types, values, nullptr, id); });
    };
    return issue_key(fcinfo, site, [&](const NewKey& key, pg_uuid_t* id) {
        iam::pg::ApiKeyRow existing{};
        std::string_view prefix(VARDATA_ANY(key.key_prefix), VARSIZE_ANY_EXHDR(key.key_prefix));
        if (iam::pg::find_api_key(site->tables, prefix.data(), prefix.size(), &existing, nullptr))
            return false;  // taken: draw another key
        Oid types[4] = {UUIDOID, TEXTOID, TEXTOID, INTERVALOID};
        Datum values[4] = {UUIDPGetDatum(&key_id), PointerGetDatum(key.key_prefix),
                           PointerGetDatum(key.hashed_key), IntervalPGetDatum(&grace)};
        bool rotated = false;
        try {
            rotated = rotate(key, values, types, id);
        } catch (const iam::pg::PgError& error) {
            if (!iam::pg::is_policy_refusal(error.data()))
                throw;
            throw iam::Error(iam::sqlstate::insufficient_privilege,
                             "permission denied to rotate this API key", {},
                             "A key is rotated by its user, or a company's key by the "
                             "company's admins, while they may still create it.");
        }
        if (!rotated)
            throw iam::Error(iam::sqlstate::no_data_found,
                             "no active API key with this id that you may rotate", {},
                             "Revoked keys cannot be rotated; create a new key instead.");
        return true;
    });
}
