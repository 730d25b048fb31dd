// The cache of a check's call site (src/pg/checks/call_site.cpp), shared by
// the role checks (role_checks.cpp) and the company checks
// (company_checks.cpp).
//
// RLS policies call the checks once per row, so each call site (its
// fn_extra) remembers the last question and answer for the current
// statement: a policy like `owner = iam.current_user_id() OR
// iam.has_role('platform_admin')` costs one comparison per row after the
// first. Where the argument varies from row to row the call site keeps, for
// the statement:
// - the caller's own companies (and admin flags), loaded once, so that a
//   check about the caller answers every company by a probe, "no" included;
// - a memo of its answers about other users, bounded by iam.check_memory
//   (answer_memo.hpp), and for a role asked about many users, the role's
//   holders loaded at once (into the memo, or past what it holds into a
//   denser set, key_set.hpp);
// - index scans kept open, so that a question the memo cannot hold costs a
//   read at its row's place, or a B-tree descent, rather than opening,
//   locking and scanning the tables.
// Everything is dropped when the statement changes (statement.hpp), so a
// role granted by one statement is seen by the next, and nothing outlives
// the transaction.
#pragma once

#include "pg/boundary/postgres.hpp"

#include "pg/checks/answer_memo.hpp"
#include "pg/checks/key_set.hpp"
#include "pg/identity/context.hpp"
#include "pg/platform/statement.hpp"
#include "pg/tables/iam_tables.hpp"

#include <string>

namespace iam::pg {

// The companies of the caller: the user's active memberships in active
// companies (memo_yes for an admin, memo_no for another member: present
// either way), or the company of a company's API key. For one identity of
// one statement.
struct CallerCompanies {
    bool loaded;
    bool fits;          // false: more than the budget holds; ask per company
    bool any;           // at least one company
    uint64 generation;  // identity_generation when loaded
    bool has_user;
    pg_uuid_t user_id;  // the user they are of, when has_user
    UserMemo companies;
};

// Where the caller holds the permission the call site asks about (iam.can),
// for one identity of one statement: everywhere (through a platform role),
// or in the companies listed. For a key bound to one company, `everywhere`
// means in that company (and without one). A user's companies are first
// answered one by one as rows ask (`companies` then holds memo_yes and
// memo_no answers), and all loaded at once only when rows have asked about
// more than a few: a request reading one row asks about one company.
struct CallerPermission {
    bool loaded;
    uint64 generation;  // identity_generation when loaded
    bool everywhere;
    bool has_only_company;
    pg_uuid_t only_company;
    bool companies_loaded;  // false: the user's companies are asked one by one
    uint32 asked;           // companies asked one by one so far
    pg_uuid_t user_id;      // whose companies, while not loaded
    bool fits;              // false: more companies than the budget holds; ask per company
    UserMemo companies;
};

struct CallSiteCache {
    StatementStamp statement;  // the statement this cache belongs to
    bool ready;                // reset and tables resolved for it
    IamTables tables;
    SubjectCache subject;
    // The question last asked: a role name or role-name array. A constant
    // argument (the usual policy) is never compared again in the statement.
    bool question_is_constant;
    varlena* question;
    bool role_id_known;
    pg_uuid_t role_id;       // for a single role name
    bool named_roles_known;  // the two roles below, resolved for the statement
    pg_uuid_t platform_admin, support_agent;
    // Whether the caller (this identity; the database role is the
    // statement's) sees everyone; -1: not yet known in this statement.
    int8 caller_sees_everyone;
    uint64 sees_everyone_generation;
    // The statement's memos, in memo_context (reset per statement).
    MemoryContext memo_context;
    MemoBudget budget;
    UserMemo users;           // a role's answers per user
    PairMemo pairs;           // company answers per (user, company)
    UserMemo company_states;  // whether a company is active, per company
    uint64 pairs_generation;  // of the identity, for pairs about the caller
    // For a role asked about many users: how many were read one by one,
    // whether users holds every holder of the role (a user missing is not
    // one), and whether loading them was tried.
    uint32 misses;
    bool holders_complete, holders_tried;
    // The holders, when there are more than `users` would hold in the
    // budget: a dense exact set, the places of the rows of those past it,
    // and a Bloom filter of those past the places (key_set.hpp).
    HolderSet holders;
    // For is_company_member asked about many pairs: how many were read one
    // by one, after how many every active membership is loaded at once
    // (0: not decided yet), whether that was tried, and the set.
    uint32 pair_misses, pair_misses_before_loading;
    bool memberships_tried;
    MembershipSet memberships;
    CallerCompanies caller;
    CallerPermission permission;
    bool answered;  // the answer below is for (user, company) and question
    bool has_user;
    pg_uuid_t user_id;
    pg_uuid_t company_id;
    bool answer;
    // Kept open for the query: per-row lookups past the memo's bound.
    KeptScan user_roles_scan, company_users_scan, companies_scan;
};

// Resets the call site's cache for a new statement.
void start_statement(FunctionCallInfo fcinfo, CallSiteCache* cache);

// The call site's cache, reset if the statement changed. Called once per
// row: inlined into every function, the usual path is two comparisons.
pg_attribute_always_inline CallSiteCache* call_site_cache(FunctionCallInfo fcinfo) {
    auto* cache = static_cast<CallSiteCache*>(fcinfo->flinfo->fn_extra);
    if (unlikely(cache == nullptr || !same_statement(&cache->statement) || !cache->ready))
        start_statement(fcinfo, cache);
    return static_cast<CallSiteCache*>(fcinfo->flinfo->fn_extra);
}

inline bool same_uuid(const pg_uuid_t& a, const pg_uuid_t& b) {
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

// Forgets the per-user answers of a role (a new question).
void forget_user_answers(CallSiteCache* cache);

// Remembers argument `number` of the call, a role name or role-name array,
// as the call site's question, unless it is the question already
// remembered; true if it is new (the previous answers are then forgotten).
bool remember_new_question(FunctionCallInfo fcinfo, CallSiteCache* cache, int number);
pg_attribute_always_inline bool remember_question(FunctionCallInfo fcinfo, CallSiteCache* cache,
                                                  int number) {
    if (likely(cache->question != nullptr && cache->question_is_constant))
        return false;
    return remember_new_question(fcinfo, cache, number);
}

// Forgets the remembered question: the next call checks its argument anew.
void forget_question(CallSiteCache* cache);

// A name (a role's, a permission's) as an error message quotes it: a
// megabyte of input must not become a megabyte of message.
std::string quoted_name(const text* name);

// The id of the role `name`; an error (undefined_object) if there is none.
pg_uuid_t role_id_or_throw(const IamTables& tables, text* name);

// The role id for the role name in argument `number`, looked up once per
// statement and question.
pg_attribute_always_inline const pg_uuid_t& cached_role_id(FunctionCallInfo fcinfo,
                                                           CallSiteCache* cache, int number) {
    if (remember_question(fcinfo, cache, number) || !cache->role_id_known) {
        cache->role_id_known = false;
        cache->role_id = role_id_or_throw(cache->tables, reinterpret_cast<text*>(cache->question));
        cache->role_id_known = true;
    }
    return cache->role_id;
}

// Whether the last answer is for this user (none: nullptr) and company.
pg_attribute_always_inline bool cached_answer(const CallSiteCache* cache, const pg_uuid_t* user_id,
                                              const pg_uuid_t* company_id = nullptr) {
    if (!cache->answered)
        return false;
    if (user_id == nullptr ? cache->has_user
                           : !cache->has_user || !same_uuid(cache->user_id, *user_id))
        return false;
    return company_id == nullptr || same_uuid(cache->company_id, *company_id);
}

inline bool store_answer(CallSiteCache* cache, const pg_uuid_t* user_id, bool answer,
                         const pg_uuid_t* company_id = nullptr) {
    cache->answered = true;
    cache->has_user = user_id != nullptr;
    if (user_id != nullptr)
        cache->user_id = *user_id;
    if (company_id != nullptr)
        cache->company_id = *company_id;
    cache->answer = answer;
    return answer;
}

// Whether the company is active, remembered for the statement while the
// budget has room: a statement over many pairs asks about few companies.
bool company_active(CallSiteCache* cache, const pg_uuid_t& company_id);
// Whether the user is an active admin of an active company; through the
// call site's kept scans.
bool is_admin_of(CallSiteCache* cache, const pg_uuid_t& user_id, const pg_uuid_t& company_id);

// The checks read user_roles and company_users whatever the caller may
// select, so a question about another user is answered only to a caller who
// could read the answer anyway: that user's company admin (for a company
// check), or a caller who sees everyone (the service roles, platform_admin,
// support_agent). Otherwise anyone could list the platform admins.
void require_may_ask_about(CallSiteCache* cache, const pg_uuid_t& user_id,
                           const pg_uuid_t* company_id = nullptr);

// iam.check_memory.
void define_check_settings();

}  // namespace iam::pg
