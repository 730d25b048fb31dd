-- Permissions for the application's own tables (0.8.0): iam.can() per row,
-- the rules of who may grant what, and the functions that assign company
-- roles (C++: src/pg/checks/permission_checks.cpp,
-- src/pg/rules/permission_rules.cpp). The tables are in tables.sql, their
-- policies in policies.sql; docs/permissions.md explains the model.

------------------------------------------------------------------------------
-- The checks. Like the role and company checks they run as the caller and
-- read the tables of the model through their indexes, whatever the caller
-- may select; the answer is about the caller only.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.can(permission text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_can';
COMMENT ON FUNCTION iam.can(text) IS
    'Whether the caller holds the permission through a platform role; in a request authenticated by an API key, also within the key''s scope. 22023 for a malformed permission, 42704 for one not in iam.permissions';

CREATE OR REPLACE FUNCTION iam.can(permission text, company_id uuid) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_can_in_company';
COMMENT ON FUNCTION iam.can(text, uuid) IS
    'Whether the caller holds the permission through a platform role or through their roles in the company (an active member of an active company); with a key, within its scope and its company. A NULL company asks about the platform roles only';

CREATE OR REPLACE FUNCTION iam.current_api_key_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_current_api_key_id';
COMMENT ON FUNCTION iam.current_api_key_id() IS
    'The API key that authenticated this request (iam.authenticate_request), or NULL';

------------------------------------------------------------------------------
-- Who may grant what: the rules hold on every path that writes the tables
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.guard_permission() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_permission';
COMMENT ON FUNCTION iam.guard_permission() IS
    'BEFORE INSERT OR UPDATE trigger of permissions: a registered permission has the grammar of one and no wildcard (22023)';
REVOKE EXECUTE ON FUNCTION iam.guard_permission() FROM PUBLIC;
CREATE OR REPLACE TRIGGER permissions_guard BEFORE INSERT OR UPDATE ON iam.permissions
    FOR EACH ROW EXECUTE FUNCTION iam.guard_permission();

CREATE OR REPLACE FUNCTION iam.guard_grant() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_grant';
COMMENT ON FUNCTION iam.guard_grant() IS
    'BEFORE INSERT OR UPDATE trigger of role_permissions and company_role_permissions: a grant is a registered permission or a wildcard, and only a caller who holds it gives it (42501)';
REVOKE EXECUTE ON FUNCTION iam.guard_grant() FROM PUBLIC;
CREATE OR REPLACE TRIGGER role_permissions_guard BEFORE INSERT OR UPDATE ON iam.role_permissions
    FOR EACH ROW EXECUTE FUNCTION iam.guard_grant();
CREATE OR REPLACE TRIGGER company_role_permissions_guard BEFORE INSERT OR UPDATE ON iam.company_role_permissions
    FOR EACH ROW EXECUTE FUNCTION iam.guard_grant();

CREATE OR REPLACE FUNCTION iam.guard_company_role() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_company_role';
COMMENT ON FUNCTION iam.guard_company_role() IS
    'BEFORE INSERT OR UPDATE OR DELETE trigger of company_roles: a role keeps its id and company, member and admin their names and rows, and a company''s role never takes a template''s name';
REVOKE EXECUTE ON FUNCTION iam.guard_company_role() FROM PUBLIC;
CREATE OR REPLACE TRIGGER company_roles_guard BEFORE INSERT OR UPDATE OR DELETE ON iam.company_roles
    FOR EACH ROW EXECUTE FUNCTION iam.guard_company_role();

CREATE OR REPLACE FUNCTION iam.guard_member_role() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_member_role';
COMMENT ON FUNCTION iam.guard_member_role() IS
    'BEFORE INSERT OR UPDATE trigger of company_member_roles: a template or the company''s own role, never member or admin, assigned only by a caller who holds all it grants in that company (42501)';
REVOKE EXECUTE ON FUNCTION iam.guard_member_role() FROM PUBLIC;
CREATE OR REPLACE TRIGGER company_member_roles_guard BEFORE INSERT OR UPDATE ON iam.company_member_roles
    FOR EACH ROW EXECUTE FUNCTION iam.guard_member_role();

CREATE OR REPLACE FUNCTION iam.guard_role_grant() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_role_grant';
COMMENT ON FUNCTION iam.guard_role_grant() IS
    'BEFORE INSERT OR UPDATE trigger of user_roles: a platform role is granted only by a caller who holds all it grants (42501)';
REVOKE EXECUTE ON FUNCTION iam.guard_role_grant() FROM PUBLIC;
CREATE OR REPLACE TRIGGER user_roles_grantable BEFORE INSERT OR UPDATE ON iam.user_roles
    FOR EACH ROW EXECUTE FUNCTION iam.guard_role_grant();

CREATE OR REPLACE FUNCTION iam.forget_member_roles() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_forget_member_roles';
COMMENT ON FUNCTION iam.forget_member_roles() IS
    'AFTER UPDATE trigger of company_users: a membership that ends, or starts again, takes the member''s company roles with it (audited), so a member readmitted regains none';
REVOKE EXECUTE ON FUNCTION iam.forget_member_roles() FROM PUBLIC;
CREATE OR REPLACE TRIGGER company_users_forget_roles AFTER UPDATE OF is_active_in_company ON iam.company_users
    FOR EACH ROW WHEN (OLD.is_active_in_company IS DISTINCT FROM NEW.is_active_in_company)
    EXECUTE FUNCTION iam.forget_member_roles();

-- What iam.can() remembers of the definitions (the catalogue, the roles'
-- grants) every backend forgets when they change. A row trigger, enabled
-- ALWAYS: logical replication's apply (a Citus worker's copy) fires it
-- too. A TRUNCATE gives the table a new file, which invalidates it.
CREATE OR REPLACE FUNCTION iam.model_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_model_changed';
COMMENT ON FUNCTION iam.model_changed() IS
    'AFTER ROW trigger of permissions, role_permissions and company_role_permissions: every backend forgets the definitions iam.can() remembered';
REVOKE EXECUTE ON FUNCTION iam.model_changed() FROM PUBLIC;
DO $$
DECLARE
    table_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY['permissions', 'role_permissions', 'company_role_permissions'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON iam.%I '
                       'FOR EACH ROW EXECUTE FUNCTION iam.model_changed()',
                       table_name || '_changed', table_name);
        EXECUTE format('ALTER TABLE iam.%I ENABLE ALWAYS TRIGGER %I', table_name, table_name || '_changed');
    END LOOP;
END
$$;

CREATE OR REPLACE TRIGGER permissions_audit AFTER INSERT OR UPDATE OR DELETE ON iam.permissions
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER role_permissions_audit AFTER INSERT OR UPDATE OR DELETE ON iam.role_permissions
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_role_permissions_audit AFTER INSERT OR UPDATE OR DELETE
    ON iam.company_role_permissions
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE OR REPLACE TRIGGER company_member_roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_member_roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();

------------------------------------------------------------------------------
-- Assigning company roles by name. These run as the caller: the write
-- passes the policies and the rules of iam.company_member_roles like any
-- other; the lookups up front turn a bad name into a clear error.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.company_role_id(company_id uuid, role_name text) RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    found_role uuid;
BEGIN
    IF company_id IS NULL OR role_name IS NULL THEN
        RAISE EXCEPTION 'company_id and role_name must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT r.id INTO found_role FROM iam.company_roles AS r
    WHERE r.name = role_name AND (r.company_id = company_role_id.company_id OR r.company_id IS NULL);
    IF found_role IS NULL THEN
        RAISE EXCEPTION 'company role "%" does not exist', left(role_name, 64)
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'The company''s roles are its own rows of iam.company_roles and the templates (company_id NULL).';
    END IF;
    RETURN found_role;
END
$$;
COMMENT ON FUNCTION iam.company_role_id(uuid, text) IS
    'The id of the company''s own role or template of that name that the caller sees (42704 if none)';

CREATE OR REPLACE FUNCTION iam.assign_company_role(company_id uuid, user_id uuid, role_name text)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    role_id uuid := iam.company_role_id(company_id, role_name);
    changed bigint;
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO iam.company_member_roles AS m (user_id, company_id, company_role_id)
    VALUES (assign_company_role.user_id, assign_company_role.company_id, role_id)
    ON CONFLICT ON CONSTRAINT company_member_roles_pkey DO NOTHING;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
EXCEPTION
    WHEN foreign_key_violation THEN
        PERFORM iam.raise_not_found(format('user %s is not a member of company %s', user_id, company_id));
    WHEN insufficient_privilege THEN
        -- A missing privilege names a table and no rule: said in words, as
        -- guard_member_role says a refusal of the company's roles.
        IF SQLERRM LIKE 'new row violates row-level security policy%' OR SQLERRM LIKE 'permission denied for %' THEN
            RAISE EXCEPTION 'permission denied to assign roles in company %', company_id
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Holders of iam:roles:manage in the company (its admins, through the admin template) '
                             'assign its roles.';
        END IF;
        RAISE;
END
$$;
COMMENT ON FUNCTION iam.assign_company_role(uuid, uuid, text) IS
    'Gives a member of the company one more company role (a template or the company''s own); true if they did not hold it. Holders of iam:roles:manage in the company who hold all the role grants there';

CREATE OR REPLACE FUNCTION iam.remove_company_role(company_id uuid, user_id uuid, role_name text)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    role_id uuid := iam.company_role_id(company_id, role_name);
    changed bigint;
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM iam.company_member_roles AS m
    WHERE m.user_id = remove_company_role.user_id AND m.company_id = remove_company_role.company_id
      AND m.company_role_id = role_id;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.remove_company_role(uuid, uuid, text) IS
    'Takes a company role from a member; true if they held it. Holders of iam:roles:manage in the company';
