-- What a seller sets on an API key bounds every key derived from it, and
-- direct writes are held to the rules the functions keep (0.7.0): a key
-- that replaces another is made by iam.rotate_api_key only, and its
-- credits move rather than copy; a request authenticated by a metered key
-- mints no key; an owner moves refilled_at only later; a removed member
-- comes back only as iam.add_company_member allows; every change to
-- credits, limits and memberships is audited, spending alone excepted.
-- Each attack is tried through plain SQL as the API roles, with
-- row_security on and off, and as a request carrying a key. Rate limits
-- need iam_ext preloaded: test/integration/usage_rules.sh tries them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/people.sql
SELECT coalesce(max(id), 0) AS audit_start FROM iam.audit_log \gset

-- A request carrying an API key, as PostgREST runs it: anon, the key in
-- the headers, the db-pre-request function (which spends a credit); in a
-- transaction of its own.
CREATE FUNCTION pg_temp.as_key(api_key text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', '', true);
    PERFORM set_config('request.method', 'POST', true);
    PERFORM set_config('request.headers', json_build_object('x-api-key', api_key)::text, true);
    PERFORM set_config('role', 'anon', true);
    PERFORM iam.authenticate_request();
    RETURN 'key of ' || coalesce((SELECT name FROM people WHERE id = iam.current_user_id()), 'nobody');
END
$$;
-- The audit rows written since :audit_start, for a key or a person.
CREATE FUNCTION pg_temp.audited(since bigint, target uuid)
    RETURNS TABLE (action text, actor_role text, remaining text, refilled text, active text)
    LANGUAGE sql AS $$
    SELECT a.action, a.actor_role,
           coalesce(a.old_row ->> 'remaining', '-') || ' -> ' || coalesce(a.new_row ->> 'remaining', '-'),
           CASE WHEN a.old_row -> 'refilled_at' IS DISTINCT FROM a.new_row -> 'refilled_at' THEN 'moved' ELSE '' END,
           coalesce(a.old_row ->> 'is_active_in_company', '-') || ' -> ' || coalesce(a.new_row ->> 'is_active_in_company', '-')
    FROM iam.audit_log AS a
    WHERE a.id > since AND (a.new_row ->> 'id' = target::text OR a.old_row ->> 'id' = target::text
                            OR (a.target_user_id = target AND a.action LIKE 'member%'))
    ORDER BY a.id
$$;

------------------------------------------------------------------------------
-- B. A key that names another in replaces_key_id is iam.rotate_api_key's
-- alone. Alice's key holds 3 credits; a copy made by hand would hold 3
-- more, and the old key would keep its own.
------------------------------------------------------------------------------
SELECT pg_temp.as_service();
SELECT id AS sold_id, api_key AS sold FROM iam.create_api_key('sold', pg_temp.person('Alice')) \gset
SELECT iam.set_api_key_credits(:'sold_id', 3);
SELECT pg_temp.as_user('Alice');
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, replaces_key_id, remaining, refilled_at)
SELECT user_id, 'copy', 'CCCCCCCC', 'blake2b256$1$forged', id, remaining, refilled_at
FROM iam.api_keys WHERE id = :'sold_id';
SET row_security = off;
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, replaces_key_id, remaining, refilled_at)
SELECT user_id, 'copy', 'CCCCCCCC', 'blake2b256$1$forged', id, remaining, refilled_at
FROM iam.api_keys WHERE id = :'sold_id';
RESET row_security;
-- Nor the service role: a rotation copy is made by rotate_api_key only.
SELECT pg_temp.as_service();
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, replaces_key_id, remaining, refilled_at)
SELECT user_id, 'copy', 'CCCCCCCC', 'blake2b256$1$forged', id, remaining, refilled_at
FROM iam.api_keys WHERE id = :'sold_id';
-- Nor is a key linked to another afterwards (the old key would spend the
-- credits of the key that names it, or none).
SELECT id AS free_id FROM iam.create_api_key('free', pg_temp.person('Alice')) \gset
UPDATE iam.api_keys SET replaces_key_id = :'sold_id' WHERE id = :'free_id';
-- Nor a request whose key may write Alice's keys.
SELECT pg_temp.as_user('Alice');
SELECT api_key AS manager FROM iam.create_api_key('manager', permissions => '["iam:api_keys:write", "courses:read"]') \gset
SELECT pg_temp.as_user(NULL);
BEGIN;
SELECT pg_temp.as_key(:'manager');
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, replaces_key_id, remaining, refilled_at)
SELECT user_id, 'copy', 'CCCCCCCC', 'blake2b256$1$forged', id, remaining, refilled_at
FROM iam.api_keys WHERE id = :'sold_id';
ROLLBACK;
-- Nor does anyone say under which key a key's requests count against its
-- rate limit: a rotation does (the first key of its rotations).
SELECT pg_temp.as_service();
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, rate_limit_key_id)
VALUES (pg_temp.person('Alice'), 'counted elsewhere', 'EEEEEEEE', 'blake2b256$1$e', gen_random_uuid());
UPDATE iam.api_keys SET rate_limit_key_id = gen_random_uuid() WHERE id = :'free_id';
SELECT pg_temp.as_user('Alice');
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, rate_limit_key_id)
VALUES (pg_temp.person('Alice'), 'counted elsewhere', 'EEEEEEEE', 'blake2b256$1$e', gen_random_uuid());
-- The credits are 3 in all.
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'sold', 3) AS remaining;
SELECT iam.consume_api_key(:'sold');
RESET ROLE;
SELECT count(*) AS keys_replacing_sold FROM iam.api_keys WHERE replaces_key_id = :'sold_id';

-- The rotation itself moves the credits, the refill and its clock.
SELECT pg_temp.as_service();
SELECT iam.set_api_key_credits(:'sold_id', 5, 5, '1 day');
SELECT pg_temp.as_user('Alice');
SELECT id AS rotated_id, api_key AS rotated FROM iam.rotate_api_key(:'sold_id', '1 hour') \gset
SELECT id = :'rotated_id' AS is_new, remaining, refill_amount, refill_interval, refilled_at IS NOT NULL AS refill_clock,
       rate_limit_key_id IS NOT DISTINCT FROM CASE WHEN id = :'rotated_id' THEN :'sold_id'::uuid END AS counted_as_sold
FROM iam.api_keys WHERE id IN (:'sold_id', :'rotated_id') ORDER BY 1;
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'sold', 2) AS remaining;
SELECT iam.consume_api_key(:'rotated', 3) AS remaining;
SELECT iam.consume_api_key(:'sold');

------------------------------------------------------------------------------
-- B. A request authenticated by a metered key mints no key, and rotates
-- no key but itself: a new key, or another key's new secret, would hold
-- none of its credits.
------------------------------------------------------------------------------
SELECT pg_temp.as_user('Alice');
SELECT id AS meter_id, api_key AS meter FROM iam.create_api_key('meter', permissions => '["iam:api_keys:write", "courses:read"]') \gset
SELECT id AS sibling_id FROM iam.create_api_key('sibling', permissions => '["courses:read"]') \gset
SELECT pg_temp.as_service();
SELECT iam.set_api_key_credits(:'meter_id', 10);
SELECT pg_temp.as_user(NULL);
BEGIN;
SELECT pg_temp.as_key(:'meter');
SELECT FROM iam.create_api_key('unmetered', permissions => '["courses:read"]');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'meter');
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, permissions)
VALUES (iam.current_user_id(), 'unmetered', 'DDDDDDDD', 'blake2b256$1$direct', '["courses:read"]');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'meter');
SET LOCAL row_security = off;
INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key, permissions)
VALUES (iam.current_user_id(), 'unmetered', 'DDDDDDDD', 'blake2b256$1$direct', '["courses:read"]');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'meter');
SELECT FROM iam.rotate_api_key(:'sibling_id');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'meter');
SELECT FROM iam.rotate_api_key(:'sibling_id', '1 hour');
ROLLBACK;
-- Its own rotation keeps its credits (they move to the new key).
BEGIN;
SELECT pg_temp.as_key(:'meter');
SELECT id AS meter_new_id FROM iam.rotate_api_key(:'meter_id', '1 hour') \gset
SELECT id = :'meter_new_id' AS is_new, remaining FROM iam.api_keys WHERE id IN (:'meter_id', :'meter_new_id') ORDER BY 1;
ROLLBACK;
-- An unmetered key with the same permission still makes narrower keys.
BEGIN;
SELECT pg_temp.as_key(:'manager');
SELECT id AS made_id FROM iam.create_api_key('made by a key', permissions => '["courses:read"]') \gset
SELECT name, remaining, rate_limit FROM iam.api_keys WHERE id = :'made_id';
ROLLBACK;

------------------------------------------------------------------------------
-- C. The refill's clock: an owner moves refilled_at later only, never
-- earlier, nor from NULL (counted from the key's creation) into the past.
------------------------------------------------------------------------------
SELECT pg_temp.as_service();
SELECT id AS refill_id, api_key AS refill FROM iam.create_api_key('refill', pg_temp.person('Alice')) \gset
UPDATE iam.api_keys SET remaining = 2, refill_amount = 99, refill_interval = '30 days' WHERE id = :'refill_id'
RETURNING remaining, refill_amount, refilled_at;
SELECT pg_temp.as_user('Alice');
UPDATE iam.api_keys SET refilled_at = now() - interval '31 days' WHERE id = :'refill_id';
SET row_security = off;
UPDATE iam.api_keys SET refilled_at = now() - interval '31 days' WHERE id = :'refill_id';
RESET row_security;
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'refill') AS remaining;
SELECT pg_temp.as_user('Alice');
-- Later is hers to choose, and then not earlier again.
UPDATE iam.api_keys SET refilled_at = now() + interval '1 hour' WHERE id = :'refill_id';
UPDATE iam.api_keys SET refilled_at = now() WHERE id = :'refill_id';
UPDATE iam.api_keys SET refilled_at = NULL WHERE id = :'refill_id';

------------------------------------------------------------------------------
-- C. A removed member comes back as add_company_member allows: by a
-- platform admin or the service role, or by accepting an invitation.
-- Remy is Acme's former admin; Carol, its admin, may not bring him back.
------------------------------------------------------------------------------
RESET ROLE;
SELECT coalesce(max(id), 0) AS members_start FROM iam.audit_log \gset
SELECT pg_temp.as_user('Carol');
SELECT iam.add_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Remy'));
UPDATE iam.company_users SET is_active_in_company = true
WHERE user_id = pg_temp.person('Remy') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
SET row_security = off;
UPDATE iam.company_users SET is_active_in_company = true
WHERE user_id = pg_temp.person('Remy') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
RESET row_security;
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
VALUES (pg_temp.person('Remy'), 'c0000000-0000-4000-8000-00000000000a', 'admin')
ON CONFLICT (user_id, company_id) DO UPDATE SET is_active_in_company = true;
SELECT is_active_in_company, role_in_company FROM iam.company_users
WHERE user_id = pg_temp.person('Remy') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
-- Her invitation, accepted by Remy, brings him back as a member.
SELECT token AS remy_token FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a',
                                                      user_id => pg_temp.person('Remy')) \gset
SELECT pg_temp.as_user('Remy');
SELECT iam.accept_company_invitation(:'remy_token') = 'c0000000-0000-4000-8000-00000000000a' AS joined;
SELECT is_active_in_company, role_in_company FROM iam.company_users
WHERE user_id = pg_temp.person('Remy') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
-- Removed again by Carol, and brought back by a platform admin, directly.
SELECT pg_temp.as_user('Carol');
SELECT iam.remove_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Remy'));
SELECT pg_temp.as_user('Pam');
UPDATE iam.company_users SET is_active_in_company = true
WHERE user_id = pg_temp.person('Remy') AND company_id = 'c0000000-0000-4000-8000-00000000000a'
RETURNING is_active_in_company;
RESET ROLE;
SELECT action, actor_role, active FROM pg_temp.audited(:members_start, pg_temp.person('Remy'));

------------------------------------------------------------------------------
-- C. Every change to credits and limits is audited, whoever makes it and
-- however; spending is not (a refill it makes neither).
------------------------------------------------------------------------------
SELECT pg_temp.as_service();
SELECT id AS audited_id, api_key AS audited FROM iam.create_api_key('audited', pg_temp.person('Alice')) \gset
SELECT coalesce(max(id), 0) AS usage_start FROM iam.audit_log \gset
-- A platform admin's plain UPDATE, with row_security on and off.
SELECT pg_temp.as_user('Pam');
UPDATE iam.api_keys SET remaining = 1000 WHERE id = :'audited_id';
SET row_security = off;
UPDATE iam.api_keys SET remaining = 1002 WHERE id = :'audited_id';
RESET row_security;
-- The service role's, the refill's clock.
SELECT pg_temp.as_service();
UPDATE iam.api_keys SET remaining = 3, refill_amount = 4, refill_interval = '1 hour' WHERE id = :'audited_id';
UPDATE iam.api_keys SET refilled_at = now() - interval '2 hours' WHERE id = :'audited_id';
-- The owner lowering them.
SELECT pg_temp.as_user('Alice');
UPDATE iam.api_keys SET remaining = 2 WHERE id = :'audited_id';
-- Spending, the refill that falls due included, writes no audit row.
SELECT pg_temp.as_user(NULL);
SELECT iam.consume_api_key(:'audited') AS remaining;
SELECT iam.consume_api_key(:'audited') AS remaining;
BEGIN;
SELECT pg_temp.as_key(:'audited');
SELECT iam.api_key_credits_remaining();
COMMIT;
-- The operator's change is audited too (it is no restore).
RESET ROLE;
UPDATE iam.api_keys SET remaining = 50 WHERE id = :'audited_id';
SELECT action, actor_role, remaining, refilled FROM pg_temp.audited(:usage_start, :'audited_id');
-- Not callable into being: the spending path is known to the backend only.
SELECT iam.is_spending_credits();

-- A key rotated before it was sold credits spends only those: its
-- replacement, made unlimited, does not pay for it.
SELECT pg_temp.as_user('Alice');
SELECT id AS early_id, api_key AS early FROM iam.create_api_key('rotated before the sale') \gset
SELECT FROM iam.rotate_api_key(:'early_id', '1 hour');
SELECT pg_temp.as_service();
SELECT iam.set_api_key_credits(:'early_id', 1);
SELECT pg_temp.as_user(NULL);
\set VERBOSITY terse
SELECT iam.consume_api_key(:'early', 2) AS remaining;
\set VERBOSITY default
SELECT iam.consume_api_key(:'early') AS remaining;

RESET ROLE;
RESET request.jwt.claims;
DELETE FROM iam.companies;
DELETE FROM iam.users;
