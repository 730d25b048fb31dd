-- Who is calling, and what they may do: the identity context and the role
-- and company checks (C++, src/pg/context.cpp and src/pg/roles.cpp), the
-- functions that grant roles and manage companies, the audit trail, and the
-- rules of the role catalogue.

------------------------------------------------------------------------------
-- The identity context and the checks
------------------------------------------------------------------------------
-- Policies are evaluated as the querying role, so these run as the caller
-- (no SECURITY DEFINER) and are executable by everyone; the C code reads
-- iam.user_roles, iam.company_users and iam.companies through their indexes
-- for the answer it returns, whatever the caller may select.

CREATE FUNCTION iam.current_user_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_current_user_id';
COMMENT ON FUNCTION iam.current_user_id() IS
    'The calling user: in a request authenticated by iam.authenticate_request(), the API key''s user; else request.jwt.claim.sub, else request.jwt.claims ->> ''sub'' (as auth.uid()); NULL if none or not a UUID';

CREATE FUNCTION iam.has_role(role_name text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_role_current';
COMMENT ON FUNCTION iam.has_role(text) IS
    'Whether the current user holds the role; an unknown role is an error (42704)';

CREATE FUNCTION iam.has_role(user_id uuid, role_name text) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_role';
COMMENT ON FUNCTION iam.has_role(uuid, text) IS
    'Whether the user holds the role (false for a NULL user); an unknown role is an error (42704)';

CREATE FUNCTION iam.has_any_role(role_names text[]) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_has_any_role';
COMMENT ON FUNCTION iam.has_any_role(text[]) IS
    'Whether the current user holds any of the roles; NULL elements are ignored, an unknown role is an error (42704)';

CREATE FUNCTION iam.roles_of(user_id uuid DEFAULT iam.current_user_id()) RETURNS text[]
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_roles_of';
COMMENT ON FUNCTION iam.roles_of(uuid) IS
    'The names of the roles the user holds, sorted; empty for a NULL user';

CREATE FUNCTION iam.is_company_member(company_id uuid, user_id uuid DEFAULT iam.current_user_id())
    RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_company_member';
COMMENT ON FUNCTION iam.is_company_member(uuid, uuid) IS
    'Whether the user is active in the company and the company is active and not deleted';

CREATE FUNCTION iam.is_company_admin(company_id uuid, user_id uuid DEFAULT iam.current_user_id())
    RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_company_admin';
COMMENT ON FUNCTION iam.is_company_admin(uuid, uuid) IS
    'Whether the user is a member of the company (see is_company_member) whose role_in_company is admin';

CREATE FUNCTION iam.current_company_ids() RETURNS uuid[]
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_current_company_ids';
COMMENT ON FUNCTION iam.current_company_ids() IS
    'The active companies the current user is an active member of, for company_id = ANY (...) policies; in a request authenticated by a company''s API key, that company';

-- Not STRICT: it answers exactly what company_id = ANY
-- (iam.current_company_ids()) answers, NULL included (false for a NULL
-- company when the caller has no current company, NULL when they have one),
-- since the planner puts it in that expression's place.
CREATE FUNCTION iam.is_current_company(company_id uuid) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_current_company';
COMMENT ON FUNCTION iam.is_current_company(uuid) IS
    'company_id = ANY (iam.current_company_ids()), NULLs included, at the cost of a hash probe per row; the planner writes that expression as this call';

-- Who stands above RLS: superusers and Supabase's service_role.
CREATE FUNCTION iam.is_service_caller() RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_service_caller';
COMMENT ON FUNCTION iam.is_service_caller() IS
    'Whether the current database role is a superuser or has the privileges of service_role';

------------------------------------------------------------------------------
-- Not found, for HTTP too. PostgREST answers 500 for P0002; inside a
-- PostgREST request this raises it in PostgREST's own format instead, so the
-- client gets 404 with "code": "P0002" (src/pg/http_errors.hpp). The
-- PL/pgSQL functions below raise their not-found errors through it.
------------------------------------------------------------------------------
CREATE FUNCTION iam.raise_not_found(message text, hint text DEFAULT NULL) RETURNS void
    LANGUAGE c VOLATILE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_raise_not_found';
COMMENT ON FUNCTION iam.raise_not_found(text, text) IS
    'Raises P0002 with the message; inside a PostgREST request, as PostgREST''s HTTP 404';

------------------------------------------------------------------------------
-- The audit trail (src/pg/audit.cpp)
------------------------------------------------------------------------------
CREATE FUNCTION iam.audit_change() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_audit_change';
COMMENT ON FUNCTION iam.audit_change() IS
    'AFTER ROW trigger of user_roles, company_users, roles, api_keys and company_invitations: writes iam.audit_log as the table''s owner';
REVOKE EXECUTE ON FUNCTION iam.audit_change() FROM PUBLIC;
CREATE TRIGGER user_roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.user_roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE TRIGGER company_users_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_users
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE TRIGGER roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();

------------------------------------------------------------------------------
-- The role catalogue: the built-in roles keep their ids and names
------------------------------------------------------------------------------
CREATE FUNCTION iam.guard_role() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_guard_role';
COMMENT ON FUNCTION iam.guard_role() IS
    'BEFORE UPDATE OR DELETE trigger of roles: the seven built-in roles keep their ids and names, for everyone but the operator';
REVOKE EXECUTE ON FUNCTION iam.guard_role() FROM PUBLIC;
CREATE TRIGGER roles_guard BEFORE UPDATE OR DELETE ON iam.roles
    FOR EACH ROW EXECUTE FUNCTION iam.guard_role();
------------------------------------------------------------------------------
-- Granting and revoking roles. These run as the caller: the insert or
-- delete passes the RLS policies of iam.user_roles like any other; the
-- checks up front turn a refusal into a clear message.
------------------------------------------------------------------------------
CREATE FUNCTION iam.require_role_administrator(user_id uuid, role_name text, action text)
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

CREATE FUNCTION iam.grant_role(user_id uuid, role_name text) RETURNS boolean
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

CREATE FUNCTION iam.revoke_role(user_id uuid, role_name text) RETURNS boolean
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

------------------------------------------------------------------------------
-- Companies: membership, suspension, soft deletion. Company admins manage
-- their own company's members and may delete it; only platform_admin and the
-- service role change a company's status. Like grant_role, these run as the
-- caller and pass the RLS policies; the checks up front give clear errors.
------------------------------------------------------------------------------
CREATE FUNCTION iam.require_company_administrator(company_id uuid, action text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF company_id IS NULL THEN
        RAISE EXCEPTION 'the company_id to % must not be NULL', left(action, 64)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin') OR iam.is_company_admin(company_id)) THEN
        RAISE EXCEPTION 'permission denied to % company %', left(action, 64), company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the company''s admins (role_in_company admin), platform_admin and the service role may.';
    END IF;
    IF NOT EXISTS (SELECT FROM iam.companies AS c WHERE c.id = company_id AND NOT c.is_deleted) THEN
        PERFORM iam.raise_not_found(format('company %s does not exist', company_id));
    END IF;
END
$$;
COMMENT ON FUNCTION iam.require_company_administrator(uuid, text) IS
    'The checks shared by the company functions: argument, privilege (service role, platform_admin or the company''s admin), company exists';

CREATE FUNCTION iam.add_company_member(company_id uuid, user_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    -- A company's admins invite (iam.invite_to_company): adding someone
    -- without their consent is provisioning, for the platform.
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to add members to company %', company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Invite them: iam.invite_to_company(company_id, email => ...). Only platform_admin and the service role add members directly.';
    END IF;
    PERFORM iam.require_company_administrator(company_id, 'manage the members of');
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'iam.add_company_member(): user_id must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The caller may not see the user (RLS); the foreign key does.
    INSERT INTO iam.company_users AS cu (user_id, company_id)
    VALUES (add_company_member.user_id, add_company_member.company_id)
    ON CONFLICT ON CONSTRAINT company_users_pkey
        DO UPDATE SET is_active_in_company = true WHERE NOT cu.is_active_in_company;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
EXCEPTION WHEN foreign_key_violation THEN
    PERFORM iam.raise_not_found(format('user %s does not exist', user_id));
END
$$;
COMMENT ON FUNCTION iam.add_company_member(uuid, uuid) IS
    'Provisioning: adds the user to the company, or reactivates a removed member; platform_admin and the service role only (42501); true if something changed';

CREATE FUNCTION iam.remove_company_member(company_id uuid, user_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    PERFORM iam.require_company_administrator(company_id, 'manage the members of');
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'iam.remove_company_member(): user_id must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE iam.company_users AS cu SET is_active_in_company = false
    WHERE cu.company_id = remove_company_member.company_id AND cu.user_id = remove_company_member.user_id
      AND cu.is_active_in_company;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.remove_company_member(uuid, uuid) IS
    'Soft removal: sets is_active_in_company to false (the row and its history stay); true if the user was an active member';

CREATE FUNCTION iam.set_company_status(company_id uuid, status text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    IF status IS NULL OR status NOT IN ('active', 'suspended_by_admin', 'pending_verification') THEN
        RAISE EXCEPTION 'invalid company status: %', coalesce(quote_literal(left(status, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A status is one of active, suspended_by_admin, pending_verification.';
    END IF;
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to change the status of company %', company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only platform_admin and the service role may suspend or reactivate a company.';
    END IF;
    PERFORM iam.require_company_administrator(company_id, 'change the status of');
    UPDATE iam.companies AS c SET current_iam_status = status
    WHERE c.id = set_company_status.company_id AND c.current_iam_status IS DISTINCT FROM status;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.set_company_status(uuid, text) IS
    'Sets current_iam_status (e.g. suspended_by_admin to suspend); platform_admin and the service role only; true if it changed';

CREATE FUNCTION iam.delete_company(company_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    PERFORM iam.require_company_administrator(company_id, 'delete');
    UPDATE iam.companies AS c SET is_deleted = true, deleted_at = now()
    WHERE c.id = delete_company.company_id AND NOT c.is_deleted;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END
$$;
COMMENT ON FUNCTION iam.delete_company(uuid) IS
    'Soft deletion: sets is_deleted and deleted_at; its members lose their membership checks at once';

-- Nobody changes their own company's status, whichever way they update the
-- row: only the service role and platform_admin change current_iam_status or
-- bring a deleted company back.
CREATE FUNCTION iam.guard_company_status() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF (NEW.current_iam_status IS DISTINCT FROM OLD.current_iam_status
        OR (OLD.is_deleted AND NOT NEW.is_deleted))
       AND NOT (iam.is_service_caller() OR iam.has_role('platform_admin')) THEN
        RAISE EXCEPTION 'permission denied to change the status of company %', OLD.id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only platform_admin and the service role may suspend, reactivate or undelete a company.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION iam.guard_company_status() IS
    'BEFORE UPDATE trigger of companies: status changes and undeletes are for platform_admin and the service role (42501)';
REVOKE EXECUTE ON FUNCTION iam.guard_company_status() FROM PUBLIC;
CREATE TRIGGER companies_guard_status BEFORE UPDATE ON iam.companies
    FOR EACH ROW EXECUTE FUNCTION iam.guard_company_status();

