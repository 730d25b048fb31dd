// Permission checks: iam.can(permission [, company_id]).
//
// A policy asks about the caller, row by row, with a constant permission:
// the call site works out once per statement and identity where the caller
// holds it (everywhere, through a platform role; or the companies whose
// roles grant it), bounded by what the caller holds, and answers each row
// by a probe, like the company checks. Everything is read afresh by the
// next statement: a grant, a revocation, a role change, a suspended
// company, a revoked or narrowed key.
#include "pg/checks/permission_checks.hpp"

#include "pg/boundary/guard.hpp"

#include "pg/checks/call_site.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/identity/request_key.hpp"
#include "pg/tables/api_key_rows.hpp"
#include "pg/tables/membership_rows.hpp"
#include "pg/tables/model_cache.hpp"
#include "pg/tables/permission_rows.hpp"
#include "pg/tables/role_rows.hpp"

#include "core/api_key.hpp"
#include "core/error.hpp"

#include <string>

namespace {

using iam::pg::CallerPermission;
using iam::pg::CallSiteCache;
using iam::pg::IamTables;

// Whose permissions count, and within what, read afresh: the key of the
// request (its row, not the copy taken when the request began), else the
// signed-in user, else the service role or the operator with nobody named.
struct Holder {
    bool everything;
    bool has_user;
    pg_uuid_t user_id;
    bool has_key;
    const Jsonb* key_scope;  // nullptr: the key no longer stands, and covers nothing
    bool has_key_company;    // the key answers in this company only
    pg_uuid_t key_company;
    bool company_key;  // a company's own key: its scope, in its company
};

Holder current_holder(const IamTables& tables, iam::pg::SubjectCache* subject) {
    Holder holder{};
    if (const iam::pg::ApiKeyContext* key = iam::pg::api_key_context()) {
        holder.has_key = true;
        iam::pg::ApiKeyRow row{};
        if (!iam::pg::find_api_key_by_id(tables, key->key_id, &row))
            return holder;
        // The company the key names bounds it, also once its owner has left
        // that company (when the key still verifies, as theirs alone).
        holder.has_key_company = row.has_company;
        holder.key_company = row.company_id;
        if (!iam::pg::api_key_stands(tables, &row, GetCurrentStatementStartTimestamp()))
            return holder;
        holder.key_scope = row.permissions;
        holder.company_key = !row.has_user;
        holder.has_user = row.has_user;
        holder.user_id = row.user_id;
        return holder;
    }
    if (const pg_uuid_t* user_id = iam::pg::current_subject(subject)) {
        holder.has_user = true;
        holder.user_id = *user_id;
        return holder;
    }
    holder.everything = iam::pg::session_is_service() || iam::pg::session_is_operator();
    return holder;
}

bool grant_covers(const char* grant, int length, void* wanted) {
    return iam::permission_covers(std::string_view(grant, length),
                                  *static_cast<const std::string_view*>(wanted));
}

// Whether one of a role's grants covers `wanted`: from the grants the
// backend remembers (iam.can), or read under the statement's snapshot (the
// rules of who may grant what, through caller_holds).
bool role_covers(const IamTables& tables, iam::pg::RoleKind kind, const pg_uuid_t& role_id,
                 std::string_view* wanted, bool remembered) {
    return remembered
               ? iam::pg::remembered_grant_matches(tables, kind, role_id, grant_covers, wanted)
               : iam::pg::role_grant_matches(tables, kind, role_id, grant_covers, wanted);
}

struct PlatformSearch {
    const IamTables* tables;
    std::string_view* wanted;
    bool remembered;
    bool held;
};

bool holds_through_platform_roles(const IamTables& tables, const pg_uuid_t& user_id,
                                  std::string_view wanted, bool remembered) {
    PlatformSearch search{&tables, &wanted, remembered, false};
    iam::pg::for_each_role_of(
        tables, user_id,
        [](const pg_uuid_t& role_id, void* context) {
            auto* search = static_cast<PlatformSearch*>(context);
            if (!search->held)
                search->held = role_covers(*search->tables, iam::pg::RoleKind::platform, role_id,
                                           search->wanted, search->remembered);
        },
        &search);
    return search.held;
}

// The company roles' answers for one question, remembered in `memo` when
// given (the templates are asked in every company).
struct CompanyRoleSearch {
    const IamTables* tables;
    std::string_view* wanted;
    iam::pg::MemoBudget* budget;
    iam::pg::UserMemo* memo;
    bool remembered;  // the grants from what the backend remembers
    bool held;
};

bool company_role_covers(CompanyRoleSearch* search, const pg_uuid_t& role_id) {
    if (search->memo != nullptr) {
        uint8 found = search->memo->find(iam::pg::uuid_key_bytes(role_id));
        if (found != 0)
            return found == iam::pg::memo_yes;
    }
    bool covers = role_covers(*search->tables, iam::pg::RoleKind::company, role_id, search->wanted,
                              search->remembered);
    if (search->memo != nullptr && !search->memo->full)
        search->memo->remember(search->budget, iam::pg::uuid_key_bytes(role_id),
                               iam::pg::memo_value(covers));
    return covers;
}

// Through role_in_company (the templates member and admin) and the
// member's other company roles; membership and company state aside.
bool holds_in_company(CompanyRoleSearch* search, const pg_uuid_t& user_id,
                      const pg_uuid_t& company_id, bool is_admin) {
    if (company_role_covers(search, iam::pg::member_template_id) ||
        (is_admin && company_role_covers(search, iam::pg::admin_template_id)))
        return true;
    search->held = false;
    iam::pg::for_each_member_role(
        *search->tables, user_id, company_id,
        [](const pg_uuid_t& role_id, void* context) {
            auto* search = static_cast<CompanyRoleSearch*>(context);
            if (!search->held)
                search->held = company_role_covers(search, role_id);
        },
        search);
    return search->held;
}

struct CompanyLoad {
    CallSiteCache* cache;
    CompanyRoleSearch* search;
    const pg_uuid_t* user_id;
};

bool remember_company_if_held(const pg_uuid_t& company_id, bool is_admin, void* context) {
    auto* load = static_cast<CompanyLoad*>(context);
    CallSiteCache* cache = load->cache;
    CallerPermission& answers = cache->permission;
    if (answers.has_only_company && !iam::pg::same_uuid(company_id, answers.only_company))
        return true;
    if (!iam::pg::company_is_active(cache->tables, company_id, &cache->companies_scan) ||
        !holds_in_company(load->search, *load->user_id, company_id, is_admin))
        return true;
    if (!answers.companies.remember(&cache->budget, iam::pg::uuid_key_bytes(company_id),
                                    iam::pg::memo_yes, true)) {
        answers.fits = false;
        return false;
    }
    return true;
}

using iam::pg::text_view;

// Where the caller holds the call site's permission, for this statement
// and identity: everywhere, or in the company of a company's key; a user's
// companies are asked later, as rows name them (held_in_company).
const CallerPermission& caller_permission(CallSiteCache* cache, const text* permission) {
    CallerPermission& answers = cache->permission;
    if (likely(answers.loaded && answers.generation == iam::pg::identity_generation))
        return answers;
    answers.companies.release(&cache->budget);
    answers.loaded = true;
    answers.generation = iam::pg::identity_generation;
    answers.everywhere = answers.has_only_company = false;
    answers.companies_loaded = answers.fits = true;
    answers.asked = 0;
    std::string_view wanted = text_view(permission);
    Holder holder = current_holder(cache->tables, &cache->subject);
    if (holder.everything) {
        answers.everywhere = true;
        return answers;
    }
    if (holder.has_key && !iam::pg::permissions_cover(holder.key_scope, wanted))
        return answers;
    answers.has_only_company = holder.has_key_company;
    answers.only_company = holder.key_company;
    if (holder.company_key) {
        answers.companies.remember(&cache->budget, iam::pg::uuid_key_bytes(holder.key_company),
                                   iam::pg::memo_yes, true);
        return answers;
    }
    if (!holder.has_user)
        return answers;
    if (holds_through_platform_roles(cache->tables, holder.user_id, wanted, true)) {
        answers.everywhere = true;
        return answers;
    }
    answers.companies_loaded = false;
    answers.user_id = holder.user_id;
    return answers;
}

// Every company where the user holds the permission, at once.
void load_companies(CallSiteCache* cache, const text* permission) {
    CallerPermission& answers = cache->permission;
    answers.companies.release(&cache->budget);
    answers.companies_loaded = true;
    answers.fits = true;
    std::string_view wanted = text_view(permission);
    // The company roles' answers share the call site's per-user memo, which
    // a check of permissions does not otherwise use.
    CompanyRoleSearch search{&cache->tables, &wanted, &cache->budget, &cache->users, true, false};
    pg_uuid_t user_id = answers.user_id;
    CompanyLoad load{cache, &search, &user_id};
    iam::pg::for_each_membership_of(cache->tables, user_id, remember_company_if_held, &load);
    if (!answers.fits)  // more companies than the budget holds: asked one by one
        answers.companies.release(&cache->budget);
}

// Loading a user's companies reads each membership and each company's roles
// of the user: for a consultant in 500 companies, over a thousand index
// scans, more than a request that reads one row costs in all. So the first
// companies rows ask about are answered one by one (and remembered, "no"
// included), and all of them are loaded once rows have named this many.
constexpr uint32 companies_asked_one_by_one = 32;

// Whether the user holds the permission in this company, read now.
bool holds_in_one_company(CallSiteCache* cache, const text* permission,
                          const pg_uuid_t& company_id) {
    const CallerPermission& answers = cache->permission;
    if (answers.has_only_company && !iam::pg::same_uuid(company_id, answers.only_company))
        return false;
    bool is_admin;
    if (!iam::pg::is_active_member_as(cache->tables, answers.user_id, company_id, &is_admin,
                                      &cache->company_users_scan) ||
        !iam::pg::company_is_active(cache->tables, company_id, &cache->companies_scan))
        return false;
    std::string_view wanted = text_view(permission);
    CompanyRoleSearch search{&cache->tables, &wanted, &cache->budget, &cache->users, true, false};
    return holds_in_company(&search, answers.user_id, company_id, is_admin);
}

// The answer for a company of a user's companies, when they are not (or
// cannot be) all in the memo.
bool held_in_company(CallSiteCache* cache, const text* permission, const pg_uuid_t& company_id) {
    CallerPermission& answers = cache->permission;
    const uint8* key = iam::pg::uuid_key_bytes(company_id);
    if (!answers.companies_loaded) {
        uint8 found = answers.companies.find(key);
        if (found != 0)
            return found == iam::pg::memo_yes;
        if (answers.asked < companies_asked_one_by_one) {
            ++answers.asked;
            bool held = holds_in_one_company(cache, permission, company_id);
            // No room: the company is asked again, and counted again.
            answers.companies.remember(&cache->budget, key, iam::pg::memo_value(held), true);
            return held;
        }
        load_companies(cache, permission);
    }
    if (answers.fits)
        return answers.companies.find(key) == iam::pg::memo_yes;
    return iam::pg::caller_holds(cache->tables, text_view(permission), &company_id);
}

// The answer without a company (the one-argument form, or a NULL company):
// a platform role's permission, but not through a key bound to a company,
// which acts in that company only.
bool held_without_company(const CallerPermission& answers) {
    return answers.everywhere && !answers.has_only_company;
}

// The permission a check asks about, argument 0: validated and looked up in
// the catalogue once per statement and question.
const text* asked_permission(FunctionCallInfo fcinfo, CallSiteCache* cache) {
    if (PG_ARGISNULL(0))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "iam.can(): the permission must not be NULL");
    if (iam::pg::remember_question(fcinfo, cache, 0)) {
        cache->permission.loaded = false;
        const text* permission = reinterpret_cast<const text*>(cache->question);
        std::string_view name = text_view(permission);
        if (!iam::is_valid_permission(name) || name.find('*') != std::string_view::npos) {
            std::string message = "iam.can(): a " + std::to_string(name.size()) +
                                  "-byte string that is not a permission";
            iam::pg::forget_question(cache);  // asked again, it is checked again
            throw iam::Error(iam::sqlstate::invalid_parameter_value, message,
                             "A permission is 1 to 200 printable ASCII characters without spaces; "
                             "wildcards (*) are for grants, not for checks.");
        }
        if (!iam::pg::permission_is_known(cache->tables, permission)) {
            std::string message =
                "permission " + iam::pg::quoted_name(permission) + " does not exist";
            iam::pg::forget_question(cache);
            throw iam::Error(iam::sqlstate::undefined_object, message,
                             "The application's permissions are the rows of iam.permissions.");
        }
    }
    return reinterpret_cast<const text*>(cache->question);
}

}  // namespace

bool iam::pg::caller_holds(const IamTables& tables, std::string_view wanted,
                           const pg_uuid_t* company_id) {
    SubjectCache subject{};
    Holder holder = current_holder(tables, &subject);
    if (holder.everything)
        return true;
    if (holder.has_key && !permissions_cover(holder.key_scope, wanted))
        return false;
    // A key bound to a company acts in that company only: not elsewhere,
    // and not without a company (the platform roles' questions).
    if (holder.has_key_company &&
        (company_id == nullptr || !same_uuid(*company_id, holder.key_company)))
        return false;
    if (holder.company_key)
        return company_id != nullptr;
    if (!holder.has_user)
        return false;
    if (holds_through_platform_roles(tables, holder.user_id, wanted, false))
        return true;
    if (company_id == nullptr || !is_active_member(tables, holder.user_id, *company_id) ||
        !company_is_active(tables, *company_id))
        return false;
    CompanyRoleSearch search{&tables, &wanted, nullptr, nullptr, false, false};
    return holds_in_company(&search, holder.user_id, *company_id,
                            is_active_admin(tables, holder.user_id, *company_id));
}

// iam.can(permission text) -> boolean: held through a platform role (for a
// request authenticated by a key, within its scope)
IAM_SQL_FUNCTION(iam_can) {
    CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
    const text* permission = asked_permission(fcinfo, cache);
    PG_RETURN_BOOL(held_without_company(caller_permission(cache, permission)));
}

// iam.can(permission text, company_id uuid) -> boolean: held through a
// platform role, or through the caller's roles in that company; a NULL
// company asks about the platform roles only
IAM_SQL_FUNCTION(iam_can_in_company) {
    CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
    const text* permission = asked_permission(fcinfo, cache);
    const CallerPermission& answers = caller_permission(cache, permission);
    if (PG_ARGISNULL(1))
        PG_RETURN_BOOL(held_without_company(answers));
    const pg_uuid_t* company_id = PG_GETARG_UUID_P(1);
    if (answers.everywhere)
        PG_RETURN_BOOL(!answers.has_only_company ||
                       iam::pg::same_uuid(*company_id, answers.only_company));
    if (likely(answers.companies_loaded && answers.fits))
        PG_RETURN_BOOL(answers.companies.find(iam::pg::uuid_key_bytes(*company_id)) ==
                       iam::pg::memo_yes);
    PG_RETURN_BOOL(held_in_company(cache, permission, *company_id));
}
