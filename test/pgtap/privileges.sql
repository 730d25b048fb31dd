-- privileges.sql: the privilege audit of docs/security.md. Every SECURITY
-- DEFINER function pins its search_path and row_security and is executable
-- by no API role, without exception; every SQL-language function pins its search_path too; nothing in schema
-- iam is writable by PUBLIC; trigger functions are executable by nobody;
-- every table has row level security, and a policy unless it is the
-- peppers' (which no client may read at all); anon can execute exactly the
-- functions docs/security.md lists.
--
-- Run with: pg_prove -d DB test/pgtap/privileges.sql (DB has pgtap and iam_ext).

BEGIN;
SELECT plan(21);

\ir ../fixtures/supabase_roles.sql
SELECT iam.apply_grants();

CREATE TEMP VIEW iam_functions AS
SELECT p.oid, p.oid::regprocedure::text AS signature, p.prosecdef, l.lanname,
       coalesce(p.proconfig, '{}') AS config
FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
WHERE p.pronamespace = 'iam'::regnamespace;

SELECT set_eq(
    $$SELECT signature FROM iam_functions WHERE prosecdef$$,
    ARRAY['iam.apply_grants()', 'iam.sync_auth_user()', 'iam.sync_user_from_auth(jsonb)',
          'iam.enable_auth_sync()', 'iam.disable_auth_sync()', 'iam.custom_access_token_hook(jsonb)'],
    'The only SECURITY DEFINER functions are apply_grants, the auth.users sync and the access token hook');
SELECT is_empty(
    $$SELECT signature FROM iam_functions
      WHERE (prosecdef OR lanname IN ('sql', 'plpgsql'))
        AND NOT EXISTS (SELECT FROM unnest(config) AS c WHERE c LIKE 'search_path=pg_catalog%')$$,
    'Every SECURITY DEFINER, SQL and PL/pgSQL function pins search_path to pg_catalog');
SELECT is_empty(
    $$SELECT signature, r.rolname FROM iam_functions, pg_roles AS r
      WHERE prosecdef AND r.rolname IN ('anon', 'authenticated', 'service_role', 'public')
        AND has_function_privilege(r.oid, iam_functions.oid, 'EXECUTE')$$,
    'No SECURITY DEFINER function is executable by an API role');
SELECT is_empty(
    $$SELECT signature FROM iam_functions
      WHERE prosecdef AND NOT 'row_security=on' = ANY (config)$$,
    'Every SECURITY DEFINER function runs with row_security on');
SELECT is_empty(
    $$SELECT c.relname, a.privilege_type
      FROM pg_class AS c, aclexplode(c.relacl) AS a
      WHERE c.relnamespace = 'iam'::regnamespace AND a.grantee = 0$$,
    'No table or sequence of schema iam grants anything to PUBLIC');
SELECT is_empty(
    $$SELECT signature FROM iam_functions AS f
      WHERE f.oid IN ('iam.set_updated_at()'::regprocedure, 'iam.audit_change()'::regprocedure,
                      'iam.guard_company_status()'::regprocedure, 'iam.sync_auth_user()'::regprocedure,
                      'iam.keep_a_company_admin()'::regprocedure,
                      'iam.guard_member_reactivation()'::regprocedure, 'iam.copy_member_profile()'::regprocedure,
                      'iam.freeze_presented_api_key()'::regprocedure)
        AND (has_function_privilege('anon', f.oid, 'EXECUTE')
             OR has_function_privilege('authenticated', f.oid, 'EXECUTE'))$$,
    'Trigger functions are executable by no API role');
SELECT is_empty(
    $$SELECT relname FROM pg_class
      WHERE relnamespace = 'iam'::regnamespace AND relkind = 'r' AND NOT relrowsecurity$$,
    'Every table of schema iam has row level security');
SELECT set_eq(
    $$SELECT c.relname::text FROM pg_class AS c
      WHERE c.relnamespace = 'iam'::regnamespace AND c.relkind = 'r'
        AND NOT EXISTS (SELECT FROM pg_policy AS p WHERE p.polrelid = c.oid)$$,
    ARRAY['api_key_peppers'],
    'Every table has policies but the peppers, which no client reads at all');
SELECT is_empty(
    $$SELECT r.rolname, privilege
      FROM pg_roles AS r, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS privilege
      WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
        AND has_table_privilege(r.oid, 'iam.api_key_peppers', privilege)$$,
    'No API role has any privilege on the peppers');
SELECT is_empty(
    $$SELECT c.relname, r.rolname FROM pg_class AS c, pg_roles AS r
      WHERE c.relnamespace = 'iam'::regnamespace AND c.relkind = 'r'
        AND r.rolname IN ('anon', 'authenticated', 'service_role')
        AND has_table_privilege(r.oid, c.oid, 'TRUNCATE')$$,
    'No API role may TRUNCATE a table of iam: it would pass the audit trail and the write rules');
SELECT is_empty(
    $$SELECT signature, r.rolname FROM iam_functions, pg_roles AS r
      WHERE signature IN ('iam.enable_auth_sync()', 'iam.disable_auth_sync()', 'iam.apply_grants()',
                          'iam.rotate_api_key_pepper()')
        AND r.rolname IN ('anon', 'authenticated', 'service_role')
        AND has_function_privilege(r.oid, iam_functions.oid, 'EXECUTE')$$,
    'The operator functions are executable by no API role');
SELECT set_eq(
    $$SELECT signature FROM iam_functions WHERE has_function_privilege('anon', oid, 'EXECUTE')$$,
    ARRAY[
        -- identity and role checks (policies call them as the querying role)
        'iam.current_user_id()', 'iam.has_role(text)', 'iam.has_role(uuid,text)',
        'iam.has_any_role(text[])', 'iam.roles_of(uuid)', 'iam.is_company_member(uuid,uuid)',
        'iam.is_company_admin(uuid,uuid)', 'iam.current_company_ids()', 'iam.is_current_company(uuid)',
        'iam.is_service_caller()', 'iam.is_operator_session()',
        -- role and company administration (refuse anon: 42501)
        'iam.grant_role(uuid,text)', 'iam.revoke_role(uuid,text)',
        'iam.require_role_administrator(uuid,text,text)', 'iam.require_company_administrator(uuid,text)',
        'iam.add_company_member(uuid,uuid)', 'iam.remove_company_member(uuid,uuid)',
        'iam.set_company_status(uuid,text)', 'iam.delete_company(uuid)',
        'iam.invite_to_company(uuid,text,uuid,text,interval)', 'iam.revoke_company_invitation(uuid)',
        'iam.set_company_role(uuid,uuid,text)',
        -- the read of the rule that a company keeps an admin (as the caller, RLS decides)
        'iam.company_admin_remains(uuid,uuid)',
        -- the not-found error of the functions above (404 through PostgREST)
        'iam.raise_not_found(text,text)',
        -- API keys (verification is the login path; the rest go through RLS)
        'iam.verify_api_key(text)', 'iam.api_key_has_permission(text,text)',
        'iam.authenticate_request()', 'iam.has_permission(text)',
        'iam.create_api_key(text,uuid,uuid,jsonb,timestamp with time zone)',
        'iam.rotate_api_key(uuid,interval)', 'iam.revoke_api_key(uuid)', 'iam.report_leaked_api_key(text)',
        'iam.expiring_api_keys(interval)', 'iam.unused_api_keys(interval)',
        'iam.consume_api_key(text,integer)', 'iam.api_key_credits_remaining()',
        -- the WHEN of the api_keys audit trigger, which every writer evaluates
        'iam.is_spending_credits()',
        -- the secrets a caller presents, which the policies match rows against
        'iam.present_api_key(text)', 'iam.presented_api_key_id()', 'iam.is_presented_api_key(text)',
        'iam.present_invitation_token(text)', 'iam.presented_invitation_hash()', 'iam.presented_invitation_id()',
        'iam.set_api_key_credits(uuid,integer,integer,interval)',
        'iam.set_api_key_rate_limit(uuid,integer,interval)',
        -- referral codes
        'iam.generate_referral_code(integer)', 'iam.normalize_vanity_code(text)',
        'iam.create_referral_code(uuid,text,timestamp with time zone)',
        'iam.redeem_referral_code(text,uuid)', 'iam.advance_referral(uuid,text)',
        -- the permission model: the checks policies call, and the company-role
        -- functions (which refuse anon: 42501)
        'iam.can(text)', 'iam.can(text,uuid)', 'iam.current_api_key_id()',
        'iam.company_role_id(uuid,text)', 'iam.assign_company_role(uuid,uuid,text)',
        'iam.remove_company_role(uuid,uuid,text)'
    ],
    'anon can execute exactly the API functions docs/security.md lists, all running as the caller');


------------------------------------------------------------------------------
-- Functions per role, triggers, policies and privileges of the permission
-- model (docs/security.md, "The permission model's tables").
------------------------------------------------------------------------------
SELECT is_empty(
    $$SELECT f.signature, r.rolname FROM iam_functions AS f JOIN pg_proc AS p ON p.oid = f.oid, pg_roles AS r
      WHERE p.prorettype = 'trigger'::regtype
        AND r.rolname IN ('anon', 'authenticated', 'service_role', 'public')
        AND has_function_privilege(r.oid, f.oid, 'EXECUTE')$$,
    'No trigger function of schema iam is executable by an API role, the guards of the permission model included');
SELECT is_empty(
    $$SELECT f.signature, r.rolname FROM iam_functions AS f, pg_roles AS r
      WHERE r.rolname IN ('authenticated', 'service_role')
        AND has_function_privilege('anon', f.oid, 'EXECUTE')
        AND NOT has_function_privilege(r.oid, f.oid, 'EXECUTE')$$,
    'authenticated and service_role execute every function anon executes (can, current_api_key_id, the company-role functions)');

-- Every change to the permission model is audited, by a row trigger after
-- each write; and every write is checked by its guard before it lands.
SELECT set_eq(
    $$SELECT c.relname::text, t.tgname::text, t.tgfoid::regproc::text, t.tgtype::int
      FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
      WHERE c.relname IN ('permissions', 'role_permissions', 'company_roles', 'company_role_permissions',
                          'company_member_roles', 'user_roles')
        AND c.relnamespace = 'iam'::regnamespace AND NOT t.tgisinternal
        AND t.tgfoid <> 'iam.require_key_permission()'::regprocedure$$,
    -- tgtype: 29 = AFTER ROW INSERT/UPDATE/DELETE; 23 = BEFORE ROW INSERT/UPDATE;
    -- 31 = BEFORE ROW INSERT/UPDATE/DELETE
    $$VALUES ('permissions', 'permissions_audit', 'iam.audit_change', 29),
             ('permissions', 'permissions_guard', 'iam.guard_permission', 23),
             ('role_permissions', 'role_permissions_audit', 'iam.audit_change', 29),
             ('role_permissions', 'role_permissions_guard', 'iam.guard_grant', 23),
             ('company_roles', 'company_roles_audit', 'iam.audit_change', 29),
             ('company_roles', 'company_roles_guard', 'iam.guard_company_role', 31),
             ('company_role_permissions', 'company_role_permissions_audit', 'iam.audit_change', 29),
             ('company_role_permissions', 'company_role_permissions_guard', 'iam.guard_grant', 23),
             ('company_member_roles', 'company_member_roles_audit', 'iam.audit_change', 29),
             ('company_member_roles', 'company_member_roles_guard', 'iam.guard_member_role', 23),
             ('user_roles', 'user_roles_audit', 'iam.audit_change', 29),
             ('user_roles', 'user_roles_grantable', 'iam.guard_role_grant', 23),
             ('permissions', 'permissions_changed', 'iam.model_changed', 29),
             ('role_permissions', 'role_permissions_changed', 'iam.model_changed', 29),
             ('company_role_permissions', 'company_role_permissions_changed', 'iam.model_changed', 29)$$,
    'The permission model''s tables and user_roles have their audit trigger and their guard, and the definitions the one that makes every backend forget what it remembered, and no other');
-- That one fires on logical replication's apply too (a Citus worker's copy).
SELECT set_eq(
    $$SELECT c.relname::text FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
      WHERE c.relnamespace = 'iam'::regnamespace AND t.tgenabled = 'A'$$,
    ARRAY['permissions', 'role_permissions', 'company_role_permissions', 'external_identities'],
    'The triggers that make backends forget are enabled ALWAYS, and only they');
-- A key request writes iam's tables only with iam:<table>:write: a BEFORE
-- statement trigger on every table a client may write, TRUNCATE included
-- (tgtype 62 = BEFORE STATEMENT INSERT/UPDATE/DELETE/TRUNCATE).
SELECT set_eq(
    $$SELECT c.relname::text FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
      WHERE c.relnamespace = 'iam'::regnamespace AND NOT t.tgisinternal
        AND t.tgfoid = 'iam.require_key_permission()'::regprocedure
        AND t.tgtype = 62 AND t.tgname = c.relname || '_key_permission'$$,
    ARRAY['roles', 'users', 'user_roles', 'companies', 'company_users', 'user_settings', 'api_keys',
          'referral_codes', 'referrals', 'company_invitations', 'permissions', 'role_permissions',
          'company_roles', 'company_role_permissions', 'company_member_roles', 'external_identities'],
    'Every table an API role may write has the key-permission statement trigger, the permission model''s included');
SELECT set_eq(
    $$SELECT c.relname::text FROM pg_class AS c
      WHERE c.relnamespace = 'iam'::regnamespace AND c.relkind = 'r'
        AND EXISTS (SELECT FROM unnest(ARRAY['INSERT', 'UPDATE', 'DELETE']) AS privilege
                    WHERE has_table_privilege('authenticated', c.oid, privilege)
                       OR EXISTS (SELECT FROM pg_attribute AS a
                                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                                    AND privilege <> 'DELETE'
                                    AND has_column_privilege('authenticated', c.oid, a.attnum, privilege)))$$,
    ARRAY['roles', 'users', 'user_roles', 'companies', 'company_users', 'user_settings', 'api_keys',
          'referral_codes', 'referrals', 'company_invitations', 'permissions', 'role_permissions',
          'company_roles', 'company_role_permissions', 'company_member_roles', 'external_identities'],
    '... which are exactly the tables authenticated may write');

-- The policies of the permission model's tables, each for its command.
SELECT set_eq(
    $$SELECT tablename::text, policyname::text, cmd, roles::text[] FROM pg_policies
      WHERE schemaname = 'iam' AND tablename IN ('permissions', 'role_permissions', 'company_roles',
                                                 'company_role_permissions', 'company_member_roles')$$,
    $$VALUES ('permissions', 'permissions_select', 'SELECT', '{public}'::text[]),
             ('permissions', 'permissions_insert', 'INSERT', '{public}'),
             ('permissions', 'permissions_update', 'UPDATE', '{public}'),
             ('permissions', 'permissions_delete', 'DELETE', '{public}'),
             ('role_permissions', 'role_permissions_select', 'SELECT', '{public}'),
             ('role_permissions', 'role_permissions_insert', 'INSERT', '{public}'),
             ('role_permissions', 'role_permissions_delete', 'DELETE', '{public}'),
             ('company_roles', 'company_roles_select', 'SELECT', '{public}'),
             ('company_roles', 'company_roles_insert', 'INSERT', '{public}'),
             ('company_roles', 'company_roles_update', 'UPDATE', '{public}'),
             ('company_roles', 'company_roles_delete', 'DELETE', '{public}'),
             ('company_role_permissions', 'company_role_permissions_select', 'SELECT', '{public}'),
             ('company_role_permissions', 'company_role_permissions_insert', 'INSERT', '{public}'),
             ('company_role_permissions', 'company_role_permissions_delete', 'DELETE', '{public}'),
             ('company_member_roles', 'company_member_roles_select', 'SELECT', '{public}'),
             ('company_member_roles', 'company_member_roles_insert', 'INSERT', '{public}'),
             ('company_member_roles', 'company_member_roles_delete', 'DELETE', '{public}')$$,
    'The permission model''s tables have exactly these policies: no UPDATE of a grant or a held role, only insert and delete');

-- Privileges per API role on the permission model's tables: table-level
-- ones, and the columns a role may insert or update where it holds only some.
SELECT set_eq(
    $$SELECT c.relname::text, r.rolname::text, privilege
      FROM pg_class AS c, pg_roles AS r,
           unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS privilege
      WHERE c.relnamespace = 'iam'::regnamespace
        AND c.relname IN ('permissions', 'role_permissions', 'company_roles', 'company_role_permissions',
                          'company_member_roles')
        AND r.rolname IN ('anon', 'authenticated', 'service_role')
        AND has_table_privilege(r.oid, c.oid, privilege)$$,
    $$SELECT t, r, p FROM unnest(ARRAY['permissions', 'role_permissions', 'company_roles',
                                       'company_role_permissions', 'company_member_roles']) AS t,
             (VALUES ('authenticated', 'SELECT'), ('authenticated', 'DELETE'),
                     ('service_role', 'SELECT'), ('service_role', 'INSERT'), ('service_role', 'UPDATE'),
                     ('service_role', 'DELETE'), ('service_role', 'REFERENCES'),
                     ('service_role', 'TRIGGER')) AS g (r, p)$$,
    'anon has no privilege on the permission model''s tables; authenticated SELECT and DELETE; service_role all but TRUNCATE');
SELECT set_eq(
    $$SELECT c.relname::text, privilege, a.attname::text
      FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
           unnest(ARRAY['INSERT', 'UPDATE']) AS privilege
      WHERE c.relnamespace = 'iam'::regnamespace
        AND c.relname IN ('permissions', 'role_permissions', 'company_roles', 'company_role_permissions',
                          'company_member_roles')
        AND has_column_privilege('authenticated', c.oid, a.attnum, privilege)$$,
    $$VALUES ('permissions', 'INSERT', 'name'), ('permissions', 'INSERT', 'description'),
             ('permissions', 'UPDATE', 'description'),
             ('role_permissions', 'INSERT', 'role_id'), ('role_permissions', 'INSERT', 'permission'),
             ('company_roles', 'INSERT', 'id'), ('company_roles', 'INSERT', 'company_id'),
             ('company_roles', 'INSERT', 'name'), ('company_roles', 'INSERT', 'description'),
             ('company_roles', 'UPDATE', 'name'), ('company_roles', 'UPDATE', 'description'),
             ('company_role_permissions', 'INSERT', 'company_role_id'),
             ('company_role_permissions', 'INSERT', 'permission'),
             ('company_member_roles', 'INSERT', 'user_id'), ('company_member_roles', 'INSERT', 'company_id'),
             ('company_member_roles', 'INSERT', 'company_role_id')$$,
    'authenticated inserts and updates exactly these columns: never created_at, never a permission name or a company in place');

SELECT * FROM finish();
ROLLBACK;
