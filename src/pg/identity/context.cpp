#include "pg/identity/context.hpp"

#include "pg/platform/citus.hpp"
#include "pg/boundary/guard.hpp"

#include "core/json_members.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

namespace iam::pg {

uint64 identity_generation = 1;

namespace {

constexpr const char* claim_sub_setting = "request.jwt.claim.sub";
constexpr const char* claims_setting = "request.jwt.claims";

// The settings' values, owned by the GUC machinery.
char* claim_sub_value = nullptr;
char* claims_value = nullptr;
void settings_changed(const char*, void*) {
    ++identity_generation;
}

// The API-key context of the request, held by a setting that only
// superusers may change (so set_config by a client cannot forge it), local
// to the transaction (so it ends with the transaction and with a rolled-back
// subtransaction that set it), and passed to parallel workers with the other
// settings. Its value: "<key id>;<user id>;<company id>;<expiry>;<credits
// remaining>;<permissions JSON>", the ids, the expiry (microseconds since
// 2000) and the credits possibly empty; "" outside an authenticated request.
constexpr const char* api_key_setting = "iam.request_api_key";
char* api_key_value = nullptr;

// The setting decoded, once per change of it.
bool api_key_decoded = false;
bool has_api_key_context = false;
ApiKeyContext current_api_key;

void api_key_setting_changed(const char*, void*) {
    api_key_decoded = false;
    ++identity_generation;
}

void forget_api_key_context(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_PREPARE) {
        api_key_decoded = false;  // the permissions' memory goes with the transaction
        ++identity_generation;
    }
}

// Reads one id of the setting's value, up to the next ';'; false if it is
// malformed.
bool read_id(const char** cursor, bool* present, pg_uuid_t* id) {
    const char* end = strchr(*cursor, ';');
    if (end == nullptr)
        return false;
    *present = end != *cursor;
    if (*present) {
        auto parsed = iam::parse_uuid(std::string_view(*cursor, end - *cursor));
        if (!parsed)
            return false;
        memcpy(id->data, parsed->bytes.data(), UUID_LEN);
    }
    *cursor = end + 1;
    return true;
}

// Reads a number of the setting's value, up to the next ';'.
bool read_number(const char** cursor, bool* present, int64* number) {
    const char* end = strchr(*cursor, ';');
    if (end == nullptr)
        return false;
    *present = end != *cursor;
    if (*present) {
        char* parsed_end = nullptr;
        errno = 0;
        long long value = strtoll(*cursor, &parsed_end, 10);
        if (errno != 0 || parsed_end != end)
            return false;
        *number = static_cast<int64>(value);
    }
    *cursor = end + 1;
    return true;
}

// Plain C style: parsing the JSON may raise an error, caught here. Only a
// superuser can have written a value that does not decode; it counts as no
// API key.
void decode_api_key_context() {
    api_key_decoded = true;
    has_api_key_context = false;
    current_api_key = ApiKeyContext{};
    // On a Citus worker, the context the coordinator verified and sent.
    const char* value = api_key_value != nullptr && api_key_value[0] != '\0'
                            ? api_key_value
                            : forwarded_api_key_context();
    if (value == nullptr || value[0] == '\0')
        return;
    ApiKeyContext decoded{};
    bool has_key_id = false;
    const char* cursor = value;
    if (!read_id(&cursor, &has_key_id, &decoded.key_id) || !has_key_id ||
        !read_id(&cursor, &decoded.has_user, &decoded.user_id) ||
        !read_id(&cursor, &decoded.has_company, &decoded.company_id) ||
        !read_number(&cursor, &decoded.has_expiry, &decoded.expires_at) ||
        !read_number(&cursor, &decoded.has_credits, &decoded.credits_remaining)) {
        elog(WARNING, "iam: %s does not hold an API-key context; ignored", api_key_setting);
        return;
    }
    if (cursor[0] != '\0') {
        MemoryContext caller_context = MemoryContextSwitchTo(TopTransactionContext);
        PG_TRY();
        {
            decoded.permissions =
                DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(cursor)));
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_context);
            FlushErrorState();
            elog(WARNING, "iam: %s holds permissions that are not JSON; ignored", api_key_setting);
            return;
        }
        PG_END_TRY();
        MemoryContextSwitchTo(caller_context);
    }
    current_api_key = decoded;
    has_api_key_context = true;
}

// What the claims settings name, parsed once per change of them (every
// change, the restore at the end of a transaction included, passes through
// settings_changed and moves identity_generation on): the policies' call
// sites and the pre-request's revocation check of a statement share one
// parse. A pure function of the settings' text, so nothing outlives the
// request that set them.
struct ParsedClaims {
    uint64 generation;  // 0: not parsed
    bool legacy;        // the subject came from request.jwt.claim.sub
    bool has_user, has_session;
    pg_uuid_t user_id, session_id;  // has_session only when !legacy
};
ParsedClaims parsed_claims{};

void copy_uuid(const iam::Uuid& from, pg_uuid_t* to) {
    memcpy(to->data, from.bytes.data(), UUID_LEN);
}

// The user as Supabase's auth.uid() reads it: the legacy
// request.jwt.claim.sub if non-empty, else request.jwt.claims ->> 'sub';
// with the claims, their "session_id", read in the same pass.
const ParsedClaims& claims_of_request() {
    if (parsed_claims.generation == identity_generation)
        return parsed_claims;
    ParsedClaims parsed{};
    if (claim_sub_value != nullptr && claim_sub_value[0] != '\0') {
        parsed.legacy = true;
        auto user = iam::parse_uuid(claim_sub_value);
        if (!user)
            elog(DEBUG1, "iam: %s is not a UUID; no current user", claim_sub_setting);
        parsed.has_user = user.has_value();
        if (user)
            copy_uuid(*user, &parsed.user_id);
    } else if (claims_value != nullptr && claims_value[0] != '\0') {
        iam::JwtIdentity identity = iam::jwt_identity(std::string_view(claims_value));
        if (!identity.subject)
            elog(DEBUG1, "iam: %s has no UUID \"sub\"; no current user", claims_setting);
        parsed.has_user = identity.subject.has_value();
        if (identity.subject)
            copy_uuid(*identity.subject, &parsed.user_id);
        parsed.has_session = identity.session.has_value();
        if (identity.session)
            copy_uuid(*identity.session, &parsed.session_id);
    }
    parsed.generation = identity_generation;
    parsed_claims = parsed;
    return parsed_claims;
}

}  // namespace

RequestJwt request_jwt() {
    const ParsedClaims& claims = claims_of_request();
    RequestJwt jwt{};
    jwt.has_user = claims.has_user;
    jwt.user_id = claims.user_id;
    if (!claims.legacy) {
        jwt.has_session = claims.has_session;
        jwt.session_id = claims.session_id;
    } else {
        // request.jwt.claim.session_id is not a setting of this library
        // (PostgREST sets one per claim): read as it is now, each time.
        const char* session = GetConfigOption("request.jwt.claim.session_id", true, false);
        if (session != nullptr && session[0] != '\0') {
            if (auto parsed = iam::parse_uuid(session)) {
                jwt.has_session = true;
                copy_uuid(*parsed, &jwt.session_id);
            }
        }
    }
    return jwt;
}

void set_api_key_context(const pg_uuid_t& key_id, const pg_uuid_t* user_id,
                         const pg_uuid_t* company_id, const TimestampTz* expires_at,
                         const int64* credits_remaining, const Jsonb* permissions) {
    auto append_id = [](StringInfo value, const pg_uuid_t* id) {
        if (id != nullptr)
            appendStringInfoString(value,
                                   DatumGetCString(DirectFunctionCall1(
                                       uuid_out, UUIDPGetDatum(const_cast<pg_uuid_t*>(id)))));
        appendStringInfoChar(value, ';');
    };
    StringInfoData value;
    initStringInfo(&value);
    append_id(&value, &key_id);
    append_id(&value, user_id);
    append_id(&value, company_id);
    if (expires_at != nullptr)
        appendStringInfo(&value, INT64_FORMAT, static_cast<int64>(*expires_at));
    appendStringInfoChar(&value, ';');
    if (credits_remaining != nullptr)
        appendStringInfo(&value, INT64_FORMAT, *credits_remaining);
    appendStringInfoChar(&value, ';');
    if (permissions != nullptr)
        (void)JsonbToCString(&value, const_cast<JsonbContainer*>(&permissions->root),
                             VARSIZE(permissions));
    (void)set_config_option(api_key_setting, value.data, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
                            true, 0, false);
    pfree(value.data);
}

const ApiKeyContext* api_key_context() {
    if (!api_key_decoded)
        decode_api_key_context();
    return has_api_key_context ? &current_api_key : nullptr;
}

void refresh_subject(SubjectCache* cache) {
    cache->generation = 0;  // stale until complete, should parsing fail
    if (const ApiKeyContext* key = api_key_context()) {  // an authenticated request
        cache->has_user = key->has_user;
        cache->user_id = key->user_id;
        cache->generation = identity_generation;
        return;
    }
    const ParsedClaims& claims = claims_of_request();
    cache->has_user = claims.has_user;
    cache->user_id = claims.user_id;
    cache->generation = identity_generation;
}

void define_identity_settings() {
    DefineCustomStringVariable(claim_sub_setting, "JWT subject claim as set by PostgREST (legacy)",
                               "Read by iam.current_user_id().", &claim_sub_value, "", PGC_USERSET,
                               GUC_NOT_IN_SAMPLE, nullptr, settings_changed, nullptr);
    DefineCustomStringVariable(claims_setting, "JWT claims (JSON) as set by PostgREST",
                               "Read by iam.current_user_id().", &claims_value, "", PGC_USERSET,
                               GUC_NOT_IN_SAMPLE, nullptr, settings_changed, nullptr);
    DefineCustomStringVariable(api_key_setting, "The API-key context of the request",
                               "Set by iam.authenticate_request() for the transaction.",
                               &api_key_value, "", PGC_SUSET,
                               GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE, nullptr,
                               api_key_setting_changed, nullptr);
    define_citus_settings(api_key_setting_changed);
    RegisterXactCallback(forget_api_key_context, nullptr);
}

}  // namespace iam::pg

// iam.current_user_id() -> uuid
//
// The result points into the call site's cache instead of a fresh palloc per
// row: callers only read it, and anything that keeps a value beyond the
// current row copies it, as it must for per-tuple memory.
IAM_SQL_FUNCTION(iam_current_user_id) {
    auto* cache = static_cast<iam::pg::SubjectCache*>(fcinfo->flinfo->fn_extra);
    if (unlikely(cache == nullptr)) {
        cache = static_cast<iam::pg::SubjectCache*>(
            MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(iam::pg::SubjectCache)));
        fcinfo->flinfo->fn_extra = cache;
    }
    const pg_uuid_t* user_id = iam::pg::current_subject(cache);
    if (user_id == nullptr)
        PG_RETURN_NULL();
    PG_RETURN_UUID_P(const_cast<pg_uuid_t*>(user_id));
}
