#include "context.hpp"

#include "guard.hpp"

#include "../core/claims.hpp"

#include <cstring>
#include <optional>
#include <string_view>

namespace iam::pg {

struct SubjectCache {
    uint64 generation;  // of the settings the answer was computed from
    bool has_user;
    pg_uuid_t user_id;
};

namespace {

constexpr const char* claim_sub_setting = "request.jwt.claim.sub";
constexpr const char* claims_setting = "request.jwt.claims";

// The settings' values, owned by the GUC machinery.
char* claim_sub_value = nullptr;
char* claims_value = nullptr;
// Bumped on every assignment of either setting; never 0, so that a zeroed
// cache is always stale.
uint64 settings_generation = 1;

void settings_changed(const char*, void*) {
    ++settings_generation;
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

bool current_subject(SubjectCache** cache, MemoryContext memory, pg_uuid_t* user_id) {
    SubjectCache* entry = *cache;
    if (entry == nullptr) {
        entry = static_cast<SubjectCache*>(MemoryContextAllocZero(memory, sizeof(SubjectCache)));
        *cache = entry;
    }
    if (entry->generation != settings_generation) {
        entry->generation = 0;  // stale until complete, should parsing fail
        auto user = subject_from(claim_sub_value, claims_value);
        entry->has_user = user.has_value();
        if (user)
            memcpy(entry->user_id.data, user->bytes.data(), UUID_LEN);
        entry->generation = settings_generation;
    }
    if (entry->has_user)
        *user_id = entry->user_id;
    return entry->has_user;
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
IAM_SQL_FUNCTION(iam_current_user_id) {
    auto** cache = reinterpret_cast<iam::pg::SubjectCache**>(&fcinfo->flinfo->fn_extra);
    pg_uuid_t user_id;
    if (!iam::pg::current_subject(cache, fcinfo->flinfo->fn_mcxt, &user_id))
        PG_RETURN_NULL();
    auto* result = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *result = user_id;
    PG_RETURN_UUID_P(result);
}
