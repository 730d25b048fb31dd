// Company checks: iam.is_company_member, is_company_admin,
// current_company_ids, is_current_company, and the settings of companies.
//
// A tenant policy asks about the caller, row by row: the call site loads
// the caller's active memberships once per statement and identity
// (CallerCompanies in call_site.hpp), bounded by what the caller holds, and
// answers every row by a probe, a company the caller is not in included.
// A question about another user goes through the call site's memo of pairs,
// and past its bound through the kept index scans; is_company_member asked
// about many pairs loads every active membership at once (key_set.hpp).
#include "pg/checks/company_checks.hpp"

#include "pg/boundary/guard.hpp"

#include "pg/checks/call_site.hpp"
#include "pg/tables/membership_rows.hpp"

#include <algorithm>

namespace {

using iam::pg::CallerCompanies;
using iam::pg::CallSiteCache;

struct CompanyLoad {
    CallSiteCache* cache;
    CallerCompanies* caller;
};

bool remember_caller_company(const pg_uuid_t& company_id, bool is_admin, void* context) {
    auto* load = static_cast<CompanyLoad*>(context);
    if (!iam::pg::company_is_active(load->cache->tables, company_id, &load->cache->companies_scan))
        return true;
    load->caller->any = true;
    if (!load->caller->companies.remember(&load->cache->budget, iam::pg::uuid_key_bytes(company_id),
                                          iam::pg::memo_value(is_admin), true)) {
        load->caller->fits = false;
        return false;
    }
    return true;
}

// The caller's companies, loaded once per statement and identity: a user's
// active memberships in active companies (admin flags with them), or the
// company of a company's API key; none for anon.
CallerCompanies& caller_companies(CallSiteCache* cache) {
    CallerCompanies& caller = cache->caller;
    if (likely(caller.loaded && caller.generation == iam::pg::identity_generation))
        return caller;
    caller.companies.release(&cache->budget);
    caller.loaded = true;
    caller.generation = iam::pg::identity_generation;
    caller.fits = true;
    caller.any = false;
    caller.has_user = false;
    const iam::pg::ApiKeyContext* key = iam::pg::api_key_context();
    if (key != nullptr && key->has_company && !key->has_user) {
        CompanyLoad load{cache, &caller};
        remember_caller_company(key->company_id, false, &load);
    } else if (const pg_uuid_t* user_id = iam::pg::current_subject(&cache->subject)) {
        caller.has_user = true;
        caller.user_id = *user_id;
        CompanyLoad load{cache, &caller};
        iam::pg::for_each_membership_of(cache->tables, *user_id, remember_caller_company, &load);
    }
    if (!caller.fits)  // more companies than the budget holds: asked one by one
        caller.companies.release(&cache->budget);
    return caller;
}

// The caller's companies if the check is about the caller and they fit.
pg_attribute_always_inline const CallerCompanies* companies_of_caller(CallSiteCache* cache,
                                                                      const pg_uuid_t& user_id) {
    const pg_uuid_t* caller = iam::pg::current_subject(&cache->subject);
    if (caller == nullptr || !iam::pg::same_uuid(*caller, user_id))
        return nullptr;
    const CallerCompanies& companies = caller_companies(cache);
    return companies.fits && companies.has_user ? &companies : nullptr;
}

bool is_member_of_active_company(CallSiteCache* cache, const pg_uuid_t& user_id,
                                 const pg_uuid_t& company_id) {
    return iam::pg::company_active(cache, company_id) &&
           iam::pg::is_active_member(cache->tables, user_id, company_id,
                                     &cache->company_users_scan);
}

// An answer about (user, company) from the memo of pairs, or read and
// remembered while the budget has room.
template <typename Read>
bool pair_answer(CallSiteCache* cache, const pg_uuid_t& user_id, const pg_uuid_t& company_id,
                 Read read) {
    iam::pg::PairKey key(user_id, company_id);
    uint8 found = cache->pairs.find(key.bytes);
    if (found != 0)
        return found == iam::pg::memo_yes;
    bool answer = read();
    if (!cache->pairs.full)
        cache->pairs.remember(&cache->budget, key.bytes, iam::pg::memo_value(answer));
    return answer;
}

// After this many pairs read one by one, and at least an eighth of
// company_users' estimated rows (a read costs about what loading eight
// memberships does), is_company_member loads every active membership at
// once: a statement about a few pairs reads only theirs, and one about
// many pays at most about twice what the better choice would have.
constexpr uint32 pair_misses_before_estimating = 256;
constexpr double memberships_per_miss = 8;

bool add_membership(const pg_uuid_t& user_id, const pg_uuid_t& company_id,
                    const ItemPointerData& row, void* context) {
    iam::pg::PairKey key(user_id, company_id);
    static_cast<iam::pg::MembershipSet*>(context)->add(key.bytes, row);
    return true;
}

// Replaces the memo of pairs with every active membership (company state
// aside, which the company memo answers), counted first from the index:
// as many as the budget holds in the dense set, and the places of the
// others' rows, or a filter of those past them (key_set.hpp).
void load_memberships(CallSiteCache* cache) {
    cache->memberships_tried = true;
    cache->pairs.release(&cache->budget);
    uint64 counted = iam::pg::count_membership_entries(cache->tables);
    if (!cache->memberships.start(&cache->budget, counted))
        return;  // too little room: every pair is read
    iam::pg::hold_rows_in_place(cache->tables.company_users);  // as load_holders
    iam::pg::for_each_active_membership(cache->tables, add_membership, &cache->memberships);
    cache->memberships.finish(&cache->budget);
}

// Counts a pair read one by one, and loads the memberships once enough were.
void count_pair_miss(CallSiteCache* cache) {
    if (cache->memberships_tried)
        return;
    ++cache->pair_misses;
    if (cache->pair_misses == pair_misses_before_estimating) {
        double rows = iam::pg::estimated_memberships(cache->tables);
        if (rows < 0)  // never analyzed
            rows = static_cast<double>(iam::pg::count_membership_entries(cache->tables));
        double misses = rows / memberships_per_miss;
        cache->pair_misses_before_loading = static_cast<uint32>(std::min<double>(
            std::max<double>(misses, pair_misses_before_estimating), PG_UINT32_MAX));
    }
    if (cache->pair_misses_before_loading != 0 &&
        cache->pair_misses >= cache->pair_misses_before_loading)
        load_memberships(cache);
}

// Whether the user is an active member of the active company, from the
// loaded memberships, reading only what they cannot rule out.
bool member_from_set(CallSiteCache* cache, const pg_uuid_t& user_id, const pg_uuid_t& company_id) {
    if (!iam::pg::company_active(cache, company_id))
        return false;
    iam::pg::PairKey key(user_id, company_id);
    const iam::pg::MembershipSet& memberships = cache->memberships;
    if (memberships.contains(key.bytes))
        return true;
    iam::pg::RowMatch row = memberships.match_row(key.bytes, [&](const ItemPointerData& place) {
        return iam::pg::active_membership_row_is(cache->tables, &cache->company_users_scan, place,
                                                 user_id, company_id);
    });
    if (row == iam::pg::RowMatch::same)
        return true;
    if (row == iam::pg::RowMatch::other && !memberships.may_hold(key.bytes))
        return false;
    return iam::pg::is_active_member(cache->tables, user_id, company_id,
                                     &cache->company_users_scan);
}

struct CompanyQuestion {
    CallSiteCache* cache;
    const pg_uuid_t* company_id;
    const pg_uuid_t* user_id;
};

// The arguments of is_company_member and is_company_admin, checked: nullptr
// cache if either is NULL (the answer is false).
CompanyQuestion company_question(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        return {nullptr, nullptr, nullptr};
    CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
    const pg_uuid_t* company_id = PG_GETARG_UUID_P(0);
    const pg_uuid_t* user_id = PG_GETARG_UUID_P(1);
    iam::pg::require_may_ask_about(cache, *user_id, company_id);
    return {cache, company_id, user_id};
}

bool member_check(FunctionCallInfo fcinfo) {
    CompanyQuestion question = company_question(fcinfo);
    CallSiteCache* cache = question.cache;
    if (cache == nullptr)
        return false;
    const pg_uuid_t &company_id = *question.company_id, &user_id = *question.user_id;
    // About the caller: a probe, no cheaper to skip than the last answer.
    if (const CallerCompanies* mine = companies_of_caller(cache, user_id))
        return mine->companies.find(iam::pg::uuid_key_bytes(company_id)) != 0;
    if (iam::pg::cached_answer(cache, &user_id, &company_id))
        return cache->answer;
    if (cache->memberships.loaded())
        return iam::pg::store_answer(cache, &user_id, member_from_set(cache, user_id, company_id),
                                     &company_id);
    bool read = false;
    bool answer = pair_answer(cache, user_id, company_id, [&] {
        read = true;
        return is_member_of_active_company(cache, user_id, company_id);
    });
    if (read)
        count_pair_miss(cache);
    return iam::pg::store_answer(cache, &user_id, answer, &company_id);
}

bool admin_check(FunctionCallInfo fcinfo) {
    CompanyQuestion question = company_question(fcinfo);
    CallSiteCache* cache = question.cache;
    if (cache == nullptr)
        return false;
    const pg_uuid_t &company_id = *question.company_id, &user_id = *question.user_id;
    // About the caller: a probe, no cheaper to skip than the last answer.
    if (const CallerCompanies* mine = companies_of_caller(cache, user_id))
        return mine->companies.find(iam::pg::uuid_key_bytes(company_id)) == iam::pg::memo_yes;
    if (iam::pg::cached_answer(cache, &user_id, &company_id))
        return cache->answer;
    bool answer = pair_answer(cache, user_id, company_id,
                              [&] { return iam::pg::is_admin_of(cache, user_id, company_id); });
    return iam::pg::store_answer(cache, &user_id, answer, &company_id);
}

struct CompanyIds {
    CallSiteCache* cache;
    Datum* ids;
    int count, allocated;
};

bool collect_active_company(const pg_uuid_t& company_id, bool, void* context) {
    auto* found = static_cast<CompanyIds*>(context);
    if (!iam::pg::company_is_active(found->cache->tables, company_id,
                                    &found->cache->companies_scan))
        return true;
    if (found->count == found->allocated) {
        found->allocated *= 2;
        found->ids = static_cast<Datum*>(repalloc(found->ids, sizeof(Datum) * found->allocated));
    }
    auto* copy = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *copy = company_id;
    found->ids[found->count++] = UUIDPGetDatum(copy);
    return true;
}

}  // namespace

// iam.is_company_member(company_id uuid, user_id uuid) -> boolean
IAM_SQL_FUNCTION(iam_is_company_member) {
    PG_RETURN_BOOL(member_check(fcinfo));
}

// iam.is_company_admin(company_id uuid, user_id uuid) -> boolean
IAM_SQL_FUNCTION(iam_is_company_admin) {
    PG_RETURN_BOOL(admin_check(fcinfo));
}

// iam.current_company_ids() -> uuid[]: active memberships in active companies;
// for a request authenticated by a company's API key (no user), that company,
// so that company-scoped policies serve the key.
IAM_SQL_FUNCTION(iam_current_company_ids) {
    iam::pg::CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
    CompanyIds found{cache, static_cast<Datum*>(palloc(sizeof(Datum) * 8)), 0, 8};
    const iam::pg::ApiKeyContext* key = iam::pg::api_key_context();
    if (key != nullptr && key->has_company && !key->has_user)
        collect_active_company(key->company_id, false, &found);
    else if (const pg_uuid_t* user_id = iam::pg::current_subject(&cache->subject))
        iam::pg::for_each_membership_of(cache->tables, *user_id, collect_active_company, &found);
    PG_RETURN_ARRAYTYPE_P(
        construct_array(found.ids, found.count, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

// iam.is_current_company(company_id uuid) -> boolean: exactly `company_id =
// ANY (iam.current_company_ids())`, answered per row by a probe of the
// caller's companies. The planner hook writes that expression as this call
// (hoist_checks.cpp), which would otherwise compare each row with every
// element of the array. So it is not STRICT: like = ANY, a NULL company is
// NULL against a non-empty array (unknown) and false against an empty one
// (anon, or a caller in no active company), and NOT, coalesce or IS FALSE
// around it must see the same answer as around the expression it replaces.
// The array never holds a NULL, so a non-NULL company is true or false.
IAM_SQL_FUNCTION(iam_is_current_company) {
    iam::pg::CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
    const iam::pg::CallerCompanies& mine = caller_companies(cache);
    if (PG_ARGISNULL(0)) {
        if (mine.any)
            PG_RETURN_NULL();
        PG_RETURN_BOOL(false);
    }
    const pg_uuid_t* company_id = PG_GETARG_UUID_P(0);
    if (likely(mine.fits))
        PG_RETURN_BOOL(mine.companies.find(iam::pg::uuid_key_bytes(*company_id)) != 0);
    // A user in more companies than the budget holds: per company, through
    // the memo of pairs (which then holds this identity's answers only).
    if (cache->pairs_generation != iam::pg::identity_generation) {
        cache->pairs.release(&cache->budget);
        cache->pairs_generation = iam::pg::identity_generation;
    }
    const pg_uuid_t& user_id = mine.user_id;
    PG_RETURN_BOOL(pair_answer(cache, user_id, *company_id, [&] {
        return is_member_of_active_company(cache, user_id, *company_id);
    }));
}

namespace {
int invitation_valid_for_seconds = 7 * 86400;
}  // namespace

void iam::pg::define_company_settings() {
    DefineCustomIntVariable("iam.invitation_valid_for",
                            "How long a company invitation may be accepted, unless "
                            "iam.invite_to_company(valid_for => ...) says otherwise",
                            nullptr, &invitation_valid_for_seconds, 7 * 86400, 60, 90 * 86400,
                            PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}
