#include "pg/identity/context.hpp"

#include "pg/platform/citus.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/tables/external_identity_rows.hpp"

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

// Subjects of other identity providers (docs/roles.md, "Claims"): whether
// a "sub" that is not a UUID is looked up in iam.external_identities (and
// provisioned on first sight), and which claim names its provider.
constexpr const char* external_subjects_setting = "iam.external_subjects";
constexpr const char* issuer_claim_setting = "iam.jwt_issuer_claim";
int external_subjects_value = static_cast<int>(ExternalSubjects::off);
char* issuer_claim_value = nullptr;
const config_enum_entry external_subjects_options[] = {
    {"off", static_cast<int>(ExternalSubjects::off), false},
    {"lookup", static_cast<int>(ExternalSubjects::lookup), false},
    {"provision", static_cast<int>(ExternalSubjects::provision), false},
    {nullptr, 0, false}};
void external_subjects_changed(int, void*) {
    ++identity_generation;
}
// A claim name is a JSON key: any non-empty string up to a sane length.
bool check_issuer_claim(char** value, void**, GucSource) {
    if (*value == nullptr || (*value)[0] == '\0' || strlen(*value) > 255) {
        GUC_check_errdetail("%s must name a claim: 1 to 255 bytes.", issuer_claim_setting);
        return false;
    }
    return true;
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
    // Another provider's subject, with its issuer, that no row of
    // iam.external_identities maps (with iam.external_subjects on).
    bool unmapped_external;
};
ParsedClaims parsed_claims{};

// An external subject and its issuer as the claims spell them, in palloc'd
// memory, so that the lookup runs with no C++ object alive.
struct ExternalClaims {
    bool has_subject, has_issuer;
    char *subject, *issuer;
    size_t subject_length, issuer_length;
};

char* palloc_copy(const std::string& value) {
    // No error while the caller's C++ objects live: NULL when out of memory,
    // and the subject is then nobody.
    auto* copy = static_cast<char*>(
        MemoryContextAllocExtended(CurrentMemoryContext, value.size() + 1, MCXT_ALLOC_NO_OOM));
    if (copy != nullptr) {
        memcpy(copy, value.data(), value.size());
        copy[value.size()] = '\0';
    }
    return copy;
}

// The claims' identity, read in one pass: the UUIDs into *parsed, another
// provider's subject and issuer into *external (when looked up).
void read_claims(const char* claims, bool with_external, ParsedClaims* parsed,
                 ExternalClaims* external) {
    iam::JwtIdentity identity =
        iam::jwt_identity(std::string_view(claims), with_external ? issuer_claim_value : "");
    parsed->has_user = identity.subject.has_value();
    if (identity.subject)
        memcpy(parsed->user_id.data, identity.subject->bytes.data(), UUID_LEN);
    parsed->has_session = identity.session.has_value();
    if (identity.session)
        memcpy(parsed->session_id.data, identity.session->bytes.data(), UUID_LEN);
    if (identity.external_subject) {
        external->subject = palloc_copy(*identity.external_subject);
        external->has_subject = external->subject != nullptr;
        external->subject_length = identity.external_subject->size();
    }
    if (identity.issuer) {
        external->issuer = palloc_copy(*identity.issuer);
        external->has_issuer = external->issuer != nullptr;
        external->issuer_length = identity.issuer->size();
    }
}

// The backend's recent answers of iam.external_identities. Every request
// sets its claims anew, and reading the mapping (opening its table and
// index for one probe) cost a quarter of a short request's own time in the
// server; the same few subjects come back request after request on a
// pooled connection. Direct-mapped by a hash of (issuer, subject), "no
// row" remembered too; all forgotten when an invalidation reaches the
// table: a change to it, committed by any backend, or this backend's own
// at its next command (external_identities_changed), as before the cache.
struct KnownSubject {
    bool valid, mapped;
    pg_uuid_t user_id;
    char* key;  // issuer, NUL, subject; in TopMemoryContext
    size_t key_length;
};
constexpr uint32 known_subject_slots = 256;
KnownSubject known_subjects[known_subject_slots];
Oid known_subjects_table = InvalidOid;
bool known_subjects_callback_registered = false;
uint64 known_subjects_epoch = 0;  // moves on with every forgetting

void forget_known_subjects() {
    ++known_subjects_epoch;
    for (KnownSubject& known : known_subjects) {
        if (known.key != nullptr)
            pfree(known.key);
        known = KnownSubject{};
    }
}

void known_subjects_invalidated(Datum, Oid relation) {
    if (relation == InvalidOid || relation == known_subjects_table)
        forget_known_subjects();
}

// The slot of (issuer, subject) and its key, built in *key (palloc'd).
uint32 known_subject_slot(const char* issuer, size_t issuer_length, const char* subject,
                          size_t subject_length, char** key, size_t* key_length) {
    *key_length = issuer_length + 1 + subject_length;
    *key = static_cast<char*>(palloc(*key_length));
    memcpy(*key, issuer, issuer_length);
    (*key)[issuer_length] = '\0';
    memcpy(*key + issuer_length + 1, subject, subject_length);
    return hash_bytes(reinterpret_cast<const unsigned char*>(*key), static_cast<int>(*key_length)) %
           known_subject_slots;
}

// Plain C style: the user iam.external_identities maps the claims' external
// subject to, into *parsed. A subject or issuer holding NUL (which text
// cannot) or an empty one maps to nobody.
void resolve_external_subject(const ExternalClaims& external, ParsedClaims* parsed) {
    if (!external.has_subject || !external.has_issuer || external.subject_length == 0 ||
        external.issuer_length == 0 || strlen(external.subject) != external.subject_length ||
        strlen(external.issuer) != external.issuer_length) {
        elog(DEBUG1, "iam: the JWT's subject is not a UUID and has no issuer in claim \"%s\"",
             issuer_claim_value);
        return;
    }
    IamTables tables;
    resolve_iam_tables(&tables);
    if (!known_subjects_callback_registered) {
        CacheRegisterRelcacheCallback(known_subjects_invalidated, Datum(0));
        known_subjects_callback_registered = true;
    }
    if (tables.external_identities != known_subjects_table) {
        forget_known_subjects();
        known_subjects_table = tables.external_identities;
    }
    char* key;
    size_t key_length;
    KnownSubject& known =
        known_subjects[known_subject_slot(external.issuer, external.issuer_length, external.subject,
                                          external.subject_length, &key, &key_length)];
    if (known.valid && known.key_length == key_length && memcmp(known.key, key, key_length) == 0) {
        parsed->has_user = known.mapped;
        parsed->user_id = known.user_id;
        pfree(key);
    } else {
        // Remembered answers are read under the latest committed state (and
        // this transaction's own changes), which every later change
        // invalidates; an older snapshot's answer could outlive the
        // invalidation that came before it. A parallel operation may take
        // no new snapshot: there the answer is read, not remembered.
        const bool remember = !IsInParallelMode() && OidIsValid(known_subjects_table);
        const uint64 epoch = known_subjects_epoch;
        parsed->has_user = external_identity_user(
            tables, external.issuer, external.issuer_length, external.subject,
            external.subject_length, &parsed->user_id, remember ? GetLatestSnapshot() : nullptr);
        // An invalidation that arrived while reading forgot everything: what
        // was read is then not remembered either.
        if (remember && epoch == known_subjects_epoch) {
            if (known.key != nullptr)
                pfree(known.key);
            known = KnownSubject{};
            known.key = static_cast<char*>(MemoryContextAlloc(TopMemoryContext, key_length));
            memcpy(known.key, key, key_length);
            known.key_length = key_length;
            known.mapped = parsed->has_user;
            known.user_id = parsed->user_id;
            known.valid = true;
        }
        pfree(key);
    }
    parsed->unmapped_external = !parsed->has_user && OidIsValid(tables.external_identities);
    if (!parsed->has_user)
        elog(DEBUG1, "iam: no iam.external_identities row maps the JWT's subject; no current user");
}

void copy_uuid(const iam::Uuid& from, pg_uuid_t* to) {
    memcpy(to->data, from.bytes.data(), UUID_LEN);
}

// The user as Supabase's auth.uid() reads it: the legacy
// request.jwt.claim.sub if non-empty, else request.jwt.claims ->> 'sub';
// with the claims, their "session_id", read in the same pass.
const ParsedClaims& claims_of_request() {
    if (parsed_claims.generation == identity_generation)
        return parsed_claims;
    const uint64 generation_at_start = identity_generation;
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
        const bool with_external =
            external_subjects_value != static_cast<int>(ExternalSubjects::off);
        ExternalClaims external{};
        read_claims(claims_value, with_external, &parsed, &external);
        if (!parsed.has_user && external.has_subject)
            resolve_external_subject(external, &parsed);
        else if (!parsed.has_user)
            elog(DEBUG1, "iam: %s has no UUID \"sub\"; no current user", claims_setting);
        if (external.subject != nullptr)
            pfree(external.subject);
        if (external.issuer != nullptr)
            pfree(external.issuer);
    }
    // A lookup may have read a table; the settings cannot have changed
    // meanwhile, but a trigger of iam.external_identities may have moved
    // the generation on: what was read holds for the generation it began in.
    parsed.generation = generation_at_start;
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
    cache->generation = claims.generation;
}

ExternalSubjects external_subjects() {
    return static_cast<ExternalSubjects>(external_subjects_value);
}

bool unmapped_external_subject(char** issuer, size_t* issuer_length, char** subject,
                               size_t* subject_length) {
    if (api_key_context() != nullptr || !claims_of_request().unmapped_external)
        return false;
    ParsedClaims ignored{};
    ExternalClaims external{};
    read_claims(claims_value, true, &ignored, &external);
    if (!external.has_subject || !external.has_issuer) {
        if (external.subject != nullptr)
            pfree(external.subject);
        if (external.issuer != nullptr)
            pfree(external.issuer);
        return false;
    }
    *issuer = external.issuer;
    *issuer_length = external.issuer_length;
    *subject = external.subject;
    *subject_length = external.subject_length;
    return true;
}

void adopt_external_subject(const pg_uuid_t& user_id) {
    ++identity_generation;  // every call site's cache asks again
    parsed_claims.has_user = true;
    parsed_claims.user_id = user_id;
    parsed_claims.unmapped_external = false;
    parsed_claims.generation = identity_generation;
}

void external_identities_changed() {
    ++identity_generation;
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
    DefineCustomEnumVariable(
        external_subjects_setting,
        "Whether a JWT subject that is not a UUID is looked up in iam.external_identities",
        "off: such a subject is no user; lookup: the mapping names its user; provision: as "
        "lookup, and iam.authenticate_request() maps an unknown one to a new user.",
        &external_subjects_value, static_cast<int>(ExternalSubjects::off),
        external_subjects_options, PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, external_subjects_changed,
        nullptr);
    DefineCustomStringVariable(issuer_claim_setting,
                               "The JWT claim that names the identity provider of its subject",
                               "Read with iam.external_subjects: the issuer column of "
                               "iam.external_identities.",
                               &issuer_claim_value, "iss", PGC_SUSET, GUC_NOT_IN_SAMPLE,
                               check_issuer_claim, settings_changed, nullptr);
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
