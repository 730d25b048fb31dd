-- Supabase Auth's custom access token hook (run by bench/run.sh; prints
-- ratios): 10,000 calls of iam.custom_access_token_hook with the event GoTrue
-- sends, one call per token issued, for a learner in 3 companies and a
-- consultant in 500 (their claim is cut at 50), against the floor: the same
-- event's claims handed back unchanged, the JSON work no hook avoids.
\ir lib/race.sql

INSERT INTO iam.users (id) VALUES ('e3000000-0000-4000-8000-000000000001'), ('e3000000-0000-4000-8000-000000000002');
INSERT INTO iam.companies (id, name)
SELECT ('e3c00000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'Company ' || i FROM generate_series(1, 500) AS i;
INSERT INTO iam.company_users (user_id, company_id)
SELECT 'e3000000-0000-4000-8000-000000000001', id FROM iam.companies WHERE name IN ('Company 1', 'Company 2', 'Company 3');
INSERT INTO iam.company_users (user_id, company_id)
SELECT 'e3000000-0000-4000-8000-000000000002', id FROM iam.companies WHERE name LIKE 'Company %';
INSERT INTO iam.user_roles (user_id, role_id)
SELECT u, r.id FROM (VALUES ('e3000000-0000-4000-8000-000000000001'::uuid, 'enterprise_employee'),
                            ('e3000000-0000-4000-8000-000000000002'::uuid, 'consultant')) AS g (u, name)
JOIN iam.roles AS r USING (name);
ANALYZE iam.users, iam.companies, iam.company_users, iam.user_roles;

CREATE FUNCTION bench.event(user_id text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('user_id', user_id, 'authentication_method', 'password',
        'claims', jsonb_build_object('aud', 'authenticated', 'exp', 1893456000, 'iat', 1893452400,
            'sub', user_id, 'email', 'someone@example.test', 'role', 'authenticated', 'aal', 'aal1',
            'session_id', '0b9a6c8e-2f1d-4e3c-9a8b-7c6d5e4f3a2b', 'is_anonymous', false))
$$;
CREATE TABLE bench.events AS
SELECT i, bench.event(CASE WHEN who = 1 THEN 'e3000000-0000-4000-8000-000000000001'
                           ELSE 'e3000000-0000-4000-8000-000000000002' END) AS event, who
FROM generate_series(1, 10000) AS i, (VALUES (1), (2)) AS w (who);

SELECT bench.race(
    ARRAY['floor: the claims handed back unchanged', 'iam_ext hook, 3 companies', 'iam_ext hook, 500 companies'],
    ARRAY[$$SELECT count(jsonb_build_object('claims', event -> 'claims')) FROM bench.events WHERE who = 1$$,
          $$SELECT count(iam.custom_access_token_hook(event)) FROM bench.events WHERE who = 1$$,
          $$SELECT count(iam.custom_access_token_hook(event)) FROM bench.events WHERE who = 2$$],
    3) \gset

\echo 'x floor: time over the floor''s, median of the rounds (range)'
SELECT name, best_ms, spread_ms, rounds, round(1e6 / per_call_us) AS calls_per_s, x_floor
FROM bench.report('floor: the claims handed back unchanged', 'iam_ext hook, 3 companies');
SELECT bench.target('access token hook, 3 companies, x floor (no target: the floor does no lookup)', 'iam_ext hook, 3 companies', 'floor: the claims handed back unchanged', '', NULL),
       bench.target('access token hook, 500 companies, x 3 companies', 'iam_ext hook, 500 companies', 'iam_ext hook, 3 companies', '', NULL) \gset
\ir lib/summary.sql
DROP SCHEMA bench CASCADE;
DELETE FROM iam.users WHERE id::text LIKE 'e3000000-%';
DELETE FROM iam.companies WHERE id::text LIKE 'e3c00000-%';
