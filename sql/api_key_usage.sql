-- What requests cost an API key (0.7.0): credits, spent in the request's
-- own transaction and refilled on schedule, and a rate limit, which needs
-- iam_ext in shared_preload_libraries (this suite's server does not preload
-- it; test/integration/api_key_usage.sh counts admissions on one that does).
-- Who may give a key credits or a limit, and what a rotation does with them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/people.sql
SELECT coalesce(max(id), 0) AS audit_start FROM iam.audit_log \gset

CREATE FUNCTION pg_temp.usage(key_id uuid)
    RETURNS TABLE (remaining integer, refill_amount integer, refill_interval interval)
    LANGUAGE sql AS $$
    SELECT k.remaining, k.refill_amount, k.refill_interval FROM iam.api_keys AS k WHERE k.id = key_id
$$;

-- Alice's key, without credits: unlimited, and nothing is written for it.
SELECT pg_temp.as_user('Alice');
SELECT api_key AS alice_key, id AS alice_key_id FROM iam.create_api_key('metered') \gset
SELECT iam.consume_api_key(:'alice_key') AS remaining;

------------------------------------------------------------------------------
-- Who gives credits: the service role and platform admins; the owner may
-- only lower them.
------------------------------------------------------------------------------
\set VERBOSITY sqlstate
SELECT iam.set_api_key_credits(:'alice_key_id', 1000);
\set VERBOSITY default
SELECT pg_temp.as_service();
SELECT iam.set_api_key_credits(:'alice_key_id', 5);
SELECT pg_temp.as_user('Pam');
SELECT iam.set_api_key_credits(:'alice_key_id', 6);
SELECT pg_temp.as_user('Alice');
SELECT iam.set_api_key_credits(:'alice_key_id', 4);
SELECT * FROM pg_temp.usage(:'alice_key_id');
-- Up again, unlimited, a refill: all refused to her.
SELECT iam.set_api_key_credits(:'alice_key_id', 5);
SELECT iam.set_api_key_credits(:'alice_key_id', NULL);
UPDATE iam.api_keys SET refill_amount = 10, refill_interval = '1 day' WHERE id = :'alice_key_id';
-- Vera cannot see Alice's key.
SELECT pg_temp.as_user('Vera');
SELECT iam.set_api_key_credits(:'alice_key_id', 1);
-- A key made with credits, by anyone but the service role: refused.
SELECT pg_temp.as_user('Alice');
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, remaining)
VALUES (pg_temp.person('Alice'), 'self-made', 'AAAAAAAA', 'x', 1000000);
-- Bad values, whoever asks.
SELECT pg_temp.as_service();
SELECT iam.set_api_key_credits(:'alice_key_id', -1);
SELECT iam.set_api_key_credits(:'alice_key_id', 5, 5);
SELECT iam.set_api_key_credits(:'alice_key_id', 5, 0, '1 day');
SELECT iam.set_api_key_credits(:'alice_key_id', NULL, 5, '1 day');
SELECT iam.set_api_key_credits(NULL, 5);
SELECT iam.set_api_key_credits('00000000-0000-4000-8000-00000000dead', 5);
-- Written directly, the columns hold together too (the trigger's rules).
UPDATE iam.api_keys SET refill_amount = 5 WHERE id = :'alice_key_id';
UPDATE iam.api_keys SET rate_limit = 5 WHERE id = :'alice_key_id';
UPDATE iam.api_keys SET rate_limit = 5, rate_limit_window = '1 mon' WHERE id = :'alice_key_id';
UPDATE iam.api_keys SET rate_limit = 5, rate_limit_window = '178000000 years' WHERE id = :'alice_key_id';
UPDATE iam.api_keys SET remaining = 5, refill_amount = 5, refill_interval = '-178000000 years' WHERE id = :'alice_key_id';
\set VERBOSITY terse
UPDATE iam.api_keys SET remaining = -1 WHERE id = :'alice_key_id';
\set VERBOSITY default

------------------------------------------------------------------------------
-- Spending: exact, never below zero, never for a rolled-back request.
------------------------------------------------------------------------------
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'alice_key') AS remaining;
SELECT iam.consume_api_key(:'alice_key', 2) AS remaining;
-- One left: a call costing 2 is refused and spends nothing.
SELECT iam.consume_api_key(:'alice_key', 2);
SELECT iam.consume_api_key(:'alice_key', 0) AS remaining;
BEGIN;
SELECT iam.consume_api_key(:'alice_key') AS remaining;
ROLLBACK;
SELECT iam.consume_api_key(:'alice_key') AS remaining;
SELECT iam.consume_api_key(:'alice_key');
-- Bad input.
SELECT iam.consume_api_key(:'alice_key', -1);
SELECT iam.consume_api_key(:'alice_key', NULL);
SELECT iam.consume_api_key(NULL);
SELECT iam.consume_api_key('iam_AAAAAAAA_' || repeat('A', 38));
SELECT iam.consume_api_key(repeat('x', 1000000));
-- Spending writes, so it needs a read-write transaction (PostgREST's GET
-- and HEAD are read-only) on the primary.
BEGIN READ ONLY;
SELECT iam.consume_api_key(:'alice_key', 0);
ROLLBACK;

------------------------------------------------------------------------------
-- Refill: once per interval, to the amount (unused credits do not carry
-- over); the first request after the interval refills.
------------------------------------------------------------------------------
SELECT pg_temp.as_service();
SELECT iam.set_api_key_credits(:'alice_key_id', 0, 3, '1 hour');
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'alice_key');
RESET ROLE;
UPDATE iam.api_keys SET refilled_at = now() - interval '61 minutes' WHERE id = :'alice_key_id';
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'alice_key') AS remaining;
SELECT iam.consume_api_key(:'alice_key') AS remaining;
RESET ROLE;
SELECT remaining, refilled_at > now() - interval '1 minute' AS refilled_now FROM iam.api_keys WHERE id = :'alice_key_id';

------------------------------------------------------------------------------
-- A request through PostgREST: authenticate_request spends one credit,
-- says what is left in a header and in api_key_credits_remaining(), and
-- answers 429 once none is left.
------------------------------------------------------------------------------
SELECT pg_temp.as_user(NULL);
BEGIN;
SELECT set_config('request.method', 'POST', true),
       set_config('request.headers', json_build_object('x-api-key', :'alice_key')::text, true),
       set_config('response.headers', '[{"Cache-Control":"no-store"}]', true) \gset
SELECT iam.authenticate_request();
SELECT current_user, iam.api_key_credits_remaining(), current_setting('response.headers');
COMMIT;
BEGIN;
SELECT set_config('request.method', 'POST', true),
       set_config('request.headers', json_build_object('x-api-key', :'alice_key')::text, true) \gset
SELECT iam.authenticate_request();
ROLLBACK;
-- Outside a request, and for a key without credits: NULL.
SELECT iam.api_key_credits_remaining();

------------------------------------------------------------------------------
-- Rotation with a grace moves the credits to the new key; both keys spend
-- them until the grace ends.
------------------------------------------------------------------------------
SELECT pg_temp.as_service();
SELECT iam.set_api_key_credits(:'alice_key_id', 10, 10, '1 day');
SELECT pg_temp.as_user('Alice');
SELECT api_key AS new_key, id AS new_key_id FROM iam.rotate_api_key(:'alice_key_id', '1 hour') \gset
SELECT name, remaining, refill_amount, refill_interval, id = :'new_key_id' AS is_new
FROM iam.api_keys WHERE id IN (:'alice_key_id', :'new_key_id') ORDER BY is_new;
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'alice_key', 3) AS remaining;
SELECT iam.consume_api_key(:'new_key', 3) AS remaining;
-- The old key is replaced once; the new key waits for the grace to end.
SELECT pg_temp.as_user('Alice');
SELECT iam.rotate_api_key(:'alice_key_id', '1 hour');
SELECT iam.rotate_api_key(:'new_key_id', '1 hour');
-- Revoking the new key leaves the old one spending the same credits.
SELECT iam.revoke_api_key(:'new_key_id');
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'alice_key', 4) AS remaining;
SELECT iam.consume_api_key(:'alice_key');
-- A copy made by hand, with other credits or the same, is refused: only
-- rotate_api_key makes a key that replaces another.
SELECT pg_temp.as_service();
SELECT id AS second_key_id FROM iam.create_api_key('second', pg_temp.person('Alice')) \gset
SELECT iam.set_api_key_credits(:'second_key_id', 5);
SELECT pg_temp.as_user('Alice');
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, replaces_key_id, remaining)
VALUES (pg_temp.person('Alice'), 'copy', 'BBBBBBBB', 'y', :'second_key_id', 1000);

------------------------------------------------------------------------------
-- Rate limits need the shared table: without iam_ext preloaded, setting
-- one is refused, whoever asks, and a key that has one is refused at
-- request time rather than let through unlimited.
------------------------------------------------------------------------------
SELECT pg_temp.as_service();
SELECT api_key AS limited_key, id AS limited_key_id FROM iam.create_api_key('limited', pg_temp.person('Nina')) \gset
SELECT iam.set_api_key_rate_limit(:'limited_key_id', 100);
SELECT iam.set_api_key_rate_limit(:'limited_key_id', 0);
SELECT iam.set_api_key_rate_limit(:'limited_key_id', 10, '2 days');
SELECT iam.set_api_key_rate_limit(:'limited_key_id', 10, '0.5 seconds');
RESET ROLE;
SET session_replication_role = replica;  -- as a restore writes it
UPDATE iam.api_keys SET rate_limit = 100, rate_limit_window = '1 minute' WHERE id = :'limited_key_id';
RESET session_replication_role;
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'limited_key');
-- Nina cannot lift or change the limit herself.
SELECT pg_temp.as_user('Nina');
SELECT iam.set_api_key_rate_limit(:'limited_key_id', NULL);

-- The audit trail: setting a refill or a limit is recorded; spending is not.
RESET ROLE;
SELECT action, count(*) FROM iam.audit_log WHERE id > :audit_start GROUP BY action ORDER BY action;

RESET ROLE;
RESET request.jwt.claims;
DELETE FROM iam.companies;
DELETE FROM iam.users;
