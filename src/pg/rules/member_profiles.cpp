// iam.copy_member_profile(): the AFTER INSERT OR UPDATE OF email, full_name
// trigger of iam.users that keeps iam.member_profiles, the fields a
// company's admins may read of their members, in step with iam.users. The
// copy is the extension's own bookkeeping, written as the table's owner:
// no API role writes member_profiles, and its RLS policy decides who reads a
// row, so that an admin reads those two fields of their members and nothing
// else of iam.users. A restore (iam::pg::is_restore) reloads the copy with
// the rest of the data instead.
#include "pg/boundary/guard.hpp"

#include "pg/identity/privileges.hpp"
#include "pg/platform/spi.hpp"
#include "pg/rules/trigger_rows.hpp"

#include "core/error.hpp"

IAM_SQL_FUNCTION(iam_copy_member_profile) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.copy_member_profile() must be called as a trigger");
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (!TRIGGER_FIRED_AFTER(trigger->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigger->tg_event) ||
        TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.copy_member_profile() must be an AFTER INSERT OR UPDATE ... FOR "
                         "EACH ROW trigger");
    Relation relation = trigger->tg_relation;
    if (iam::pg::is_restore(relation))
        return PointerGetDatum(nullptr);
    HeapTuple row =
        TRIGGER_FIRED_BY_UPDATE(trigger->tg_event) ? trigger->tg_newtuple : trigger->tg_trigtuple;
    const char* names[3] = {"id", "email", "full_name"};
    Oid types[3];
    Datum values[3];
    char nulls[4] = "   ";
    for (int i = 0; i < 3; ++i) {
        iam::pg::Column column = iam::pg::column(relation, names[i]);
        bool is_null;
        types[i] = column.attribute->atttypid;
        values[i] = iam::pg::value_of(row, relation, column, &is_null);
        nulls[i] = is_null ? 'n' : ' ';
    }
    iam::pg::pg_call([&] {
        iam::pg::execute_as_owner(
            iam::pg::iam_relation("member_profiles"),
            "INSERT INTO iam.member_profiles AS p (user_id, email, full_name) VALUES ($1, $2, $3) "
            "ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, "
            "full_name = excluded.full_name "
            "WHERE (p.email, p.full_name) IS DISTINCT FROM (excluded.email, excluded.full_name)",
            3, types, values, nulls);
    });
    return PointerGetDatum(nullptr);
}
