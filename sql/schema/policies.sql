-- Who may read and write what: row level security on every table (the
-- matrix of docs/security.md), the permission a request's API key needs to
-- write iam's tables, and the privileges of the API roles.

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
--   company admin of c: iam.is_company_admin(c), an active membership of c
--               with role_in_company admin (per row: a hash probe)
------------------------------------------------------------------------------
ALTER TABLE iam.roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY roles_select ON iam.roles FOR SELECT USING (true);
CREATE POLICY roles_insert ON iam.roles FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY roles_update ON iam.roles FOR UPDATE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_select ON iam.users FOR SELECT USING (
    id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY users_insert ON iam.users FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY users_update ON iam.users FOR UPDATE USING (
    id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.user_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_roles_select ON iam.user_roles FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY user_roles_insert ON iam.user_roles FOR INSERT WITH CHECK (
    (SELECT iam.has_role('platform_admin')) AND user_id IS DISTINCT FROM (SELECT iam.current_user_id()));
CREATE POLICY user_roles_delete ON iam.user_roles FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.companies ENABLE ROW LEVEL SECURITY;
-- An invitee who presented their invitation's token also sees the company
-- it is to: the invitations' own policy admits theirs (the subquery may not
-- name token_hash, which the API roles may not read).
CREATE POLICY companies_select ON iam.companies FOR SELECT USING (
    id = ANY ((SELECT iam.current_company_ids())::uuid[])
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR id IN (SELECT i.company_id FROM iam.company_invitations AS i
              WHERE (SELECT iam.presented_invitation_hash()) IS NOT NULL));
CREATE POLICY companies_insert ON iam.companies FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY companies_update ON iam.companies FOR UPDATE USING (
    (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(id));

ALTER TABLE iam.company_users ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_users_select ON iam.company_users FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR iam.is_company_admin(company_id));
-- The invitee joins (or rejoins) with the role of an invitation they
-- accepted in this very transaction (accepted_at is the transaction's
-- now()), so the token is spent by the same transaction that uses it, and
-- only for a company that is not deleted. Only the holder of its token
-- records an acceptance (the policies of company_invitations).
CREATE POLICY company_users_insert ON iam.company_users FOR INSERT WITH CHECK (
    (SELECT iam.has_role('platform_admin'))
    OR (user_id = (SELECT iam.current_user_id()) AND is_active_in_company
        AND EXISTS (SELECT FROM iam.company_invitations AS i
                    WHERE i.accepted_by = company_users.user_id AND i.accepted_at = now()
                      AND i.company_id = company_users.company_id
                      AND i.role_in_company = company_users.role_in_company)
        AND EXISTS (SELECT FROM iam.companies AS c WHERE c.id = company_users.company_id AND NOT c.is_deleted)));
CREATE POLICY company_users_update ON iam.company_users FOR UPDATE USING (
    (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(company_id));
CREATE POLICY company_users_accept ON iam.company_users FOR UPDATE
    USING (user_id = (SELECT iam.current_user_id())
           AND EXISTS (SELECT FROM iam.company_invitations AS i
                       WHERE i.accepted_by = company_users.user_id AND i.accepted_at = now()
                         AND i.company_id = company_users.company_id))
    WITH CHECK (user_id = (SELECT iam.current_user_id()) AND is_active_in_company
                AND EXISTS (SELECT FROM iam.company_invitations AS i
                            WHERE i.accepted_by = company_users.user_id AND i.accepted_at = now()
                              AND i.company_id = company_users.company_id
                              AND i.role_in_company = company_users.role_in_company)
                AND EXISTS (SELECT FROM iam.companies AS c
                            WHERE c.id = company_users.company_id AND NOT c.is_deleted));

ALTER TABLE iam.user_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_settings_select ON iam.user_settings FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY user_settings_insert ON iam.user_settings FOR INSERT WITH CHECK (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY user_settings_update ON iam.user_settings FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));

-- API keys: the owner's, or the company's for its admins. The secret's hash
-- is kept from the API roles by column privileges (apply_grants).
ALTER TABLE iam.api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_keys_select ON iam.api_keys FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR iam.is_company_admin(company_id));
CREATE POLICY api_keys_insert ON iam.api_keys FOR INSERT WITH CHECK (
    (user_id = (SELECT iam.current_user_id())
     AND (company_id IS NULL OR company_id = ANY ((SELECT iam.current_company_ids())::uuid[])))
    OR (user_id IS NULL AND iam.is_company_admin(company_id)));
CREATE POLICY api_keys_update ON iam.api_keys FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_role('platform_admin'))
    OR iam.is_company_admin(company_id));
-- The kill switch: whoever presented a key's secret in this transaction
-- (iam.present_api_key, C: backend memory no client can set without the
-- secret) revokes that key, and only that one: while a key is presented,
-- the transaction updates no other key, and none that is revoked already.
CREATE POLICY api_keys_report ON iam.api_keys FOR UPDATE
    USING (id = (SELECT iam.presented_api_key_id()) AND iam.is_presented_api_key(hashed_key))
    WITH CHECK (NOT is_active AND id = (SELECT iam.presented_api_key_id()) AND iam.is_presented_api_key(hashed_key));
CREATE POLICY api_keys_only_the_presented ON iam.api_keys AS RESTRICTIVE FOR UPDATE
    USING ((SELECT iam.presented_api_key_id()) IS NULL
           OR (id = (SELECT iam.presented_api_key_id()) AND iam.is_presented_api_key(hashed_key) AND is_active))
    WITH CHECK ((SELECT iam.presented_api_key_id()) IS NULL
                OR (id = (SELECT iam.presented_api_key_id()) AND iam.is_presented_api_key(hashed_key)));

ALTER TABLE iam.referral_codes ENABLE ROW LEVEL SECURITY;
CREATE POLICY referral_codes_select ON iam.referral_codes FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY referral_codes_insert ON iam.referral_codes FOR INSERT WITH CHECK (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY referral_codes_update ON iam.referral_codes FOR UPDATE USING (
    user_id = (SELECT iam.current_user_id()) OR (SELECT iam.has_role('platform_admin')));

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

-- Invitations: their company's admins see, make and revoke them (the
-- functions of companies.sql); revocation is final.
ALTER TABLE iam.company_invitations ENABLE ROW LEVEL SECURITY;
-- ... and their invitee sees and accepts one once they present its token
-- (iam.present_invitation_token, C: backend memory no client can set without
-- the token, which names no invitation whose inviter no longer administers
-- its company): while it is pending and addressed to them (by user id, or
-- by an email they confirmed, compared ASCII-only as accept_company_invitation
-- explains), or once they accepted it in this transaction.
CREATE POLICY company_invitations_select ON iam.company_invitations FOR SELECT USING (
    iam.is_company_admin(company_id) OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR (id = (SELECT iam.presented_invitation_id()) AND token_hash = (SELECT iam.presented_invitation_hash())
        AND (invited_user_id = (SELECT iam.current_user_id())
             OR invited_email = (SELECT lower(u.email COLLATE "C") FROM iam.users AS u
                                 WHERE u.id = (SELECT iam.current_user_id()) AND u.email_confirmed_at IS NOT NULL))
        AND ((accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now())
             OR (accepted_by = (SELECT iam.current_user_id()) AND accepted_at = now()))));
CREATE POLICY company_invitations_insert ON iam.company_invitations FOR INSERT WITH CHECK (
    iam.is_company_admin(company_id) OR (SELECT iam.has_role('platform_admin')));
CREATE POLICY company_invitations_update ON iam.company_invitations FOR UPDATE
    USING (iam.is_company_admin(company_id) OR (SELECT iam.has_role('platform_admin')))
    WITH CHECK (revoked_at IS NOT NULL);
CREATE POLICY company_invitations_accept ON iam.company_invitations FOR UPDATE
    USING (id = (SELECT iam.presented_invitation_id()) AND token_hash = (SELECT iam.presented_invitation_hash())
           AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
           AND (invited_user_id = (SELECT iam.current_user_id())
                OR invited_email = (SELECT lower(u.email COLLATE "C") FROM iam.users AS u
                                    WHERE u.id = (SELECT iam.current_user_id()) AND u.email_confirmed_at IS NOT NULL)))
    WITH CHECK (token_hash = (SELECT iam.presented_invitation_hash())
                AND accepted_by = (SELECT iam.current_user_id()) AND accepted_at = now() AND revoked_at IS NULL);
-- Only the invitee, holding the token, records an acceptance.
CREATE POLICY company_invitations_accepted_by_invitee ON iam.company_invitations AS RESTRICTIVE FOR UPDATE
    USING (true)
    WITH CHECK (accepted_by IS NULL
                OR (accepted_by = (SELECT iam.current_user_id())
                    AND token_hash = (SELECT iam.presented_invitation_hash())));

-- What a company's admins read of their members (iam.company_members): the
-- copy of email and full_name of the users who are active members of a
-- company they administer; the user themselves and the readers.
ALTER TABLE iam.member_profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY member_profiles_select ON iam.member_profiles FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}'))
    OR EXISTS (SELECT FROM iam.company_users AS cu
               WHERE cu.user_id = member_profiles.user_id AND cu.is_active_in_company
                 AND iam.is_company_admin(cu.company_id)));

-- The permission model (docs/permissions.md). The catalogue, the platform
-- roles' permissions and the templates are public to signed-in callers; a
-- company's own roles to its members. The catalogue and the platform roles'
-- permissions are changed by platform admins, the templates by holders of
-- iam:roles:manage through a platform role, a company's roles and who holds
-- them by holders of iam:roles:manage in that company. What a change may
-- give is bounded by the triggers of permissions.sql: nobody gives more
-- than they hold.
ALTER TABLE iam.permissions ENABLE ROW LEVEL SECURITY;
CREATE POLICY permissions_select ON iam.permissions FOR SELECT USING (true);
CREATE POLICY permissions_insert ON iam.permissions FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY permissions_update ON iam.permissions FOR UPDATE
    USING ((SELECT iam.has_role('platform_admin')));
CREATE POLICY permissions_delete ON iam.permissions FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.role_permissions ENABLE ROW LEVEL SECURITY;
CREATE POLICY role_permissions_select ON iam.role_permissions FOR SELECT USING (true);
CREATE POLICY role_permissions_insert ON iam.role_permissions FOR INSERT
    WITH CHECK ((SELECT iam.has_role('platform_admin')));
CREATE POLICY role_permissions_delete ON iam.role_permissions FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.company_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_roles_select ON iam.company_roles FOR SELECT USING (
    company_id IS NULL
    OR company_id = ANY ((SELECT iam.current_company_ids())::uuid[])
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY company_roles_insert ON iam.company_roles FOR INSERT WITH CHECK (
    CASE WHEN company_id IS NULL THEN (SELECT iam.can('iam:roles:manage'))
         ELSE iam.can('iam:roles:manage', company_id) END);
CREATE POLICY company_roles_update ON iam.company_roles FOR UPDATE USING (
    CASE WHEN company_id IS NULL THEN (SELECT iam.can('iam:roles:manage'))
         ELSE iam.can('iam:roles:manage', company_id) END);
CREATE POLICY company_roles_delete ON iam.company_roles FOR DELETE USING (
    CASE WHEN company_id IS NULL THEN (SELECT iam.can('iam:roles:manage'))
         ELSE iam.can('iam:roles:manage', company_id) END);

-- A role's permissions are seen with the role (the subquery is under the
-- policies of company_roles), and changed by whoever manages the role.
ALTER TABLE iam.company_role_permissions ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_role_permissions_select ON iam.company_role_permissions FOR SELECT USING (
    EXISTS (SELECT FROM iam.company_roles AS r WHERE r.id = company_role_permissions.company_role_id));
CREATE POLICY company_role_permissions_insert ON iam.company_role_permissions FOR INSERT WITH CHECK (
    EXISTS (SELECT FROM iam.company_roles AS r
            WHERE r.id = company_role_permissions.company_role_id
              AND CASE WHEN r.company_id IS NULL THEN iam.can('iam:roles:manage')
                       ELSE iam.can('iam:roles:manage', r.company_id) END));
CREATE POLICY company_role_permissions_delete ON iam.company_role_permissions FOR DELETE USING (
    EXISTS (SELECT FROM iam.company_roles AS r
            WHERE r.id = company_role_permissions.company_role_id
              AND CASE WHEN r.company_id IS NULL THEN iam.can('iam:roles:manage')
                       ELSE iam.can('iam:roles:manage', r.company_id) END));

ALTER TABLE iam.company_member_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_member_roles_select ON iam.company_member_roles FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR iam.can('iam:roles:manage', company_id)
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY company_member_roles_insert ON iam.company_member_roles FOR INSERT
    WITH CHECK (iam.can('iam:roles:manage', company_id));
CREATE POLICY company_member_roles_delete ON iam.company_member_roles FOR DELETE
    USING (iam.can('iam:roles:manage', company_id));

-- Who another identity provider's subjects are: each user sees their own;
-- the readers see all; platform admins unlink (revoke) but never link, which
-- would let them act as someone else; linking is the service role's
-- (iam.link_external_identity). The API roles get no INSERT or UPDATE.
ALTER TABLE iam.external_identities ENABLE ROW LEVEL SECURITY;
CREATE POLICY external_identities_select ON iam.external_identities FOR SELECT USING (
    user_id = (SELECT iam.current_user_id())
    OR (SELECT iam.has_any_role('{platform_admin,support_agent}')));
CREATE POLICY external_identities_delete ON iam.external_identities FOR DELETE
    USING ((SELECT iam.has_role('platform_admin')));

ALTER TABLE iam.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_select ON iam.audit_log FOR SELECT
    USING ((SELECT iam.has_role('platform_admin')));

------------------------------------------------------------------------------
-- A request authenticated by an API key writes iam's tables only with the
-- permission "iam:<table>:write" (or "iam:*", or "*").
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.require_key_permission() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'iam_require_key_permission';
COMMENT ON FUNCTION iam.require_key_permission() IS
    'BEFORE statement trigger: in a request authenticated by an API key, a write to iam.<table> needs the key''s permission iam:<table>:write (42501)';
REVOKE EXECUTE ON FUNCTION iam.require_key_permission() FROM PUBLIC;
DO $$
DECLARE
    table_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY['roles', 'users', 'user_roles', 'companies', 'company_users',
                                      'user_settings', 'api_keys', 'referral_codes', 'referrals',
                                      'company_invitations', 'permissions', 'role_permissions',
                                      'company_roles', 'company_role_permissions',
                                      'company_member_roles', 'external_identities'] LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON iam.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION iam.require_key_permission()',
                       table_name || '_key_permission', table_name);
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- Privileges of the API roles. RLS decides which rows; these decide which
-- tables and columns. Applied at install for the roles that exist, and again
-- by the operator with SELECT iam.apply_grants() once they are created. A
-- table-level DELETE also lets its holder LOCK the table in any mode, which
-- would stall every check: the API roles get DELETE only where taking away
-- is a delete (user_roles, the tables of the permission model, and
-- external_identities, where unlinking is one), and the lock guard
-- refuses them the LOCK there.
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION iam.apply_grants() RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
    AS $$
DECLARE
    api_key_columns text;
    invitation_columns text;
    client_tables text;
    statement text;
    operator_role name;
BEGIN
    -- Every table but the peppers.
    SELECT string_agg(format('iam.%I', c.relname), ', ' ORDER BY c.relname) INTO client_tables
    FROM pg_class AS c
    WHERE c.relnamespace = 'iam'::regnamespace AND c.relkind = 'r' AND c.relname <> 'api_key_peppers';

    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        GRANT USAGE ON SCHEMA iam TO anon;
        GRANT SELECT ON iam.roles TO anon;
        -- The kill switch (iam.report_leaked_api_key): the policies admit
        -- only the key whose secret the transaction presented.
        GRANT UPDATE (is_active) ON iam.api_keys TO anon;
    END IF;

    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        -- Every column of api_keys but the hash of the secret.
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO api_key_columns
        FROM pg_attribute
        WHERE attrelid = 'iam.api_keys'::regclass AND attnum > 0 AND NOT attisdropped
          AND attname <> 'hashed_key';
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO invitation_columns
        FROM pg_attribute
        WHERE attrelid = 'iam.company_invitations'::regclass AND attnum > 0 AND NOT attisdropped
          AND attname <> 'token_hash';
        FOREACH statement IN ARRAY ARRAY[
            'GRANT USAGE ON SCHEMA iam TO authenticated',
            'GRANT EXECUTE ON FUNCTION iam.accept_company_invitation(text) TO authenticated',
            'GRANT EXECUTE ON FUNCTION iam.link_external_identity(text, text, uuid), '
                'iam.unlink_external_identity(text, text) TO authenticated',
            'GRANT SELECT, DELETE ON iam.external_identities TO authenticated',
            'GRANT SELECT ON iam.roles, iam.users, iam.user_roles, iam.companies, iam.company_users, '
                'iam.user_settings, iam.referral_codes, iam.referrals, iam.audit_log, iam.company_members, '
                'iam.member_profiles, iam.permissions, iam.role_permissions, iam.company_roles, '
                'iam.company_role_permissions, iam.company_member_roles '
                'TO authenticated',
            'GRANT INSERT (name, description), UPDATE (description), DELETE ON iam.permissions TO authenticated',
            'GRANT INSERT (role_id, permission), DELETE ON iam.role_permissions TO authenticated',
            'GRANT INSERT (id, company_id, name, description), UPDATE (name, description), DELETE '
                'ON iam.company_roles TO authenticated',
            'GRANT INSERT (company_role_id, permission), DELETE ON iam.company_role_permissions TO authenticated',
            'GRANT INSERT (user_id, company_id, company_role_id), DELETE ON iam.company_member_roles TO authenticated',
            'GRANT SELECT (' || invitation_columns || ') ON iam.company_invitations TO authenticated',
            'REVOKE DELETE ON iam.company_invitations FROM authenticated',
            'GRANT INSERT (company_id, invited_email, invited_user_id, role_in_company, token_hash, invited_by, '
                'expires_at), UPDATE (revoked_at, accepted_at, accepted_by) ON iam.company_invitations TO authenticated',
            'GRANT SELECT (' || api_key_columns || ') ON iam.api_keys TO authenticated',
            'REVOKE DELETE ON iam.roles, iam.users, iam.companies, iam.company_users, iam.user_settings, '
                'iam.api_keys, iam.referral_codes, iam.referrals FROM authenticated',
            'GRANT INSERT (name, description), UPDATE (name, description) ON iam.roles TO authenticated',
            'GRANT INSERT (id, email, full_name, raw_app_meta_data, raw_user_meta_data), '
                'UPDATE (full_name, raw_user_meta_data) ON iam.users TO authenticated',
            'GRANT INSERT (user_id, role_id), DELETE ON iam.user_roles TO authenticated',
            'GRANT INSERT (id, name, current_iam_status), '
                'UPDATE (name, current_iam_status, is_deleted, deleted_at) ON iam.companies TO authenticated',
            'GRANT INSERT (user_id, company_id, is_active_in_company, role_in_company), '
                'UPDATE (is_active_in_company, role_in_company) ON iam.company_users TO authenticated',
            'GRANT INSERT (user_id, preferred_language, theme, notifications_enabled_email, notifications_enabled_in_app), '
                'UPDATE (preferred_language, theme, notifications_enabled_email, notifications_enabled_in_app) '
                'ON iam.user_settings TO authenticated',
            'GRANT INSERT (user_id, company_id, name, key_prefix, hashed_key, permissions, expires_at, replaces_key_id, '
                'remaining, refill_amount, refill_interval, refilled_at, rate_limit, rate_limit_window, '
                'rate_limit_key_id), UPDATE (name, permissions, expires_at, is_active, key_prefix, hashed_key, remaining, refill_amount, '
                'refill_interval, refilled_at, rate_limit, rate_limit_window) ON iam.api_keys TO authenticated',
            'GRANT INSERT (user_id, code, is_active, expires_at), UPDATE (is_active, expires_at) '
                'ON iam.referral_codes TO authenticated',
            'GRANT INSERT (referrer_user_id, referred_user_id, referral_code_used_id), '
                'UPDATE (status, converted_at) ON iam.referrals TO authenticated'
        ] LOOP
            EXECUTE statement;
        END LOOP;
    END IF;

    -- The service role: every table but the peppers.
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT USAGE ON SCHEMA iam TO service_role;
        EXECUTE 'GRANT ALL ON ' || client_tables || ' TO service_role';
        -- But TRUNCATE: it fires no row trigger, so it would remove memberships,
        -- role grants and keys past the audit trail and the write rules.
        EXECUTE 'REVOKE TRUNCATE ON ' || client_tables || ' FROM service_role';
        GRANT SELECT ON iam.company_members TO service_role;
        GRANT EXECUTE ON FUNCTION iam.accept_company_invitation(text) TO service_role;
        GRANT EXECUTE ON FUNCTION iam.link_external_identity(text, text, uuid),
            iam.unlink_external_identity(text, text) TO service_role;
        GRANT ALL ON ALL SEQUENCES IN SCHEMA iam TO service_role;
        REVOKE ALL ON iam.api_key_peppers FROM service_role;
    END IF;

    -- The operator, when it is no superuser: the extension's owner (whoever
    -- ran CREATE EXTENSION: a trusted extension's objects belong to the
    -- bootstrap superuser, so the owner has no right on them otherwise) and,
    -- on Supabase, postgres. Every table but the peppers, TRUNCATE included,
    -- and the operator's functions.
    FOR operator_role IN
        SELECT r.rolname FROM pg_roles AS r
        WHERE NOT r.rolsuper
          AND (r.oid = (SELECT e.extowner FROM pg_extension AS e WHERE e.extname = 'iam_ext')
               OR r.rolname = 'postgres')
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA iam TO %I', operator_role);
        EXECUTE format('GRANT ALL ON %s TO %I', client_tables, operator_role);
        EXECUTE format('GRANT SELECT ON iam.company_members TO %I', operator_role);
        EXECUTE format('GRANT ALL ON ALL SEQUENCES IN SCHEMA iam TO %I', operator_role);
        EXECUTE format('REVOKE ALL ON iam.api_key_peppers FROM %I', operator_role);
        EXECUTE format('GRANT EXECUTE ON FUNCTION iam.apply_grants(), iam.rotate_api_key_pepper(), '
                       'iam.custom_access_token_hook(jsonb), iam.enable_auth_sync(), iam.disable_auth_sync() '
                       'TO %I', operator_role);
    END LOOP;
    -- A former owner (REASSIGN OWNED moved the extension to another role)
    -- is the operator no more: it loses what the loop above gave it. It is
    -- recognised by its EXECUTE on this function, which only operators get.
    FOR operator_role IN
        SELECT r.rolname
        FROM pg_proc AS p, aclexplode(p.proacl) AS a JOIN pg_roles AS r ON r.oid = a.grantee
        WHERE p.oid = 'iam.apply_grants()'::regprocedure AND a.privilege_type = 'EXECUTE'
          AND r.oid <> p.proowner AND NOT r.rolsuper
          AND r.oid IS DISTINCT FROM (SELECT e.extowner FROM pg_extension AS e WHERE e.extname = 'iam_ext')
          AND r.rolname <> 'postgres'
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION iam.apply_grants(), iam.rotate_api_key_pepper(), '
                       'iam.custom_access_token_hook(jsonb), iam.enable_auth_sync(), iam.disable_auth_sync() '
                       'FROM %I', operator_role);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA iam FROM %I', operator_role);
        EXECUTE format('REVOKE ALL ON %s, iam.company_members FROM %I', client_tables, operator_role);
        EXECUTE format('REVOKE USAGE ON SCHEMA iam FROM %I', operator_role);
    END LOOP;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
        -- Supabase Auth calls the access token hook, and may do nothing else.
        GRANT USAGE ON SCHEMA iam TO supabase_auth_admin;
        GRANT EXECUTE ON FUNCTION iam.custom_access_token_hook(jsonb) TO supabase_auth_admin;
    END IF;
END
$$;
COMMENT ON FUNCTION iam.apply_grants() IS
    'Grants the Supabase API roles (anon, authenticated, service_role) and the operator what docs/security.md lists, for those that exist; idempotent';
REVOKE EXECUTE ON FUNCTION iam.apply_grants() FROM PUBLIC;
-- Called at the end of supabase.sql, once every object it grants exists.
