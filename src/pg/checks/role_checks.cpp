// Role checks: iam.has_role, has_any_role, roles_of. The call site's cache
// (call_site.hpp) answers a policy's rows; has_role(user_column, role) over
// many users loads the role's holders once.
#include "pg/boundary/guard.hpp"

#include "pg/checks/call_site.hpp"
#include "pg/tables/role_rows.hpp"

#include <algorithm>

namespace {

using iam::pg::CallSiteCache;

// After this many users read one by one in a statement, a role check loads
// the role's holders at once (one index scan), as many as fit in the budget: a
// policy over many owners then costs a probe per row, while a statement
// about a few users never reads more than their rows.
constexpr uint32 misses_before_loading_holders = 256;

struct HolderLoad {
    CallSiteCache* cache;
    bool overflowed;
};

bool remember_holder(const pg_uuid_t& user_id, const ItemPointerData&, void* context) {
    auto* load = static_cast<HolderLoad*>(context);
    CallSiteCache* cache = load->cache;
    // A user holds a role once (the primary key): no duplicate to look for.
    if (cache->users.remember(&cache->budget, iam::pg::uuid_key_bytes(user_id), iam::pg::memo_yes))
        return true;
    load->overflowed = true;  // more than counted: the others are read
    return false;
}

bool add_holder(const pg_uuid_t& user_id, const ItemPointerData& row, void* context) {
    static_cast<iam::pg::HolderSet*>(context)->add(iam::pg::uuid_key_bytes(user_id), row);
    return true;
}

// Replaces the answers with the role's holders, counted first from the
// index: into the memo if they fit there, else into the denser holder set
// (key_set.hpp), which keeps as many as the budget allows, the places of
// the others' rows, or a filter of those past them; a user none of them
// rules out is read through the kept scan.
void load_holders(CallSiteCache* cache, const pg_uuid_t& role_id) {
    iam::pg::forget_user_answers(cache);
    cache->holders_tried = true;
    uint64 counted = iam::pg::count_holder_entries(cache->tables, role_id);
    Size left = cache->budget.limit - cache->budget.used;
    if (counted <= iam::pg::UserMemo::most_held(left)) {
        HolderLoad load{cache, false};
        iam::pg::for_each_holder_of(cache->tables, role_id, remember_holder, &load);
        cache->holders_complete = !load.overflowed;
        return;
    }
    if (!cache->holders.start(&cache->budget, counted))
        return;  // too little room: every user is read
    // The places of the rows past the set must hold until the statement
    // ends; a subtransaction's abort, which may release the lock, starts
    // another statement (statement.hpp).
    iam::pg::hold_rows_in_place(cache->tables.user_roles);
    iam::pg::for_each_holder_of(cache->tables, role_id, add_holder, &cache->holders);
    cache->holders.finish(&cache->budget);
}

// Whether the user (none: false) holds the role named by argument `number`.
pg_attribute_always_inline bool check_role(FunctionCallInfo fcinfo, CallSiteCache* cache,
                                           const pg_uuid_t* user_id, int number) {
    const pg_uuid_t& role_id = iam::pg::cached_role_id(fcinfo, cache, number);
    if (iam::pg::cached_answer(cache, user_id))
        return cache->answer;
    if (user_id == nullptr)
        return iam::pg::store_answer(cache, user_id, false);
    const uint8* key = iam::pg::uuid_key_bytes(*user_id);
    uint8 found = cache->users.find(key);
    if (found != 0)
        return iam::pg::store_answer(cache, user_id, found == iam::pg::memo_yes);
    if (cache->holders_complete)
        return iam::pg::store_answer(cache, user_id, false);
    const iam::pg::HolderSet& holders = cache->holders;
    bool loaded = holders.loaded();
    if (loaded) {
        if (holders.contains(key))
            return iam::pg::store_answer(cache, user_id, true);
        iam::pg::RowMatch row = holders.match_row(key, [&](const ItemPointerData& place) {
            return iam::pg::holder_row_is(cache->tables, &cache->user_roles_scan, place, *user_id,
                                          role_id);
        });
        if (row == iam::pg::RowMatch::same)
            return iam::pg::store_answer(cache, user_id, true);
        if (row == iam::pg::RowMatch::other && !holders.may_hold(key))
            return iam::pg::store_answer(cache, user_id, false);
    }
    bool holds =
        iam::pg::user_holds_role(cache->tables, *user_id, role_id, &cache->user_roles_scan);
    if (++cache->misses == misses_before_loading_holders && !cache->holders_tried)
        load_holders(cache, role_id);
    else if (!loaded && !cache->users.full)
        cache->users.remember(&cache->budget, key, iam::pg::memo_value(holds));
    return iam::pg::store_answer(cache, user_id, holds);
}

// Appends a palloc'd copy of a uuid to the List* behind `context`. Scans
// call it from PostgreSQL code: it must not throw, so no C++ containers.
void collect_uuid(const pg_uuid_t& id, void* context) {
    auto* copy = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    *copy = id;
    auto** list = static_cast<List**>(context);
    *list = lappend(*list, copy);
}

}  // namespace

// iam.has_role(role_name text) -> boolean, for the current user
IAM_SQL_FUNCTION(iam_has_role_current) {
    iam::pg::CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
    PG_RETURN_BOOL(check_role(fcinfo, cache, iam::pg::current_subject(&cache->subject), 0));
}

// iam.has_role(user_id uuid, role_name text) -> boolean
IAM_SQL_FUNCTION(iam_has_role) {
    if (PG_ARGISNULL(1))
        PG_RETURN_NULL();
    iam::pg::CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
    const pg_uuid_t* user_id = PG_ARGISNULL(0) ? nullptr : PG_GETARG_UUID_P(0);
    if (user_id != nullptr)  // every time: the caller may change from row to row
        iam::pg::require_may_ask_about(cache, *user_id);
    PG_RETURN_BOOL(check_role(fcinfo, cache, user_id, 1));
}

// iam.has_any_role(role_names text[]) -> boolean, for the current user;
// NULL elements are ignored, an unknown name is an error
IAM_SQL_FUNCTION(iam_has_any_role) {
    iam::pg::CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
    const pg_uuid_t* user_id = iam::pg::current_subject(&cache->subject);
    bool new_question = iam::pg::remember_question(fcinfo, cache, 0);
    if (!new_question && iam::pg::cached_answer(cache, user_id))
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
        pg_uuid_t role_id = iam::pg::role_id_or_throw(cache->tables, DatumGetTextPP(values[i]));
        if (!holds && user_id != nullptr)
            holds = iam::pg::user_holds_role(cache->tables, *user_id, role_id);
    }
    PG_RETURN_BOOL(iam::pg::store_answer(cache, user_id, holds));
}

// iam.roles_of(user_id uuid) -> text[], sorted by name; empty for no user
IAM_SQL_FUNCTION(iam_roles_of) {
    List* role_ids = NIL;
    if (!PG_ARGISNULL(0)) {
        iam::pg::CallSiteCache* cache = iam::pg::call_site_cache(fcinfo);
        const iam::pg::IamTables& tables = cache->tables;
        iam::pg::require_may_ask_about(cache, *PG_GETARG_UUID_P(0));
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
