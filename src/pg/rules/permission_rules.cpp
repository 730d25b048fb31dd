// The rules of the permission model (0.8.0), whichever way a row is
// written (docs/permissions.md, "Who may grant what"):
// - a permission has the grammar of a permission, a grant that of a grant,
//   and a grant names a registered permission unless it is a wildcard;
// - nobody gives more than they hold: a permission added to a platform
//   role, a platform role granted to a user, a permission added to a
//   company role, a company role assigned to a member, each only by a
//   caller who holds what it gives (in that company, for a company's role;
//   within the key's scope, for a request authenticated by a key);
// - the templates member and admin keep their ids and names, and are held
//   through role_in_company, never assigned; a member holds a template or a
//   role of their own company only; a company's role and a template never
//   share a name.
// The service role and the operator in the session stand above the rules
// of holding (caller_holds), the operator and a restore above the others,
// but for the identity of company roles, which only a restore bypasses.
#include "pg/boundary/guard.hpp"

#include "pg/checks/permission_checks.hpp"
#include "pg/identity/privileges.hpp"
#include "pg/platform/spi.hpp"
#include "pg/rules/trigger_rows.hpp"
#include "pg/rules/write_rules.hpp"
#include "pg/tables/membership_rows.hpp"
#include "pg/tables/permission_rows.hpp"

#include "core/api_key.hpp"
#include "core/error.hpp"

#include <string>

namespace {

using iam::pg::column;
using iam::pg::refuse;
using iam::pg::value_of;

using iam::pg::text_view;

bool above_rules(Relation relation) {
    return iam::pg::is_restore(relation) || iam::pg::stands_above_rules();
}

// Column `name` of the row; 22023 if it is NULL.
Datum required_value(HeapTuple row, Relation relation, const char* name) {
    bool is_null;
    Datum value = value_of(row, relation, column(relation, name), &is_null);
    if (is_null)
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         std::string("iam.") + RelationGetRelationName(relation) + "." + name +
                             " must not be NULL");
    return value;
}

text* required_text(HeapTuple row, Relation relation, const char* name) {
    return DatumGetTextPP(required_value(row, relation, name));
}

pg_uuid_t required_uuid(HeapTuple row, Relation relation, const char* name) {
    return *DatumGetUUIDP(required_value(row, relation, name));
}

const char* const permission_grammar =
    "A permission is 1 to 200 printable ASCII characters without spaces, such as courses:read; "
    "a grant is a registered permission, resource:* or *.";

// A grant: a valid permission string, registered unless it is a wildcard.
void require_grant(const iam::pg::IamTables& tables, const text* grant) {
    std::string_view value = text_view(grant);
    if (!iam::is_valid_permission(value))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "a " + std::to_string(value.size()) + "-byte string is not a grant", {},
                         permission_grammar);
    if (value.back() != '*' && !iam::pg::permission_is_registered(tables, grant))
        throw iam::Error(iam::sqlstate::undefined_object,
                         "permission \"" + std::string(value) + "\" does not exist", {},
                         "Register it first: INSERT INTO iam.permissions (name) VALUES (...).");
}

void require_held(const iam::pg::IamTables& tables, const text* grant, const pg_uuid_t* company_id,
                  const char* what) {
    if (!iam::pg::caller_holds(tables, text_view(grant), company_id))
        refuse(std::string("permission denied to ") + what + " \"" + std::string(text_view(grant)) +
                   "\": you do not hold it" + (company_id != nullptr ? " in that company" : ""),
               "Nobody gives more than they hold; the service role and the operator may.");
}

// A company role the rules cannot see (none, or another transaction's not
// yet committed) is refused here, never left to the foreign key, which is
// checked later with a newer snapshot.
[[noreturn]] void refuse_unknown_company_role() {
    throw iam::Error(iam::sqlstate::foreign_key_violation, "that company role does not exist", {},
                     "A role created by another transaction counts once it has committed.");
}

bool is_built_in_template(const pg_uuid_t& id) {
    return iam::pg::same_uuid(id, iam::pg::member_template_id) ||
           iam::pg::same_uuid(id, iam::pg::admin_template_id);
}

// Every grant of a role, held by the caller where the role would be held.
struct HeldCheck {
    const iam::pg::IamTables* tables;
    const pg_uuid_t* company_id;
    bool all_held;
};

bool grant_not_held(const char* grant, int length, void* context) {
    auto* check = static_cast<HeldCheck*>(context);
    check->all_held =
        iam::pg::caller_holds(*check->tables, std::string_view(grant, length), check->company_id);
    return !check->all_held;
}

bool holds_every_grant(const iam::pg::IamTables& tables, iam::pg::RoleKind kind,
                       const pg_uuid_t& role_id, const pg_uuid_t* company_id) {
    HeldCheck check{&tables, company_id, true};
    iam::pg::role_grant_matches(tables, kind, role_id, grant_not_held, &check, SnapshotSelf);
    return check.all_held;
}

}  // namespace

// iam.guard_permission(): BEFORE INSERT OR UPDATE ON iam.permissions
IAM_SQL_FUNCTION(iam_guard_permission) {
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_permission()");
    std::string_view name =
        text_view(required_text(iam::pg::written_row(trigger), trigger->tg_relation, "name"));
    if (!iam::is_valid_permission(name) || name.find('*') != std::string_view::npos)
        throw iam::Error(
            iam::sqlstate::invalid_parameter_value,
            "a " + std::to_string(name.size()) + "-byte string is not a permission to register", {},
            "A permission is 1 to 200 printable ASCII characters without spaces "
            "and without *.");
    return iam::pg::let_through(trigger);
}

// iam.guard_grant(): BEFORE INSERT OR UPDATE ON iam.role_permissions and
// iam.company_role_permissions
IAM_SQL_FUNCTION(iam_guard_grant) {
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_grant()");
    Relation relation = trigger->tg_relation;
    HeapTuple row = iam::pg::written_row(trigger);
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    const text* grant = required_text(row, relation, "permission");
    require_grant(tables, grant);
    if (above_rules(relation))
        return iam::pg::let_through(trigger);
    if (strcmp(RelationGetRelationName(relation), "role_permissions") == 0) {
        require_held(tables, grant, nullptr, "grant");
        return iam::pg::let_through(trigger);
    }
    pg_uuid_t role_id = required_uuid(row, relation, "company_role_id");
    bool is_template = false;
    pg_uuid_t company_id{};
    if (!iam::pg::find_company_role(tables, role_id, &is_template, &company_id))
        refuse_unknown_company_role();
    require_held(tables, grant, is_template ? nullptr : &company_id, "grant");
    return iam::pg::let_through(trigger);
}

// iam.guard_company_role(): BEFORE INSERT OR UPDATE OR DELETE ON
// iam.company_roles
IAM_SQL_FUNCTION(iam_guard_company_role) {
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_company_role()");
    Relation relation = trigger->tg_relation;
    // These rules keep the data whole, so they bind the operator too (only
    // a restore reloads rows as they were): a role moved into another
    // company would stay held by the members of the first, granting there
    // whatever the second company's managers add to it; a company's role
    // named like a template, or a renamed member or admin, makes a name
    // mean two roles.
    if (iam::pg::is_restore(relation))
        return iam::pg::let_through(trigger);
    pg_uuid_t id = required_uuid(trigger->tg_trigtuple, relation, "id");
    if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event)) {
        if (is_built_in_template(id))
            iam::pg::refuse("the company-role templates member and admin cannot be deleted",
                            "role_in_company names them.");
        return iam::pg::let_through(trigger);
    }
    if (TRIGGER_FIRED_BY_UPDATE(trigger->tg_event) &&
        (iam::pg::changed(trigger, iam::pg::column(relation, "id")) ||
         iam::pg::changed(trigger, iam::pg::column(relation, "company_id")) ||
         (is_built_in_template(id) &&
          iam::pg::changed(trigger, iam::pg::column(relation, "name")))))
        iam::pg::refuse(
            "a company role keeps its id and company, and the templates member and admin "
            "their names",
            "Define a new role instead.");
    HeapTuple row = iam::pg::written_row(trigger);
    bool no_company;
    iam::pg::value_of(row, relation, iam::pg::column(relation, "company_id"), &no_company);
    const text* name = required_text(row, relation, "name");
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    if ((!TRIGGER_FIRED_BY_UPDATE(trigger->tg_event) ||
         iam::pg::changed(trigger, iam::pg::column(relation, "name"))) &&
        iam::pg::company_role_name_clashes(tables, name, no_company))
        throw iam::Error(iam::sqlstate::unique_violation,
                         "a company role named \"" + std::string(text_view(name)) +
                             "\" already exists " +
                             (no_company ? "in a company" : "as a template of every company"),
                         {}, "A company's roles and the templates share one set of names.");
    return iam::pg::let_through(trigger);
}

// iam.guard_member_role(): BEFORE INSERT OR UPDATE ON
// iam.company_member_roles
IAM_SQL_FUNCTION(iam_guard_member_role) {
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_member_role()");
    Relation relation = trigger->tg_relation;
    HeapTuple row = iam::pg::written_row(trigger);
    pg_uuid_t role_id = required_uuid(row, relation, "company_role_id");
    pg_uuid_t company_id = required_uuid(row, relation, "company_id");
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    bool is_template = false;
    pg_uuid_t role_company{};
    if (!iam::pg::find_company_role(tables, role_id, &is_template, &role_company))
        refuse_unknown_company_role();
    if (is_built_in_template(role_id))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "member and admin are held through company_users.role_in_company, not "
                         "assigned",
                         {}, "Use iam.set_company_role() to make a member an admin.");
    if (!is_template && !iam::pg::same_uuid(role_company, company_id))
        throw iam::Error(iam::sqlstate::invalid_parameter_value,
                         "that company role belongs to another company");
    // Who may assign here is asked first, as the table's policy would after
    // this trigger: the state of someone's membership is no answer to give
    // a caller who may not manage the company's roles.
    bool above = above_rules(relation);
    if (!above && !iam::pg::caller_holds(tables, "iam:roles:manage", &company_id))
        refuse(
            "permission denied to assign roles in company " + std::string(iam::pg::pg_call([&] {
                return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&company_id)));
            })),
            "Holders of iam:roles:manage in the company (its admins, through the admin "
            "template) assign its roles.");
    // Roles are held while the membership is: one that ended took its roles
    // with it (iam.forget_member_roles), and gets none until readmitted. (A
    // missing user or membership is left to NOT NULL and the foreign key.)
    bool no_user;
    Datum user = iam::pg::value_of(row, relation, iam::pg::column(relation, "user_id"), &no_user);
    if (!no_user && !iam::pg::is_restore(relation) &&
        !iam::pg::is_active_member(tables, *DatumGetUUIDP(user), company_id) &&
        iam::pg::membership_exists(tables, *DatumGetUUIDP(user), company_id))
        throw iam::Error(iam::sqlstate::no_data_found,
                         "company roles are for active members of the company", {},
                         "Readmit the member first (an invitation, or iam.add_company_member).");
    if (above)
        return iam::pg::let_through(trigger);
    if (!holds_every_grant(tables, iam::pg::RoleKind::company, role_id, &company_id))
        iam::pg::refuse(
            "permission denied to assign a company role that grants more than you hold in "
            "that company",
            "Nobody gives more than they hold; the service role and the operator may.");
    return iam::pg::let_through(trigger);
}

// iam.guard_role_grant(): BEFORE INSERT OR UPDATE ON iam.user_roles
IAM_SQL_FUNCTION(iam_guard_role_grant) {
    TriggerData* trigger = iam::pg::row_trigger(fcinfo, "iam.guard_role_grant()");
    Relation relation = trigger->tg_relation;
    if (above_rules(relation))
        return iam::pg::let_through(trigger);
    pg_uuid_t role_id = required_uuid(iam::pg::written_row(trigger), relation, "role_id");
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    if (!holds_every_grant(tables, iam::pg::RoleKind::platform, role_id, nullptr))
        iam::pg::refuse("permission denied to grant a role that grants more than you hold",
                        "Nobody gives more than they hold; the service role and the operator may.");
    return iam::pg::let_through(trigger);
}

// iam.forget_member_roles(): AFTER UPDATE OF is_active_in_company ON
// iam.company_users FOR EACH ROW WHEN the membership ends or starts again.
// The company roles a member held go with the membership: whoever readmits
// them (an invitation, an admin) decides their roles anew, and nobody
// regains iam:roles:manage by being invited back. At readmission too: an
// assignment committed while the membership ended (the end's snapshot could
// not see it) leaves a role that grants nothing while the membership is
// inactive (iam.can reads the roles of active members only), and must not
// count again once it is active. The extension's own bookkeeping, as the
// table's owner: the one who removes a member need not manage roles.
IAM_SQL_FUNCTION(iam_forget_member_roles) {
    if (!CALLED_AS_TRIGGER(fcinfo) ||
        !TRIGGER_FIRED_AFTER(reinterpret_cast<TriggerData*>(fcinfo->context)->tg_event))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.forget_member_roles() must be an AFTER ROW trigger");
    auto* trigger = reinterpret_cast<TriggerData*>(fcinfo->context);
    Relation relation = trigger->tg_relation;
    if (iam::pg::is_restore(relation))
        return PointerGetDatum(nullptr);
    HeapTuple row = trigger->tg_newtuple;
    pg_uuid_t user_id = required_uuid(row, relation, "user_id");
    pg_uuid_t company_id = required_uuid(row, relation, "company_id");
    iam::pg::IamTables tables;
    iam::pg::resolve_iam_tables(&tables);
    if (!OidIsValid(tables.company_member_roles))
        return PointerGetDatum(nullptr);
    Oid types[2] = {UUIDOID, UUIDOID};
    Datum values[2] = {UUIDPGetDatum(&user_id), UUIDPGetDatum(&company_id)};
    iam::pg::execute_as_owner(
        tables.company_member_roles,
        "DELETE FROM iam.company_member_roles WHERE user_id = $1 AND company_id = $2", 2, types,
        values, nullptr);
    return PointerGetDatum(nullptr);
}

// iam.model_changed(): AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW on
// iam.permissions, role_permissions and company_role_permissions: the
// table's invalidation, sent to every backend at commit (and processed by
// this one at its next command, or its rollback), makes them forget what
// iam.can() remembered of the definitions (src/pg/tables/model_cache.hpp).
IAM_SQL_FUNCTION(iam_model_changed) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw iam::Error(iam::sqlstate::trigger_protocol_violated,
                         "iam.model_changed() must be called as a trigger");
    CacheInvalidateRelcacheByRelid(
        RelationGetRelid(reinterpret_cast<TriggerData*>(fcinfo->context)->tg_relation));
    return PointerGetDatum(nullptr);
}
