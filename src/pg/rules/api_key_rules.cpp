// The rules of iam.api_keys (src/pg/rules/write_rules.hpp): a key's name,
// permissions, expiry and usage columns, what a request authenticated by a
// key may do to keys, rotation's copies and the cap on an owner's keys.
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/issuing.hpp"
#include "pg/api_keys/permissions.hpp"
#include "pg/api_keys/own_writes.hpp"
#include "pg/api_keys/rate_limits.hpp"
#include "pg/identity/context.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/platform/spi.hpp"
#include "pg/tables/api_key_rows.hpp"
#include "pg/tables/membership_rows.hpp"
#include "pg/rules/trigger_rows.hpp"
#include "pg/rules/write_rules.hpp"

#include "core/error.hpp"

#include <string>

namespace {

using iam::pg::caller_is_platform_admin;
using iam::pg::changed;
using iam::pg::Column;
using iam::pg::column;
using iam::pg::refuse;
using iam::pg::same_uuid;
using iam::pg::value_of;

int max_api_keys_per_owner = 100;

// The columns of an api_keys row that the rules read.
struct KeyRow {
    bool has_user, has_company, has_expiry, is_active;
    pg_uuid_t user_id, company_id;
    TimestampTz expires_at;
    Jsonb* permissions;  // nullptr for SQL NULL
};

KeyRow key_row(Relation relation, HeapTuple row) {
    KeyRow key{};
    bool is_null;
    Datum value = value_of(row, relation, column(relation, "user_id"), &is_null);
    key.has_user = !is_null;
    if (key.has_user)
        key.user_id = *DatumGetUUIDP(value);
    value = value_of(row, relation, column(relation, "company_id"), &is_null);
    key.has_company = !is_null;
    if (key.has_company)
        key.company_id = *DatumGetUUIDP(value);
    value = value_of(row, relation, column(relation, "expires_at"), &is_null);
    key.has_expiry = !is_null;
    key.expires_at = is_null ? 0 : DatumGetTimestampTz(value);
    value = value_of(row, relation, column(relation, "is_active"), &is_null);
    key.is_active = !is_null && DatumGetBool(value);
    value = value_of(row, relation, column(relation, "permissions"), &is_null);
    key.permissions = is_null ? nullptr : DatumGetJsonbP(value);
    return key;
}

// Whether `expiry` comes no later than `limit` (no expiry comes last).
bool expires_by(bool has_expiry, TimestampTz expiry, bool has_limit, TimestampTz limit) {
    return !has_limit || (has_expiry && expiry <= limit);
}

// In a request authenticated by an API key, the keys it writes lie within
// it: the same owner, permissions it covers, an expiry no later than its own.
void require_within_request_key(const iam::pg::ApiKeyContext& request_key, const KeyRow& row) {
    bool same_owner = row.has_user == request_key.has_user &&
                      row.has_company == request_key.has_company &&
                      (!row.has_user || same_uuid(row.user_id, request_key.user_id)) &&
                      (!row.has_company || same_uuid(row.company_id, request_key.company_id));
    if (!same_owner)
        refuse("an API key manages only keys of its own owner");
    if (!iam::pg::permissions_cover_all(request_key.permissions, row.permissions))
        refuse("an API key cannot make or change a key with permissions it does not have");
    if (!expires_by(row.has_expiry, row.expires_at, request_key.has_expiry, request_key.expires_at))
        refuse("an API key cannot make or change a key that outlives it",
               "Give the key an expires_at no later than the request's own key.");
}

void require_valid_name(Relation relation, HeapTuple row) {
    bool is_null;
    Datum name = value_of(row, relation, column(relation, "name"), &is_null);
    iam::pg::require_valid_key_name(is_null ? nullptr : DatumGetTextPP(name));
}

// Who may receive a key's new secret: the user whose key it is, for a
// company's own key that company's admins, and the service role.
bool may_rotate(const KeyRow& key) {
    if (iam::pg::session_is_service())
        return true;
    iam::pg::SubjectCache subject{};
    const pg_uuid_t* caller = iam::pg::current_subject(&subject);
    if (caller == nullptr)
        return false;
    if (key.has_user)
        return same_uuid(*caller, key.user_id);
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    return key.has_company && iam::pg::is_active_admin(tables, *caller, key.company_id) &&
           iam::pg::company_is_active(tables, key.company_id);
}

// An UPDATE by anyone but the operator only narrows a key.
void require_narrowing(const TriggerData* trigger, const KeyRow& old_key, const KeyRow& new_key) {
    if (!old_key.is_active && new_key.is_active)
        refuse("a revoked API key stays revoked", "Create a new key instead.");
    if (!iam::pg::permissions_cover_all(old_key.permissions, new_key.permissions))
        refuse("an API key's permissions can only narrow", "Create a new key instead.");
    if (!expires_by(new_key.has_expiry, new_key.expires_at, old_key.has_expiry, old_key.expires_at))
        refuse("an API key's expiry can only come sooner", "Create a new key instead.");
    Relation relation = trigger->tg_relation;
    bool rotated = changed(trigger, column(relation, "hashed_key")) ||
                   changed(trigger, column(relation, "key_prefix"));
    if (rotated && !may_rotate(old_key))
        refuse("only the key's owner may rotate it",
               "Others with authority over the key may revoke it: iam.revoke_api_key(key_id).");
}

// The usage columns: credits, their refill and the rate limit. Only the
// service role, a platform_admin and the operator give a key more; anyone
// else may only lower its credits, drop its refill or start its refill
// period later (a rotation moves the old key's credits to the new one so),
// and makes new keys without any, but for the copy iam.rotate_api_key makes
// of the key it replaces.
constexpr const char* usage_columns[] = {"remaining",   "refill_amount", "refill_interval",
                                         "refilled_at", "rate_limit",    "rate_limit_window"};

bool may_grant_usage() {
    return iam::pg::session_is_service() || caller_is_platform_admin();
}

bool is_null_in(Relation relation, HeapTuple row, const char* name) {
    bool is_null;
    (void)value_of(row, relation, column(relation, name), &is_null);
    return is_null;
}

// The usage columns hold together: a refill is a positive amount every
// positive interval, of a key with credits; a rate limit is a positive
// number of requests per 1 second to 1 day, set only where it can be
// enforced. (Checked here rather than by CHECK constraints, which every
// UPDATE would parse again: requests spending credits update the row.)
void require_valid_usage(const TriggerData* trigger, HeapTuple row) {
    Relation relation = trigger->tg_relation;
    Column refill_amount = column(relation, "refill_amount");
    Column refill_interval = column(relation, "refill_interval");
    if (changed(trigger, refill_amount) || changed(trigger, refill_interval) ||
        changed(trigger, column(relation, "remaining"))) {
        bool amount_null, interval_null;
        Datum amount = value_of(row, relation, refill_amount, &amount_null);
        Datum interval = value_of(row, relation, refill_interval, &interval_null);
        if (amount_null != interval_null ||
            (!amount_null &&
             (is_null_in(relation, row, "remaining") || DatumGetInt32(amount) <= 0 ||
              iam::pg::interval_usecs(DatumGetIntervalP(interval)) <= 0)))
            throw iam::Error(iam::sqlstate::invalid_parameter_value,
                             "a refill is a positive amount every positive interval, of a key "
                             "with credits",
                             {},
                             "For example iam.set_api_key_credits(key_id, 1000, 1000, '1 month').");
    }
    Column rate_limit = column(relation, "rate_limit");
    Column rate_limit_window = column(relation, "rate_limit_window");
    if (!changed(trigger, rate_limit) && !changed(trigger, rate_limit_window))
        return;
    bool limit_null, window_null;
    Datum limit = value_of(row, relation, rate_limit, &limit_null);
    Datum window = value_of(row, relation, rate_limit_window, &window_null);
    if (limit_null && window_null)
        return;
    int64 window_usecs = window_null ? 0 : iam::pg::interval_usecs(DatumGetIntervalP(window));
    if (limit_null || window_null ||
        !iam::pg::is_valid_rate_limit(DatumGetInt32(limit), window_usecs))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a rate limit is a positive number of requests per 1 second to 1 day");
    if (!iam::pg::rate_limits_available())
        throw iam::Error(iam::sqlstate::object_not_in_prerequisite_state,
                         "rate limits of API keys need iam_ext in shared_preload_libraries", {},
                         "Add iam_ext to shared_preload_libraries in postgresql.conf, restart the "
                         "server, then set the limit. The server of make run preloads it: if an "
                         "older one still runs, make stop, then make run.");
}

constexpr const char* only_the_seller_changes_limits =
    "only the service role or a platform_admin changes an API key's rate limit or refill";

void require_usage_narrowing(const TriggerData* trigger) {
    Relation relation = trigger->tg_relation;
    for (const char* name : {"rate_limit", "rate_limit_window"})
        if (changed(trigger, column(relation, name)))
            refuse(only_the_seller_changes_limits);
    HeapTuple row = trigger->tg_newtuple;
    bool old_null, new_null;
    // A refill's period may start later (the next refill comes later), never
    // earlier. NULL counts from the key's creation, so from NULL it moves to
    // now or later: a date in the past would make a refill due at once.
    Column refilled_at = column(relation, "refilled_at");
    Datum old_value = value_of(trigger->tg_trigtuple, relation, refilled_at, &old_null);
    Datum new_value = value_of(row, relation, refilled_at, &new_null);
    if (changed(trigger, refilled_at)) {
        TimestampTz earliest =
            old_null ? GetCurrentTransactionStartTimestamp() : DatumGetTimestampTz(old_value);
        if (new_null || DatumGetTimestampTz(new_value) < earliest)
            refuse("an API key's refill period may only start later",
                   "The service role or a platform_admin sets it: iam.set_api_key_credits.");
    }
    bool refill_dropped =
        is_null_in(relation, row, "refill_amount") && is_null_in(relation, row, "refill_interval");
    if (!refill_dropped && (changed(trigger, column(relation, "refill_amount")) ||
                            changed(trigger, column(relation, "refill_interval"))))
        refuse(only_the_seller_changes_limits);
    Column remaining = column(relation, "remaining");
    old_value = value_of(trigger->tg_trigtuple, relation, remaining, &old_null);
    new_value = value_of(row, relation, remaining, &new_null);
    if (!old_null && (new_null || DatumGetInt32(new_value) > DatumGetInt32(old_value)))
        refuse("an API key's credits can only go down",
               "The service role or a platform_admin adds credits: iam.set_api_key_credits.");
}

// A new key without the service role's authority starts without usage
// columns, but for a rotation's copy (require_replaced_key_of_same_owner
// compares it with the key it replaces).
bool has_usage(Relation relation, HeapTuple row) {
    for (const char* name : usage_columns)
        if (!is_null_in(relation, row, name))
            return true;
    return false;
}

// When a new key's owner may use it from: a user's ban (see
// iam.sync_user_from_auth), read while the owner's row is locked, so that
// two sessions creating keys for one owner at once count each other's
// against the cap.
struct Suspension {
    bool present;
    TimestampTz until;
};

void read_suspension(SPITupleTable* result, uint64 processed, void* context) {
    auto* out = static_cast<Suspension*>(context);
    if (processed == 0)
        return;
    bool is_null;
    Datum value = SPI_getbinval(result->vals[0], result->tupdesc, 1, &is_null);
    out->present = !is_null;
    out->until = is_null ? 0 : DatumGetTimestampTz(value);
}

Suspension lock_owner(const KeyRow& key) {
    Suspension suspension{};
    Oid types[1] = {UUIDOID};
    Datum values[1] = {
        UUIDPGetDatum(const_cast<pg_uuid_t*>(key.has_user ? &key.user_id : &key.company_id))};
    iam::pg::pg_call([&] {
        iam::pg::execute_as_owner(
            iam::pg::iam_tables().api_keys,
            key.has_user ? "SELECT CASE WHEN deleted_at IS NOT NULL THEN 'infinity'::timestamptz "
                           "ELSE banned_until END FROM iam.users WHERE id = $1 FOR NO KEY UPDATE"
                         : "SELECT NULL::timestamptz FROM iam.companies WHERE id = $1 "
                           "FOR NO KEY UPDATE",
            1, types, values, nullptr, read_suspension, &suspension);
    });
    return suspension;
}

// The cap on an owner's keys (iam.max_api_keys_per_owner): the active ones
// and those created in the last day, revoked or not, so that creating and
// revoking keys in a loop makes at most the cap of rows a day. The owner's
// row is locked already.
void require_below_key_cap(const KeyRow& key) {
    if (max_api_keys_per_owner == 0)
        return;
    Oid types[2] = {UUIDOID, INT4OID};
    Datum values[2] = {
        UUIDPGetDatum(const_cast<pg_uuid_t*>(key.has_user ? &key.user_id : &key.company_id)),
        Int32GetDatum(max_api_keys_per_owner)};
    uint64 active = iam::pg::pg_call([&] {
        return iam::pg::execute_as_owner(
            iam::pg::iam_tables().api_keys,
            key.has_user ? "SELECT FROM iam.api_keys WHERE user_id = $1 AND (is_active OR "
                           "created_at > now() - interval '1 day') LIMIT $2"
                         : "SELECT FROM iam.api_keys WHERE company_id = $1 AND user_id IS NULL "
                           "AND (is_active OR created_at > now() - interval '1 day') LIMIT $2",
            2, types, values, nullptr);
    });
    if (active >= static_cast<uint64>(max_api_keys_per_owner))
        throw iam::Error(iam::sqlstate::configuration_limit_exceeded,
                         "the key's owner has " + std::to_string(max_api_keys_per_owner) +
                             " API keys active or created in the last day, the most allowed",
                         "Revoked keys count for a day after their creation.",
                         "Revoke keys that are no longer used and wait, or raise "
                         "iam.max_api_keys_per_owner.");
}

// A key names the key it replaces (rotate_api_key with a grace) only if that
// key is active and has the same owner: the link is no way to claim another
// owner's key, or an audit trail of rotations that did not happen. The key
// replaced must not be in a grace of its own (so a key's credits are spent
// through at most one link), and a copy made without the service role's
// authority carries the replaced key's usage columns unchanged.
struct Replaced {
    bool found, same_usage, in_grace, already_replaced;
};

void read_replaced(SPITupleTable* result, uint64 processed, void* context) {
    auto* replaced = static_cast<Replaced*>(context);
    replaced->found = processed > 0;
    if (!replaced->found)
        return;
    bool is_null;
    replaced->same_usage =
        DatumGetBool(SPI_getbinval(result->vals[0], result->tupdesc, 1, &is_null));
    replaced->in_grace = DatumGetBool(SPI_getbinval(result->vals[0], result->tupdesc, 2, &is_null));
    replaced->already_replaced =
        DatumGetBool(SPI_getbinval(result->vals[0], result->tupdesc, 3, &is_null));
}

void require_replaced_key_of_same_owner(Relation relation, HeapTuple row, const KeyRow& key,
                                        bool check_usage) {
    bool is_null;
    Datum replaced_id = value_of(row, relation, column(relation, "replaces_key_id"), &is_null);
    if (is_null) {
        if (check_usage && has_usage(relation, row))
            refuse(
                "only the service role or a platform_admin gives an API key credits or a rate "
                "limit",
                "They set them with iam.set_api_key_credits and iam.set_api_key_rate_limit.");
        return;
    }
    // Row contents prove nothing: a copy written by hand would hold the old
    // key's credits while the old key kept its own. Only the rotation's own
    // statement, which moves them, makes one (own_writes.hpp).
    bool hash_null;
    Datum hashed_key = value_of(row, relation, column(relation, "hashed_key"), &hash_null);
    if (hash_null ||
        !iam::pg::is_rotation_copy(*DatumGetUUIDP(replaced_id), DatumGetTextPP(hashed_key)))
        refuse("only iam.rotate_api_key makes a key that replaces another",
               "Rotate the key with iam.rotate_api_key(key_id, grace).");
    constexpr int count = 3 + sizeof(usage_columns) / sizeof(usage_columns[0]);
    Oid types[count] = {UUIDOID, UUIDOID, UUIDOID};
    Datum values[count] = {replaced_id, UUIDPGetDatum(const_cast<pg_uuid_t*>(&key.user_id)),
                           UUIDPGetDatum(const_cast<pg_uuid_t*>(&key.company_id))};
    char nulls[count + 1] = {' ', key.has_user ? ' ' : 'n', key.has_company ? ' ' : 'n'};
    for (int i = 3; i < count; ++i) {
        Column usage = column(relation, usage_columns[i - 3]);
        types[i] = usage.attribute->atttypid;
        values[i] = value_of(row, relation, usage, &is_null);
        nulls[i] = is_null ? 'n' : ' ';
    }
    nulls[count] = '\0';
    Replaced replaced{};
    iam::pg::pg_call([&] {
        iam::pg::execute_as_owner(
            RelationGetRelid(relation),
            "SELECT r.remaining IS NOT DISTINCT FROM $4 "
            "AND r.refill_amount IS NOT DISTINCT FROM $5 "
            "AND r.refill_interval IS NOT DISTINCT FROM $6 "
            "AND r.refilled_at IS NOT DISTINCT FROM $7 "
            "AND r.rate_limit IS NOT DISTINCT FROM $8 "
            "AND r.rate_limit_window IS NOT DISTINCT FROM $9, "
            "EXISTS (SELECT FROM iam.api_keys AS p WHERE p.id = r.replaces_key_id AND p.is_active "
            "AND (p.expires_at IS NULL OR p.expires_at > now())), "
            "EXISTS (SELECT FROM iam.api_keys AS n WHERE n.replaces_key_id = r.id) "
            "FROM iam.api_keys AS r WHERE r.id = $1 AND r.is_active "
            "AND r.user_id IS NOT DISTINCT FROM $2 AND r.company_id IS NOT DISTINCT FROM $3",
            count, types, values, nulls, read_replaced, &replaced);
    });
    if (!replaced.found)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a key replaces only an active key of its own owner", {},
                         "Rotate a key with iam.rotate_api_key(key_id, grace).");
    if (replaced.already_replaced)
        throw iam::Error(iam::sqlstate::object_not_in_prerequisite_state,
                         "the key was already replaced by a rotation", {},
                         "Rotate the key that replaced it.");
    if (replaced.in_grace)
        throw iam::Error(iam::sqlstate::object_not_in_prerequisite_state,
                         "the key still overlaps with the key it replaced", {},
                         "Revoke the older key, wait for its grace to end, or rotate with grace "
                         "'0'.");
    if (check_usage && !replaced.same_usage)
        refuse("a rotation copies the replaced key's credits and rate limit unchanged");
}

// Whether the key holds credits or a rate limit (or is gone: then it
// counts as limited).
void read_limited(SPITupleTable* result, uint64 processed, void* context) {
    bool is_null;
    *static_cast<bool*>(context) =
        processed == 0 ||
        DatumGetBool(SPI_getbinval(result->vals[0], result->tupdesc, 1, &is_null));
}

bool key_is_limited(const pg_uuid_t& key_id) {
    bool limited = true;
    Oid types[1] = {UUIDOID};
    Datum values[1] = {UUIDPGetDatum(const_cast<pg_uuid_t*>(&key_id))};
    iam::pg::pg_call([&] {
        iam::pg::execute_as_owner(iam::pg::iam_tables().api_keys,
                                  "SELECT remaining IS NOT NULL OR rate_limit IS NOT NULL "
                                  "FROM iam.api_keys WHERE id = $1",
                                  1, types, values, nullptr, read_limited, &limited);
    });
    return limited;
}

// A request authenticated by a key with credits or a rate limit makes no
// key and rotates no key but itself: a new key, or another key's new
// secret, would escape its limits. Its own rotation keeps them (the copy
// carries the limit, and the credits move to it).
void require_within_request_key_limits(const TriggerData* trigger,
                                       const iam::pg::ApiKeyContext& request_key, bool inserting) {
    Relation relation = trigger->tg_relation;
    bool is_null;
    const char* refusal;
    if (inserting) {
        Datum replaced = value_of(trigger->tg_trigtuple, relation,
                                  column(relation, "replaces_key_id"), &is_null);
        if (!is_null && same_uuid(*DatumGetUUIDP(replaced), request_key.key_id))
            return;
        refusal =
            "a request authenticated by an API key with credits or a rate limit makes no "
            "API key";
    } else {
        if (!changed(trigger, column(relation, "hashed_key")) &&
            !changed(trigger, column(relation, "key_prefix")))
            return;
        Datum id = value_of(trigger->tg_trigtuple, relation, column(relation, "id"), &is_null);
        if (!is_null && same_uuid(*DatumGetUUIDP(id), request_key.key_id))
            return;
        refusal =
            "a request authenticated by an API key with credits or a rate limit rotates no "
            "API key but itself";
    }
    if (key_is_limited(request_key.key_id))
        refuse(refusal, "Its owner, signed in, manages their other keys.");
}

// A new key records who made it and when its owner may use it. Returns the
// row to insert.
HeapTuple stamp_new_key(Relation relation, HeapTuple row, const Suspension& suspension) {
    iam::pg::SubjectCache subject{};
    const pg_uuid_t* creator = iam::pg::current_subject(&subject);
    int columns[2] = {column(relation, "created_by").number,
                      column(relation, "suspended_until").number};
    Datum values[2] = {creator != nullptr ? UUIDPGetDatum(const_cast<pg_uuid_t*>(creator)) : 0,
                       TimestampTzGetDatum(suspension.until)};
    bool nulls[2] = {creator == nullptr, !suspension.present};
    return heap_modify_tuple_by_cols(row, RelationGetDescr(relation), 2, columns, values, nulls);
}

}  // namespace

namespace iam::pg {

void define_write_rule_settings() {
    DefineCustomIntVariable("iam.max_api_keys_per_owner",
                            "API keys one user or company may hold active or have created in the "
                            "last day (0: no limit)",
                            "Creating one more is refused with 53400.", &max_api_keys_per_owner,
                            100, 0, 1000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

}  // namespace iam::pg

// iam.guard_api_key(): BEFORE INSERT OR UPDATE ON iam.api_keys FOR EACH ROW
IAM_SQL_FUNCTION(iam_guard_api_key) {
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_api_key()");
    Relation relation = trigger->tg_relation;
    // A restore reloads rows as they were; a request spending credits (its
    // refill included) writes remaining and refilled_at by the seller's
    // terms, not the caller's.
    if (iam::pg::is_restore(relation) ||
        (iam::pg::spending_credits() && TRIGGER_FIRED_BY_UPDATE(trigger->tg_event)))
        return iam::pg::let_through(trigger);
    bool inserting = TRIGGER_FIRED_BY_INSERT(trigger->tg_event);
    HeapTuple row = iam::pg::written_row(trigger);
    KeyRow key = key_row(relation, row);
    if (iam::pg::changed(trigger, iam::pg::column(relation, "name")))
        require_valid_name(relation, row);
    if (key.permissions != nullptr &&
        iam::pg::changed(trigger, iam::pg::column(relation, "permissions")))
        iam::pg::require_valid_permissions(key.permissions);
    if (inserting && key.has_expiry)
        iam::pg::require_future_expiry(key.expires_at);
    require_valid_usage(trigger, row);
    if (iam::pg::stands_above_rules())
        return inserting ? PointerGetDatum(stamp_new_key(relation, row, lock_owner(key)))
                         : iam::pg::let_through(trigger);

    bool check_usage = !may_grant_usage();
    KeyRow old_key{};
    if (!inserting) {
        old_key = key_row(relation, trigger->tg_trigtuple);
        require_narrowing(trigger, old_key, key);
        if (check_usage)
            require_usage_narrowing(trigger);
        // The link a rotation made is kept: a key named by another spends
        // that key's credits. It is only ever cleared (deleting the key it
        // names does).
        iam::pg::Column replaces_key_id = iam::pg::column(relation, "replaces_key_id");
        if (iam::pg::changed(trigger, replaces_key_id) &&
            !is_null_in(relation, row, "replaces_key_id"))
            iam::pg::refuse("only iam.rotate_api_key makes a key that replaces another",
                            "Rotate the key with iam.rotate_api_key(key_id, grace).");
    }
    // Whose counter the rate limit spends is the rotation's to say (a key
    // that replaces another passed require_replaced_key_of_same_owner
    // below), and nobody's to change: a new count would be a fresh limit.
    bool counted_elsewhere =
        inserting ? !is_null_in(relation, row, "rate_limit_key_id") &&
                        is_null_in(relation, row, "replaces_key_id")
                  : iam::pg::changed(trigger, iam::pg::column(relation, "rate_limit_key_id"));
    if (counted_elsewhere)
        iam::pg::refuse(
            "only iam.rotate_api_key says under which key a key's requests are counted");
    if (!iam::pg::session_is_service()) {
        if (const iam::pg::ApiKeyContext* request_key = iam::pg::api_key_context()) {
            require_within_request_key(*request_key, key);
            if (!inserting)
                require_within_request_key(*request_key, old_key);
            require_within_request_key_limits(trigger, *request_key, inserting);
        }
    }
    if (!inserting)
        return iam::pg::let_through(trigger);
    require_replaced_key_of_same_owner(relation, row, key, check_usage);
    Suspension suspension = lock_owner(key);
    require_below_key_cap(key);
    return PointerGetDatum(stamp_new_key(relation, row, suspension));
}
