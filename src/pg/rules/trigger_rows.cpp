// Plain C-style code: no C++ object is alive across the PostgreSQL calls
// here, so their errors may unwind directly (src/pg/boundary/guard.hpp).
#include "pg/rules/trigger_rows.hpp"

#include "core/error.hpp"

#include <string>

namespace iam::pg {

Column column(Relation relation, const char* name) {
    TupleDesc descriptor = RelationGetDescr(relation);
    int number = SPI_fnumber(descriptor, name);
    if (number <= 0)
        throw iam::Error(
            iam::sqlstate::trigger_protocol_violated,
            std::string("iam.") + RelationGetRelationName(relation) + " has no column " + name);
    return Column{static_cast<AttrNumber>(number), TupleDescAttr(descriptor, number - 1)};
}

bool has_column(Relation relation, const char* name) {
    return SPI_fnumber(RelationGetDescr(relation), name) > 0;
}

Datum value_of(HeapTuple row, Relation relation, const Column& column, bool* is_null) {
    return heap_getattr(row, column.number, RelationGetDescr(relation), is_null);
}

bool is_true(HeapTuple row, Relation relation, const char* name) {
    bool is_null;
    Datum value = value_of(row, relation, column(relation, name), &is_null);
    return !is_null && DatumGetBool(value);
}

bool changed(const TriggerData* trigger, const Column& column) {
    if (!TRIGGER_FIRED_BY_UPDATE(trigger->tg_event))
        return true;
    bool old_null, new_null;
    Datum old_value = value_of(trigger->tg_trigtuple, trigger->tg_relation, column, &old_null);
    Datum new_value = value_of(trigger->tg_newtuple, trigger->tg_relation, column, &new_null);
    if (old_null || new_null)
        return old_null != new_null;
    return !datumIsEqual(old_value, new_value, column.attribute->attbyval,
                         column.attribute->attlen);
}

TriggerData* row_trigger(FunctionCallInfo fcinfo, const char* function) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         std::string(function) + " must be called as a trigger");
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (!TRIGGER_FIRED_BEFORE(trigger->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigger->tg_event))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         std::string(function) + " must be a BEFORE ... FOR EACH ROW trigger");
    return trigger;
}

HeapTuple written_row(const TriggerData* trigger) {
    return TRIGGER_FIRED_BY_UPDATE(trigger->tg_event) ? trigger->tg_newtuple
                                                      : trigger->tg_trigtuple;
}

Datum let_through(const TriggerData* trigger) {
    return PointerGetDatum(written_row(trigger));
}

}  // namespace iam::pg
