-- The role catalogue and who holds which platform role: the built-in roles
-- keep their ids and names; granting and revoking run as the caller.

------------------------------------------------------------------------------
-- The role catalogue: the built-in roles keep their ids and names
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.guard_role() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_role';
COMMENT ON FUNCTION iam.guard_role() IS
    'BEFORE UPDATE OR DELETE trigger of roles: the seven built-in roles keep their ids and names, for everyone but the operator';
REVOKE EXECUTE ON FUNCTION iam.guard_role() FROM PUBLIC;
CREATE OR REPLACE TRIGGER roles_guard BEFORE UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.guard_role();
------------------------------------------------------------------------------
-- Granting and revoking roles. These run as the caller: the insert or
-- delete passes the RLS policies of iam.user_roles like any other; the
-- checks up front turn a refusal into a clear message.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.require_role_administrator(user_id uuid, role_name text, action text)
    RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    found_role uuid;
BEGIN
    IF action IS NULL OR action NOT IN ('grant', 'revoke') THEN
        RAISE EXCEPTION 'action must be grant or revoke' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF user_id IS NULL OR role_name IS NULL THEN
        RAISE EXCEPTION 'iam.%_role(): user_id and role_name must not be NULL', action
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to % roles', action
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only platform_admin, the service role and superusers may grant and revoke roles.';
    END IF;
    IF action = 'grant' AND user_id = iam.current_user_id() AND NOT iam.is_service_caller() THEN
        RAISE EXCEPTION 'permission denied to grant a role to yourself'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Another platform_admin or the service role must grant it.';
    END IF;
    SELECT r.id INTO found_role FROM iam.roles AS r WHERE r.name = role_name;
    IF found_role IS NULL THEN
        RAISE EXCEPTION 'role "%" does not exist', left(role_name, 64)
            USING ERRCODE = 'undefined_object', DETAIL = 'iam roles are the rows of iam.roles.';
    END IF;
    RETURN found_role;
END
$$;
COMMENT ON FUNCTION iam.require_role_administrator(uuid, text, text) IS
    'The checks shared by grant_role and revoke_role: arguments, privilege, no self-grant; returns the role id';

CREATE OR REPLACE FUNCTION iam.grant_role(user_id uuid, role_name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    granted_role uuid := iam.require_role_administrator(user_id, role_name, 'grant');
    changed bigint;
BEGIN
    -- The caller may not see the user (RLS); the foreign key does.
    INSERT INTO iam.user_roles AS ur (user_id, role_id) VALUES (grant_role.user_id, granted_role)
    ON CONFLICT ON CONSTRAINT user_roles_pkey DO NOTHING;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
EXCEPTION WHEN foreign_key_violation THEN
    PERFORM iam.raise_not_found(format('user %s does not exist', user_id));
END
$$;
COMMENT ON FUNCTION iam.grant_role(uuid, text) IS
    'Grants the role to the user; true if it was not held. Superusers, service_role and platform_admin only (42501); never to oneself';

CREATE OR REPLACE FUNCTION iam.revoke_role(user_id uuid, role_name text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    revoked_role uuid := iam.require_role_administrator(user_id, role_name, 'revoke');
    changed bigint;
BEGIN
    DELETE FROM iam.user_roles AS ur WHERE ur.user_id = revoke_role.user_id AND ur.role_id = revoked_role;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.revoke_role(uuid, text) IS
    'Revokes the role from the user; true if it was held. Superusers, service_role and platform_admin only (42501)';
