// Reading the rows a row trigger sees, by column name: the audit trigger and
// the write rules read iam's tables the same way.
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

}  // namespace iam::pg
