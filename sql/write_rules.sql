-- The rules that hold whichever way a row is written (0.7.0): each once
-- through the extension's function and once through plain SQL, as the
-- caller it is meant to stop. Callers act as PostgREST makes them act:
-- a role, JWT claims, or an API key in the request headers.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT coalesce(max(id), 0) AS audit_start FROM iam.audit_log \gset
\i test/fixtures/people.sql

-- A request carrying an API key, as PostgREST runs it: anon, the key in
-- the headers, the db-pre-request function; in a transaction of its own.
CREATE FUNCTION pg_temp.as_key(api_key text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', '', true);
    PERFORM set_config('request.headers', json_build_object('x-api-key', api_key)::text, true);
    PERFORM set_config('role', 'anon', true);
    PERFORM iam.authenticate_request();
    RETURN 'key of ' || coalesce((SELECT name FROM people WHERE id = iam.current_user_id()), 'nobody');
END
$$;

-- Keys: Alice's scoped one (courses:read, for a day), one that may manage
-- her keys, Carol's, and Acme's own.
SELECT pg_temp.as_user('Alice');
SELECT api_key AS scoped, id AS scoped_id FROM iam.create_api_key('scoped',
    permissions => '["courses:read"]', expires_at => now() + interval '1 day') \gset
SELECT api_key AS manager, id AS manager_id FROM iam.create_api_key('manager',
    permissions => '["courses:read", "iam:api_keys:write"]', expires_at => now() + interval '1 day') \gset
SELECT pg_temp.as_user('Carol');
SELECT id AS carol_key_id FROM iam.create_api_key('carol') \gset
SELECT id AS acme_key_id FROM iam.create_api_key('acme', NULL, 'c0000000-0000-4000-8000-00000000000a',
                                                 permissions => '["courses:*"]') \gset

-- 1. A key is never more than its scope.
BEGIN;
SELECT pg_temp.as_key(:'scoped');
UPDATE iam.api_keys SET permissions = '["*"]', expires_at = NULL WHERE id = :'scoped_id';
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'scoped');
SELECT FROM iam.create_api_key('wider', permissions => '["*"]');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'scoped');
SELECT FROM iam.rotate_api_key(:'scoped_id');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'scoped');
UPDATE iam.users SET full_name = 'Mallory' WHERE id = iam.current_user_id();  -- iam's tables, any of them
ROLLBACK;
-- With iam:api_keys:write, a key makes keys, but none beyond itself.
BEGIN;
SELECT pg_temp.as_key(:'manager');
SELECT FROM iam.create_api_key('wider', permissions => '["*"]');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'manager');
SELECT FROM iam.create_api_key('forever', permissions => '["courses:read"]');
ROLLBACK;
BEGIN;
SELECT pg_temp.as_key(:'manager');
SELECT id AS narrower_id
FROM iam.create_api_key('narrower', permissions => '["courses:read"]', expires_at => now() + interval '1 hour') \gset
SELECT name, permissions, created_by = iam.current_user_id() AS created_by_alice
FROM iam.api_keys WHERE id = :'narrower_id';
ROLLBACK;

-- Scope and expiry only narrow, whoever asks.
SELECT pg_temp.as_user('Alice');
UPDATE iam.api_keys SET permissions = '["courses:*"]' WHERE id = :'scoped_id';
UPDATE iam.api_keys SET expires_at = now() + interval '1 year' WHERE id = :'scoped_id';
UPDATE iam.api_keys SET permissions = '[]', expires_at = now() + interval '1 hour' WHERE id = :'scoped_id';
SELECT permissions FROM iam.api_keys WHERE id = :'scoped_id';
-- ... and bounded: no megabyte of permissions through an UPDATE either.
UPDATE iam.api_keys SET permissions = (SELECT jsonb_agg('courses:read'::text) FROM generate_series(1, 101))
WHERE id = :'scoped_id';

-- Revocation is final, but for the operator.
SELECT iam.revoke_api_key(:'scoped_id');
UPDATE iam.api_keys SET is_active = true WHERE id = :'scoped_id';
SELECT pg_temp.as_operator();
UPDATE iam.api_keys SET is_active = true WHERE id = :'scoped_id';
SELECT is_active FROM iam.api_keys WHERE id = :'scoped_id';

-- 2. A key's secret goes to its owner only.
SELECT pg_temp.as_user('Pam');
SELECT FROM iam.rotate_api_key(:'carol_key_id');                    -- a platform admin
UPDATE iam.api_keys SET hashed_key = 'x', key_prefix = 'xxxxxxxx' WHERE id = :'carol_key_id';
SELECT FROM iam.create_api_key('as carol', 'a0000000-0000-4000-8000-0000000000a3');
SELECT pg_temp.as_user('Carol');
SELECT FROM iam.rotate_api_key(:'scoped_id');                       -- a company admin, Alice's key
SELECT count(*) AS rotated FROM iam.rotate_api_key(:'carol_key_id');  -- her own
SELECT count(*) AS rotated FROM iam.rotate_api_key(:'acme_key_id');   -- her company's own key
-- Others with authority still revoke.
SELECT pg_temp.as_user('Pam');
SELECT iam.revoke_api_key(:'carol_key_id') AS revoked_by_pam;
SELECT pg_temp.as_operator();
SELECT action, actor_user_id IS NOT NULL AS has_actor, actor_role, new_row ? 'hashed_key' AS shows_hash
FROM iam.audit_log WHERE action LIKE 'api_key_%' AND id > :audit_start ORDER BY id;

-- 3. Referral codes: one spelling per code, whichever way it is written.
SELECT pg_temp.as_user('Alice');
SELECT code AS alice_code FROM iam.create_referral_code() \gset
SELECT pg_temp.as_user('Carol');
SELECT FROM iam.create_referral_code(code => substr(:'alice_code', 1, 4) || '-' || substr(:'alice_code', 5));
INSERT INTO iam.referral_codes (user_id, code)
VALUES ('a0000000-0000-4000-8000-0000000000a3', substr(:'alice_code', 1, 4) || '-' || substr(:'alice_code', 5));
INSERT INTO iam.referral_codes (user_id, code) VALUES ('a0000000-0000-4000-8000-0000000000a3', 'carol-invites');
INSERT INTO iam.referral_codes (user_id, code) VALUES ('a0000000-0000-4000-8000-0000000000a3', repeat('C', 1000000));
INSERT INTO iam.referral_codes (user_id, code) VALUES ('a0000000-0000-4000-8000-0000000000a3', 'CAROL-INVITES')
RETURNING code;
-- A code an admin deactivated stays so for its owner.
SELECT pg_temp.as_user('Pam');
UPDATE iam.referral_codes SET is_active = false WHERE code = 'CAROL-INVITES';
SELECT pg_temp.as_user('Carol');
UPDATE iam.referral_codes SET is_active = true WHERE code = 'CAROL-INVITES';
-- A referral needs a live code of the referrer's, through the function or not.
SELECT pg_temp.as_operator();
SELECT id AS carol_code_id FROM iam.referral_codes WHERE code = 'CAROL-INVITES' \gset
SELECT id AS alice_code_id FROM iam.referral_codes WHERE code = :'alice_code' \gset
SELECT pg_temp.as_user('Pat');
SELECT FROM iam.redeem_referral_code('carol-invites');
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id)
VALUES ('a0000000-0000-4000-8000-0000000000a3', 'a0000000-0000-4000-8000-0000000000e2', :'carol_code_id');
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id)
VALUES ('a0000000-0000-4000-8000-0000000000a3', 'a0000000-0000-4000-8000-0000000000e2', :'alice_code_id');
-- A code the same statement writes counts too: Pat's new code names Carol
-- as its referrer.
WITH code AS (
    INSERT INTO iam.referral_codes (user_id, code)
    VALUES ('a0000000-0000-4000-8000-0000000000e2', iam.generate_referral_code()) RETURNING id)
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id)
SELECT 'a0000000-0000-4000-8000-0000000000a3', 'a0000000-0000-4000-8000-0000000000e2', id FROM code;
SELECT count(*) AS referrals FROM iam.referrals WHERE referred_user_id::text LIKE 'a0000000-%';

-- Redeeming answers alike for every code that cannot be redeemed, counts
-- the failures, and past iam.referral_failures_allowed refuses even a live
-- code until the window ends.
SELECT pg_temp.as_operator();
WITH guesser AS (INSERT INTO iam.users (id, full_name) VALUES (gen_random_uuid(), 'Guesser') RETURNING id)
INSERT INTO people SELECT 'Guesser', id FROM guesser;
SET iam.referral_failures_allowed = 2;
SELECT pg_temp.as_user('Guesser');
SELECT FROM iam.redeem_referral_code('carol-invites');           -- deactivated
SELECT FROM iam.redeem_referral_code(iam.generate_referral_code());  -- unknown
\set VERBOSITY terse
SELECT FROM iam.redeem_referral_code(:'alice_code');              -- live, but too late
\set VERBOSITY default
SELECT pg_temp.as_operator();
RESET iam.referral_failures_allowed;

-- 4. The built-in roles keep their ids and names; every change is audited.
SELECT pg_temp.as_user('Pam');
UPDATE iam.roles SET name = 'retired' WHERE name = 'support_agent';
UPDATE iam.roles SET name = 'support_agent' WHERE name = 'solo_learner';
DELETE FROM iam.roles WHERE name = 'platform_admin';
UPDATE iam.roles SET description = 'Support staff (reads everything)' WHERE name = 'support_agent';
INSERT INTO iam.roles (name) VALUES ('mentor');
UPDATE iam.roles SET name = 'coach' WHERE name = 'mentor';
SELECT pg_temp.as_operator();
SELECT action, actor_role, old_row ->> 'name' AS old_name, new_row ->> 'name' AS new_name
FROM iam.audit_log WHERE action LIKE 'catalog_role_%' AND id > :audit_start ORDER BY id;

-- The API roles may delete from user_roles, the tables of the permission
-- model and external_identities alone (a DELETE privilege also lets its
-- holder LOCK the table, which the lock guard refuses them).
SELECT c.relname, has_table_privilege('authenticated', c.oid, 'DELETE') AS may_delete
FROM pg_class AS c WHERE c.relnamespace = 'iam'::regnamespace AND c.relkind = 'r' ORDER BY 1;

-- A cap on each owner's active keys.
SET iam.max_api_keys_per_owner = 3;
SELECT pg_temp.as_user('Alice');
SELECT FROM iam.create_api_key('third');
SELECT FROM iam.create_api_key('fourth');
SELECT pg_temp.as_operator();
RESET iam.max_api_keys_per_owner;
