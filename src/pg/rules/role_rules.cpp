// The rules of iam.roles (src/pg/rules/write_rules.hpp): the built-in roles
// keep their ids and names and are not deleted.
#include "pg/boundary/guard.hpp"

#include "pg/identity/privileges.hpp"
#include "pg/rules/trigger_rows.hpp"
#include "pg/rules/write_rules.hpp"

#include "core/error.hpp"

#include <string>

namespace {

using iam::pg::changed;
using iam::pg::column;
using iam::pg::let_through;
using iam::pg::refuse;
using iam::pg::row_trigger;
using iam::pg::value_of;

// The seven roles CREATE EXTENSION seeds have ids 00000000-0000-4000-8000-
// 00000000000N, N from 1 to 7; the policies and checks name them.
bool is_built_in_role(const pg_uuid_t& id) {
    static const uint8 prefix[UUID_LEN - 1] = {0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0};
    return memcmp(id.data, prefix, sizeof(prefix)) == 0 && id.data[UUID_LEN - 1] >= 1 &&
           id.data[UUID_LEN - 1] <= 7;
}

}  // namespace

// iam.guard_role(): BEFORE UPDATE OR DELETE ON iam.roles FOR EACH ROW
IAM_SQL_FUNCTION(iam_guard_role) {
    TriggerData* trigger = row_trigger(fcinfo, "iam.guard_role()");
    Relation relation = trigger->tg_relation;
    bool is_null;
    Datum id = value_of(trigger->tg_trigtuple, relation, column(relation, "id"), &is_null);
    if (is_null || !is_built_in_role(*DatumGetUUIDP(id)) || iam::pg::is_restore(relation) ||
        iam::pg::stands_above_rules())
        return let_through(trigger);
    Datum name = value_of(trigger->tg_trigtuple, relation, column(relation, "name"), &is_null);
    std::string role = is_null ? std::string() : TextDatumGetCString(name);
    if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
        refuse("the built-in role \"" + role + "\" cannot be deleted");
    if (changed(trigger, column(relation, "id")) || changed(trigger, column(relation, "name")))
        refuse("the built-in role \"" + role + "\" keeps its id and name",
               "Policies and the extension's checks name it; create a new role instead.");
    return let_through(trigger);
}
