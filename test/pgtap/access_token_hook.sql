-- access_token_hook.sql: iam.custom_access_token_hook as Supabase Auth calls
-- it, as supabase_auth_admin with the event GoTrue sends when it issues a
-- token: a password sign-in, an anonymous sign-in, a user iam does not know
-- yet, malformed events, and a consultant in hundreds of companies. It adds
-- claim "iam", keeps every other claim, never raises, and only
-- supabase_auth_admin (and the operator) may execute it.
--
-- Run with: pg_prove -d DB test/pgtap/access_token_hook.sql (DB has pgtap and iam_ext).

BEGIN;
SELECT plan(21);

\ir ../fixtures/supabase_roles.sql
\ir ../fixtures/supabase_auth.sql
SELECT FROM iam.apply_grants();

-- The tests' people; besides, Carol (Acme's admin) is a member of Initech
-- (suspended: it does not count), and Gus a consultant in 120 companies.
\ir ../fixtures/people.sql
INSERT INTO iam.company_users (user_id, company_id)
VALUES ('a0000000-0000-4000-8000-0000000000a3', 'c0000000-0000-4000-8000-00000000000c');
INSERT INTO iam.companies (id, name)
SELECT ('c7000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'Client ' || i FROM generate_series(100, 219) AS i;
INSERT INTO iam.company_users (user_id, company_id)
SELECT 'a0000000-0000-4000-8000-0000000000d2', id FROM iam.companies WHERE name LIKE 'Client %';
INSERT INTO iam.user_roles (user_id, role_id)
SELECT 'a0000000-0000-4000-8000-0000000000d2', id FROM iam.roles WHERE name = 'consultant';

-- The event GoTrue sends (its claims as GoTrue makes them before the hook).
CREATE FUNCTION pg_temp.event(user_id text, method text DEFAULT 'password') RETURNS jsonb
    LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'user_id', user_id,
        'authentication_method', method,
        'claims', jsonb_build_object(
            'aud', 'authenticated', 'exp', 1893456000, 'iat', 1893452400,
            'iss', 'https://example.supabase.co/auth/v1', 'sub', user_id,
            'email', 'someone@example.test', 'phone', '', 'role', 'authenticated',
            'aal', 'aal1', 'amr', jsonb_build_array(jsonb_build_object('method', method, 'timestamp', 1893452400)),
            'session_id', '0b9a6c8e-2f1d-4e3c-9a8b-7c6d5e4f3a2b', 'is_anonymous', method = 'anonymous',
            'app_metadata', jsonb_build_object('provider', 'email'), 'user_metadata', '{}'::jsonb))
$$;
GRANT EXECUTE ON FUNCTION pg_temp.event(text, text) TO supabase_auth_admin;
DO $$
BEGIN
    EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA %s TO PUBLIC', pg_my_temp_schema()::regnamespace);
    EXECUTE format('GRANT ALL ON ALL SEQUENCES IN SCHEMA %s TO PUBLIC', pg_my_temp_schema()::regnamespace);
END
$$;

SET LOCAL ROLE supabase_auth_admin;
CREATE TEMP TABLE answers AS SELECT 'carol' AS who,
    iam.custom_access_token_hook(pg_temp.event('a0000000-0000-4000-8000-0000000000a3')) AS result;
INSERT INTO answers SELECT 'gus', iam.custom_access_token_hook(pg_temp.event('a0000000-0000-4000-8000-0000000000d2'));
INSERT INTO answers SELECT 'stranger', iam.custom_access_token_hook(pg_temp.event('b7000000-0000-4000-8000-00000000000f'));
INSERT INTO answers SELECT 'anonymous', iam.custom_access_token_hook(pg_temp.event('b7000000-0000-4000-8000-0000000000a0', 'anonymous'));
INSERT INTO answers SELECT 'no claims', iam.custom_access_token_hook('{"user_id": "a0000000-0000-4000-8000-0000000000a3"}');
INSERT INTO answers SELECT 'a string', iam.custom_access_token_hook('"not an event"');
INSERT INTO answers SELECT 'bad user id', iam.custom_access_token_hook(
    jsonb_set(pg_temp.event('a0000000-0000-4000-8000-0000000000a3'), '{user_id}', '"not-a-uuid"'));
INSERT INTO answers SELECT 'NULL', iam.custom_access_token_hook(NULL);
RESET ROLE;

SELECT is((SELECT (result -> 'claims') - 'iam' FROM answers WHERE who = 'carol'),
          pg_temp.event('a0000000-0000-4000-8000-0000000000a3') -> 'claims',
          'A password sign-in keeps every claim GoTrue made as it was');
SELECT is((SELECT result #> '{claims,iam,roles}' FROM answers WHERE who = 'carol'), '["enterprise_admin"]',
          '... and adds the user''s role names');
SELECT is((SELECT result #> '{claims,iam,company_ids}' FROM answers WHERE who = 'carol'),
          '["c0000000-0000-4000-8000-00000000000a"]',
          '... and the active companies they are active in (not the suspended one)');
SELECT is((SELECT result #>> '{claims,iam,company_ids_truncated}' FROM answers WHERE who = 'carol'), 'false',
          '... all of them');
SELECT is((SELECT jsonb_array_length(result #> '{claims,iam,company_ids}') FROM answers WHERE who = 'gus'), 50,
          'A consultant in 120 companies gets 50 of them');
SELECT is((SELECT result #>> '{claims,iam,company_ids_truncated}' FROM answers WHERE who = 'gus'), 'true',
          '... and a flag that says the list is cut');
SELECT cmp_ok((SELECT octet_length((result -> 'claims')::text) FROM answers WHERE who = 'gus'), '<', 3000,
              '... so that the claims stay well inside a 4 KB cookie');
SELECT is((SELECT result FROM answers WHERE who = 'stranger'),
          jsonb_build_object('claims', pg_temp.event('b7000000-0000-4000-8000-00000000000f') -> 'claims'),
          'A user iam does not know yet: the claims unchanged');
SELECT is((SELECT result FROM answers WHERE who = 'anonymous'),
          jsonb_build_object('claims', pg_temp.event('b7000000-0000-4000-8000-0000000000a0', 'anonymous') -> 'claims'),
          'An anonymous sign-in with no iam row: the claims unchanged');
SELECT is((SELECT result FROM answers WHERE who = 'no claims'), '{"claims": {}}',
          'An event without claims: empty claims, no error');
SELECT is((SELECT result FROM answers WHERE who = 'a string'), '{"claims": {}}',
          'An event that is not an object: empty claims, no error');
SELECT is((SELECT result FROM answers WHERE who = 'bad user id'),
          jsonb_build_object('claims', jsonb_set(pg_temp.event('a0000000-0000-4000-8000-0000000000a3'),
                                                 '{user_id}', '"not-a-uuid"') -> 'claims'),
          'A user_id that is not a UUID: the claims unchanged');
SELECT is((SELECT result FROM answers WHERE who = 'NULL'), '{"claims": {}}', 'A NULL event: empty claims');

-- Who may run it.
SELECT ok(has_function_privilege('supabase_auth_admin', 'iam.custom_access_token_hook(jsonb)', 'EXECUTE'),
          'supabase_auth_admin executes the hook');
SELECT ok(NOT has_function_privilege('anon', 'iam.custom_access_token_hook(jsonb)', 'EXECUTE'),
          'anon does not');
SELECT ok(NOT has_function_privilege('authenticated', 'iam.custom_access_token_hook(jsonb)', 'EXECUTE'),
          'authenticated does not');
SELECT ok(NOT has_function_privilege('service_role', 'iam.custom_access_token_hook(jsonb)', 'EXECUTE'),
          'service_role does not');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'iam.custom_access_token_hook(jsonb)'::regprocedure), true,
          'It runs as its owner: supabase_auth_admin needs no privilege on iam''s tables');
SELECT ok(NOT has_table_privilege('supabase_auth_admin', 'iam.user_roles', 'SELECT'),
          'supabase_auth_admin reads no iam table itself');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'iam.custom_access_token_hook(jsonb)'::regprocedure),
          '{"search_path=pg_catalog, pg_temp",row_security=on}', 'It pins its search_path, and row_security on');
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'iam.custom_access_token_hook(jsonb)'::regprocedure), 's',
          'It is STABLE: it reads, never writes');

SELECT * FROM finish();
ROLLBACK;
