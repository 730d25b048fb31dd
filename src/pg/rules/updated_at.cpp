// iam.set_updated_at(): BEFORE UPDATE row trigger that stamps updated_at with
// the transaction's timestamp (what now() returns), like contrib's
// moddatetime but without SPI or a PL interpreter on every updated row.
#include "pg/boundary/guard.hpp"

#include "core/error.hpp"

#include <string>

namespace {

void require_row_update_trigger(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.set_updated_at() must be called as a trigger");
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (!TRIGGER_FIRED_BEFORE(trigger->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigger->tg_event) ||
        !TRIGGER_FIRED_BY_UPDATE(trigger->tg_event))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.set_updated_at() must be a BEFORE UPDATE ... FOR EACH ROW trigger");
}

// The attribute number of updated_at, which must be a live timestamptz column.
int updated_at_attnum(Relation relation) {
    TupleDesc descriptor = RelationGetDescr(relation);
    for (int i = 0; i < descriptor->natts; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(descriptor, i);
        if (attribute->attisdropped || strcmp(NameStr(attribute->attname), "updated_at") != 0)
            continue;
        if (attribute->atttypid != TIMESTAMPTZOID)
            throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                             std::string("iam.set_updated_at(): column updated_at of table ") +
                                 RelationGetRelationName(relation) +
                                 " must be of type timestamptz");
        return attribute->attnum;
    }
    throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                     std::string("iam.set_updated_at(): table ") +
                         RelationGetRelationName(relation) + " has no column updated_at");
}

}  // namespace

IAM_SQL_FUNCTION(iam_set_updated_at) {
    require_row_update_trigger(fcinfo);
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    int attnum = updated_at_attnum(trigger->tg_relation);

    Datum now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    bool is_null = false;
    // No C++ object is alive across this call, so an out-of-memory ereport
    // from it may unwind directly.
    HeapTuple stamped = heap_modify_tuple_by_cols(
        trigger->tg_newtuple, RelationGetDescr(trigger->tg_relation), 1, &attnum, &now, &is_null);
    return PointerGetDatum(stamped);
}
