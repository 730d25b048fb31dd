// iam.authenticate_request(): PostgREST's db-pre-request function. It reads
// the API key of the HTTP request from request.headers (PostgREST lower-cases
// header names): `x-api-key: <key>` or `authorization: ApiKey <key>`. A
// Bearer token is PostgREST's own business (the JWT claims), but for one
// question asked first, whatever else the request carries:
//   revoked JWT: the claims name a user iam.users holds as banned (until
//              after now) or deleted softly, or a "session_id" that
//              auth.sessions, where it exists (Supabase), no longer holds
//              (signed out, or its user deleted): 28000, HTTP 401. One
//              probe of each table, under the statement's snapshot, so a
//              ban, a deletion or a sign-out committed before the request
//              began refuses it. A subject iam.users does not know is left
//              as it was: iam knows only the users its sync or its
//              operator wrote, and such a caller owns no row of iam.
//   no key:    nothing changes;
//   valid key: the request is charged to the key (its rate limit and
//              credits, src/pg/api_keys/key_usage.hpp; 429 when it may not make
//              it, with X-Credits-Remaining when it has credits), and
//              the transaction's API-key context is set (src/pg/identity/context.hpp):
//              iam.current_user_id(), the role checks, iam.has_permission()
//              and every RLS policy act for the key's owner (a company
//              key has no user: iam.current_company_ids() is its company);
//              an anonymous request becomes `authenticated`, and its
//              claims name the key's owner and the key (auth.uid()
//              agrees); a JWT of another user with the key: 28000;
//   on a Citus coordinator, the claims and the key's context are sent
//   along to the workers (src/pg/platform/citus.hpp);
//   bad key:   28000, without saying why (PostgREST answers 401/403).
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/verification.hpp"
#include "pg/platform/citus.hpp"
#include "pg/identity/context.hpp"
#include "pg/identity/external_subjects.hpp"
#include "pg/boundary/http_errors.hpp"
#include "pg/api_keys/key_usage.hpp"
#include "pg/tables/auth_sessions.hpp"
#include "pg/tables/user_rows.hpp"

#include "core/json_members.hpp"
#include "core/secret.hpp"
#include "core/error.hpp"

#include <sodium.h>

#include <optional>
#include <string>

namespace {

constexpr std::string_view api_key_scheme = "apikey ";

// The API key the headers carry, if any. Every copy of a header is a Secret,
// wiped on every path out of here, the exceptions of an allocation included.
std::optional<iam::Secret> api_key_of(const char* headers) {
    if (headers == nullptr || headers[0] == '\0')
        return std::nullopt;
    // Both headers in one pass over the JSON.
    const std::string_view names[] = {"x-api-key", "authorization"};
    std::optional<std::string> values[2];
    iam::json_string_members(headers, names, 2, values);
    std::optional<iam::Secret> key, authorization;
    if (values[0])
        key.emplace(std::move(*values[0]));
    if (values[1])
        authorization.emplace(std::move(*values[1]));
    if (key)
        return key;
    if (!authorization || authorization->size() <= api_key_scheme.size())
        return std::nullopt;
    std::string_view header = authorization->view();
    for (size_t i = 0; i < api_key_scheme.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(header[i])) != api_key_scheme[i])
            return std::nullopt;
    return iam::Secret(std::string(header.substr(api_key_scheme.size())));
}

// The request is anonymous as PostgREST set it up: role anon.
bool is_anonymous_role() {
    Oid anon = get_role_oid("anon", true);
    return OidIsValid(anon) && GetUserId() == anon;
}

// Plain C style up to the throw: no C++ object is alive across the
// PostgreSQL calls.
void refuse_revoked_jwt() {
    iam::pg::RequestJwt jwt = iam::pg::request_jwt();
    if (!jwt.has_user && !jwt.has_session)
        return;
    bool revoked = false;
    if (jwt.has_user) {
        iam::pg::IamTables tables;
        iam::pg::resolve_iam_tables(&tables);
        revoked =
            iam::pg::user_standing(tables, jwt.user_id, GetCurrentStatementStartTimestamp()) ==
            iam::pg::UserStanding::barred;
    }
    if (!revoked && jwt.has_session)
        revoked = iam::pg::auth_session_standing(jwt.session_id) == iam::pg::SessionStanding::gone;
    if (revoked)
        // The token's own scheme in the challenge (RFC 6750, 3.1).
        throw iam::pg::ErrorWithHeaders(
            iam::sqlstate::invalid_authorization,
            "invalid JWT: its user is banned or deleted, or its session has ended",
            "Sign in again.", R"({"WWW-Authenticate":"Bearer error=\"invalid_token\""})");
}

// One identity per request: a JWT that names a user other than the key's
// owner (or any user, for a company's own key) is refused, never served as
// two people. Plain C style up to the throw.
void refuse_second_identity(const iam::pg::ApiKeyRow& row) {
    iam::pg::RequestJwt jwt = iam::pg::request_jwt();
    if (!jwt.has_user ||
        (row.has_user && memcmp(jwt.user_id.data, row.user_id.data, UUID_LEN) == 0))
        return;
    throw iam::Error(iam::sqlstate::invalid_authorization,
                     "the request's JWT and its API key name different users",
                     "Send the key alone, or the JWT of the key's owner.");
}

// Supabase's auth.uid(), auth.role() and auth.jwt() read the request's
// claims: they are made to agree with the key's context, for the rest of
// the transaction, from the same state (a JWT of the same user keeps its
// other claims). "iam_api_key_id" names the key. The legacy setting
// request.jwt.claim.sub, which auth.uid() reads first, follows when a
// PostgREST in legacy mode set it. Plain C style: no C++ object is alive
// across the PostgreSQL calls.
void mirror_key_in_claims(const iam::pg::ApiKeyRow& row) {
    char key_id[UUID_LEN * 2 + 5], user_id[UUID_LEN * 2 + 5];
    strlcpy(key_id, DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&row.id))),
            sizeof(key_id));
    if (row.has_user)
        strlcpy(user_id,
                DatumGetCString(DirectFunctionCall1(
                    uuid_out, UUIDPGetDatum(const_cast<pg_uuid_t*>(&row.user_id)))),
                sizeof(user_id));
    char ours[200];
    if (row.has_user)
        snprintf(ours, sizeof(ours),
                 R"({"sub": "%s", "role": "authenticated", "iam_api_key_id": "%s"})", user_id,
                 key_id);
    else
        snprintf(ours, sizeof(ours), R"({"role": "authenticated", "iam_api_key_id": "%s"})",
                 key_id);
    Datum claims = DirectFunctionCall1(jsonb_in, CStringGetDatum(ours));
    const char* before = GetConfigOption("request.jwt.claims", true, false);
    // The JWT's own claims, when it named the key's owner (a company key's
    // request has no user's claims to keep).
    if (row.has_user && iam::pg::request_jwt().has_user && before != nullptr && before[0] != '\0') {
        Datum kept = DirectFunctionCall1(jsonb_in, CStringGetDatum(before));
        if (JB_ROOT_IS_OBJECT(DatumGetJsonbP(kept)))
            claims = DirectFunctionCall2(jsonb_concat, kept, claims);
    }
    char* text = DatumGetCString(DirectFunctionCall1(jsonb_out, claims));
    (void)set_config_option("request.jwt.claims", text, PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_LOCAL, true, 0, false);
    const char* legacy_sub = GetConfigOption("request.jwt.claim.sub", true, false);
    if (legacy_sub != nullptr && legacy_sub[0] != '\0')
        (void)set_config_option("request.jwt.claim.sub", row.has_user ? user_id : "", PGC_USERSET,
                                PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

}  // namespace

// iam.authenticate_request() -> void
IAM_SQL_FUNCTION(iam_authenticate_request) {
    iam::pg::provision_external_subject();
    refuse_revoked_jwt();
    std::optional<iam::Secret> key = api_key_of(GetConfigOption("request.headers", true, false));
    if (!key) {
        iam::pg::pg_call([] { iam::pg::forward_identity_to_workers(nullptr); });
        PG_RETURN_VOID();
    }
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    text* key_text = nullptr;
    iam::pg::pg_call(
        [&] { key_text = cstring_to_text_with_len(key->data(), static_cast<int>(key->size())); });
    key.reset();  // wiped; no C++ object stays alive across the PostgreSQL calls below
    iam::pg::ApiKeyRow row{};
    bool valid = iam::pg::verify_api_key(tables, key_text, iam::pg::LastUse::record, &row);
    sodium_memzero(VARDATA_ANY(key_text), VARSIZE_ANY_EXHDR(key_text));
    if (!valid)
        throw iam::Error(iam::sqlstate::invalid_authorization, "invalid API key");
    refuse_second_identity(row);
    iam::pg::Charge charge = iam::pg::charge_api_key(row, 1);
    iam::pg::set_api_key_context(row.id, row.has_user ? &row.user_id : nullptr,
                                 row.has_company ? &row.company_id : nullptr,
                                 row.has_expiry ? &row.expires_at : nullptr,
                                 charge.has_credits ? &charge.remaining : nullptr, row.permissions);
    mirror_key_in_claims(row);
    iam::pg::pg_call([] {
        iam::pg::forward_identity_to_workers(GetConfigOption("iam.request_api_key", false, false));
    });
    if (charge.has_credits && iam::pg::in_postgrest_request()) {
        char remaining[24];
        snprintf(remaining, sizeof(remaining), INT64_FORMAT, charge.remaining);
        iam::pg::add_response_header("X-Credits-Remaining", remaining);
    }
    // Every key has an owner, a user or a company: the request is signed in.
    if (is_anonymous_role() && OidIsValid(get_role_oid("authenticated", true)))
        (void)set_config_option("role", "authenticated", PGC_USERSET, PGC_S_SESSION,
                                GUC_ACTION_LOCAL, true, 0, false);
    PG_RETURN_VOID();
}
