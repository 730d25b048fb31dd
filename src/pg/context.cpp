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

bool has_api_key_context = false;
ApiKeyContext current_api_key;

void forget_api_key_context(XactEvent event, void*) {
    if (has_api_key_context &&
        (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
         event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
         event == XACT_EVENT_PREPARE)) {
        has_api_key_context = false;
        current_api_key = ApiKeyContext{};  // its jsonb went with the transaction
        ++identity_generation;
    }
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

void set_api_key_context(const pg_uuid_t& key_id, const pg_uuid_t* user_id,
                         const pg_uuid_t* company_id, const Jsonb* permissions) {
    ApiKeyContext context{};
    context.key_id = key_id;
    context.has_user = user_id != nullptr;
    if (user_id != nullptr)
        context.user_id = *user_id;
    context.has_company = company_id != nullptr;
    if (company_id != nullptr)
        context.company_id = *company_id;
    if (has_api_key_context && current_api_key.permissions != nullptr)
        pfree(current_api_key.permissions);  // a second request in one transaction
    if (permissions != nullptr) {
        size_t size = VARSIZE(permissions);
        context.permissions = static_cast<Jsonb*>(MemoryContextAlloc(TopTransactionContext, size));
        memcpy(context.permissions, permissions, size);
    }
    current_api_key = context;
    has_api_key_context = true;
    ++identity_generation;
}

const ApiKeyContext* api_key_context() {
    return has_api_key_context ? &current_api_key : nullptr;
}

void refresh_subject(SubjectCache* cache) {
    cache->generation = 0;      // stale until complete, should parsing fail
    if (has_api_key_context) {  // an authenticated request: the key's user
        cache->has_user = current_api_key.has_user;
        cache->user_id = current_api_key.user_id;
        cache->generation = identity_generation;
        return;
    }
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
