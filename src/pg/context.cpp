#include "context.hpp"

#include "guard.hpp"

#include "../core/claims.hpp"

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

std::optional<iam::Uuid> subject_from(const char* claim_sub, const char* claims) {
    if (claim_sub != nullptr && claim_sub[0] != '\0') {
        auto user = iam::parse_uuid(claim_sub);
        if (!user)
            elog(DEBUG1, "iam: %s is not a UUID; no current user", claim_sub_setting);
        return user;
    }
    if (claims != nullptr && claims[0] != '\0') {
        auto user = iam::jwt_subject(std::string_view(claims));
        if (!user)
            elog(DEBUG1, "iam: %s has no UUID \"sub\"; no current user", claims_setting);
        return user;
    }
    return std::nullopt;
}

}  // namespace

void refresh_subject(SubjectCache* cache) {
    cache->generation = 0;  // stale until complete, should parsing fail
    auto user = subject_from(claim_sub_value, claims_value);
    cache->has_user = user.has_value();
    if (user)
        memcpy(cache->user_id.data, user->bytes.data(), UUID_LEN);
    cache->generation = identity_generation;
}

void define_identity_settings() {
    DefineCustomStringVariable(claim_sub_setting, "JWT subject claim as set by PostgREST (legacy)",
                               "Read by iam.current_user_id().", &claim_sub_value, "", PGC_USERSET,
                               GUC_NOT_IN_SAMPLE, nullptr, settings_changed, nullptr);
    DefineCustomStringVariable(claims_setting, "JWT claims (JSON) as set by PostgREST",
                               "Read by iam.current_user_id().", &claims_value, "", PGC_USERSET,
                               GUC_NOT_IN_SAMPLE, nullptr, settings_changed, nullptr);
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
