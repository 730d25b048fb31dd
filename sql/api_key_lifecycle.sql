-- An API key's life cycle as its owner sees it (0.7.0): the keys that expire
-- soon and the keys nobody uses, under RLS; and the leaked-key kill switch,
-- which anyone holding a key may pull, anon included.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
END
$$;
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/people.sql
SELECT coalesce(max(id), 0) AS audit_start FROM iam.audit_log \gset

CREATE FUNCTION pg_temp.as_user(name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('role', 'none', false);
    PERFORM set_config('request.jwt.claims',
                       CASE WHEN name IS NULL THEN '' ELSE json_build_object('sub', pg_temp.person(name))::text END, false);
    PERFORM set_config('role', CASE WHEN name IS NULL THEN 'anon' ELSE 'authenticated' END, false);
    RETURN coalesce(name, 'anon');
END
$$;

-- Alice's keys: one expiring in 2 days, one in 60, one made 100 days ago
-- and never used, one used an hour ago; Vera's, expiring tomorrow.
SELECT pg_temp.as_user('Alice');
SELECT api_key AS soon_key, id AS soon_id FROM iam.create_api_key('soon', expires_at => now() + interval '2 days') \gset
SELECT id AS later_id FROM iam.create_api_key('later', expires_at => now() + interval '60 days') \gset
SELECT id AS idle_id FROM iam.create_api_key('idle') \gset
SELECT id AS busy_id FROM iam.create_api_key('busy') \gset
SELECT pg_temp.as_user('Vera');
SELECT id AS vera_id FROM iam.create_api_key('vera''s', expires_at => now() + interval '1 day') \gset
RESET ROLE;
UPDATE iam.api_keys SET created_at = now() - interval '100 days' WHERE name IN ('idle', 'busy', 'later');
UPDATE iam.api_keys SET last_used_at = now() - interval '1 hour' WHERE name = 'busy';

-- Each owner sees their own.
SELECT pg_temp.as_user('Alice');
SELECT name FROM iam.expiring_api_keys();
SELECT name FROM iam.expiring_api_keys(interval '90 days');
SELECT name, last_used_at IS NULL AS never_used FROM iam.unused_api_keys();
SELECT name FROM iam.unused_api_keys(interval '1 minute');
SELECT count(*) AS none_for_null FROM iam.expiring_api_keys(NULL);
SELECT count(*) AS within_the_largest_interval FROM iam.expiring_api_keys(interval '178000000 years');
SELECT pg_temp.as_user('Vera');
SELECT name FROM iam.expiring_api_keys();
SELECT count(*) FILTER (WHERE user_id = pg_temp.person('Alice')) AS alices_seen_by_vera FROM iam.unused_api_keys(interval '0');

-- A leaked key: anyone holding it revokes it at once, anon included.
SELECT pg_temp.as_user(NULL);
SELECT iam.report_leaked_api_key(:'soon_key') AS reported;
SELECT count(*) AS still_verifies FROM iam.verify_api_key(:'soon_key');
-- Reported again, or a key of the format that does not exist: the same answer.
SELECT iam.report_leaked_api_key(:'soon_key') AS reported_again,
       iam.report_leaked_api_key('iam_' || repeat('A', 8) || '_' || repeat('b', 38)) AS unknown_key;
-- What is not a key of the format is refused, and changes nothing.
SELECT iam.report_leaked_api_key(NULL);
SELECT iam.report_leaked_api_key('');
SELECT iam.report_leaked_api_key(repeat('x', 1000000));
SELECT iam.report_leaked_api_key(left(:'soon_key', 50));
RESET ROLE;
SELECT name, is_active FROM iam.api_keys WHERE user_id IN (pg_temp.person('Alice'), pg_temp.person('Vera')) ORDER BY name;
-- The audit log names the reporter's role.
SELECT a.action, a.actor_role, a.actor_user_id IS NULL AS no_user, k.name
FROM iam.audit_log AS a JOIN iam.api_keys AS k ON k.id = (a.new_row ->> 'id')::uuid
WHERE a.id > :audit_start AND a.action = 'api_key_revoked';

-- The next file starts from the tests' people again.
DELETE FROM iam.companies;
DELETE FROM iam.users;
