-- iam_ext 0.2.0 -> 0.3.0: role
-- grants and company membership with an audit trail; row level security on
-- every table; grants for the Supabase API roles.

\echo Use "ALTER EXTENSION iam_ext UPDATE TO '0.3.0'" to load this file. \quit

-- Who stands above RLS: superusers and Supabase's service_role.
CREATE FUNCTION iam.is_service_caller() RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'iam_is_service_caller';
COMMENT ON FUNCTION iam.is_service_caller() IS
    'Whether the current database role is a superuser or has the privileges of service_role';

------------------------------------------------------------------------------
-- The audit trail of role grants and company membership changes.
------------------------------------------------------------------------------
CREATE TABLE iam.audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at    timestamptz NOT NULL DEFAULT statement_timestamp(),
    actor_user_id  uuid,
    actor_role     text NOT NULL,
    action         text NOT NULL
        CONSTRAINT audit_log_action_check CHECK (action IN (
            'role_granted', 'role_revoked', 'role_changed',
            'member_added', 'member_removed', 'member_reactivated', 'member_updated', 'member_deleted')),
    target_user_id uuid NOT NULL,
    role_id        uuid,
    company_id     uuid,
    old_row        jsonb,
    new_row        jsonb
);
CREATE INDEX audit_log_target_user_id_idx ON iam.audit_log (target_user_id, occurred_at);
CREATE INDEX audit_log_company_id_idx ON iam.audit_log (company_id, occurred_at)
    WHERE company_id IS NOT NULL;
COMMENT ON TABLE iam.audit_log IS
    'Who granted or revoked which role, and who changed which company membership, when (written by iam.audit_change(); readable by platform_admin)';
COMMENT ON COLUMN iam.audit_log.id IS 'Order of the changes';
COMMENT ON COLUMN iam.audit_log.occurred_at IS 'Start of the statement that made the change';
COMMENT ON COLUMN iam.audit_log.actor_user_id IS 'iam.current_user_id() of the caller; NULL for a database session without one';
COMMENT ON COLUMN iam.audit_log.actor_role IS 'The database role that made the change (current_user)';
COMMENT ON COLUMN iam.audit_log.action IS 'role_granted/role_revoked/role_changed on user_roles; member_added/removed/reactivated/updated/deleted on company_users';
COMMENT ON COLUMN iam.audit_log.target_user_id IS 'The user whose role or membership changed (no foreign key: the trail outlives the user)';
COMMENT ON COLUMN iam.audit_log.role_id IS 'The role granted or revoked';
COMMENT ON COLUMN iam.audit_log.company_id IS 'The company of the membership';
COMMENT ON COLUMN iam.audit_log.old_row IS 'The row before the change (NULL for an insert)';
COMMENT ON COLUMN iam.audit_log.new_row IS 'The row after the change (NULL for a delete)';
SELECT pg_catalog.pg_extension_config_dump('iam.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('iam.audit_log_id_seq', '');

CREATE FUNCTION iam.audit_change() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_audit_change';
COMMENT ON FUNCTION iam.audit_change() IS
    'AFTER ROW trigger of user_roles and company_users: writes iam.audit_log as the table''s owner';
REVOKE EXECUTE ON FUNCTION iam.audit_change() FROM PUBLIC;
CREATE TRIGGER user_roles_audit AFTER INSERT OR UPDATE OR DELETE ON iam.user_roles
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();
CREATE TRIGGER company_users_audit AFTER INSERT OR UPDATE OR DELETE ON iam.company_users
    FOR EACH ROW EXECUTE FUNCTION iam.audit_change();

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
    RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
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
        RAISE EXCEPTION 'iam.%(): company_id must not be NULL', action
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (iam.is_service_caller() OR iam.has_role('platform_admin') OR iam.is_company_admin(company_id)) THEN
        RAISE EXCEPTION 'permission denied to % company %', action, company_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the company''s admins (enterprise_admin members), platform_admin and the service role may.';
    END IF;
    IF NOT EXISTS (SELECT FROM iam.companies AS c WHERE c.id = company_id AND NOT c.is_deleted) THEN
        RAISE EXCEPTION 'company % does not exist', company_id USING ERRCODE = 'no_data_found';
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
    RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
END
$$;
COMMENT ON FUNCTION iam.add_company_member(uuid, uuid) IS
    'Adds the user to the company, or reactivates a removed member; true if something changed';

CREATE FUNCTION iam.remove_company_member(company_id uuid, user_id uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    changed bigint;
BEGIN
    PERFORM iam.require_company_administrator(company_id, 'manage the members of');
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

------------------------------------------------------------------------------
-- Row level security: the matrix of docs/security.md. One permissive policy
-- per table and command, so that each reads as the whole rule. Checks that
-- do not depend on the row are wrapped in (SELECT ...): the planner then
-- evaluates them once per statement. The service role bypasses RLS
-- (BYPASSRLS on Supabase), as do superusers and the tables' owner.
--   me          (SELECT iam.current_user_id())
--   my_companies (SELECT iam.current_company_ids())::uuid[]: active memberships in
--               active companies
--   admin       holds platform_admin;  reader: platform_admin or support_agent
--   company admin of c: c = ANY (my_companies) and holds enterprise_admin
------------------------------------------------------------------------------
ALTER TABLE iam.roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY roles_select ON iam.roles FOR SELECT USING (true);
CREATE POLICY roles_insert ON iam.roles FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY roles_update ON iam.roles FOR UPDATE
    USING ((SELECT iam.has_role('platform_admin')));
CREATE POLICY roles_delete ON iam.roles FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_select ON iam.users FOR SELECT USING (
    id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR ((SELECT iam.has_role('enterprise_admin')) AND EXISTS (
        SELECT FROM iam.company_users AS cu
        WHERE cu.user_id = users.id AND cu.is_active_in_company
          AND cu.company_id = ANY ((SELECT iam.current_company_ids())::uuid[]))));
CREATE POLICY users_insert ON iam.users FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY users_update ON iam.users FOR UPDATE USING (
    id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY users_delete ON iam.users FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.user_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_roles_select ON iam.user_roles FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY user_roles_insert ON iam.user_roles FOR INSERT WITH CHECK (
    (SELECT iam.has_role('platform_admin')) AND user_id IS DISTINCT FROM (SELECT iam.current_user_id()));
CREATE POLICY user_roles_delete ON iam.user_roles FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.companies ENABLE ROW LEVEL SECURITY;
CREATE POLICY companies_select ON iam.companies FOR SELECT USING (
    id = ANY ((SELECT iam.current_company_ids())::uuid[])
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY companies_insert ON iam.companies FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY companies_update ON iam.companies FOR UPDATE USING (
    (SELECT iam.has_role('platform_admin'))
    OR ((SELECT iam.has_role('enterprise_admin')) AND id = ANY ((SELECT iam.current_company_ids())::uuid[])));
CREATE POLICY companies_delete ON iam.companies FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.company_users ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_users_select ON iam.company_users FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR ((SELECT iam.has_role('enterprise_admin')) AND company_id = ANY ((SELECT iam.current_company_ids())::uuid[])));
CREATE POLICY company_users_insert ON iam.company_users FOR INSERT WITH CHECK (
    (SELECT iam.has_role('platform_admin'))
    OR ((SELECT iam.has_role('enterprise_admin')) AND company_id = ANY ((SELECT iam.current_company_ids())::uuid[])));
CREATE POLICY company_users_update ON iam.company_users FOR UPDATE USING (
    (SELECT iam.has_role('platform_admin'))
    OR ((SELECT iam.has_role('enterprise_admin')) AND company_id = ANY ((SELECT iam.current_company_ids())::uuid[])));
CREATE POLICY company_users_delete ON iam.company_users FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.user_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_settings_select ON iam.user_settings FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY user_settings_insert ON iam.user_settings FOR INSERT WITH CHECK (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY user_settings_update ON iam.user_settings FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY user_settings_delete ON iam.user_settings FOR DELETE USING (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));

-- API keys: the owner's, or the company's for its admins. The secret's hash
-- is kept from the API roles by column privileges (apply_grants).
ALTER TABLE iam.api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_keys_select ON iam.api_keys FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR ((SELECT iam.has_role('enterprise_admin')) AND company_id = ANY ((SELECT iam.current_company_ids())::uuid[])));
CREATE POLICY api_keys_insert ON iam.api_keys FOR INSERT WITH CHECK (
    (SELECT iam.has_role('platform_admin'))
    OR (user_id = (SELECT iam.current_user_id())
        AND (company_id IS NULL OR company_id = ANY ((SELECT iam.current_company_ids())::uuid[])))
    OR (user_id IS NULL AND (SELECT iam.has_role('enterprise_admin'))
        AND company_id = ANY ((SELECT iam.current_company_ids())::uuid[])));
CREATE POLICY api_keys_update ON iam.api_keys FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_role('platform_admin'))
    OR ((SELECT iam.has_role('enterprise_admin')) AND company_id = ANY ((SELECT iam.current_company_ids())::uuid[])));
CREATE POLICY api_keys_delete ON iam.api_keys FOR DELETE USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_role('platform_admin'))
    OR ((SELECT iam.has_role('enterprise_admin')) AND company_id = ANY ((SELECT iam.current_company_ids())::uuid[])));

ALTER TABLE iam.referral_codes ENABLE ROW LEVEL SECURITY;
CREATE POLICY referral_codes_select ON iam.referral_codes FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY referral_codes_insert ON iam.referral_codes FOR INSERT WITH CHECK (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY referral_codes_update ON iam.referral_codes FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY referral_codes_delete ON iam.referral_codes FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

-- Referrals: the referrer and the referred user see theirs; a user records
-- their own redemption; only billing (platform_admin, the service role)
-- advances one.
ALTER TABLE iam.referrals ENABLE ROW LEVEL SECURITY;
CREATE POLICY referrals_select ON iam.referrals FOR SELECT USING (
    referrer_user_id = (SELECT iam.current_user_id())
    OR referred_user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY referrals_insert ON iam.referrals FOR INSERT WITH CHECK (
    referred_user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY referrals_update ON iam.referrals FOR UPDATE
    USING ((SELECT iam.has_role('platform_admin')));
CREATE POLICY referrals_delete ON iam.referrals FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_select ON iam.audit_log FOR SELECT
    USING ((SELECT iam.has_role('platform_admin')));

------------------------------------------------------------------------------
-- Privileges of the API roles. RLS decides which rows; these decide which
-- tables and columns. Applied at install for the roles that exist, and again
-- by the operator with SELECT iam.apply_grants() once they are created.
------------------------------------------------------------------------------
CREATE FUNCTION iam.apply_grants() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    api_key_columns text;
    statement text;
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        GRANT USAGE ON SCHEMA iam TO anon;
        GRANT SELECT ON iam.roles TO anon;
    END IF;

    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        -- Every column of api_keys but the hash of the secret.
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO api_key_columns
        FROM pg_attribute
        WHERE attrelid = 'iam.api_keys'::regclass AND attnum > 0 AND NOT attisdropped
          AND attname <> 'hashed_key';
        FOREACH statement IN ARRAY ARRAY[
            'GRANT USAGE ON SCHEMA iam TO authenticated',
            'GRANT SELECT ON iam.roles, iam.users, iam.user_roles, iam.companies, iam.company_users, '
                'iam.user_settings, iam.referral_codes, iam.referrals, iam.audit_log TO authenticated',
            'GRANT SELECT (' || api_key_columns || ') ON iam.api_keys TO authenticated',
            'GRANT INSERT (name, description), UPDATE (name, description), DELETE ON iam.roles TO authenticated',
            'GRANT INSERT (id, email, full_name, raw_app_meta_data, raw_user_meta_data), '
                'UPDATE (full_name, raw_user_meta_data), DELETE ON iam.users TO authenticated',
            'GRANT INSERT (user_id, role_id), DELETE ON iam.user_roles TO authenticated',
            'GRANT INSERT (id, name, current_iam_status), '
                'UPDATE (name, current_iam_status, is_deleted, deleted_at), DELETE ON iam.companies TO authenticated',
            'GRANT INSERT (user_id, company_id, is_active_in_company), UPDATE (is_active_in_company), '
                'DELETE ON iam.company_users TO authenticated',
            'GRANT INSERT (user_id, preferred_language, theme, notifications_enabled_email, notifications_enabled_in_app), '
                'UPDATE (preferred_language, theme, notifications_enabled_email, notifications_enabled_in_app), '
                'DELETE ON iam.user_settings TO authenticated',
            'GRANT INSERT (user_id, company_id, name, key_prefix, hashed_key, permissions, expires_at), '
                'UPDATE (name, permissions, expires_at, is_active), DELETE ON iam.api_keys TO authenticated',
            'GRANT INSERT (user_id, code, is_active, expires_at), UPDATE (is_active, expires_at), '
                'DELETE ON iam.referral_codes TO authenticated',
            'GRANT INSERT (referrer_user_id, referred_user_id, referral_code_used_id), '
                'UPDATE (status, converted_at), DELETE ON iam.referrals TO authenticated'
        ] LOOP
            EXECUTE statement;
        END LOOP;
    END IF;

    -- The service role and, on Supabase, the operator (postgres, not a
    -- superuser there): every table; the operator also re-applies grants.
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT USAGE ON SCHEMA iam TO service_role;
        GRANT ALL ON ALL TABLES IN SCHEMA iam TO service_role;
        GRANT ALL ON ALL SEQUENCES IN SCHEMA iam TO service_role;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres' AND NOT rolsuper) THEN
        GRANT USAGE ON SCHEMA iam TO postgres;
        GRANT ALL ON ALL TABLES IN SCHEMA iam TO postgres;
        GRANT ALL ON ALL SEQUENCES IN SCHEMA iam TO postgres;
        GRANT EXECUTE ON FUNCTION iam.apply_grants() TO postgres;
    END IF;
END
$$;
COMMENT ON FUNCTION iam.apply_grants() IS
    'Grants the Supabase API roles (anon, authenticated, service_role) and the operator what docs/security.md lists, for those that exist; idempotent';
REVOKE EXECUTE ON FUNCTION iam.apply_grants() FROM PUBLIC;
SELECT iam.apply_grants();
