// The rules of iam.roles (src/pg/rules/write_rules.hpp): the built-in roles
// keep their ids and names and are not deleted.
#include "pg/boundary/guard.hpp"

#include "pg/identity/privileges.hpp"
#include "pg/rules/trigger_rows.hpp"
#include "pg/rules/write_rules.hpp"

#include "core/error.hpp"

#include <string>

namespace {

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
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_role()");
    Relation relation = trigger->tg_relation;
    bool is_null;
    Datum id = iam::pg::value_of(trigger->tg_trigtuple, relation, iam::pg::column(relation, "id"),
                                 &is_null);
    if (is_null || !is_built_in_role(*DatumGetUUIDP(id)) || iam::pg::is_restore(relation) ||
        iam::pg::stands_above_rules())
        return iam::pg::let_through(trigger);
    Datum name = iam::pg::value_of(trigger->tg_trigtuple, relation,
                                   iam::pg::column(relation, "name"), &is_null);
    std::string role = is_null ? std::string() : TextDatumGetCString(name);
    if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
        iam::pg::refuse("the built-in role \"" + role + "\" cannot be deleted");
    if (iam::pg::changed(trigger, iam::pg::column(relation, "id")) ||
        iam::pg::changed(trigger, iam::pg::column(relation, "name")))
        iam::pg::refuse("the built-in role \"" + role + "\" keeps its id and name",
                        "Policies and the extension's checks name it; create a new role instead.");
    return iam::pg::let_through(trigger);
}
