// Who is calling: the identity context shared by iam.current_user_id() and
// the role checks (docs/roles.md, "Claims").
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

// The caller's user id as one call site last computed it. Zero-initialised
// memory is a valid, stale cache.
struct SubjectCache {
    uint64 generation;  // of the identity settings the answer was computed from
    bool has_user;
    pg_uuid_t user_id;
};

// Bumped on every change to the identity settings; never 0.
extern uint64 identity_generation;

// Recomputes `cache` from the settings; see current_subject.
void refresh_subject(SubjectCache* cache);

// The caller's user id, read as Supabase's auth.uid() reads it: the legacy
// request.jwt.claim.sub setting if non-empty, else request.jwt.claims ->>
// 'sub'; nullptr when there is none. Anything that is not a UUID counts as
// no user (logged at DEBUG1), unless iam.external_subjects is on and
// iam.external_identities maps it, with the claims' issuer, to a user.
//
// Policies call this once per row: the JSON is parsed only when a setting
// changed since this call site's last call (and then once for all call
// sites and request_jwt), so a call otherwise costs one integer
// comparison. The result points into `cache`.
inline const pg_uuid_t* current_subject(SubjectCache* cache) {
    if (unlikely(cache->generation != identity_generation))
        refresh_subject(cache);
    return cache->has_user ? &cache->user_id : nullptr;
}

// What the request's JWT names, as PostgREST set its claims (an API key's
// context aside): its subject (as current_subject reads it, from the legacy
// request.jwt.claim.sub or else request.jwt.claims) and its "session_id"
// (from request.jwt.claim.session_id or request.jwt.claims alike), each only
// when it is a UUID. The claims are parsed once per change of the settings,
// a parse current_subject shares; nothing is kept beyond that change, and
// the settings change with every request and at the end of a transaction.
struct RequestJwt {
    bool has_user, has_session;
    pg_uuid_t user_id, session_id;
};
RequestJwt request_jwt();

// The API-key context of this transaction (iam.authenticate_request): who
// the request's key belongs to and what it may do. Held by the setting
// iam.request_api_key, which only superusers may change, so a client's
// set_config cannot forge it; local to the transaction, so it ends with the
// transaction, committed or not, and with a rolled-back subtransaction that
// set it; and passed to parallel workers like every setting.
struct ApiKeyContext {
    pg_uuid_t key_id;
    bool has_user, has_company, has_expiry;
    pg_uuid_t user_id, company_id;
    TimestampTz expires_at;
    bool has_credits;         // the key's credits are counted
    int64 credits_remaining;  // after this request, when has_credits
    Jsonb* permissions;       // in TopTransactionContext; nullptr for none
};

// Sets the context for the rest of the transaction; the caller's identity
// becomes the key's user (none for a company key).
void set_api_key_context(const pg_uuid_t& key_id, const pg_uuid_t* user_id,
                         const pg_uuid_t* company_id, const TimestampTz* expires_at,
                         const int64* credits_remaining, const Jsonb* permissions);

// The context, or nullptr outside an authenticated request. The setting is
// decoded once per change.
const ApiKeyContext* api_key_context();

// iam.external_subjects: what a JWT "sub" that is not a UUID (another
// identity provider's user id) names.
enum class ExternalSubjects {
    off,        // nobody, as before 0.8.0
    lookup,     // the user iam.external_identities maps (issuer, subject) to
    provision,  // as lookup; iam.authenticate_request() maps an unknown one
};
ExternalSubjects external_subjects();

// The claims' external subject and its issuer (from the claim
// iam.jwt_issuer_claim), in palloc'd memory, when iam.external_subjects is
// on, the request has no API key, and no row of iam.external_identities
// maps them; false otherwise.
bool unmapped_external_subject(char** issuer, size_t* issuer_length, char** subject,
                               size_t* subject_length);

// The claims' external subject was just mapped to `user_id` (provisioned on
// first sight): it is that user until the claims or the mapping change.
void adopt_external_subject(const pg_uuid_t& user_id);

// iam.external_identities changed in this backend: every cached subject is
// stale (the lookup runs once per change of the claims, or of this).
void external_identities_changed();

// Defines request.jwt.claim.sub and request.jwt.claims as settings of this
// library (from _PG_init), so that every change to them, including the
// restore at transaction end, passes through our assign hook. Values set
// before the library was loaded are kept.
void define_identity_settings();

}  // namespace iam::pg
