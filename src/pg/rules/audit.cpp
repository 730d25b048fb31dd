// iam.audit_change(): the AFTER ROW trigger that writes one iam.audit_log row
// per change to who holds what, whichever way the change was made (the
// functions, PostgREST, plain SQL):
//   user_roles     role_granted, role_revoked, role_changed
//   company_users  member_added, member_removed, member_reactivated,
//                  member_role_changed, member_updated, member_deleted
//   company_invitations
//                  invitation_created, invitation_accepted,
//                  invitation_revoked, invitation_changed, invitation_deleted
//   roles          catalog_role_created, catalog_role_changed,
//                  catalog_role_deleted
//   api_keys       api_key_created, api_key_rotated, api_key_revoked,
//                  api_key_reactivated, api_key_changed, api_key_deleted
//                  (not last_used_at: the trigger is not fired for it)
//   permissions    permission_registered, permission_changed,
//                  permission_deleted
//   role_permissions, company_role_permissions
//                  role_permission_granted, role_permission_revoked,
//                  role_permission_changed
//   company_roles  company_role_created, company_role_changed,
//                  company_role_deleted
//   company_member_roles
//                  member_role_assigned, member_role_removed,
//                  member_role_reassigned,
//   external_identities
//                  identity_linked, identity_unlinked, identity_changed
//
// The audit trail is the extension's own bookkeeping (docs/security.md): the
// row is written as the owner of iam.audit_log, so that callers need no
// privilege on it and cannot write to it themselves. The rows it copies
// leave out api_keys.hashed_key and company_invitations.token_hash, which
// the log's readers may not read. The actor's role is the one the session
// acts as (SET ROLE), also inside a SECURITY DEFINER function.
//
// A restore is not a change (iam::pg::is_restore): pg_restore reloads these
// tables with this trigger in place and brings the audit trail along. Only
// the operator in the session restores: a function running as the tables'
// owner with row_security off, for anyone else, is audited.
#include "pg/boundary/guard.hpp"

#include "pg/platform/spi.hpp"
#include "pg/identity/context.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/rules/trigger_rows.hpp"
#include "pg/tables/iam_tables.hpp"

#include "core/error.hpp"

#include <string>

namespace {

constexpr int audit_argument_count = 9;

const char* const insert_audit_row =
    "INSERT INTO iam.audit_log (actor_user_id, actor_role, action, target_user_id, role_id, "
    "company_id, old_row, new_row, actor_api_key_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, "
    "pg_catalog.to_jsonb($7) OPERATOR(pg_catalog.-) '{hashed_key,token_hash}'::pg_catalog.text[], "
    "pg_catalog.to_jsonb($8) OPERATOR(pg_catalog.-) '{hashed_key,token_hash}'::pg_catalog.text[], "
    "$9)";
// The same for a schema older than 0.7.0, which has no actor_api_key_id (the
// library is replaced before ALTER EXTENSION iam_ext UPDATE runs).
const char* const insert_audit_row_before_0_7_0 =
    "INSERT INTO iam.audit_log (actor_user_id, actor_role, action, target_user_id, role_id, "
    "company_id, old_row, new_row) "
    "VALUES ($1, $2, $3, $4, $5, $6, "
    "pg_catalog.to_jsonb($7) OPERATOR(pg_catalog.-) 'hashed_key', "
    "pg_catalog.to_jsonb($8) OPERATOR(pg_catalog.-) 'hashed_key')";

enum class Audited {
    user_roles,
    company_users,
    roles,
    api_keys,
    company_invitations,
    permissions,
    role_permissions,
    company_roles,
    company_role_permissions,
    company_member_roles,
    external_identities
};

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

Audited audited_table(Relation relation) {
    const char* table = RelationGetRelationName(relation);
    if (strcmp(table, "user_roles") == 0)
        return Audited::user_roles;
    if (strcmp(table, "company_users") == 0)
        return Audited::company_users;
    if (strcmp(table, "roles") == 0)
        return Audited::roles;
    if (strcmp(table, "api_keys") == 0)
        return Audited::api_keys;
    if (strcmp(table, "company_invitations") == 0)
        return Audited::company_invitations;
    if (strcmp(table, "permissions") == 0)
        return Audited::permissions;
    if (strcmp(table, "role_permissions") == 0)
        return Audited::role_permissions;
    if (strcmp(table, "company_roles") == 0)
        return Audited::company_roles;
    if (strcmp(table, "company_role_permissions") == 0)
        return Audited::company_role_permissions;
    if (strcmp(table, "company_member_roles") == 0)
        return Audited::company_member_roles;
    if (strcmp(table, "external_identities") == 0)
        return Audited::external_identities;
    throw iam::Error(
        iam::sqlstate::trigger_protocol_violated,
        std::string("iam.audit_change() audits the tables of who holds what, not ") + table);
}

// Whether a new key replaces another: a rotation with a grace (0.7.0 on).
bool replaces_a_key(HeapTuple row, Relation relation) {
    if (!iam::pg::has_column(relation, "replaces_key_id"))
        return false;
    bool is_null;
    iam::pg::value_of(row, relation, iam::pg::column(relation, "replaces_key_id"), &is_null);
    return !is_null;
}

// What happened, in the words of iam.audit_log.action.
const char* action_of(const TriggerData* trigger, Audited table) {
    Relation relation = trigger->tg_relation;
    bool inserted = TRIGGER_FIRED_BY_INSERT(trigger->tg_event);
    bool deleted = TRIGGER_FIRED_BY_DELETE(trigger->tg_event);
    switch (table) {
        case Audited::user_roles:
            return inserted ? "role_granted" : deleted ? "role_revoked" : "role_changed";
        case Audited::roles:
            return inserted  ? "catalog_role_created"
                   : deleted ? "catalog_role_deleted"
                             : "catalog_role_changed";
        case Audited::company_users: {
            if (inserted)
                return "member_added";
            if (deleted)
                return "member_deleted";
            bool was = iam::pg::is_true(trigger->tg_trigtuple, relation, "is_active_in_company");
            bool is = iam::pg::is_true(trigger->tg_newtuple, relation, "is_active_in_company");
            if (was != is)
                return is ? "member_reactivated" : "member_removed";
            // role_in_company: since 0.7.0.
            if (iam::pg::has_column(relation, "role_in_company") &&
                iam::pg::changed(trigger, iam::pg::column(relation, "role_in_company")))
                return "member_role_changed";
            return "member_updated";
        }
        case Audited::company_invitations: {
            if (inserted)
                return "invitation_created";
            if (deleted)
                return "invitation_deleted";
            if (iam::pg::changed(trigger, iam::pg::column(relation, "accepted_at")))
                return "invitation_accepted";
            if (iam::pg::changed(trigger, iam::pg::column(relation, "revoked_at")))
                return "invitation_revoked";
            return "invitation_changed";
        }
        case Audited::permissions:
            return inserted  ? "permission_registered"
                   : deleted ? "permission_deleted"
                             : "permission_changed";
        case Audited::role_permissions:
        case Audited::company_role_permissions:
            return inserted  ? "role_permission_granted"
                   : deleted ? "role_permission_revoked"
                             : "role_permission_changed";
        case Audited::company_roles:
            return inserted  ? "company_role_created"
                   : deleted ? "company_role_deleted"
                             : "company_role_changed";
        case Audited::company_member_roles:
            return inserted  ? "member_role_assigned"
                   : deleted ? "member_role_removed"
                             : "member_role_reassigned";
        case Audited::external_identities:
            return inserted  ? "identity_linked"
                   : deleted ? "identity_unlinked"
                             : "identity_changed";
        case Audited::api_keys: {
            if (inserted)
                return replaces_a_key(trigger->tg_trigtuple, relation) ? "api_key_rotated"
                                                                       : "api_key_created";
            if (deleted)
                return "api_key_deleted";
            if (iam::pg::changed(trigger, iam::pg::column(relation, "hashed_key")))
                return "api_key_rotated";
            bool was = iam::pg::is_true(trigger->tg_trigtuple, relation, "is_active");
            bool is = iam::pg::is_true(trigger->tg_newtuple, relation, "is_active");
            return was == is ? "api_key_changed" : is ? "api_key_reactivated" : "api_key_revoked";
        }
    }
    return "unknown";
}

}  // namespace

IAM_SQL_FUNCTION(iam_audit_change) {
    TriggerData* trigger = require_audit_trigger(fcinfo);
    if (iam::pg::is_restore(trigger->tg_relation))
        return PointerGetDatum(nullptr);
    Audited table = audited_table(trigger->tg_relation);
    Relation relation = trigger->tg_relation;
    TupleDesc descriptor = RelationGetDescr(relation);
    bool deleted = TRIGGER_FIRED_BY_DELETE(trigger->tg_event);
    bool inserted = TRIGGER_FIRED_BY_INSERT(trigger->tg_event);
    HeapTuple row = inserted || deleted ? trigger->tg_trigtuple : trigger->tg_newtuple;

    Datum values[audit_argument_count];
    char nulls[audit_argument_count];
    memset(values, 0, sizeof(values));
    memset(nulls, 'n', sizeof(nulls));
    auto set = [&](int i, Datum value, bool is_null) {
        values[i] = value;
        nulls[i] = is_null ? 'n' : ' ';
    };

    iam::pg::SubjectCache subject{};
    const pg_uuid_t* actor = iam::pg::current_subject(&subject);
    set(0, UUIDPGetDatum(const_cast<pg_uuid_t*>(actor)), actor == nullptr);
    set(1, CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false)), false);
    set(2, CStringGetTextDatum(action_of(trigger, table)), false);
    bool is_null;
    if (table == Audited::company_invitations) {
        // The invitee: who accepted, or who was invited by user id.
        Datum user =
            iam::pg::value_of(row, relation, iam::pg::column(relation, "accepted_by"), &is_null);
        if (is_null)
            user = iam::pg::value_of(row, relation, iam::pg::column(relation, "invited_user_id"),
                                     &is_null);
        set(3, user, is_null);
    } else if (iam::pg::has_column(relation, "user_id")) {
        Datum user =
            iam::pg::value_of(row, relation, iam::pg::column(relation, "user_id"), &is_null);
        set(3, user, is_null);
    }
    const char* role_column = table == Audited::roles || table == Audited::company_roles ? "id"
                              : iam::pg::has_column(relation, "company_role_id") ? "company_role_id"
                              : iam::pg::has_column(relation, "role_id")         ? "role_id"
                                                                                 : nullptr;
    if (role_column != nullptr) {
        Datum role =
            iam::pg::value_of(row, relation, iam::pg::column(relation, role_column), &is_null);
        set(4, role, is_null);
    }
    if (iam::pg::has_column(relation, "company_id")) {
        Datum company =
            iam::pg::value_of(row, relation, iam::pg::column(relation, "company_id"), &is_null);
        set(5, company, is_null);
    }
    HeapTuple old_row = inserted ? nullptr : trigger->tg_trigtuple;
    HeapTuple new_row = deleted ? nullptr : row;
    if (old_row != nullptr)
        set(6, heap_copy_tuple_as_datum(old_row, descriptor), false);
    if (new_row != nullptr)
        set(7, heap_copy_tuple_as_datum(new_row, descriptor), false);
    const iam::pg::ApiKeyContext* request_key = iam::pg::api_key_context();
    if (request_key != nullptr)
        set(8, UUIDPGetDatum(const_cast<pg_uuid_t*>(&request_key->key_id)), false);

    Oid types[audit_argument_count] = {UUIDOID,
                                       TEXTOID,
                                       TEXTOID,
                                       UUIDOID,
                                       UUIDOID,
                                       UUIDOID,
                                       descriptor->tdtypeid,
                                       descriptor->tdtypeid,
                                       UUIDOID};
    iam::pg::pg_call([&] {
        Oid audit_log = iam::pg::iam_tables().audit_log;
        bool has_key_column = get_attnum(audit_log, "actor_api_key_id") != InvalidAttrNumber;
        iam::pg::execute_as_owner(
            audit_log, has_key_column ? insert_audit_row : insert_audit_row_before_0_7_0,
            has_key_column ? audit_argument_count : audit_argument_count - 1, types, values, nulls);
    });
    return PointerGetDatum(nullptr);
}
