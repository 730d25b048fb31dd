// iam.audit_change(): the AFTER ROW trigger on iam.user_roles and
// iam.company_users that writes one iam.audit_log row per grant, revoke and
// membership change, whichever way the change was made (the functions,
// PostgREST, plain SQL).
//
// The audit trail is the extension's own bookkeeping (DESIGN.md, "Security
// model"): the row is written as the owner of iam.audit_log, so that callers
// need no privilege on it and cannot write to it themselves.
//
// A restore is not a change: pg_restore (and psql running a pg_dump script)
// reloads user_roles and company_users with this trigger in place, and
// brings the audit trail along. Dumps set row_security = off, which makes an
// RLS-bound role's statements on these tables fail; so rows written with
// row_security off by a superuser or the tables' owner, who may disable the
// trigger anyway, are not audited. Every other role is.
#include "guard.hpp"

#include "as_owner.hpp"
#include "context.hpp"

#include "../core/error.hpp"

#include <string>

namespace {

constexpr AttrNumber user_id_attnum = 1;    // user_roles and company_users
constexpr AttrNumber subject_attnum = 2;    // role_id or company_id
constexpr AttrNumber is_active_attnum = 4;  // company_users.is_active_in_company
constexpr int audit_argument_count = 8;

const char* const insert_audit_row =
    "INSERT INTO iam.audit_log (actor_user_id, actor_role, action, target_user_id, role_id, "
    "company_id, old_row, new_row) "
    "VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.to_jsonb($7), pg_catalog.to_jsonb($8))";

TriggerData* require_audit_trigger(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.audit_change() must be called as a trigger");
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (!TRIGGER_FIRED_AFTER(trigger->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigger->tg_event))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.audit_change() must be an AFTER ... FOR EACH ROW trigger");
    return trigger;
}

bool attribute_is_true(HeapTuple tuple, TupleDesc descriptor, AttrNumber number) {
    bool is_null;
    Datum value = heap_getattr(tuple, number, descriptor, &is_null);
    return !is_null && DatumGetBool(value);
}

// What happened, in the words of iam.audit_log.action.
const char* action_of(const TriggerData* trigger, bool role_change) {
    if (TRIGGER_FIRED_BY_INSERT(trigger->tg_event))
        return role_change ? "role_granted" : "member_added";
    if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
        return role_change ? "role_revoked" : "member_deleted";
    if (role_change)
        return "role_changed";
    TupleDesc descriptor = RelationGetDescr(trigger->tg_relation);
    bool was_active = attribute_is_true(trigger->tg_trigtuple, descriptor, is_active_attnum);
    bool is_active = attribute_is_true(trigger->tg_newtuple, descriptor, is_active_attnum);
    if (was_active != is_active)
        return is_active ? "member_reactivated" : "member_removed";
    return "member_updated";
}

bool is_restore(Relation relation) {
    return !row_security && (superuser() || GetUserId() == relation->rd_rel->relowner);
}

}  // namespace

IAM_SQL_FUNCTION(iam_audit_change) {
    TriggerData* trigger = require_audit_trigger(fcinfo);
    if (is_restore(trigger->tg_relation))
        return PointerGetDatum(nullptr);
    const char* table = RelationGetRelationName(trigger->tg_relation);
    bool role_change = strcmp(table, "user_roles") == 0;
    if (!role_change && strcmp(table, "company_users") != 0)
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         std::string("iam.audit_change() audits iam.user_roles and "
                                     "iam.company_users, not ") +
                             table);

    TupleDesc descriptor = RelationGetDescr(trigger->tg_relation);
    bool deleted = TRIGGER_FIRED_BY_DELETE(trigger->tg_event);
    bool inserted = TRIGGER_FIRED_BY_INSERT(trigger->tg_event);
    HeapTuple row =
        deleted ? trigger->tg_trigtuple : (inserted ? trigger->tg_trigtuple : trigger->tg_newtuple);

    Datum values[audit_argument_count];
    char nulls[audit_argument_count];
    memset(nulls, ' ', sizeof(nulls));

    iam::pg::SubjectCache subject{};
    const pg_uuid_t* actor = iam::pg::current_subject(&subject);
    values[0] = actor != nullptr ? UUIDPGetDatum(const_cast<pg_uuid_t*>(actor)) : Datum(0);
    nulls[0] = actor != nullptr ? ' ' : 'n';
    values[1] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
    values[2] = CStringGetTextDatum(action_of(trigger, role_change));
    bool is_null;
    values[3] = heap_getattr(row, user_id_attnum, descriptor, &is_null);
    Datum subject_id = heap_getattr(row, subject_attnum, descriptor, &is_null);
    values[4] = role_change ? subject_id : Datum(0);
    nulls[4] = role_change ? ' ' : 'n';
    values[5] = role_change ? Datum(0) : subject_id;
    nulls[5] = role_change ? 'n' : ' ';
    HeapTuple old_row = inserted ? nullptr : trigger->tg_trigtuple;
    HeapTuple new_row = deleted ? nullptr : row;
    values[6] = old_row != nullptr ? heap_copy_tuple_as_datum(old_row, descriptor) : Datum(0);
    nulls[6] = old_row != nullptr ? ' ' : 'n';
    values[7] = new_row != nullptr ? heap_copy_tuple_as_datum(new_row, descriptor) : Datum(0);
    nulls[7] = new_row != nullptr ? ' ' : 'n';

    Oid types[audit_argument_count] = {UUIDOID,
                                       TEXTOID,
                                       TEXTOID,
                                       UUIDOID,
                                       UUIDOID,
                                       UUIDOID,
                                       descriptor->tdtypeid,
                                       descriptor->tdtypeid};
    iam::pg::pg_call([&] {
        iam::pg::execute_as_owner(iam::pg::iam_relation("audit_log"), insert_audit_row,
                                  audit_argument_count, types, values, nulls);
    });
    return PointerGetDatum(nullptr);
}
