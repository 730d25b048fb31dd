// Reading the rows a row trigger sees, by column name: the audit trigger and
// the write rules read iam's tables the same way. Also the plumbing the
// write rules' BEFORE ROW triggers share.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace iam::pg {

struct Column {
    AttrNumber number;
    Form_pg_attribute attribute;
};

// Column `name` of the trigger's table; throws trigger_protocol_violated if
// the table has none.
Column column(Relation relation, const char* name);

// Whether the trigger's table has column `name` (one appended by an upgrade
// that the schema may not have had yet).
bool has_column(Relation relation, const char* name);

Datum value_of(HeapTuple row, Relation relation, const Column& column, bool* is_null);

// Whether a boolean column is true (false for NULL).
bool is_true(HeapTuple row, Relation relation, const char* name);

// Whether an UPDATE changes the column's stored value; true for any other
// event.
bool changed(const TriggerData* trigger, const Column& column);

// The trigger data of a BEFORE ... FOR EACH ROW trigger; throws
// trigger_protocol_violated, naming `function`, if called otherwise.
TriggerData* row_trigger(FunctionCallInfo fcinfo, const char* function);

// The row a BEFORE ROW trigger lets through unchanged: the new row of an
// INSERT or UPDATE, the old one of a DELETE.
HeapTuple written_row(const TriggerData* trigger);

// The trigger's result that lets written_row through.
Datum let_through(const TriggerData* trigger);

}  // namespace iam::pg
