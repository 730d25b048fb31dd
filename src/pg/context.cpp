#include "context.hpp"

#include "guard.hpp"

#include "../core/claims.hpp"

#include <cstring>
#include <optional>
#include <string_view>

namespace iam::pg {

struct SubjectCache {
    char* claim_sub;  // the settings the answer was computed from (NULL: unset)
    char* claims;
    bool has_user;
    pg_uuid_t user_id;
};

namespace {

constexpr const char* claim_sub_setting = "request.jwt.claim.sub";
constexpr const char* claims_setting = "request.jwt.claims";

bool same_setting(const char* cached, const char* current) {
    if (cached == nullptr || current == nullptr) return cached == current;
    return strcmp(cached, current) == 0;
}

char* copy_setting(MemoryContext memory, const char* value) {
    return value == nullptr ? nullptr : MemoryContextStrdup(memory, value);
}

std::optional<iam::Uuid> subject_from(const char* claim_sub, const char* claims) {
    if (claim_sub != nullptr && claim_sub[0] != '\0') {
        auto user = iam::parse_uuid(claim_sub);
        if (!user) elog(DEBUG1, "iam: %s is not a UUID; no current user", claim_sub_setting);
        return user;
    }
    if (claims != nullptr && claims[0] != '\0') {
        auto user = iam::jwt_subject(std::string_view(claims));
        if (!user) elog(DEBUG1, "iam: %s has no UUID \"sub\"; no current user", claims_setting);
        return user;
    }
    return std::nullopt;
}

}  // namespace

bool current_subject(SubjectCache** cache, MemoryContext memory, pg_uuid_t* user_id) {
    const char* claim_sub = GetConfigOption(claim_sub_setting, true, false);
    const char* claims = GetConfigOption(claims_setting, true, false);
    SubjectCache* entry = *cache;
    if (entry == nullptr || !same_setting(entry->claim_sub, claim_sub) ||
        !same_setting(entry->claims, claims)) {
        // Build the new entry completely before publishing it: an error
        // half-way must not leave a cache that answers for other settings.
        auto* fresh = static_cast<SubjectCache*>(MemoryContextAllocZero(memory, sizeof(SubjectCache)));
        fresh->claim_sub = copy_setting(memory, claim_sub);
        fresh->claims = copy_setting(memory, claims);
        auto user = subject_from(claim_sub, claims);
        fresh->has_user = user.has_value();
        if (user) memcpy(fresh->user_id.data, user->bytes.data(), UUID_LEN);
        *cache = fresh;
        if (entry != nullptr) {
            if (entry->claim_sub) pfree(entry->claim_sub);
            if (entry->claims) pfree(entry->claims);
            pfree(entry);
        }
        entry = fresh;
    }
    if (entry->has_user) *user_id = entry->user_id;
    return entry->has_user;
}

}  // namespace iam::pg

// iam.current_user_id() -> uuid
IAM_SQL_FUNCTION(iam_current_user_id) {
    auto** cache = reinterpret_cast<iam::pg::SubjectCache**>(&fcinfo->flinfo->fn_extra);
    pg_uuid_t user_id;
    if (!iam::pg::current_subject(cache, fcinfo->flinfo->fn_mcxt, &user_id)) PG_RETURN_NULL();
    auto* result = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *result = user_id;
    PG_RETURN_UUID_P(result);
}
