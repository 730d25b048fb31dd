// iam.require_key_permission() (src/pg/rules/write_rules.hpp): the statement
// trigger on every table a client may write.
#include "pg/boundary/guard.hpp"

#include "pg/api_keys/permissions.hpp"
#include "pg/identity/context.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/platform/citus.hpp"
#include "pg/rules/write_rules.hpp"

#include "core/error.hpp"

#include <string>

// iam.require_key_permission(): BEFORE INSERT OR UPDATE OR DELETE OR
// TRUNCATE ... FOR EACH STATEMENT
IAM_SQL_FUNCTION(iam_require_key_permission) {
    if (!CALLED_AS_TRIGGER(fcinfo) ||
        !TRIGGER_FIRED_FOR_STATEMENT(reinterpret_cast<TriggerData*>(fcinfo->context)->tg_event))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.require_key_permission() must be a FOR EACH STATEMENT trigger");
    Relation relation = reinterpret_cast<TriggerData*>(fcinfo->context)->tg_relation;
    iam::pg::refuse_writes_on_worker(relation);
    iam::pg::wait_for_workers_at_commit();
    const iam::pg::ApiKeyContext* request_key = iam::pg::api_key_context();
    if (request_key == nullptr || iam::pg::session_is_service() || iam::pg::stands_above_rules())
        return PointerGetDatum(nullptr);
    std::string wanted = std::string("iam:") + RelationGetRelationName(relation) + ":write";
    // Through pg_call: reading the jsonb may raise an error while `wanted`
    // is alive.
    if (!iam::pg::pg_call(
            [&] { return iam::pg::permissions_cover(iam::pg::request_key_scope(), wanted); }))
        iam::pg::refuse(
            "this request's API key may not change iam." +
                std::string(RelationGetRelationName(relation)),
            "A request authenticated by an API key writes iam's tables only if the key holds "
            "the permission \"" +
                wanted + "\" (or \"iam:*\").");
    return PointerGetDatum(nullptr);
}
