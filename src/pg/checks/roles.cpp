// Role and company checks: iam.has_role, has_any_role, roles_of,
// is_company_member, is_company_admin, current_company_ids.
//
// RLS policies call these once per row, so each call site (its fn_extra)
// remembers the last question and answer for the current statement: a
// policy like `owner = iam.current_user_id() OR iam.has_role('platform_admin')`
// costs one comparison per row after the first. Where the argument varies
// from row to row (`iam.is_company_member(company_id)`, `has_role(owner, ...)`)
// the call site also remembers every answer of the statement in a bounded
// hash table, so a row whose company or user it has seen costs a hash probe.
// The caches are dropped when the statement changes (statement.hpp), so a
// role granted by one statement is seen by the next, and nothing outlives
// the transaction.
#include "pg/checks/roles.hpp"

#include "pg/boundary/guard.hpp"

#include "pg/checks/answer_memo.hpp"
#include "pg/identity/context.hpp"
#include "pg/tables/iam_tables.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/platform/statement.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <string>

namespace {

using iam::pg::AnswerMemo;
using iam::pg::IamTables;
using iam::pg::memo_find;
using iam::pg::memo_forget;
using iam::pg::memo_remember;

constexpr pg_uuid_t no_company{};

struct CallSiteCache {
    iam::pg::StatementStamp statement;  // the statement this cache belongs to
    bool ready;                         // reset and tables resolved for it
    IamTables tables;
    iam::pg::SubjectCache subject;
    // The question last asked: a role name or role-name array. A constant
    // argument (the usual policy) is never compared again in the statement.
    bool question_is_constant;
    varlena* question;
    bool role_id_known;
    pg_uuid_t role_id;       // for a single role name
    bool named_roles_known;  // the two roles below, resolved for the statement
    pg_uuid_t platform_admin, support_agent;
    // Whether the caller (this database role and this identity) sees
    // everyone; -1: not yet known in this statement.
    int8 caller_sees_everyone;
    Oid sees_everyone_role;
    uint64 sees_everyone_generation;
    AnswerMemo memo;         // every answer of the statement, for varying arguments
    uint64 memo_generation;  // of the identity, for answers about the caller
    // Whether the caller has a current company (1) or none (0), which
    // decides is_current_company(NULL); -1: not yet known for the memo's
    // statement and identity.
    int8 has_current_company;
    bool answered;  // the answer below is for (user, company) and question
    bool has_user;
    pg_uuid_t user_id;
    pg_uuid_t company_id;
    bool answer;
};

// Resets the call site's cache for a new statement.
void start_statement(CallSiteCache* cache) {
    cache->ready = false;
    cache->answered = false;
    cache->role_id_known = false;
    cache->named_roles_known = false;
    cache->caller_sees_everyone = -1;
    cache->has_current_company = -1;
    memo_forget(&cache->memo);
    if (cache->question != nullptr)
        pfree(cache->question);
    cache->question = nullptr;
    iam::pg::resolve_iam_tables(&cache->tables);
    cache->ready = true;
}

// Called once per row: inlined into every function, the usual path is two
// comparisons.
pg_attribute_always_inline CallSiteCache* call_site_cache(FunctionCallInfo fcinfo) {
    auto* cache = static_cast<CallSiteCache*>(fcinfo->flinfo->fn_extra);
    if (unlikely(cache == nullptr)) {
        cache = static_cast<CallSiteCache*>(
            MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CallSiteCache)));
        fcinfo->flinfo->fn_extra = cache;
    }
    if (unlikely(!iam::pg::same_statement(&cache->statement) || !cache->ready))
        start_statement(cache);
    return cache;
}

bool same_varlena(const varlena* a, const varlena* b) {
    return VARSIZE_ANY(a) == VARSIZE_ANY(b) && memcmp(a, b, VARSIZE_ANY(a)) == 0;
}

bool same_uuid(const pg_uuid_t& a, const pg_uuid_t& b) {
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

std::string text_string(const text* value) {
    return std::string(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

// A role name as an error message quotes it: a megabyte of input must not
// become a megabyte of message.
std::string quoted_role_name(const text* name) {
    constexpr size_t shown = 64;
    size_t length = VARSIZE_ANY_EXHDR(name);
    if (length <= shown)
        return "\"" + text_string(name) + "\"";
    int cut = pg_mbcliplen(VARDATA_ANY(name), static_cast<int>(length), shown);
    return "\"" + std::string(VARDATA_ANY(name), cut) + "...\" (" + std::to_string(length) +
           " bytes)";
}

pg_uuid_t role_id_or_throw(const IamTables& tables, text* name) {
    pg_uuid_t role_id;
    if (!iam::pg::find_role_id(tables, name, &role_id))
        throw iam::Error(iam::sqlstate::undefined_object,
                         "role " + quoted_role_name(name) + " does not exist",
                         "iam roles are the rows of iam.roles.");
    return role_id;
}

// Whether argument `number` of the call is a literal of the query (a Const
// node). A parameter does not count: PL/pgSQL reuses a call site with
// changing parameter values within one command.
bool argument_is_literal(FunctionCallInfo fcinfo, int number) {
    Node* call = fcinfo->flinfo->fn_expr;
    if (call == nullptr || !IsA(call, FuncExpr))
        return false;
    List* arguments = castNode(FuncExpr, call)->args;
    return number < list_length(arguments) && IsA(list_nth(arguments, number), Const);
}

// Remembers argument `number` of the call, a role name or role-name array,
// as the call site's question (copied into its memory) and forgets the
// previous answer, unless it is the question already remembered. A literal
// is remembered once per statement and never compared again.
bool remember_new_question(FunctionCallInfo fcinfo, CallSiteCache* cache, int number) {
    varlena* question = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(number));
    if (cache->question != nullptr && same_varlena(cache->question, question))
        return false;
    auto* copy =
        static_cast<varlena*>(MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, VARSIZE_ANY(question)));
    memcpy(copy, question, VARSIZE_ANY(question));
    if (cache->question != nullptr)
        pfree(cache->question);
    cache->question = copy;
    cache->question_is_constant = argument_is_literal(fcinfo, number);
    cache->answered = false;
    memo_forget(&cache->memo);
    return true;
}

pg_attribute_always_inline bool remember_question(FunctionCallInfo fcinfo, CallSiteCache* cache,
                                                  int number) {
    if (likely(cache->question != nullptr && cache->question_is_constant))
        return false;
    return remember_new_question(fcinfo, cache, number);
}

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

pg_attribute_always_inline bool cached_answer(const CallSiteCache* cache, const pg_uuid_t* user_id,
                                              const pg_uuid_t* company_id = nullptr) {
    if (!cache->answered)
        return false;
    if (user_id == nullptr ? cache->has_user
                           : !cache->has_user || !same_uuid(cache->user_id, *user_id))
        return false;
    return company_id == nullptr || same_uuid(cache->company_id, *company_id);
}

bool store_answer(CallSiteCache* cache, const pg_uuid_t* user_id, bool answer,
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

// After this many users read one by one in a statement, a role check loads
// the role's holders into the memo at once (one index scan) if they fit:
// a policy over many owners then costs a probe per row, while a statement
// about a few users never reads more than their rows.
constexpr uint32 misses_before_loading_holders = 256;

struct HolderLoad {
    AnswerMemo* memo;
    MemoryContext context;
    bool overflowed;
};

bool remember_holder(const pg_uuid_t& user_id, void* context) {
    auto* load = static_cast<HolderLoad*>(context);
    if (load->memo->used + 1 > iam::pg::memo_max_entries) {
        load->overflowed = true;
        return false;
    }
    memo_remember(load->memo, load->context, user_id, no_company, true);
    return true;
}

void load_holders(CallSiteCache* cache, const pg_uuid_t& role_id, MemoryContext context) {
    memo_forget(&cache->memo);
    HolderLoad load{&cache->memo, context, false};
    iam::pg::for_each_holder_of(cache->tables, role_id, remember_holder, &load);
    if (load.overflowed) {
        memo_forget(&cache->memo);
        cache->memo.too_many_holders = true;
    } else {
        cache->memo.complete = true;
    }
}

// Whether the user (none: false) holds the role named by argument `number`.
pg_attribute_always_inline bool check_role(FunctionCallInfo fcinfo, CallSiteCache* cache,
                                           const pg_uuid_t* user_id, int number) {
    const pg_uuid_t& role_id = cached_role_id(fcinfo, cache, number);
    if (cached_answer(cache, user_id))
        return cache->answer;
    if (user_id == nullptr)
        return store_answer(cache, user_id, false);
    bool holds;
    if (!memo_find(cache->memo, *user_id, no_company, &holds)) {
        if (cache->memo.complete)
            return store_answer(cache, user_id, false);
        holds = iam::pg::user_holds_role(cache->tables, *user_id, role_id);
        if (++cache->memo.misses == misses_before_loading_holders && !cache->memo.too_many_holders)
            load_holders(cache, role_id, fcinfo->flinfo->fn_mcxt);
        else
            memo_remember(&cache->memo, fcinfo->flinfo->fn_mcxt, *user_id, no_company, holds);
    }
    return store_answer(cache, user_id, holds);
}

bool is_member_of_active_company(const IamTables& tables, const pg_uuid_t& user_id,
                                 const pg_uuid_t& company_id) {
    return iam::pg::is_active_member(tables, user_id, company_id) &&
           iam::pg::company_is_active(tables, company_id);
}

pg_uuid_t role_named(const IamTables& tables, const char* name) {
    text* role_name = cstring_to_text(name);
    pg_uuid_t role_id = role_id_or_throw(tables, role_name);
    pfree(role_name);
    return role_id;
}

// The roles the checks themselves rely on, looked up once per statement.
const CallSiteCache& with_named_roles(CallSiteCache* cache) {
    if (!cache->named_roles_known) {
        cache->platform_admin = role_named(cache->tables, "platform_admin");
        cache->support_agent = role_named(cache->tables, "support_agent");
        cache->named_roles_known = true;
    }
    return *cache;
}

bool is_admin_of(CallSiteCache* cache, const pg_uuid_t& user_id, const pg_uuid_t& company_id) {
    return iam::pg::is_active_admin(cache->tables, user_id, company_id) &&
           iam::pg::company_is_active(cache->tables, company_id);
}

// Whether the caller may read everyone's roles and memberships: the service
// roles, platform_admin and support_agent (who see every row of user_roles
// and company_users through RLS as well).
bool caller_sees_everyone(CallSiteCache* cache) {
    if (cache->caller_sees_everyone < 0 || cache->sees_everyone_role != GetUserId() ||
        cache->sees_everyone_generation != iam::pg::identity_generation) {
        const pg_uuid_t* caller = iam::pg::current_subject(&cache->subject);
        bool sees = iam::pg::caller_is_service();
        if (!sees && caller != nullptr) {
            const CallSiteCache& roles = with_named_roles(cache);
            sees = iam::pg::user_holds_role(cache->tables, *caller, roles.platform_admin) ||
                   iam::pg::user_holds_role(cache->tables, *caller, roles.support_agent);
        }
        cache->caller_sees_everyone = sees;
        cache->sees_everyone_role = GetUserId();
        cache->sees_everyone_generation = iam::pg::identity_generation;
    }
    return cache->caller_sees_everyone != 0;
}

// The checks read user_roles and company_users whatever the caller may
// select, so a question about another user is answered only to a caller who
// could read the answer anyway: that user's company admin (for a company
// check), or a caller who sees everyone. Otherwise anyone could list the
// platform admins.
void require_may_ask_about(CallSiteCache* cache, const pg_uuid_t& user_id,
                           const pg_uuid_t* company_id = nullptr) {
    const pg_uuid_t* caller = iam::pg::current_subject(&cache->subject);
    if (caller != nullptr && same_uuid(*caller, user_id))
        return;
    if (caller_sees_everyone(cache))
        return;
    if (company_id != nullptr && caller != nullptr && is_admin_of(cache, *caller, *company_id))
        return;
    throw iam::Error(iam::sqlstate::insufficient_privilege,
                     "permission denied to read the roles or memberships of another user", {},
                     "Only that user, their company's admins, platform_admin, support_agent and "
                     "the service role may.");
}

Datum company_check(FunctionCallInfo fcinfo, bool require_admin) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        PG_RETURN_BOOL(false);
    CallSiteCache* cache = call_site_cache(fcinfo);
    const pg_uuid_t* company_id = PG_GETARG_UUID_P(0);
    const pg_uuid_t* user_id = PG_GETARG_UUID_P(1);
    require_may_ask_about(cache, *user_id, company_id);
    if (cached_answer(cache, user_id, company_id))
        PG_RETURN_BOOL(cache->answer);
    bool answer;
    if (!memo_find(cache->memo, *user_id, *company_id, &answer)) {
        answer = require_admin ? is_admin_of(cache, *user_id, *company_id)
                               : is_member_of_active_company(cache->tables, *user_id, *company_id);
        memo_remember(&cache->memo, fcinfo->flinfo->fn_mcxt, *user_id, *company_id, answer);
    }
    PG_RETURN_BOOL(store_answer(cache, user_id, answer, company_id));
}

// Appends a palloc'd copy of a uuid to the List* behind `context`. Scans
// call it from PostgreSQL code: it must not throw, so no C++ containers.
void collect_uuid(const pg_uuid_t& id, void* context) {
    auto* copy = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *copy = id;
    auto** list = static_cast<List**>(context);
    *list = lappend(*list, copy);
}

// The companies of iam.current_company_ids(), as a List of pg_uuid_t*: for
// a request authenticated by a company's API key (no user), that company;
// else the caller's active memberships. Only active companies.
List* current_companies(CallSiteCache* cache) {
    List* memberships = NIL;
    const iam::pg::ApiKeyContext* key = iam::pg::api_key_context();
    if (key != nullptr && key->has_company && !key->has_user)
        memberships = lappend(memberships, const_cast<pg_uuid_t*>(&key->company_id));
    else if (const pg_uuid_t* user_id = iam::pg::current_subject(&cache->subject))
        iam::pg::for_each_membership_of(cache->tables, *user_id, collect_uuid, &memberships);
    List* active = NIL;
    ListCell* cell;
    foreach (cell, memberships) {
        auto* company_id = static_cast<pg_uuid_t*>(lfirst(cell));
        if (iam::pg::company_is_active(cache->tables, *company_id))
            active = lappend(active, company_id);
    }
    list_free(memberships);
    return active;
}

}  // namespace

// iam.has_role(role_name text) -> boolean, for the current user
IAM_SQL_FUNCTION(iam_has_role_current) {
    CallSiteCache* cache = call_site_cache(fcinfo);
    PG_RETURN_BOOL(check_role(fcinfo, cache, iam::pg::current_subject(&cache->subject), 0));
}

// iam.has_role(user_id uuid, role_name text) -> boolean
IAM_SQL_FUNCTION(iam_has_role) {
    if (PG_ARGISNULL(1))
        PG_RETURN_NULL();
    CallSiteCache* cache = call_site_cache(fcinfo);
    const pg_uuid_t* user_id = PG_ARGISNULL(0) ? nullptr : PG_GETARG_UUID_P(0);
    if (user_id != nullptr)  // every time: the caller may change from row to row
        require_may_ask_about(cache, *user_id);
    PG_RETURN_BOOL(check_role(fcinfo, cache, user_id, 1));
}

// iam.has_any_role(role_names text[]) -> boolean, for the current user;
// NULL elements are ignored, an unknown name is an error
IAM_SQL_FUNCTION(iam_has_any_role) {
    CallSiteCache* cache = call_site_cache(fcinfo);
    const pg_uuid_t* user_id = iam::pg::current_subject(&cache->subject);
    bool new_question = remember_question(fcinfo, cache, 0);
    if (!new_question && cached_answer(cache, user_id))
        PG_RETURN_BOOL(cache->answer);
    auto* names = reinterpret_cast<ArrayType*>(PG_DETOAST_DATUM(PointerGetDatum(cache->question)));
    Datum* values;
    bool* nulls;
    int count;
    deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, &count);
    bool holds = false;
    for (int i = 0; i < count; ++i) {
        if (nulls[i])
            continue;
        pg_uuid_t role_id = role_id_or_throw(cache->tables, DatumGetTextPP(values[i]));
        if (!holds && user_id != nullptr)
            holds = iam::pg::user_holds_role(cache->tables, *user_id, role_id);
    }
    PG_RETURN_BOOL(store_answer(cache, user_id, holds));
}

// iam.roles_of(user_id uuid) -> text[], sorted by name; empty for no user
IAM_SQL_FUNCTION(iam_roles_of) {
    List* role_ids = NIL;
    if (!PG_ARGISNULL(0)) {
        CallSiteCache* cache = call_site_cache(fcinfo);
        const IamTables& tables = cache->tables;
        require_may_ask_about(cache, *PG_GETARG_UUID_P(0));
        iam::pg::for_each_role_of(tables, *PG_GETARG_UUID_P(0), collect_uuid, &role_ids);
        auto* names = static_cast<Datum*>(palloc(sizeof(Datum) * (list_length(role_ids) + 1)));
        int count = 0;
        ListCell* cell;
        foreach (cell, role_ids) {
            if (text* name =
                    iam::pg::find_role_name(tables, *static_cast<pg_uuid_t*>(lfirst(cell))))
                names[count++] = PointerGetDatum(name);
        }
        std::sort(names, names + count, [](Datum a, Datum b) {
            text* x = DatumGetTextPP(a);
            text* y = DatumGetTextPP(b);
            int length = std::min(VARSIZE_ANY_EXHDR(x), VARSIZE_ANY_EXHDR(y));
            int order = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), length);
            return order != 0 ? order < 0 : VARSIZE_ANY_EXHDR(x) < VARSIZE_ANY_EXHDR(y);
        });
        PG_RETURN_ARRAYTYPE_P(construct_array(names, count, TEXTOID, -1, false, TYPALIGN_INT));
    }
    PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
}

// iam.is_company_member(company_id uuid, user_id uuid) -> boolean
IAM_SQL_FUNCTION(iam_is_company_member) {
    return company_check(fcinfo, false);
}

// iam.is_company_admin(company_id uuid, user_id uuid) -> boolean
IAM_SQL_FUNCTION(iam_is_company_admin) {
    return company_check(fcinfo, true);
}

// iam.current_company_ids() -> uuid[]: active memberships in active companies;
// for a request authenticated by a company's API key (no user), that company,
// so that company-scoped policies serve the key.
IAM_SQL_FUNCTION(iam_current_company_ids) {
    CallSiteCache* cache = call_site_cache(fcinfo);
    List* companies = current_companies(cache);
    auto* ids = static_cast<Datum*>(palloc(sizeof(Datum) * (list_length(companies) + 1)));
    int count = 0;
    ListCell* cell;
    foreach (cell, companies)
        ids[count++] = UUIDPGetDatum(static_cast<pg_uuid_t*>(lfirst(cell)));
    PG_RETURN_ARRAYTYPE_P(construct_array(ids, count, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

// iam.is_current_company(company_id uuid) -> boolean: exactly `company_id =
// ANY (iam.current_company_ids())`, answered per row by a probe of the call
// site's memo. The planner hook writes that expression as this call
// (hoist_checks.cpp), which would otherwise compare each row with every
// element of the array. So it is not STRICT: like = ANY, a NULL company is
// NULL against a non-empty array (unknown) and false against an empty one
// (anon, or a caller in no active company), and NOT, coalesce or IS FALSE
// around it must see the same answer as around the expression it replaces.
// The array never holds a NULL, so a non-NULL company is true or false.
IAM_SQL_FUNCTION(iam_is_current_company) {
    CallSiteCache* cache = call_site_cache(fcinfo);
    if (cache->memo_generation != iam::pg::identity_generation) {
        memo_forget(&cache->memo);
        cache->has_current_company = -1;
        cache->memo_generation = iam::pg::identity_generation;
    }
    if (PG_ARGISNULL(0)) {
        // Once per statement and identity: the rows after it cost a test.
        if (unlikely(cache->has_current_company < 0)) {
            List* companies = current_companies(cache);
            cache->has_current_company = companies != NIL ? 1 : 0;
            list_free(companies);
        }
        if (cache->has_current_company == 1)
            PG_RETURN_NULL();
        PG_RETURN_BOOL(false);
    }
    const pg_uuid_t* company_id = PG_GETARG_UUID_P(0);
    // Within one identity the caller is one company's key or one user (or
    // nobody): the company alone is the memo's key.
    bool answer;
    if (memo_find(cache->memo, no_company, *company_id, &answer))
        PG_RETURN_BOOL(answer);
    const iam::pg::ApiKeyContext* key = iam::pg::api_key_context();
    if (key != nullptr && key->has_company && !key->has_user)
        answer = same_uuid(key->company_id, *company_id) &&
                 iam::pg::company_is_active(cache->tables, *company_id);
    else if (const pg_uuid_t* user_id = iam::pg::current_subject(&cache->subject))
        answer = is_member_of_active_company(cache->tables, *user_id, *company_id);
    else
        answer = false;
    memo_remember(&cache->memo, fcinfo->flinfo->fn_mcxt, no_company, *company_id, answer);
    PG_RETURN_BOOL(answer);
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
