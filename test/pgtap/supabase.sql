-- supabase.sql: iam_ext on a database shaped like Supabase's. The identity
-- of a request agrees with Supabase's auth.uid() for every claim shape
-- PostgREST and GoTrue produce; enable_auth_sync() keeps iam.users in step
-- with auth.users, written the way GoTrue writes it (as supabase_auth_admin,
-- search_path = auth), and never makes an auth write fail.
--
-- Run with: pg_prove -d DB test/pgtap/supabase.sql (DB has pgtap and iam_ext).

BEGIN;
SELECT plan(50);

SELECT is(iam.enable_auth_sync(), 0, 'Without auth.users, enable_auth_sync() has nothing to sync');

\ir ../fixtures/supabase_roles.sql
\ir ../fixtures/supabase_auth.sql
SELECT FROM iam.apply_grants();

------------------------------------------------------------------------------
-- current_user_id() = auth.uid() for every claim shape
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.identity_of(legacy_sub text, claims text, OUT ours uuid, OUT supabase uuid)
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claim.sub', coalesce(legacy_sub, ''), true);
    PERFORM set_config('request.jwt.claims', coalesce(claims, ''), true);
    ours := iam.current_user_id();
    supabase := auth.uid();
END
$$;

CREATE TEMP TABLE claim_shapes (shape text, legacy_sub text, claims text, expected uuid);
INSERT INTO claim_shapes VALUES
    ('a Supabase user JWT', NULL,
     '{"aud":"authenticated","exp":1893456000,"iat":1700000000,"iss":"https://example.supabase.co/auth/v1",'
     '"sub":"5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50","email":"someone@example.test","phone":"",'
     '"app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{"full_name":"Someone"},'
     '"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp":1700000000}],'
     '"session_id":"0b9a6c8e-2f1d-4e3c-9a8b-7c6d5e4f3a2b","is_anonymous":false}',
     '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50'),
    ('an anonymous sign-in', NULL,
     '{"sub":"6b2d1f8f-2c3e-4d4f-9a5b-1c2d3e4f5061","role":"authenticated","is_anonymous":true}',
     '6b2d1f8f-2c3e-4d4f-9a5b-1c2d3e4f5061'),
    ('the anon key (no sub)', NULL, '{"iss":"supabase","ref":"example","role":"anon","iat":1700000000}', NULL),
    ('the service_role key (no sub)', NULL, '{"iss":"supabase","role":"service_role"}', NULL),
    ('no claims: the empty string PostgREST leaves behind', NULL, '', NULL),
    ('an empty JSON object', NULL, '{}', NULL),
    ('sub is JSON null', NULL, '{"sub":null}', NULL),
    ('sub in upper case', NULL, '{"sub":"5A1C0E7E-1B2D-4C3E-8F4A-0B1C2D3E4F50"}', '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50'),
    ('sub without hyphens', NULL, '{"sub":"5a1c0e7e1b2d4c3e8f4a0b1c2d3e4f50"}', '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50'),
    ('sub in braces', NULL, '{"sub":"{5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50}"}', '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50'),
    ('sub written with JSON escapes', NULL, '{"sub":"\u0035a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50"}',
     '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50'),
    ('sub twice: the last one counts, as in jsonb', NULL,
     '{"sub":"6b2d1f8f-2c3e-4d4f-9a5b-1c2d3e4f5061","sub":"5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50"}',
     '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50'),
    ('sub only inside a nested object', NULL, '{"user":{"sub":"5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50"}}', NULL),
    ('whitespace around the JSON', NULL, E' \n{ "sub" : "5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50" }\t',
     '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50'),
    ('the legacy per-claim setting alone', '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50', '',
     '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50'),
    ('the legacy setting wins over the JSON', '6b2d1f8f-2c3e-4d4f-9a5b-1c2d3e4f5061',
     '{"sub":"5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50"}', '6b2d1f8f-2c3e-4d4f-9a5b-1c2d3e4f5061'),
    ('an empty legacy setting counts as none', '', '{"sub":"5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50"}',
     '5a1c0e7e-1b2d-4c3e-8f4a-0b1c2d3e4f50');

SELECT is(ARRAY[i.ours, i.supabase], ARRAY[s.expected, s.expected],
          'current_user_id() and auth.uid() agree: ' || s.shape)
FROM claim_shapes AS s, pg_temp.identity_of(s.legacy_sub, s.claims) AS i
ORDER BY s.shape;

-- Where auth.uid() raises an error, a policy calling current_user_id()
-- must not: the row is simply not the caller's.
SELECT FROM set_config('request.jwt.claims', '{"sub":"not-a-uuid"}', true);
SELECT throws_ok('SELECT auth.uid()', '22P02', NULL, 'auth.uid() fails on a sub that is not a UUID');
SELECT is(iam.current_user_id(), NULL, '... where current_user_id() is NULL');
SELECT FROM set_config('request.jwt.claims', '', true);

------------------------------------------------------------------------------
-- enable_auth_sync(): backfill
------------------------------------------------------------------------------
-- A row made before the sync holds an email that a Supabase user signs up
-- with; auth already has a user with an email, one with a phone only and an
-- anonymous one.
INSERT INTO iam.users (id, email, full_name) VALUES
    ('e0000000-0000-4000-8000-000000000001', 'carol@acme.test', 'Carol, entered by hand');
INSERT INTO auth.users (id, aud, role, email, phone, raw_user_meta_data, raw_app_meta_data, is_anonymous, created_at) VALUES
    ('a0000000-0000-4000-8000-0000000000e1', 'authenticated', 'authenticated', 'pam@platform.test', NULL,
     '{"full_name":"Pam"}', '{"provider":"email"}', false, '2026-01-01'),
    ('a0000000-0000-4000-8000-000000000002', 'authenticated', 'authenticated', NULL, '15550001',
     '{}', '{"provider":"phone"}', false, '2026-01-02'),
    ('a0000000-0000-4000-8000-000000000003', 'authenticated', 'authenticated', NULL, NULL,
     NULL, NULL, true, '2026-01-03'),
    ('a0000000-0000-4000-8000-0000000000a3', 'authenticated', 'authenticated', 'carol@acme.test', NULL,
     '{"name":"Carol"}', '{"provider":"github"}', false, '2026-01-04');

SELECT is(iam.enable_auth_sync(), 4, 'enable_auth_sync() backfills the four auth users');
SELECT results_eq(
    $$SELECT id::text, email::text, full_name::text, raw_app_meta_data ->> 'provider' FROM iam.users ORDER BY id$$,
    $$VALUES ('a0000000-0000-4000-8000-000000000002', NULL, NULL, 'phone'),
             ('a0000000-0000-4000-8000-000000000003', NULL, NULL, NULL),
             ('a0000000-0000-4000-8000-0000000000a3', 'carol@acme.test', 'Carol', 'github'),
             ('a0000000-0000-4000-8000-0000000000e1', 'pam@platform.test', 'Pam', 'email'),
             ('e0000000-0000-4000-8000-000000000001', NULL, 'Carol, entered by hand', NULL)$$,
    'iam.users copies id, email, name and metadata; the Supabase user takes her email from the hand-made row');
SELECT is((SELECT count(*) FROM iam.user_settings WHERE user_id::text LIKE 'a0000000%'), 4::bigint,
          'Every synced user has user_settings');
SELECT is((SELECT raw_user_meta_data FROM iam.users WHERE id = 'a0000000-0000-4000-8000-000000000003'), NULL,
          'A NULL metadata column stays NULL, not JSON null');

CREATE TEMP TABLE versions_before AS SELECT id, xmin::text AS version FROM iam.users;
SELECT is(iam.enable_auth_sync(), 0, 'A second enable_auth_sync() syncs nobody new');
SELECT is_empty(
    $$SELECT u.id FROM iam.users AS u JOIN versions_before AS b USING (id) WHERE u.xmin::text <> b.version$$,
    '... and rewrites no row');
SELECT set_eq(
    $$SELECT tgname::text FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal$$,
    ARRAY['iam_sync_users_insert', 'iam_sync_users_update', 'iam_sync_users_delete'],
    'Three triggers on auth.users, once each');

------------------------------------------------------------------------------
-- Writes as GoTrue makes them
------------------------------------------------------------------------------
-- Pam has a role, a company, an API key and a referral code that Gus used.
INSERT INTO iam.companies (id, name) VALUES ('c0000000-0000-4000-8000-00000000000a', 'Acme');
INSERT INTO iam.company_users (user_id, company_id)
VALUES ('a0000000-0000-4000-8000-0000000000e1', 'c0000000-0000-4000-8000-00000000000a');
SELECT FROM iam.grant_role('a0000000-0000-4000-8000-0000000000e1', 'platform_admin');
SELECT FROM iam.create_api_key('pam', 'a0000000-0000-4000-8000-0000000000e1');
SELECT FROM iam.create_referral_code('a0000000-0000-4000-8000-0000000000e1', 'PAM-INVITES');

SET LOCAL ROLE supabase_auth_admin;
SET LOCAL search_path = auth;
-- Signup: the row is inserted with role '' and confirmed by an update.
INSERT INTO users (instance_id, id, aud, role, email, encrypted_password, raw_app_meta_data,
                   raw_user_meta_data, created_at, updated_at, confirmation_token)
VALUES ('00000000-0000-0000-0000-000000000000', 'a0000000-0000-4000-8000-0000000000d2', '', '',
        'gus@example.test', '$2a$10$hash', '{"provider":"email","providers":["email"]}',
        '{"full_name":"Gus"}', now(), now(), 'token');
UPDATE users SET role = 'authenticated', aud = 'authenticated', email_confirmed_at = now()
WHERE id = 'a0000000-0000-4000-8000-0000000000d2';
RESET ROLE;
RESET search_path;

SELECT results_eq(
    $$SELECT email::text, full_name::text FROM iam.users WHERE id = 'a0000000-0000-4000-8000-0000000000d2'$$,
    $$VALUES ('gus@example.test', 'Gus')$$,
    'A signup as supabase_auth_admin (search_path auth) creates the iam.users row');
SELECT ok(EXISTS (SELECT FROM iam.user_settings WHERE user_id = 'a0000000-0000-4000-8000-0000000000d2'),
          '... and the user''s settings');
SELECT FROM iam.redeem_referral_code('PAM-INVITES', 'a0000000-0000-4000-8000-0000000000d2');

CREATE TEMP TABLE gus_before AS
SELECT xmin::text AS version FROM iam.users WHERE id = 'a0000000-0000-4000-8000-0000000000d2';
SET LOCAL ROLE supabase_auth_admin;
SET LOCAL search_path = auth;
UPDATE users SET last_sign_in_at = now() WHERE id = 'a0000000-0000-4000-8000-0000000000d2';
RESET ROLE;
RESET search_path;
SELECT is((SELECT xmin::text FROM iam.users WHERE id = 'a0000000-0000-4000-8000-0000000000d2'),
          (SELECT version FROM gus_before), 'A sign-in (last_sign_in_at) does not touch iam.users');

SET LOCAL ROLE supabase_auth_admin;
SET LOCAL search_path = auth;
UPDATE users SET email = 'augustus@example.test', raw_user_meta_data = '{"full_name":"Augustus"}'
WHERE id = 'a0000000-0000-4000-8000-0000000000d2';
RESET ROLE;
RESET search_path;
SELECT results_eq(
    $$SELECT email::text, full_name::text, raw_user_meta_data FROM iam.users
      WHERE id = 'a0000000-0000-4000-8000-0000000000d2'$$,
    $$VALUES ('augustus@example.test', 'Augustus', '{"full_name":"Augustus"}'::jsonb)$$,
    'An email change and a metadata change reach iam.users');

-- An SSO user with Pam's email: auth allows it (its email index leaves SSO
-- users out), iam.users cannot; the SSO user is synced without an email.
SET LOCAL ROLE supabase_auth_admin;
SET LOCAL search_path = auth;
INSERT INTO users (id, aud, role, email, is_sso_user, raw_user_meta_data)
VALUES ('b0000000-0000-4000-8000-000000000002', 'authenticated', 'authenticated', 'pam@platform.test', true,
        '{"full_name":"Pam (SSO)"}');
RESET ROLE;
RESET search_path;
SELECT results_eq(
    $$SELECT id::text, email::text FROM iam.users WHERE id IN
        ('a0000000-0000-4000-8000-0000000000e1', 'b0000000-0000-4000-8000-000000000002') ORDER BY id$$,
    $$VALUES ('a0000000-0000-4000-8000-0000000000e1', 'pam@platform.test'),
             ('b0000000-0000-4000-8000-000000000002', NULL)$$,
    'An SSO user whose email another user holds is synced without one; the holder keeps it');

-- Deleting Pam in auth deletes her everywhere in iam, even the referral her
-- code made, and the auth delete goes through.
SET LOCAL ROLE supabase_auth_admin;
SET LOCAL search_path = auth;
DELETE FROM users WHERE id = 'a0000000-0000-4000-8000-0000000000e1';
RESET ROLE;
RESET search_path;
SELECT is((SELECT count(*) FROM auth.users WHERE id = 'a0000000-0000-4000-8000-0000000000e1'), 0::bigint,
          'Deleting a user in auth succeeds');
SELECT is(
    (SELECT ARRAY[(SELECT count(*) FROM iam.users WHERE id = 'a0000000-0000-4000-8000-0000000000e1'),
                  (SELECT count(*) FROM iam.user_roles WHERE user_id = 'a0000000-0000-4000-8000-0000000000e1'),
                  (SELECT count(*) FROM iam.company_users WHERE user_id = 'a0000000-0000-4000-8000-0000000000e1'),
                  (SELECT count(*) FROM iam.api_keys WHERE user_id = 'a0000000-0000-4000-8000-0000000000e1'),
                  (SELECT count(*) FROM iam.referral_codes WHERE user_id = 'a0000000-0000-4000-8000-0000000000e1'),
                  (SELECT count(*) FROM iam.referrals WHERE referrer_user_id = 'a0000000-0000-4000-8000-0000000000e1'),
                  (SELECT count(*) FROM iam.user_settings WHERE user_id = 'a0000000-0000-4000-8000-0000000000e1')]),
    ARRAY[0, 0, 0, 0, 0, 0, 0]::bigint[],
    '... and removes the user, roles, memberships, keys, referral code, referrals and settings from iam');
SELECT ok(EXISTS (SELECT FROM iam.users WHERE id = 'a0000000-0000-4000-8000-0000000000d2'),
          '... but not the users she referred');

-- The email Pam held is free again: the next enable_auth_sync() gives it to
-- the SSO user.
SELECT is(iam.enable_auth_sync(), 0, 'A later enable_auth_sync() adds nobody');
SELECT is((SELECT email::text FROM iam.users WHERE id = 'b0000000-0000-4000-8000-000000000002'),
          'pam@platform.test', '... and gives the SSO user the email that is free now');

-- A sync that cannot be applied is a warning: the auth write still happens,
-- and the next enable_auth_sync() heals it.
ALTER TABLE iam.users ADD CONSTRAINT refuse_mallory CHECK (full_name IS DISTINCT FROM 'Mallory');
SET LOCAL ROLE supabase_auth_admin;
SET LOCAL search_path = auth;
INSERT INTO users (id, aud, role, email, raw_user_meta_data)
VALUES ('b0000000-0000-4000-8000-000000000003', 'authenticated', 'authenticated', 'mallory@example.test',
        '{"full_name":"Mallory"}');
RESET ROLE;
RESET search_path;
SELECT ok(EXISTS (SELECT FROM auth.users WHERE id = 'b0000000-0000-4000-8000-000000000003'),
          'A signup whose sync fails still signs the user up');
SELECT ok(NOT EXISTS (SELECT FROM iam.users WHERE id = 'b0000000-0000-4000-8000-000000000003'),
          '... without an iam.users row for now');
ALTER TABLE iam.users DROP CONSTRAINT refuse_mallory;
SELECT is(iam.enable_auth_sync(), 1, 'enable_auth_sync() then syncs the user it missed');

------------------------------------------------------------------------------
-- Who may run it
------------------------------------------------------------------------------
SET LOCAL ROLE anon;
SELECT throws_ok('SELECT iam.enable_auth_sync()', '42501', NULL, 'anon cannot run enable_auth_sync()');
SELECT throws_ok($$SELECT iam.sync_user_from_auth('{"id":"b0000000-0000-4000-8000-0000000000ff"}')$$, '42501', NULL,
                 'anon cannot call the sync function');
RESET ROLE;
SET LOCAL ROLE authenticated;
SELECT throws_ok('SELECT iam.enable_auth_sync()', '42501', NULL, 'authenticated cannot run enable_auth_sync()');
SELECT throws_ok('SELECT iam.disable_auth_sync()', '42501', NULL, 'authenticated cannot run disable_auth_sync()');
SELECT throws_ok($$SELECT iam.sync_user_from_auth('{"id":"b0000000-0000-4000-8000-0000000000ff"}')$$, '42501', NULL,
                 'authenticated cannot call the sync function');
RESET ROLE;
SET LOCAL ROLE service_role;
SELECT throws_ok('SELECT iam.enable_auth_sync()', '42501', NULL, 'service_role cannot run enable_auth_sync()');
RESET ROLE;

------------------------------------------------------------------------------
-- disable_auth_sync()
------------------------------------------------------------------------------
SELECT lives_ok('SELECT iam.disable_auth_sync()', 'disable_auth_sync() removes the triggers');
SELECT is_empty(
    $$SELECT tgname FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal$$,
    '... all three');
SELECT lives_ok('SELECT iam.disable_auth_sync()', '... and may be called again');
INSERT INTO auth.users (id, email) VALUES ('b0000000-0000-4000-8000-000000000004', 'late@example.test');
SELECT ok(NOT EXISTS (SELECT FROM iam.users WHERE id = 'b0000000-0000-4000-8000-000000000004'),
          'Without the triggers, a new auth user is not synced');

SELECT * FROM finish();
ROLLBACK;
