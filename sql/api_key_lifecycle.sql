-- An API key's life cycle as its owner sees it (0.7.0): the keys that expire
-- soon and the keys nobody uses, under RLS; rotation with an overlap; and
-- the leaked-key kill switch, which anyone holding a key may pull, anon
-- included.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/people.sql
SELECT coalesce(max(id), 0) AS audit_start FROM iam.audit_log \gset

-- Alice's keys: one expiring in 2 days, one in 60 (made 100 days ago), one
-- made 120 days ago and never used, one used an hour ago; Vera's, expiring
-- tomorrow.
SELECT pg_temp.as_user('Alice');
SELECT api_key AS soon_key, id AS soon_id FROM iam.create_api_key('soon', expires_at => now() + interval '2 days') \gset
SELECT id AS later_id FROM iam.create_api_key('later', expires_at => now() + interval '60 days') \gset
SELECT id AS idle_id FROM iam.create_api_key('idle') \gset
SELECT id AS busy_id FROM iam.create_api_key('busy') \gset
SELECT pg_temp.as_user('Vera');
SELECT id AS vera_id FROM iam.create_api_key('vera''s', expires_at => now() + interval '1 day') \gset
RESET ROLE;
UPDATE iam.api_keys SET created_at = now() - interval '100 days' WHERE name IN ('busy', 'later');
UPDATE iam.api_keys SET created_at = now() - interval '120 days' WHERE name = 'idle';
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

-- Rotation with a grace: a new key with the same name, owner, permissions
-- and expiry replaces the old one, which verifies until the grace ends.
SELECT pg_temp.as_user('Alice');
SELECT api_key AS old_key, id AS old_id FROM iam.create_api_key('ci', permissions => '["courses:read"]',
    expires_at => now() + interval '10 days') \gset
SELECT api_key AS new_key, id AS new_id FROM iam.rotate_api_key(:'old_id', interval '1 hour') \gset
SELECT n.name, n.permissions, n.expires_at - now() BETWEEN interval '9 days 23 hours' AND interval '10 days' AS same_expiry,
       n.replaces_key_id = :'old_id' AS replaces_old,
       o.expires_at - now() BETWEEN interval '59 minutes' AND interval '1 hour' AS old_ends_in_an_hour
FROM iam.api_keys AS n, iam.api_keys AS o WHERE n.id = :'new_id' AND o.id = :'old_id';
SELECT (SELECT count(*) FROM iam.verify_api_key(:'old_key')) AS old_verifies,
       (SELECT count(*) FROM iam.verify_api_key(:'new_key')) AS new_verifies;
-- The grace never outlasts the old key: one that expires in 10 minutes,
-- rotated with a day's grace, still ends in 10 minutes.
SELECT id AS short_id FROM iam.create_api_key('short', expires_at => now() + interval '10 minutes') \gset
SELECT id AS short_new_id FROM iam.rotate_api_key(:'short_id', interval '1 day') \gset
SELECT o.expires_at - now() <= interval '10 minutes' AS old_keeps_its_expiry,
       n.expires_at = o.expires_at AS new_has_the_same
FROM iam.api_keys AS o, iam.api_keys AS n WHERE o.id = :'short_id' AND n.id = :'short_new_id';
-- Revoking either during the overlap revokes that one only.
SELECT iam.revoke_api_key(:'old_id') AS old_revoked;
SELECT (SELECT count(*) FROM iam.verify_api_key(:'old_key')) AS old_verifies,
       (SELECT count(*) FROM iam.verify_api_key(:'new_key')) AS new_verifies;
-- After the grace the old key stops.
SELECT api_key AS second_old_key, id AS second_old_id FROM iam.create_api_key('second') \gset
SELECT api_key AS second_new_key FROM iam.rotate_api_key(:'second_old_id', interval '1 minute') \gset
RESET ROLE;
UPDATE iam.api_keys SET expires_at = now() - interval '1 s' WHERE id = :'second_old_id';
SELECT (SELECT count(*) FROM iam.verify_api_key(:'second_old_key')) AS old_verifies_after_the_grace,
       (SELECT count(*) FROM iam.verify_api_key(:'second_new_key')) AS new_verifies;
-- Without a grace, as before: the same key, a new secret.
SELECT pg_temp.as_user('Alice');
SELECT id = :'new_id' AS same_id, api_key <> :'new_key' AS new_secret FROM iam.rotate_api_key(:'new_id');
SELECT (SELECT count(*) FROM iam.verify_api_key(:'new_key')) AS old_secret_verifies;
-- Bad graces; someone else's key; a forged link to another owner's key.
SELECT * FROM iam.rotate_api_key(:'new_id', interval '-1 hour');
SELECT * FROM iam.rotate_api_key(:'new_id', interval '91 days');
SELECT pg_temp.as_user('Vera');
SELECT * FROM iam.rotate_api_key(:'new_id', interval '1 hour');
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, replaces_key_id)
VALUES (pg_temp.person('Vera'), 'forged', 'forged00', 'x', :'new_id');
-- Each rotation is in the audit log.
RESET ROLE;
SELECT a.action, k.name, a.new_row ->> 'replaces_key_id' IS NOT NULL AS replaces
FROM iam.audit_log AS a JOIN iam.api_keys AS k ON k.id = (a.new_row ->> 'id')::uuid
WHERE a.id > :audit_start AND a.action = 'api_key_rotated' ORDER BY a.id;

-- A leaked key: anyone holding it revokes it at once, anon included.
SELECT pg_temp.as_user(NULL);
SELECT iam.report_leaked_api_key(:'soon_key') AS reported;
SELECT count(*) AS still_verifies FROM iam.verify_api_key(:'soon_key');
-- Reported again: still true, the key is revoked; a key of the format that
-- no row has: false.
SELECT iam.report_leaked_api_key(:'soon_key') AS reported_again,
       iam.report_leaked_api_key('iam_' || repeat('A', 8) || '_' || repeat('b', 38)) AS unknown_key;
-- What is not a key of the format is refused, and changes nothing.
SELECT iam.report_leaked_api_key(NULL);
SELECT iam.report_leaked_api_key('');
SELECT iam.report_leaked_api_key(repeat('x', 1000000));
SELECT iam.report_leaked_api_key(left(:'soon_key', 50));
-- A key reported while it does not verify stays revoked once its owner or
-- company is restored: Acme's key while Acme is suspended, Vera's while she
-- is banned (the sync sets suspended_until), an expired one.
SELECT pg_temp.as_user('Carol');
SELECT api_key AS acme_key, id AS acme_key_id FROM iam.create_api_key('acme''s', company_id => 'c0000000-0000-4000-8000-00000000000a') \gset
SELECT pg_temp.as_user('Vera');
SELECT api_key AS banned_key, id AS banned_key_id FROM iam.create_api_key('banned') \gset
SELECT api_key AS expired_key, id AS expired_key_id FROM iam.create_api_key('expired') \gset
RESET ROLE;
SELECT iam.set_company_status('c0000000-0000-4000-8000-00000000000a', 'suspended_by_admin') AS acme_suspended;
UPDATE iam.api_keys SET suspended_until = 'infinity' WHERE id = :'banned_key_id';
UPDATE iam.api_keys SET expires_at = now() - interval '1 s' WHERE id = :'expired_key_id';
SELECT pg_temp.as_user(NULL);
SELECT iam.report_leaked_api_key(:'acme_key') AS acme_reported, iam.report_leaked_api_key(:'banned_key') AS banned_reported,
       iam.report_leaked_api_key(:'expired_key') AS expired_reported;
RESET ROLE;
SELECT iam.set_company_status('c0000000-0000-4000-8000-00000000000a', 'active') AS acme_restored;
UPDATE iam.api_keys SET suspended_until = NULL WHERE id = :'banned_key_id';
UPDATE iam.api_keys SET expires_at = now() + interval '1 day' WHERE id = :'expired_key_id';
SELECT (SELECT count(*) FROM iam.verify_api_key(:'acme_key')) AS acme_verifies,
       (SELECT count(*) FROM iam.verify_api_key(:'banned_key')) AS banned_verifies,
       (SELECT count(*) FROM iam.verify_api_key(:'expired_key')) AS expired_verifies;
-- Not even their owners switch them back on.
SELECT pg_temp.as_user('Vera');
UPDATE iam.api_keys SET is_active = true WHERE id = :'banned_key_id';
RESET ROLE;
SELECT name, is_active FROM iam.api_keys WHERE user_id IN (pg_temp.person('Alice'), pg_temp.person('Vera'))
   OR name = 'acme''s' ORDER BY name, is_active;
-- The audit log names the reporter's role.
SELECT a.action, a.actor_role, a.actor_user_id IS NULL AS no_user, k.name
FROM iam.audit_log AS a JOIN iam.api_keys AS k ON k.id = (a.new_row ->> 'id')::uuid
WHERE a.id > :audit_start AND a.action = 'api_key_revoked' ORDER BY a.id;

-- The cap counts the keys created in the last day, revoked or not: creating
-- and revoking in a loop makes at most the cap of rows a day per owner.
SET iam.max_api_keys_per_owner = 3;
SELECT pg_temp.as_user('Nina');
SELECT iam.revoke_api_key(id) AS revoked FROM iam.create_api_key('churn 1');
SELECT iam.revoke_api_key(id) AS revoked FROM iam.create_api_key('churn 2');
SELECT iam.revoke_api_key(id) AS revoked FROM iam.create_api_key('churn 3');
\set VERBOSITY sqlstate
SELECT id FROM iam.create_api_key('churn 4');
\set VERBOSITY default
RESET ROLE;
-- A day later, the revoked keys no longer count.
UPDATE iam.api_keys SET created_at = now() - interval '25 hours' WHERE user_id = pg_temp.person('Nina');
SELECT pg_temp.as_user('Nina');
SELECT count(*) AS created_a_day_later FROM iam.create_api_key('churn 5');
RESET ROLE;
RESET iam.max_api_keys_per_owner;

-- The next file starts from the tests' people again.
DELETE FROM iam.companies;
DELETE FROM iam.users;
