#include "pg/checks/call_site.hpp"

#include "pg/identity/privileges.hpp"
#include "pg/tables/membership_rows.hpp"
#include "pg/tables/role_rows.hpp"

#include "core/error.hpp"

#include <string>

namespace iam::pg {
namespace {

// iam.check_memory, in kB: what one call site's memos may hold in a
// statement. The default holds the 1,572,864 users of a role's holders.
int check_memory_kb = 64 * 1024;

bool same_varlena(const varlena* a, const varlena* b) {
    return VARSIZE_ANY(a) == VARSIZE_ANY(b) && memcmp(a, b, VARSIZE_ANY(a)) == 0;
}

std::string text_string(const text* value) {
    return std::string(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
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

// Whether the caller may read everyone's roles and memberships: the service
// roles, platform_admin and support_agent (who see every row of user_roles
// and company_users through RLS as well).
bool caller_sees_everyone(CallSiteCache* cache) {
    if (cache->caller_sees_everyone < 0 || cache->sees_everyone_generation != identity_generation) {
        const pg_uuid_t* caller = current_subject(&cache->subject);
        bool sees = caller_is_service();
        if (!sees && caller != nullptr) {
            const CallSiteCache& roles = with_named_roles(cache);
            sees = user_holds_role(cache->tables, *caller, roles.platform_admin) ||
                   user_holds_role(cache->tables, *caller, roles.support_agent);
        }
        cache->caller_sees_everyone = sees;
        cache->sees_everyone_generation = identity_generation;
    }
    return cache->caller_sees_everyone != 0;
}

}  // namespace

Size check_memory_bytes() {
    return static_cast<Size>(check_memory_kb) * 1024;
}

void start_statement(FunctionCallInfo fcinfo, CallSiteCache* cache) {
    if (cache == nullptr) {
        MemoryContext query = fcinfo->flinfo->fn_mcxt;
        cache = static_cast<CallSiteCache*>(MemoryContextAllocZero(query, sizeof(CallSiteCache)));
        // Its own context, so that pg_backend_memory_contexts reports what
        // the memos hold, and a new statement drops it at once.
        cache->memo_context = AllocSetContextCreate(query, "iam check memo", ALLOCSET_SMALL_SIZES);
        cache->user_roles_scan.memory = query;
        cache->company_users_scan.memory = query;
        cache->companies_scan.memory = query;
        fcinfo->flinfo->fn_extra = cache;
        same_statement(&cache->statement);
    }
    cache->ready = false;
    cache->answered = false;
    cache->role_id_known = false;
    cache->named_roles_known = false;
    cache->caller_sees_everyone = -1;
    MemoryContextReset(cache->memo_context);
    cache->budget = MemoBudget{cache->memo_context, check_memory_bytes(), 0};
    cache->users.reset();
    cache->pairs.reset();
    cache->company_states.reset();
    cache->caller.companies.reset();
    cache->caller.loaded = false;
    cache->permission.companies.reset();
    cache->permission.loaded = false;
    cache->misses = 0;
    cache->holders_complete = cache->holders_tried = false;
    cache->holders = HolderSet{};  // its memory went with the context
    cache->pair_misses = cache->pair_misses_before_loading = 0;
    cache->memberships_tried = false;
    cache->memberships = MembershipSet{};
    if (cache->question != nullptr)
        pfree(cache->question);
    cache->question = nullptr;
    resolve_iam_tables(&cache->tables);
    cache->ready = true;
}

void forget_user_answers(CallSiteCache* cache) {
    cache->users.release(&cache->budget);
    cache->holders.release(&cache->budget);
    cache->misses = 0;
    cache->holders_complete = cache->holders_tried = false;
}

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
    forget_user_answers(cache);
    return true;
}

void forget_question(CallSiteCache* cache) {
    if (cache->question != nullptr)
        pfree(cache->question);
    cache->question = nullptr;
    cache->answered = false;
}

std::string quoted_name(const text* name) {
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
    if (!find_role_id(tables, name, &role_id))
        throw iam::Error(iam::sqlstate::undefined_object,
                         "role " + quoted_name(name) + " does not exist",
                         "iam roles are the rows of iam.roles.");
    return role_id;
}

bool company_active(CallSiteCache* cache, const pg_uuid_t& company_id) {
    uint8 known = cache->company_states.find(uuid_key_bytes(company_id));
    if (known != 0)
        return known == memo_yes;
    bool active = company_is_active(cache->tables, company_id, &cache->companies_scan);
    if (!cache->company_states.full)
        cache->company_states.remember(&cache->budget, uuid_key_bytes(company_id),
                                       memo_value(active));
    return active;
}

bool is_admin_of(CallSiteCache* cache, const pg_uuid_t& user_id, const pg_uuid_t& company_id) {
    return company_active(cache, company_id) &&
           is_active_admin(cache->tables, user_id, company_id, &cache->company_users_scan);
}

void require_may_ask_about(CallSiteCache* cache, const pg_uuid_t& user_id,
                           const pg_uuid_t* company_id) {
    const pg_uuid_t* caller = current_subject(&cache->subject);
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

void define_check_settings() {
    DefineCustomIntVariable(
        "iam.check_memory",
        "What the memo of one call site of a per-row check may hold in a statement",
        "The answers about other users, a role's holders and the caller's own companies; "
        "past it, each new question is read through an index scan kept open.",
        &check_memory_kb, 64 * 1024, 64, 1024 * 1024, PGC_USERSET, GUC_UNIT_KB, nullptr, nullptr,
        nullptr);
}

}  // namespace iam::pg
