-- A revoked JWT is refused by the pre-request function (0.7.0): the edges
-- of reading the claims, and of auth.sessions, that the PostgREST-shaped
-- requests (test/integration/postgrest.sh) do not reach. The caller is
-- authenticated, who may read neither iam.users' ban columns of others nor
-- auth.sessions: the check reads them whatever the caller may select.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/people.sql
UPDATE iam.users SET banned_until = now() + interval '1 day' WHERE id = pg_temp.person('Gus');
UPDATE iam.users SET deleted_at = now() WHERE id = pg_temp.person('Nina');
UPDATE iam.users SET banned_until = now() - interval '1 day' WHERE id = pg_temp.person('Vera');

-- Banned, soft-deleted: refused; a ban that has ended, a user iam.users does
-- not hold, no subject at all: as before.
SELECT pg_temp.as_user('Gus');
SELECT iam.authenticate_request();
SELECT pg_temp.as_user('Nina');
SELECT iam.authenticate_request();
SELECT pg_temp.as_user('Vera');
SELECT iam.authenticate_request();
SELECT iam.current_user_id() = pg_temp.person('Vera') AS vera_is_the_caller;
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000ff", "role": "authenticated"}', false) IS NOT NULL AS stranger;
SELECT iam.authenticate_request();
SELECT iam.current_user_id() AS unknown_subject_is_the_caller;
SELECT pg_temp.as_user(NULL);
SELECT iam.authenticate_request();
RESET ROLE;

-- The subject is read as auth.uid() reads it: escaped key, the last "sub"
-- of two, the legacy setting first.
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"s\u0075b": "a0000000-0000-4000-8000-0000000000d2"}', false) IS NOT NULL AS escaped;
SELECT iam.authenticate_request();
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "sub": "a0000000-0000-4000-8000-0000000000d2"}', false) IS NOT NULL AS twice;
SELECT iam.authenticate_request();
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1"}', false) IS NOT NULL AS alice_in_claims,
       set_config('request.jwt.claim.sub', 'a0000000-0000-4000-8000-0000000000d2', false) IS NOT NULL AS gus_in_legacy;
SELECT iam.authenticate_request();
SELECT set_config('request.jwt.claim.sub', '', false) IS NOT NULL AS legacy_cleared;
SELECT iam.authenticate_request();
-- Inside a PostgREST request, in PostgREST's format: 401, a Bearer challenge.
BEGIN;
SELECT set_config('request.method', 'GET', true) IS NOT NULL AS in_a_request,
       set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000d2"}', true) IS NOT NULL AS gus;
SELECT iam.authenticate_request();
ROLLBACK;
RESET ROLE;

-- Sessions, where auth.sessions exists: a session that is gone is refused,
-- one that is there is not; a session_id that is not a UUID, or a token
-- without one, names no session.
SET client_min_messages = warning;
CREATE SCHEMA auth;
CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL);
RESET client_min_messages;
INSERT INTO auth.sessions VALUES ('5e550000-0000-4000-8000-000000000001', pg_temp.person('Alice'));
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "session_id": "5e550000-0000-4000-8000-000000000001"}', false) IS NOT NULL AS live_session;
SELECT iam.authenticate_request();
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "session_id": "5e550000-0000-4000-8000-000000000002"}', false) IS NOT NULL AS gone_session;
SELECT iam.authenticate_request();
SELECT set_config('request.jwt.claims', '{"session_id": "5e550000-0000-4000-8000-000000000002"}', false) IS NOT NULL AS gone_session_no_subject;
SELECT iam.authenticate_request();
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "session_id": "not a uuid"}', false) IS NOT NULL AS not_a_uuid;
SELECT iam.authenticate_request();
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1"}', false) IS NOT NULL AS no_session_id;
SELECT iam.authenticate_request();
-- The legacy settings: session_id beside the legacy sub.
SELECT set_config('request.jwt.claim.sub', 'a0000000-0000-4000-8000-0000000000a1', false) IS NOT NULL AS legacy_sub,
       set_config('request.jwt.claim.session_id', '5e550000-0000-4000-8000-000000000002', false) IS NOT NULL AS legacy_gone_session;
SELECT iam.authenticate_request();
SELECT set_config('request.jwt.claim.sub', '', false) IS NOT NULL AS legacy_cleared,
       set_config('request.jwt.claim.session_id', '', false) IS NOT NULL AS legacy_session_cleared;
-- Signed out in a transaction that also asks: the statement's snapshot
-- sees it.
RESET ROLE;
BEGIN ISOLATION LEVEL REPEATABLE READ;
DELETE FROM auth.sessions WHERE id = '5e550000-0000-4000-8000-000000000001';
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "session_id": "5e550000-0000-4000-8000-000000000001"}', true) IS NOT NULL AS signed_out;
SELECT iam.authenticate_request();
ROLLBACK;
-- A table auth.sessions that is not GoTrue's (no one-column uuid primary
-- key), or a view of that name: no session is checked.
DROP TABLE auth.sessions;
CREATE TABLE auth.sessions (id text PRIMARY KEY);
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "session_id": "5e550000-0000-4000-8000-000000000002"}', false) IS NOT NULL AS text_key;
SELECT iam.authenticate_request();
RESET ROLE;
DROP TABLE auth.sessions;
CREATE VIEW auth.sessions AS SELECT '5e550000-0000-4000-8000-000000000001'::uuid AS id;
SET ROLE authenticated;
SELECT iam.authenticate_request();
RESET ROLE;
-- Where auth.sessions and its key are is looked up once per backend and
-- forgotten with the catalog's invalidations: in this one backend, the
-- check follows the table as it is made, dropped, renamed and altered.
DROP VIEW auth.sessions;
CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL);
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "session_id": "5e550000-0000-4000-8000-000000000001"}', false) IS NOT NULL AS view_made_a_table;
SELECT iam.authenticate_request();
RESET ROLE;
INSERT INTO auth.sessions VALUES ('5e550000-0000-4000-8000-000000000001', pg_temp.person('Alice'));
SET ROLE authenticated;
SELECT iam.authenticate_request() IS NOT NULL AS signed_in;
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "session_id": "5e550000-0000-4000-8000-000000000002"}', false) IS NOT NULL AS gone_session;
RESET ROLE;
ALTER TABLE auth.sessions DROP CONSTRAINT sessions_pkey;
SET ROLE authenticated;
SELECT iam.authenticate_request() IS NOT NULL AS primary_key_dropped;
RESET ROLE;
ALTER TABLE auth.sessions ADD PRIMARY KEY (id);
SET ROLE authenticated;
SELECT iam.authenticate_request() AS primary_key_added;
RESET ROLE;
ALTER TABLE auth.sessions RENAME TO sessions_before;
SET ROLE authenticated;
SELECT iam.authenticate_request() IS NOT NULL AS renamed_away;
RESET ROLE;
CREATE TABLE auth.sessions (id uuid PRIMARY KEY);
INSERT INTO auth.sessions VALUES ('5e550000-0000-4000-8000-000000000002');
SET ROLE authenticated;
SELECT iam.authenticate_request() IS NOT NULL AS another_table_holds_it;
RESET ROLE;
DROP TABLE auth.sessions;
ALTER TABLE auth.sessions_before RENAME TO sessions;
SET ROLE authenticated;
SELECT iam.authenticate_request() AS dropped_and_renamed_back;
RESET ROLE;
ALTER SCHEMA auth RENAME TO auth_before;
SET ROLE authenticated;
SELECT iam.authenticate_request() IS NOT NULL AS schema_renamed_away;
RESET ROLE;
ALTER SCHEMA auth_before RENAME TO auth;
ALTER TABLE auth.sessions ALTER COLUMN id TYPE text;
SET ROLE authenticated;
SELECT iam.authenticate_request() IS NOT NULL AS key_made_text;
RESET ROLE;
ALTER TABLE auth.sessions ALTER COLUMN id TYPE uuid USING id::uuid;
SET ROLE authenticated;
SELECT iam.authenticate_request() AS key_made_uuid_again;
RESET ROLE;
DROP SCHEMA auth CASCADE;

-- The next file starts from the tests' people again.
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS claims_cleared;
DELETE FROM iam.companies;
DELETE FROM iam.users;
