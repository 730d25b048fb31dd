-- Who is really in the session decides who is the operator and what is a
-- restore, never the role a function runs as; and the two functions that
-- act on rows their caller cannot see (accepting an invitation, reporting
-- a leaked key) run as the caller, admitted by the secret presented.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT coalesce(max(id), 0) AS audit_start FROM iam.audit_log \gset
\i test/fixtures/people.sql

CREATE FUNCTION pg_temp.as_key(api_key text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', '', true);
    PERFORM set_config('request.headers', json_build_object('x-api-key', api_key)::text, true);
    PERFORM set_config('role', 'anon', true);
    PERFORM iam.authenticate_request();
    RETURN 'key of ' || coalesce((SELECT name FROM people WHERE id = iam.current_user_id()), 'nobody');
END
$$;
CREATE FUNCTION pg_temp.audit_mark() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(max(id), 0) FROM iam.audit_log
$$;

-- Nina (in no company) holds a key scoped to ["courses:read"], and Carol
-- invites her into Acme.
SELECT pg_temp.as_user('Nina');
SELECT api_key AS narrow, id AS narrow_id FROM iam.create_api_key('narrow', permissions => '["courses:read"]') \gset
SELECT pg_temp.as_user('Carol');
SELECT invitation_id AS nina_invitation, token AS nina_token
FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', user_id => pg_temp.person('Nina')) \gset
RESET ROLE;

------------------------------------------------------------------------------
-- 1. A narrow key accepts no invitation for its owner: not through the
-- function, not by presenting the token and writing the rows itself; as it
-- may not change its owner's theme.
------------------------------------------------------------------------------
BEGIN;
SELECT pg_temp.as_key(:'narrow');
UPDATE iam.user_settings SET theme = 'dark' WHERE user_id = iam.current_user_id();
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'narrow');
SELECT iam.accept_company_invitation(:'nina_token');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'narrow');
SELECT iam.present_invitation_token(:'nina_token');
UPDATE iam.company_invitations SET accepted_at = now(), accepted_by = iam.current_user_id()
WHERE id = iam.presented_invitation_id();
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'narrow');
SELECT iam.present_invitation_token(:'nina_token');
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
VALUES (iam.current_user_id(), 'c0000000-0000-4000-8000-00000000000a', 'member');
ROLLBACK;
-- Nor through a SECURITY DEFINER function of the application's, owned by a
-- superuser: a write on the caller's behalf is held to the caller's key.
CREATE FUNCTION public.app_set_theme(theme text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE iam.user_settings SET theme = app_set_theme.theme WHERE user_id = iam.current_user_id()
$$;
GRANT EXECUTE ON FUNCTION public.app_set_theme(text) TO anon, authenticated;
BEGIN;
SELECT pg_temp.as_key(:'narrow');
SELECT public.app_set_theme('dark');
ROLLBACK;
SELECT theme FROM iam.user_settings WHERE user_id = pg_temp.person('Nina');
SELECT iam.is_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Nina')) AS nina_in_acme;

------------------------------------------------------------------------------
-- 2. The token admits its invitee alone, to that invitation alone, and only
-- in the transaction that presented it.
------------------------------------------------------------------------------
SELECT pg_temp.as_user('Gus');
BEGIN;
SELECT iam.present_invitation_token(:'nina_token');
SELECT count(*) AS gus_sees FROM iam.company_invitations;
WITH accepted AS (UPDATE iam.company_invitations SET accepted_at = now(), accepted_by = iam.current_user_id()
                  RETURNING 1)
SELECT count(*) AS gus_accepted FROM accepted;
ROLLBACK;
SELECT pg_temp.as_user('Nina');
BEGIN;
SELECT iam.present_invitation_token(:'nina_token');
SELECT count(*) AS nina_sees, count(*) FILTER (WHERE id = :'nina_invitation') AS hers FROM iam.company_invitations;
SELECT name FROM iam.companies;
-- Accepting is spending: no membership without accepting first, in this
-- transaction.
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
VALUES (iam.current_user_id(), 'c0000000-0000-4000-8000-00000000000a', 'member');
ROLLBACK;
BEGIN;
SELECT iam.present_invitation_token(:'nina_token');
UPDATE iam.company_invitations SET accepted_at = now(), accepted_by = iam.current_user_id()
WHERE id = iam.presented_invitation_id();
-- The invitation's role, not another.
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
VALUES (iam.current_user_id(), 'c0000000-0000-4000-8000-00000000000a', 'admin');
ROLLBACK;
BEGIN;
SAVEPOINT presented;
SELECT iam.present_invitation_token(:'nina_token');
ROLLBACK TO SAVEPOINT presented;
SELECT iam.presented_invitation_id() IS NULL AS gone_with_the_savepoint;
SELECT iam.present_invitation_token(:'nina_token');
COMMIT;
SELECT iam.presented_invitation_id() IS NULL AS gone_with_the_transaction;
-- An admin who does not hold the token records no acceptance.
SELECT pg_temp.as_user('Carol');
UPDATE iam.company_invitations SET revoked_at = now(), accepted_by = pg_temp.person('Carol'), accepted_at = now()
WHERE id = :'nina_invitation';

------------------------------------------------------------------------------
-- 3. With row_security off, which any client may set, the functions refuse
-- the API roles (RLS applies to them, and PostgreSQL will not skip it
-- silently); the service role's changes are still audited.
------------------------------------------------------------------------------
RESET ROLE;
SELECT pg_temp.audit_mark() AS audit_before \gset
SELECT pg_temp.as_user('Nina');
SET row_security = off;
SELECT iam.accept_company_invitation(:'nina_token');
RESET row_security;
SELECT pg_temp.as_user(NULL);
SET row_security = off;
SELECT iam.report_leaked_api_key(:'narrow');
RESET row_security;
RESET ROLE;
SELECT (SELECT count(*) FROM iam.audit_log WHERE id > :audit_before) AS audit_rows_added,
       (SELECT count(*) FROM iam.verify_api_key(:'narrow')) AS narrow_verifies;
SET ROLE service_role;
SET row_security = off;
SELECT iam.report_leaked_api_key(:'narrow') AS reported;
RESET row_security;
RESET ROLE;
SELECT (SELECT count(*) FROM iam.verify_api_key(:'narrow')) AS narrow_verifies;
SELECT action, actor_role FROM iam.audit_log WHERE id > :audit_before ORDER BY id;

-- The invitee accepts, as herself: audited, as before.
SELECT pg_temp.as_user('Nina');
SELECT iam.accept_company_invitation(:'nina_token') = 'c0000000-0000-4000-8000-00000000000a' AS joined_acme;
RESET ROLE;

------------------------------------------------------------------------------
-- 4. The restore shortcut is the operator's alone: a SECURITY DEFINER
-- function owned by a superuser, with row_security off, grants a role for a
-- platform admin; it is audited (only the operator in the session restores).
------------------------------------------------------------------------------
CREATE FUNCTION public.app_grant(user_id uuid, role_name text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET row_security = off AS $$
    INSERT INTO iam.user_roles (user_id, role_id)
    SELECT app_grant.user_id, r.id FROM iam.roles AS r WHERE r.name = app_grant.role_name
$$;
GRANT EXECUTE ON FUNCTION public.app_grant(uuid, text) TO authenticated;
SELECT pg_temp.audit_mark() AS audit_before \gset
SELECT pg_temp.as_user('Pam');
SELECT public.app_grant(pg_temp.person('Gus'), 'consultant');
RESET ROLE;
SELECT action, actor_role, target_user_id = pg_temp.person('Gus') AS gus
FROM iam.audit_log WHERE id > :audit_before ORDER BY id;
-- The operator restoring, with row_security off: not audited.
SELECT pg_temp.audit_mark() AS audit_before \gset
SET row_security = off;
SELECT public.app_grant(pg_temp.person('Nina'), 'consultant');
RESET row_security;
SELECT count(*) AS audit_rows_added FROM iam.audit_log WHERE id > :audit_before;
-- The checks written with iam.is_service_caller() hold the same way: a
-- company admin does not suspend her company through a function that runs
-- as a superuser.
CREATE FUNCTION public.app_suspend(company_id uuid) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE iam.companies SET current_iam_status = 'suspended_by_admin' WHERE id = app_suspend.company_id
    RETURNING iam.is_service_caller()
$$;
GRANT EXECUTE ON FUNCTION public.app_suspend(uuid) TO authenticated;
SELECT pg_temp.as_user('Carol');
SELECT public.app_suspend('c0000000-0000-4000-8000-00000000000a');
RESET ROLE;
SELECT current_iam_status FROM iam.companies WHERE id = 'c0000000-0000-4000-8000-00000000000a';
-- Nor does she escape an invitation's bounds through one: the guard's
-- exemption is the operator's in the session, not whoever the function
-- runs as.
CREATE FUNCTION public.app_invite(company_id uuid, email text, expires_at timestamptz) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO iam.company_invitations (company_id, invited_email, token_hash, expires_at)
    VALUES (app_invite.company_id, app_invite.email, repeat('c', 64), app_invite.expires_at)
$$;
GRANT EXECUTE ON FUNCTION public.app_invite(uuid, text, timestamptz) TO authenticated;
SELECT pg_temp.as_user('Carol');
SELECT public.app_invite('c0000000-0000-4000-8000-00000000000a', 'forever@example.test', 'infinity');
RESET ROLE;
SELECT count(*) AS forever_invitations FROM iam.company_invitations WHERE invited_email = 'forever@example.test';
-- The operator in the session stands above them.
SELECT public.app_invite('c0000000-0000-4000-8000-00000000000a', 'forever@example.test', 'infinity');
SELECT count(*) AS forever_invitations FROM iam.company_invitations WHERE invited_email = 'forever@example.test';
DELETE FROM iam.company_invitations WHERE invited_email = 'forever@example.test';
DROP FUNCTION public.app_invite(uuid, text, timestamptz);
DROP FUNCTION public.app_suspend(uuid);
DROP FUNCTION public.app_grant(uuid, text);
DROP FUNCTION public.app_set_theme(text);

------------------------------------------------------------------------------
-- 5. The kill switch revokes the key presented, and no other: an owner
-- reporting one of her keys keeps the rest.
------------------------------------------------------------------------------
SELECT pg_temp.as_user('Alice');
SELECT api_key AS first_key FROM iam.create_api_key('first') \gset
SELECT api_key AS second_key FROM iam.create_api_key('second') \gset
SELECT iam.report_leaked_api_key(:'first_key') AS reported;
SELECT name, is_active FROM iam.api_keys WHERE user_id = iam.current_user_id() ORDER BY name;
-- Once a key is presented, the transaction updates no other.
BEGIN;
SELECT iam.present_api_key(:'second_key');
WITH renamed AS (UPDATE iam.api_keys SET name = 'renamed' WHERE name = 'first' RETURNING 1)
SELECT count(*) AS renamed FROM renamed;
ROLLBACK;
-- Whoever holds a stranger's key revokes it and changes nothing else of it.
SELECT pg_temp.as_user('Vera');
BEGIN;
SELECT iam.present_api_key(:'second_key');
UPDATE iam.api_keys SET is_active = false, name = 'renamed by Vera', permissions = '["x:read"]';
ROLLBACK;
BEGIN;
SELECT iam.present_api_key(:'second_key');
UPDATE iam.api_keys SET is_active = false;
COMMIT;
SELECT pg_temp.as_user('Alice');
SELECT name, is_active FROM iam.api_keys WHERE user_id = iam.current_user_id() ORDER BY name;
-- A wrong secret presents nothing.
SELECT iam.present_api_key(left(:'second_key', 50) || 'zz');
SELECT iam.presented_api_key_id() IS NULL AS nothing_presented;

------------------------------------------------------------------------------
-- 6. What a company's admins read of their members: the view runs as the
-- caller; its fields come from member_profiles, whose policy admits the
-- admin's active members; iam.users shows the admin nobody else's row.
------------------------------------------------------------------------------
SELECT pg_temp.as_user('Carol');
SELECT email, full_name FROM iam.company_members
WHERE company_id = 'c0000000-0000-4000-8000-00000000000a' ORDER BY email;
SELECT count(*) AS others_in_users FROM iam.users WHERE id <> iam.current_user_id();
SELECT email FROM iam.member_profiles ORDER BY email;
SELECT pg_temp.as_user('Olga');
SELECT count(*) AS acme_members FROM iam.company_members WHERE company_id = 'c0000000-0000-4000-8000-00000000000a';
-- A renamed user's copy follows.
SELECT pg_temp.as_user('Nina');
UPDATE iam.users SET full_name = 'Nina N.' WHERE id = iam.current_user_id();
SELECT pg_temp.as_user('Carol');
SELECT full_name FROM iam.company_members WHERE user_id = pg_temp.person('Nina');
RESET ROLE;
SELECT c.relname, c.reloptions FROM pg_class AS c
WHERE c.relnamespace = 'iam'::regnamespace AND c.relkind = 'v' ORDER BY 1;

-- The next file starts from the tests' people again.
DELETE FROM iam.companies;
DELETE FROM iam.users;
