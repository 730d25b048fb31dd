-- The hostile-input suite's database: the fixture, the hostile values, the
-- contract of every function, and the calls to make (schema hostile). Run by
-- hostile_input.sh, which then runs the calls (hostile.run) and checks them.
--
-- Every SQL function of schema iam (trigger functions aside) is called
--   * with each hostile value of its type in each argument position in turn,
--     the other arguments being ordinary ("benign") values, plus all NULLs and
--     only the required arguments; as the superuser, service_role, anon, and
--     authenticated as a plain user, a platform_admin and a company admin;
--     the argument as a literal, or as a parameter (a sub-select);
--   * once per statement with all the hostile values of a position as rows,
--     so that the per-call-site caches see them change from row to row;
--   * with ordinary arguments under hostile settings: request.jwt.claims,
--     request.jwt.claim.sub and request.headers malformed or huge, API-key
--     requests with bad keys, a read-only transaction, and a search_path
--     whose first schema shadows the = operators.
-- Each call is its own transaction, rolled back afterwards, and its own
-- subtransaction, so that its outcome is recorded whatever it is.

-- (The auth.users sync below warns about the email conflicts it resolves.)
SET client_min_messages = error;
CREATE EXTENSION iam_ext;
\ir ../fixtures/supabase_roles.sql
SELECT iam.apply_grants();
\ir ../fixtures/supabase_auth.sql

------------------------------------------------------------------------------
-- The tests' people (Acme: Carol its admin, Alice and Vera members; Initech
-- suspended, with a key of its own; Pam a platform_admin; Nina nobody yet);
-- Alice has a key and a referral code that brought Vera in.
------------------------------------------------------------------------------
\ir ../fixtures/people.sql

-- Supabase Auth writes hostile rows into auth.users, the way GoTrue does (as
-- supabase_auth_admin, search_path auth): each write must go through, the
-- sync trigger turning anything it cannot apply into a WARNING. They stay,
-- so that every enable_auth_sync() call below syncs them again.
SELECT iam.enable_auth_sync() \gset
SET ROLE supabase_auth_admin;
SET search_path = auth;
INSERT INTO users (id, email, is_sso_user, is_anonymous, phone, raw_app_meta_data, raw_user_meta_data, created_at) VALUES
    ('b0000000-0000-4000-8000-0000000000b1', 'new@example.test', false, false, NULL, '{"provider": "email"}', '{"full_name": "New"}', now()),
    ('b0000000-0000-4000-8000-0000000000b2', '', false, false, NULL, NULL, NULL, now()),
    ('b0000000-0000-4000-8000-0000000000b3', 'zoë@exämple.test', false, false, NULL, '{}', '{"name": "Zoë 👩‍💻"}', now()),
    ('b0000000-0000-4000-8000-0000000000b4', repeat('l', 242) || '@example.test', false, false, NULL, '{}', '{}', now()),
    ('b0000000-0000-4000-8000-0000000000b5', 'alice@example.test', false, false, NULL, '{}', '{}', now()),
    ('b0000000-0000-4000-8000-0000000000b6', 'pam@example.test', true, false, NULL, '{}', '{}', now()),
    ('b0000000-0000-4000-8000-0000000000b7', NULL, false, false, '+15550100', '[]', '"a string"', now()),
    ('b0000000-0000-4000-8000-0000000000b8', NULL, false, true, NULL, 'null', '42', now()),
    ('b0000000-0000-4000-8000-0000000000b9', 'big@example.test', false, false, NULL,
     ('{"deep": ' || repeat('[', 500) || repeat(']', 500) || '}')::jsonb,
     jsonb_build_object('full_name', repeat('🦄', 262144)), now()),
    ('b0000000-0000-4000-8000-0000000000ba', 'injection@example.test', false, false, NULL, '{}',
     '{"full_name": "x''); DROP TABLE iam.users; --", "name": {"nested": true}}', now()),
    ('b0000000-0000-4000-8000-0000000000bb', 'gone@example.test', false, false, NULL, '{}', '{}', now());
-- Then an email change to an address another user holds, metadata made
-- huge, an SSO user taking a company admin's address, a user deleted.
UPDATE users SET email = 'vera@acme.test' WHERE id = 'b0000000-0000-4000-8000-0000000000b1';
UPDATE users SET raw_user_meta_data = jsonb_build_object('full_name', repeat('ü', 524288)) WHERE id = 'b0000000-0000-4000-8000-0000000000b2';
UPDATE users SET email = 'carol@acme.test', is_sso_user = true WHERE id = 'b0000000-0000-4000-8000-0000000000b3';
DELETE FROM users WHERE id = 'b0000000-0000-4000-8000-0000000000bb';
RESET search_path;
RESET ROLE;

CREATE SCHEMA hostile;
CREATE TABLE hostile.fixture_key (name text PRIMARY KEY, id uuid, api_key text);
INSERT INTO hostile.fixture_key
SELECT 'alice', id, api_key FROM iam.create_api_key('alice''s key', 'a0000000-0000-4000-8000-0000000000a1',
                                                     permissions => '["courses:read", "reports:*"]');
INSERT INTO hostile.fixture_key
SELECT 'acme', id, api_key FROM iam.create_api_key('acme''s key', company_id => 'c0000000-0000-4000-8000-00000000000a',
                                                    permissions => '["*"]');
-- Initech was suspended before its key was made; the key exists all the same.
INSERT INTO hostile.fixture_key
SELECT 'initech', id, api_key FROM iam.create_api_key('initech''s key', company_id => 'c0000000-0000-4000-8000-00000000000c');
INSERT INTO hostile.fixture_key
SELECT 'revoked', id, api_key FROM iam.create_api_key('revoked', 'a0000000-0000-4000-8000-0000000000a1');
SELECT iam.revoke_api_key(id) FROM hostile.fixture_key WHERE name = 'revoked' \gset
CREATE TABLE hostile.fixture_code AS
SELECT (iam.create_referral_code('a0000000-0000-4000-8000-0000000000a1')).code;
SELECT iam.create_referral_code('a0000000-0000-4000-8000-0000000000e1', 'pam-rocks') \gset
CREATE TABLE hostile.fixture_referral AS
SELECT (iam.redeem_referral_code((SELECT code FROM hostile.fixture_code), 'a0000000-0000-4000-8000-0000000000a2')).id;

------------------------------------------------------------------------------
-- Hostile values, per argument type. expr is an SQL expression of that type
-- once cast; input_error is the SQLSTATE PostgreSQL's input function gives
-- the literal before any function of ours runs (NULL: a valid value).
------------------------------------------------------------------------------
CREATE TABLE hostile.value (
    type        regtype NOT NULL,
    label       text NOT NULL,
    expr        text NOT NULL,
    input_error text,
    PRIMARY KEY (type, label)
);
INSERT INTO hostile.value (type, label, expr, input_error) VALUES
    -- text
    ('text', 'NULL', 'NULL', NULL),
    ('text', 'empty', $$''$$, NULL),
    ('text', 'a space', $$' '$$, NULL),
    ('text', 'tab, newline, return', $$E'\t\n\r'$$, NULL),
    ('text', '1 MB of ASCII', $$pg_catalog.repeat(pg_catalog.repeat('x', 1024), 1024)$$, NULL),
    ('text', '1 MB of emoji', $$pg_catalog.repeat(pg_catalog.repeat('🦄', 1024), 256)$$, NULL),
    ('text', '1 MB of dashes', $$pg_catalog.repeat(pg_catalog.repeat('-', 1024), 1024)$$, NULL),
    ('text', 'non-ASCII', $$'Zoë Ångström 日本語 ﷽ Ω≈ç√'$$, NULL),
    ('text', 'emoji and joiners', $$'👩‍💻🏳️‍🌈🦄'$$, NULL),
    ('text', 'right-to-left override', $$E'platform\u202E_admin'$$, NULL),
    ('text', 'zero-width space', $$E'platform\u200B_admin'$$, NULL),
    ('text', 'combining accents', $$E'pla\u0301tform_admin'$$, NULL),
    ('text', 'NUL-looking escape', $$'\u0000'$$, NULL),
    ('text', 'backslashes', $$'\x00\\'$$, NULL),
    ('text', 'SQL injection', $$'x''); DROP TABLE iam.users; --'$$, NULL),
    ('text', 'quote injection', $$''' OR ''1''=''1'$$, NULL),
    ('text', 'format directives', $$'%s%s%n%x%p%%'$$, NULL),
    ('text', 'JSON claims', $$'{"sub": "a0000000-0000-4000-8000-0000000000e1"}'$$, NULL),
    ('text', 'role with a trailing space', $$'platform_admin '$$, NULL),
    ('text', 'role in upper case', $$'PLATFORM_ADMIN'$$, NULL),
    ('text', '300 letters', $$pg_catalog.repeat('A', 300)$$, NULL),
    ('text', 'key-shaped junk', $$'iam_AAAAAAAA_' || pg_catalog.repeat('A', 43)$$, NULL),
    ('text', '1 MB key-shaped', $$'iam_AAAAAAAA_' || pg_catalog.repeat(pg_catalog.repeat('A', 1024), 1024)$$, NULL),
    -- uuid
    ('uuid', 'NULL', 'NULL', NULL),
    ('uuid', 'nil', $$'00000000-0000-0000-0000-000000000000'$$, NULL),
    ('uuid', 'max', $$'ffffffff-ffff-ffff-ffff-ffffffffffff'$$, NULL),
    ('uuid', 'unknown', $$'b1ad0000-0000-4000-8000-000000000000'$$, NULL),
    ('uuid', 'alice', $$'a0000000-0000-4000-8000-0000000000a1'$$, NULL),
    ('uuid', 'pam', $$'a0000000-0000-4000-8000-0000000000e1'$$, NULL),
    ('uuid', 'a company''s id', $$'c0000000-0000-4000-8000-00000000000a'$$, NULL),
    ('uuid', 'a role''s id', $$'00000000-0000-4000-8000-000000000007'$$, NULL),
    ('uuid', 'braces, upper case', $$'{A0000000-0000-4000-8000-0000000000A1}'$$, NULL),
    ('uuid', 'not a UUID', $$'not-a-uuid'$$, '22P02'),
    ('uuid', 'empty', $$''$$, '22P02'),
    ('uuid', 'UUID and junk', $$'a0000000-0000-4000-8000-0000000000a1; DROP TABLE iam.users'$$, '22P02'),
    ('uuid', 'emoji', $$'🦄'$$, '22P02'),
    ('uuid', '1 MB', $$pg_catalog.repeat(pg_catalog.repeat('a', 1024), 1024)$$, '22P02'),
    -- jsonb
    ('jsonb', 'NULL', 'NULL', NULL),
    ('jsonb', 'JSON null', $$'null'$$, NULL),
    ('jsonb', 'empty array', $$'[]'$$, NULL),
    ('jsonb', 'empty object', $$'{}'$$, NULL),
    ('jsonb', 'a string', $$'"*"'$$, NULL),
    ('jsonb', 'a number', $$'42'$$, NULL),
    ('jsonb', 'wildcard', $$'["*"]'$$, NULL),
    ('jsonb', 'array of null', $$'[null]'$$, NULL),
    ('jsonb', 'array of numbers and booleans', $$'[1, true, 2.5e10]'$$, NULL),
    ('jsonb', 'nested array', $$'[["courses:read"]]'$$, NULL),
    ('jsonb', 'object in array', $$'[{"courses": "read"}]'$$, NULL),
    ('jsonb', 'empty string', $$'[""]'$$, NULL),
    ('jsonb', 'with a space', $$'["courses: read"]'$$, NULL),
    ('jsonb', 'control character', $$'["courses\nread"]'$$, NULL),
    ('jsonb', 'emoji', $$'["👩‍💻:read"]'$$, NULL),
    ('jsonb', 'injection', $$'["x''); DROP TABLE iam.users; --"]'$$, NULL),
    ('jsonb', '201 characters', $$'["' || pg_catalog.repeat('p', 201) || '"]'$$, NULL),
    ('jsonb', '1 MB string', $$'["' || pg_catalog.repeat(pg_catalog.repeat('p', 1024), 1024) || '"]'$$, NULL),
    ('jsonb', '100,000 permissions', $$'[' || pg_catalog.rtrim(pg_catalog.repeat('"courses:read",', 100000), ',') || ']'$$, NULL),
    ('jsonb', '5,000 deep', $$pg_catalog.repeat('[', 5000) || pg_catalog.repeat(']', 5000)$$, NULL),
    ('jsonb', 'duplicate keys', $$'{"a": 1, "a": 2}'$$, NULL),
    ('jsonb', 'auth user: id not a UUID', $$'{"id": "not-a-uuid", "email": "x@example.test"}'$$, NULL),
    ('jsonb', 'auth user: no id', $$'{"email": "x@example.test"}'$$, NULL),
    ('jsonb', 'auth user: alice''s id', $$'{"id": "a0000000-0000-4000-8000-0000000000a1", "email": null, "raw_user_meta_data": []}'$$, NULL),
    ('jsonb', 'auth user: alice''s email', $$'{"id": "b0000000-0000-4000-8000-0000000000c2", "email": "alice@example.test"}'$$, NULL),
    ('jsonb', 'auth user: SSO with alice''s email', $$'{"id": "b0000000-0000-4000-8000-0000000000c3", "email": "alice@example.test", "is_sso_user": true}'$$, NULL),
    ('jsonb', 'auth user: is_sso_user a word', $$'{"id": "b0000000-0000-4000-8000-0000000000c4", "is_sso_user": "maybe"}'$$, NULL),
    ('jsonb', 'auth user: metadata of the wrong shape', $$'{"id": "b0000000-0000-4000-8000-0000000000c5", "email": "", "raw_app_meta_data": "x", "raw_user_meta_data": {"full_name": {"a": 1}}}'$$, NULL),
    ('jsonb', 'NUL escape', $$'["\u0000"]'$$, '22P05'),
    ('jsonb', 'lone surrogate', $$'["\ud800"]'$$, '22P02'),
    ('jsonb', 'not JSON', $$'courses:read'$$, '22P02'),
    ('jsonb', 'truncated', $$'["courses:read"'$$, '22P02'),
    ('jsonb', 'huge exponent', $$'[1e1000000000]'$$, '22003'),
    -- text[]
    ('text[]', 'NULL', 'NULL', NULL),
    ('text[]', 'empty', $$'{}'$$, NULL),
    ('text[]', 'one NULL', $$'{NULL}'$$, NULL),
    ('text[]', 'role and NULL', $$'{platform_admin,NULL}'$$, NULL),
    ('text[]', 'empty string', $$'{""}'$$, NULL),
    ('text[]', 'unknown role', $$'{no_such_role}'$$, NULL),
    ('text[]', 'known then unknown', $$'{solo_learner,no_such_role}'$$, NULL),
    ('text[]', '100,000 roles', $$pg_catalog.array_fill('solo_learner'::text, ARRAY[100000])$$, NULL),
    ('text[]', '100,000 NULLs', $$pg_catalog.array_fill(NULL::text, ARRAY[100000])$$, NULL),
    ('text[]', '1 MB element', $$ARRAY[pg_catalog.repeat(pg_catalog.repeat('x', 1024), 1024)]$$, NULL),
    ('text[]', 'two dimensions', $$'{{platform_admin},{support_agent}}'$$, NULL),
    ('text[]', 'lower bound 5', $$'[5:6]={platform_admin,solo_learner}'$$, NULL),
    ('text[]', 'emoji and injection', $$ARRAY['🦄', 'x''); DROP TABLE iam.users; --']$$, NULL),
    ('text[]', 'seven dimensions', $$'{{{{{{{a}}}}}}}'$$, '54000'),
    ('text[]', 'malformed', $$'{platform_admin'$$, '22P02'),
    ('text[]', 'not an array', $$'platform_admin'$$, '22P02'),
    -- timestamptz
    ('timestamptz', 'NULL', 'NULL', NULL),
    ('timestamptz', 'infinity', $$'infinity'$$, NULL),
    ('timestamptz', '-infinity', $$'-infinity'$$, NULL),
    ('timestamptz', 'epoch', $$'epoch'$$, NULL),
    ('timestamptz', 'past', $$'2000-01-01 00:00:00+00'$$, NULL),
    ('timestamptz', 'statement start', 'pg_catalog.statement_timestamp()', NULL),
    ('timestamptz', 'far future', $$'294276-12-31 23:59:59+00'$$, NULL),
    ('timestamptz', 'earliest', $$'4714-11-24 00:00:00+00 BC'$$, NULL),
    ('timestamptz', 'not a time', $$'not a time'$$, '22007'),
    ('timestamptz', 'out of range', $$'300000-01-01 00:00:00+00'$$, '22008'),
    ('timestamptz', 'February 30', $$'2024-02-30 00:00:00+00'$$, '22008'),
    -- integer
    ('integer', 'NULL', 'NULL', NULL),
    ('integer', 'zero', '0', NULL),
    ('integer', 'minus one', '-1', NULL),
    ('integer', 'three', '3', NULL),
    ('integer', 'four', '4', NULL),
    ('integer', 'thirty-two', '32', NULL),
    ('integer', 'thirty-three', '33', NULL),
    ('integer', 'max', '2147483647', NULL),
    ('integer', 'min', '-2147483648', NULL),
    ('integer', 'too big', $$'2147483648'$$, '22003'),
    ('integer', 'a word', $$'eight'$$, '22P02'),
    -- interval
    ('interval', 'NULL', 'NULL', NULL),
    ('interval', 'zero', $$'0'$$, NULL),
    ('interval', 'negative', $$'-1 day'$$, NULL),
    ('interval', 'an hour', $$'1 hour'$$, NULL),
    ('interval', 'a thousand years', $$'1000 years'$$, NULL),
    ('interval', 'the largest', $$'178000000 years'$$, NULL),
    ('interval', 'not an interval', $$'a while'$$, '22007'),
    -- boolean (no function takes one yet; a new one will be ready)
    ('boolean', 'NULL', 'NULL', NULL),
    ('boolean', 'true', 'true', NULL),
    ('boolean', 'false', 'false', NULL),
    ('boolean', 'a word', $$'maybe'$$, '22P02');

-- Values made from the fixture: keys and codes, right and nearly right.
INSERT INTO hostile.value (type, label, expr)
SELECT 'text', label, pg_catalog.quote_literal(value) FROM (
    SELECT 'valid API key', api_key FROM hostile.fixture_key WHERE name = 'alice'
    UNION ALL SELECT 'API key with a changed character',
        overlay(api_key PLACING CASE WHEN pg_catalog.substr(api_key, 20, 1) = 'Z' THEN 'Y' ELSE 'Z' END FROM 20 FOR 1)
        FROM hostile.fixture_key WHERE name = 'alice'
    UNION ALL SELECT 'API key in lower case', pg_catalog.lower(api_key) FROM hostile.fixture_key WHERE name = 'alice'
    UNION ALL SELECT 'API key and a NUL-looking tail', api_key || '\u0000' FROM hostile.fixture_key WHERE name = 'alice'
    UNION ALL SELECT 'revoked API key', api_key FROM hostile.fixture_key WHERE name = 'revoked'
    UNION ALL SELECT 'suspended company''s API key', api_key FROM hostile.fixture_key WHERE name = 'initech'
    UNION ALL SELECT 'referral code, typed sloppily', ' ' || pg_catalog.lower(pg_catalog.substr(code, 1, 4)) || '-' || pg_catalog.lower(pg_catalog.substr(code, 5)) || ' '
        FROM hostile.fixture_code
    UNION ALL SELECT 'referral code with a changed character',
        overlay(code PLACING CASE WHEN pg_catalog.substr(code, 2, 1) = 'A' THEN 'B' ELSE 'A' END FROM 2 FOR 1)
        FROM hostile.fixture_code
    UNION ALL SELECT 'vanity code', 'pam-rocks'
) AS made (label, value);

------------------------------------------------------------------------------
-- Ordinary arguments: by function and parameter name, else by parameter
-- name, else by type (function '' and parameter '').
------------------------------------------------------------------------------
CREATE TABLE hostile.benign (
    function  text NOT NULL,
    parameter text NOT NULL,
    type      regtype NOT NULL,
    expr      text NOT NULL,
    PRIMARY KEY (function, parameter, type)
);
INSERT INTO hostile.benign VALUES
    ('', 'role_name', 'text', $$'platform_admin'$$),
    ('', 'role_names', 'text[]', $$'{platform_admin,support_agent}'$$),
    ('', 'user_id', 'uuid', $$'a0000000-0000-4000-8000-0000000000a1'$$),
    ('', 'referred_user_id', 'uuid', $$'a0000000-0000-4000-8000-0000000000d1'$$),
    ('', 'company_id', 'uuid', $$'c0000000-0000-4000-8000-00000000000a'$$),
    ('', 'permission', 'text', $$'courses:read'$$),
    ('', 'name', 'text', $$'hostile suite key'$$),
    ('', 'permissions', 'jsonb', $$'["courses:read"]'$$),
    ('', 'expires_at', 'timestamptz', $$'2100-01-01 00:00:00+00'$$),
    ('', 'length', 'integer', '8'),
    ('create_api_key', 'company_id', 'uuid', 'NULL'),
    ('create_referral_code', 'code', 'text', 'NULL'),
    ('create_referral_code', 'user_id', 'uuid', $$'a0000000-0000-4000-8000-0000000000d1'$$),
    ('set_company_status', 'status', 'text', $$'suspended_by_admin'$$),
    ('advance_referral', 'status', 'text', $$'completed_signup'$$),
    ('require_role_administrator', 'action', 'text', $$'grant'$$),
    ('require_company_administrator', 'action', 'text', $$'delete'$$),
    ('normalize_vanity_code', 'code', 'text', $$'hostile-suite'$$),
    ('sync_user_from_auth', 'auth_user', 'jsonb',
     $$'{"id": "b0000000-0000-4000-8000-0000000000c1", "email": "synced@example.test", "is_sso_user": false, "raw_user_meta_data": {"full_name": "Synced"}}'$$),
    -- By type, for parameters not named above.
    ('', '', 'text', $$'hostile'$$),
    ('', '', 'uuid', $$'a0000000-0000-4000-8000-0000000000a1'$$),
    ('', '', 'jsonb', $$'[]'$$),
    ('', '', 'text[]', $$'{}'$$),
    ('', '', 'timestamptz', $$'2100-01-01 00:00:00+00'$$),
    ('', '', 'integer', '8'),
    ('', '', 'boolean', 'true'),
    ('', '', 'interval', $$'1 day'$$),
    ('invite_to_company', 'email', 'text', $$'hostile@example.test'$$),
    ('invite_to_company', 'user_id', 'uuid', 'NULL'),
    ('invite_to_company', 'role_in_company', 'text', $$'member'$$),
    ('set_company_role', 'role_in_company', 'text', $$'member'$$);
INSERT INTO hostile.benign
SELECT '', 'api_key', 'text'::regtype, pg_catalog.quote_literal(api_key) FROM hostile.fixture_key WHERE name = 'alice'
UNION ALL SELECT '', 'key_id', 'uuid', pg_catalog.quote_literal(id) FROM hostile.fixture_key WHERE name = 'alice'
UNION ALL SELECT '', 'referral_id', 'uuid', pg_catalog.quote_literal(id) FROM hostile.fixture_referral
UNION ALL SELECT 'redeem_referral_code', 'code', 'text', pg_catalog.quote_literal(code) FROM hostile.fixture_code;

------------------------------------------------------------------------------
-- The contract: for every function, the SQLSTATEs it may answer with
-- (README "SQL API" and "Errors", docs/security.md,
-- the functions' comments). An empty list: never an error. A function of
-- schema iam missing here fails the suite.
--   22023 invalid argument        42704 unknown role     23505 duplicate
--   P0002 unknown user, company, key, code or referral   42501 not allowed
--   28000 bad API key in authenticate_request
------------------------------------------------------------------------------
CREATE TABLE hostile.contract (
    signature text PRIMARY KEY,
    allowed   text[] NOT NULL,
    why       text NOT NULL
);
INSERT INTO hostile.contract VALUES
    ('iam.current_user_id()', '{}', 'NULL for missing or malformed claims, never an error'),
    ('iam.is_service_caller()', '{}', 'a question about the database role'),
    ('iam.is_operator_session()', '{}', 'a question about who is in the session'),
    ('iam.current_company_ids()', '{}', 'empty for nobody'),
    ('iam.is_current_company(uuid)', '{}', '= ANY (current_company_ids()): false for nobody, also for NULL; NULL for NULL in a company'),
    ('iam.has_role(text)', '{42704}', 'unknown role'),
    ('iam.has_role(uuid,text)', '{42704,42501}', 'unknown role; another user''s roles are not for everyone'),
    ('iam.has_any_role(text[])', '{42704}', 'unknown role; NULL elements ignored'),
    ('iam.roles_of(uuid)', '{42501}', 'another user''s roles are not for everyone'),
    ('iam.is_company_member(uuid,uuid)', '{42501}', 'another user''s memberships are not for everyone'),
    ('iam.is_company_admin(uuid,uuid)', '{42501}', 'as is_company_member'),
    ('iam.require_role_administrator(uuid,text,text)', '{22023,42501,42704}', 'the checks of grant_role and revoke_role'),
    ('iam.grant_role(uuid,text)', '{22023,42501,42704,P0002}', 'NULL argument, not allowed, unknown role, unknown user'),
    ('iam.revoke_role(uuid,text)', '{22023,42501,42704}', 'NULL argument, not allowed, unknown role'),
    ('iam.require_company_administrator(uuid,text)', '{22023,42501,P0002}', 'the checks of the company functions'),
    ('iam.add_company_member(uuid,uuid)', '{22023,42501,P0002}', 'NULL argument, not allowed, unknown company or user'),
    ('iam.remove_company_member(uuid,uuid)', '{22023,42501,P0002}', 'NULL company, not allowed, unknown company'),
    ('iam.set_company_status(uuid,text)', '{22023,42501,P0002}', 'NULL or unknown status, not allowed, unknown company'),
    ('iam.invite_to_company(uuid,text,uuid,text,interval)', '{22023,42501,P0002}', 'NULL company, not one invitee, bad email, role or lifetime; not allowed; unknown company'),
    ('iam.revoke_company_invitation(uuid)', '{22023,42501}', 'NULL invitation; not allowed (an invitation the caller may not see: false)'),
    ('iam.accept_company_invitation(text)', '{42501,P0002}', 'no signed-in caller or a request key without iam:company_invitations:write; any token that does not admit the caller'),
    ('iam.set_company_role(uuid,uuid,text)', '{22023,42501,P0002,23514}', 'NULL argument or bad role; not allowed; not an active member; the last admin'),
    ('iam.company_admin_remains(uuid,uuid)', '{42501}', 'a caller without privileges on company_users; otherwise what RLS lets it see'),
    ('iam.delete_company(uuid)', '{22023,42501,P0002}', 'NULL company, not allowed, unknown company'),
    ('iam.apply_grants()', '{42501}', 'operator only: the API roles may not execute it'),
    ('iam.rotate_api_key_pepper()', '{42501}', 'operator only'),
    ('iam.verify_api_key(text)', '{}', 'no row for any bad key, never an error (a login path)'),
    ('iam.api_key_has_permission(text,text)', '{}', 'false for any bad key or permission'),
    ('iam.has_permission(text)', '{}', 'false without an API-key request'),
    ('iam.can(text)', '{22023,42704}', 'NULL, malformed or wildcard permission; one not in the catalogue'),
    ('iam.can(text,uuid)', '{22023,42704}', 'as can(text); any company, NULL included, is an answer'),
    ('iam.current_api_key_id()', '{}', 'NULL outside an API-key request'),
    ('iam.company_role_id(uuid,text)', '{22023,42501,42704}', 'NULL argument; anon reads no company roles; no such role the caller sees'),
    ('iam.assign_company_role(uuid,uuid,text)', '{22023,42501,42704,P0002}', 'NULL argument or a built-in template; not allowed or more than the caller holds; unknown role; not a member'),
    ('iam.remove_company_role(uuid,uuid,text)', '{22023,42501,42704}', 'NULL argument; not allowed; unknown role'),
    ('iam.link_external_identity(text,text,uuid)', '{22023,42501}', 'bad issuer, subject or user; not the service role'),
    ('iam.unlink_external_identity(text,text)', '{22023,42501}', 'NULL argument; not allowed'),
    ('iam.create_api_key(text,uuid,uuid,jsonb,timestamptz)', '{22023,42501,P0002,53400}', 'bad name, owner, permissions or expiry; RLS, privileges, another user, the request key''s scope; unknown owner; the owner''s key cap'),
    ('iam.rotate_api_key(uuid,interval)', '{22023,42501,P0002,53400}', 'NULL key; privileges; no such active key the caller may rotate'),
    ('iam.revoke_api_key(uuid)', '{22023,42501,P0002}', 'NULL key; privileges; no such key the caller may see'),
    ('iam.report_leaked_api_key(text)', '{22023,42501}', 'not a key of the format; a request key without iam:api_keys:write'),
    ('iam.present_api_key(text)', '{}', 'nothing presented for any text that is not a key''s secret'),
    ('iam.presented_api_key_id()', '{}', 'NULL when nothing was presented'),
    ('iam.is_presented_api_key(text)', '{}', 'false for anything but the presented key''s stored hash'),
    ('iam.present_invitation_token(text)', '{}', 'nothing presented for NULL, empty or more than 64 characters'),
    ('iam.presented_invitation_hash()', '{}', 'NULL when nothing was presented'),
    ('iam.presented_invitation_id()', '{}', 'NULL when nothing was presented or no invitation has the token'),
    ('iam.expiring_api_keys(interval)', '{42501}', 'anon may read no key; no rows for NULL or negative intervals'),
    ('iam.unused_api_keys(interval)', '{42501}', 'as expiring_api_keys'),
    ('iam.consume_api_key(text,integer)', '{22023,28000,53400,25006}', 'NULL or negative cost; any bad key; no credits left; credits in a read-only transaction'),
    ('iam.api_key_credits_remaining()', '{}', 'NULL without a metered request key'),
    ('iam.is_spending_credits()', '{}', 'false outside the statement by which a request spends credits'),
    ('iam.set_api_key_credits(uuid,integer,integer,interval)', '{22023,42501,P0002}', 'NULL key, negative credits, half a refill; only the service role or a platform_admin raises them; no such key the caller may change'),
    ('iam.set_api_key_rate_limit(uuid,integer,interval)', '{22023,42501,P0002,55000}', 'NULL key, a limit or window out of range; not allowed; no such key the caller may change; iam_ext not preloaded'),
    ('iam.authenticate_request()', '{28000,53400,25006,55000}', 'a bad API key in request.headers; a metered or rate-limited key that may not make the request'),
    ('iam.generate_referral_code(integer)', '{22023}', 'length outside 4 to 32'),
    ('iam.normalize_vanity_code(text)', '{22023}', 'not a vanity code'),
    ('iam.create_referral_code(uuid,text,timestamptz)', '{22023,42501,23505,P0002}', 'no user, bad code or expiry; another user''s; vanity code taken; unknown user'),
    ('iam.redeem_referral_code(text,uuid)', '{22023,42501,23505,P0002,53400}', 'mistyped or own code; no signed-in caller, or another user; already referred; no such redeemable code, or unknown user; too many failures'),
    ('iam.advance_referral(uuid,text)', '{22023,42501,P0002}', 'bad status or backwards; not billing; unknown referral'),
    ('iam.enable_auth_sync()', '{42501}', 'operator only; never fails on what auth.users can hold'),
    ('iam.disable_auth_sync()', '{42501}', 'operator only'),
    ('iam.raise_not_found(text,text)', '{P0002}', 'raises P0002 (as PostgREST''s 404 inside a request), always'),
    -- Called by the auth.users triggers (which turn any error into a WARNING)
    -- and enable_auth_sync, with a row of auth.users; an operator calling it
    -- by hand with a made-up row gets the cast's error for an id or
    -- is_sso_user of the wrong type, 23502 for no id.
    ('iam.sync_user_from_auth(jsonb)', '{42501,22P02,23502}', 'operator only; a row auth.users cannot hold'),
    -- Supabase Auth's hook: a sign-in fails if it raises, so it never does.
    ('iam.custom_access_token_hook(jsonb)', '{42501}', 'supabase_auth_admin and the operator only; never raises for them');

------------------------------------------------------------------------------
-- The functions under test, from the catalog.
------------------------------------------------------------------------------
CREATE TABLE hostile.func AS
SELECT p.oid AS oid, p.oid::regprocedure::text AS signature, p.proname::text AS name,
       p.pronargs::int AS nargs, p.pronargdefaults::int AS ndefaults, p.prokind AS kind,
       p.prorettype = 'trigger'::regtype AS is_trigger,
       ARRAY(SELECT unnest(p.proargtypes::regtype[])) AS argtypes,  -- from 1, as proargnames
       (SELECT pg_catalog.array_agg(coalesce(a.name, '') ORDER BY a.n)
        FROM unnest(coalesce(p.proargnames, pg_catalog.array_fill(''::text, ARRAY[p.pronargs])),
                               coalesce(p.proargmodes, pg_catalog.array_fill('i'::"char", ARRAY[p.pronargs])))
             WITH ORDINALITY AS a (name, mode, n)
        WHERE a.mode IN ('i', 'b', 'v')) AS argnames
FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace = 'iam'::regnamespace;

CREATE FUNCTION hostile.benign_expr(function text, parameter text, type regtype) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT b.expr FROM hostile.benign AS b
    WHERE b.type = benign_expr.type
      AND (b.function, b.parameter) IN ((benign_expr.function, benign_expr.parameter),
                                        ('', benign_expr.parameter), ('', ''))
    ORDER BY b.function = '' , b.parameter = ''
    LIMIT 1
$$;

-- The argument list of a call of f: the hostile expression at `hostile_at`
-- (0: none), the ordinary value elsewhere; only the first `count`.
CREATE FUNCTION hostile.arguments(f hostile.func, count int, hostile_at int, hostile_expr text, form text)
    RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(pg_catalog.string_agg(
        CASE WHEN i = hostile_at AND form = 'param' THEN pg_catalog.format('(SELECT (%s)::%s)', hostile_expr, f.argtypes[i])
             WHEN i = hostile_at THEN pg_catalog.format('(%s)::%s', hostile_expr, f.argtypes[i])
             ELSE pg_catalog.format('(%s)::%s', hostile.benign_expr(f.name, f.argnames[i], f.argtypes[i]), f.argtypes[i])
        END, ', ' ORDER BY i), '')
    FROM pg_catalog.generate_series(1, count) AS i
$$;

-- A call as one SQL statement answering a short text: in FROM (the usual
-- form) or in the select list.
CREATE FUNCTION hostile.call_sql(f hostile.func, arguments text, form text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN form = 'select list'
        THEN pg_catalog.format('SELECT pg_catalog.left((iam.%I(%s))::text, 300)', f.name, arguments)
        ELSE pg_catalog.format('SELECT pg_catalog.left(pg_catalog.string_agg(r::text, %L), 300) FROM iam.%I(%s) AS r',
                               ';', f.name, arguments)
    END
$$;

------------------------------------------------------------------------------
-- Who calls. The argument pass: six callers, each with the form its
-- hostile argument takes. The settings pass: four database roles under
-- every hostile setting.
------------------------------------------------------------------------------
CREATE TABLE hostile.caller (name text PRIMARY KEY, role text NOT NULL, claims text NOT NULL, form text NOT NULL);
INSERT INTO hostile.caller VALUES
    ('superuser', 'none', '', 'literal'),
    ('service_role', 'service_role', '', 'param'),
    ('anon', 'anon', '', 'literal'),
    ('alice (user)', 'authenticated', '{"sub": "a0000000-0000-4000-8000-0000000000a1"}', 'param'),
    ('pam (platform_admin)', 'authenticated', '{"sub": "a0000000-0000-4000-8000-0000000000e1"}', 'literal'),
    ('carol (company admin)', 'authenticated', '{"sub": "a0000000-0000-4000-8000-0000000000a3"}', 'param');

-- Hostile settings. expect_user: what iam.current_user_id() must answer
-- ('' for NULL), as auth.uid() reads the same settings (where auth.uid()
-- raises an error, NULL). expect_auth: what iam.authenticate_request()
-- answers. authenticate: the call runs after iam.authenticate_request(), as
-- PostgREST's db-pre-request makes it.
CREATE TABLE hostile.setting (
    label        text PRIMARY KEY,
    claims       text NOT NULL DEFAULT '',
    claim_sub    text NOT NULL DEFAULT '',
    headers      text NOT NULL DEFAULT '',
    authenticate boolean NOT NULL DEFAULT false,
    read_only    boolean NOT NULL DEFAULT false,
    search_path  text,
    method       text NOT NULL DEFAULT '',
    expect_user  text NOT NULL DEFAULT '',
    expect_auth  text NOT NULL DEFAULT 'ok'
);
\set alice '''a0000000-0000-4000-8000-0000000000a1'''
\set pam '''a0000000-0000-4000-8000-0000000000e1'''
INSERT INTO hostile.setting (label, claims, expect_user) VALUES
    ('no settings', '', ''),
    ('claims of pam', '{"sub": "' || :pam || '"}', :pam),
    ('claims: not JSON', 'not json', ''),
    ('claims: truncated', '{"sub": "' || :pam || '"', ''),
    ('claims: trailing garbage', '{"sub": "' || :pam || '"} x', ''),
    ('claims: an array', '[{"sub": "' || :pam || '"}]', ''),
    ('claims: a number', '42', ''),
    ('claims: a JSON string', '"' || :pam || '"', ''),
    ('claims: JSON null', 'null', ''),
    ('claims: sub a number', '{"sub": 42}', ''),
    ('claims: sub an object', '{"sub": {"id": "' || :pam || '"}}', ''),
    ('claims: sub null', '{"sub": null}', ''),
    ('claims: sub not a UUID', '{"sub": "not-a-uuid"}', ''),
    ('claims: sub an injection', '{"sub": "'''' OR 1=1 --"}', ''),
    ('claims: sub an emoji', '{"sub": "🦄"}', ''),
    ('claims: sub with a NUL escape', '{"sub": "' || :pam || '\u0000"}', ''),
    ('claims: a NUL escape elsewhere', '{"x": "\u0000", "sub": "' || :pam || '"}', ''),
    ('claims: a lone surrogate', '{"x": "\ud800", "sub": "' || :pam || '"}', ''),
    ('claims: a number jsonb refuses', '{"n": 1e1000000000, "sub": "' || :pam || '"}', ''),
    ('claims: sub twice, last counts', '{"sub": "' || :pam || '", "sub": "' || :alice || '"}', :alice),
    ('claims: escaped key', '{"s\u0075b": "' || :pam || '"}', :pam),
    ('claims: braces and upper case', '{"sub": "{' || upper(:pam) || '}"}', :pam),
    ('claims: surrounding whitespace', E' \n\t{"sub": "' || :pam || E'"}\r\n', :pam),
    ('claims: role claim says service_role', '{"sub": "' || :alice || '", "role": "service_role"}', :alice),
    ('claims: nested sub only', '{"app": {"sub": "' || :pam || '"}}', ''),
    ('claims: 1 MB sub', '{"sub": "' || repeat('a', 1048576) || '"}', ''),
    ('claims: 1 MB of emoji, then sub', '{"pad": "' || repeat('🦄', 262144) || '", "sub": "' || :pam || '"}', :pam),
    ('claims: 100,000 keys, then sub', '{' || repeat('"k": 1, ', 100000) || '"sub": "' || :pam || '"}', :pam),
    ('claims: 900 deep, then sub', '{"a": ' || repeat('[', 900) || repeat(']', 900) || ', "sub": "' || :pam || '"}', :pam),
    -- Deeper than the scanner's fixed limit (src/core/json_members.hpp): no user,
    -- where auth.uid() would still read pam: failing closed, as documented.
    ('claims: 5,000 deep, then sub', '{"a": ' || repeat('[', 5000) || repeat(']', 5000) || ', "sub": "' || :pam || '"}', '');
INSERT INTO hostile.setting (label, claims, claim_sub, expect_user) VALUES
    ('claim.sub: not a UUID', '{"sub": "' || :pam || '"}', 'not-a-uuid', ''),
    ('claim.sub: alice, claims: pam', '{"sub": "' || :pam || '"}', :alice, :alice),
    ('claim.sub: upper case', '', upper(:pam), :pam),
    ('claim.sub: leading space', '', ' ' || :pam, ''),
    ('claim.sub: JSON', '', '{"sub": "' || :pam || '"}', ''),
    ('claim.sub: 1 MB', '', repeat('f', 1048576), ''),
    ('claim.sub: NUL-looking', '', :pam || '\u0000', '');
INSERT INTO hostile.setting (label, headers, authenticate, expect_user, expect_auth)
SELECT h.label || a.suffix, h.headers, a.authenticate,
       CASE WHEN a.authenticate AND h.expect_auth = 'ok' THEN h.key_user ELSE '' END, h.expect_auth
FROM (VALUES
    ('headers: not JSON', 'x-api-key: nope', 'ok', ''),
    ('headers: an array', '[{"x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'alice') || '"}]', 'ok', ''),
    ('headers: key a number', '{"x-api-key": 42}', 'ok', ''),
    ('headers: key empty', '{"x-api-key": ""}', '28000', ''),
    ('headers: key 1 MB', '{"x-api-key": "iam_' || repeat('A', 1048576) || '"}', '28000', ''),
    ('headers: key-shaped junk', '{"x-api-key": "iam_AAAAAAAA_' || repeat('A', 43) || '"}', '28000', ''),
    ('headers: key an injection', '{"x-api-key": "x''); DROP TABLE iam.users; --"}', '28000', ''),
    ('headers: key with a changed character', '{"x-api-key": "' || (SELECT overlay(api_key PLACING CASE WHEN substr(api_key, 20, 1) = 'Z' THEN 'Y' ELSE 'Z' END FROM 20 FOR 1) FROM hostile.fixture_key WHERE name = 'alice') || '"}', '28000', ''),
    ('headers: revoked key', '{"x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'revoked') || '"}', '28000', ''),
    ('headers: suspended company''s key', '{"x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'initech') || '"}', '28000', ''),
    ('headers: key with a NUL escape', '{"x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'alice') || '\u0000"}', 'ok', ''),
    ('headers: ApiKey scheme, no key', '{"authorization": "ApiKey "}', 'ok', ''),
    ('headers: Bearer token', '{"authorization": "Bearer eyJhbGciOi.x.y"}', 'ok', ''),
    ('headers: bad key last of two', '{"x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'alice') || '", "x-api-key": "nope"}', '28000', ''),
    ('headers: valid key', '{"x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'alice') || '"}', 'ok', :alice),
    ('headers: valid key, lower-case scheme', '{"authorization": "apikey ' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'alice') || '"}', 'ok', :alice),
    ('headers: valid key last of two', '{"x-api-key": "nope", "x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'alice') || '"}', 'ok', :alice),
    ('headers: valid key after 1 MB', '{"pad": "' || repeat('x', 1048576) || '", "x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'alice') || '"}', 'ok', :alice),
    ('headers: company key', '{"x-api-key": "' || (SELECT api_key FROM hostile.fixture_key WHERE name = 'acme') || '"}', 'ok', '')
) AS h (label, headers, expect_auth, key_user),
(VALUES (false, ''), (true, ', authenticated')) AS a (authenticate, suffix)
ORDER BY 1;
INSERT INTO hostile.setting (label, claims, read_only, search_path, headers, expect_user) VALUES
    ('read-only transaction', '{"sub": "' || :pam || '"}', true, NULL, '', :pam),
    ('= operators shadowed by the search_path', '{"sub": "' || :pam || '"}', false, 'hostile_evil, pg_catalog, public', '', :pam);
INSERT INTO hostile.setting (label, search_path, headers, authenticate, expect_user)
SELECT '= operators shadowed, API-key request', 'hostile_evil, pg_catalog, public',
       '{"x-api-key": "' || api_key || '"}', true, :alice
FROM hostile.fixture_key WHERE name = 'alice';
-- Inside a PostgREST request (request.method set), P0002 and 28000 come as
-- PostgREST's own error (SQLSTATE PGRST) whose JSON body carries the code.
INSERT INTO hostile.setting (label, claims, method, expect_user) VALUES
    ('PostgREST request: no claims', '', 'GET', ''),
    ('PostgREST request: claims of pam', '{"sub": "' || :pam || '"}', 'POST', :pam),
    ('PostgREST request: claims not JSON', '{"sub": ', 'PATCH', ''),
    ('PostgREST request: 1 MB method', '{"sub": "' || :alice || '"}', repeat('M', 1048576), :alice);
INSERT INTO hostile.setting (label, method, headers, authenticate, expect_auth)
SELECT 'PostgREST request: bad API key, authenticated', 'GET',
       '{"x-api-key": "' || overlay(api_key PLACING CASE WHEN substr(api_key, 20, 1) = 'Z' THEN 'Y' ELSE 'Z' END FROM 20 FOR 1) || '"}',
       true, '28000'
FROM hostile.fixture_key WHERE name = 'alice';

-- Supabase's auth.uid() under the given settings; '' for NULL, and where it
-- raises an error.
CREATE FUNCTION hostile.auth_uid(claims text, claim_sub text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', claims, true), set_config('request.jwt.claim.sub', claim_sub, true);
    RETURN coalesce(auth.uid()::text, '');
EXCEPTION WHEN OTHERS THEN
    RETURN '';
END $$;

------------------------------------------------------------------------------
-- A schema of an unprivileged role whose = operators for uuid and text
-- shadow pg_catalog's for whoever puts it first in their search_path. Its
-- functions compare correctly, and count each time they run as a superuser:
-- code of ours running as the tables' owner must never resolve a name
-- through the caller's search_path.
------------------------------------------------------------------------------
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'hostile_mallory') THEN
        CREATE ROLE hostile_mallory NOLOGIN;
    END IF;
END $$;
CREATE SEQUENCE hostile.ran_as_superuser;
GRANT USAGE ON SCHEMA hostile TO PUBLIC;
GRANT USAGE, UPDATE ON SEQUENCE hostile.ran_as_superuser TO PUBLIC;
CREATE SCHEMA hostile_evil AUTHORIZATION hostile_mallory;
GRANT USAGE ON SCHEMA hostile_evil TO PUBLIC;
SET ROLE hostile_mallory;
CREATE FUNCTION hostile_evil.uuid_eq(uuid, uuid) RETURNS boolean
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
        PERFORM pg_catalog.nextval('hostile.ran_as_superuser');
    END IF;
    RETURN pg_catalog.uuid_eq($1, $2);
END $$;
CREATE FUNCTION hostile_evil.texteq(text, text) RETURNS boolean
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
        PERFORM pg_catalog.nextval('hostile.ran_as_superuser');
    END IF;
    RETURN pg_catalog.texteq($1, $2);
END $$;
CREATE OPERATOR hostile_evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = hostile_evil.uuid_eq);
CREATE OPERATOR hostile_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile_evil.texteq);
RESET ROLE;

------------------------------------------------------------------------------
-- The calls.
------------------------------------------------------------------------------
CREATE TABLE hostile.call (
    id          serial PRIMARY KEY,
    pass        text NOT NULL,
    caller      text NOT NULL,
    role        text NOT NULL,
    setting     text NOT NULL,
    signature   text NOT NULL,
    position    int NOT NULL,          -- the hostile argument, 0: none
    value_label text NOT NULL,
    sql         text NOT NULL,
    input_error text,                  -- the only answer allowed, if set
    allowed     text[] NOT NULL
);

-- Functions under test: not trigger functions, which PostgreSQL refuses to
-- call outside a trigger anyway.
CREATE VIEW hostile.tested AS
SELECT f.* FROM hostile.func AS f WHERE NOT f.is_trigger AND f.kind = 'f';

-- Pass 1, arguments: each hostile value in each position, by each caller.
INSERT INTO hostile.call (pass, caller, role, setting, signature, position, value_label, sql, input_error, allowed)
SELECT 'arguments', c.name, c.role, c.claims, f.signature, i, v.label,
       hostile.call_sql(f, hostile.arguments(f, f.nargs, i, v.expr, c.form), 'from'),
       v.input_error, k.allowed
FROM hostile.func AS f
CROSS JOIN LATERAL pg_catalog.generate_series(1, f.nargs) AS i
JOIN hostile.value AS v ON v.type = f.argtypes[i]
JOIN hostile.contract AS k ON to_regprocedure(k.signature) = f.oid
CROSS JOIN hostile.caller AS c
-- A literal PostgreSQL refuses never reaches the function: two callers do.
WHERE v.input_error IS NULL OR c.name IN ('superuser', 'anon');
-- ... all NULLs, and only the required arguments (the defaults).
INSERT INTO hostile.call (pass, caller, role, setting, signature, position, value_label, sql, input_error, allowed)
SELECT 'arguments', c.name, c.role, c.claims, f.signature, 0, a.label,
       hostile.call_sql(f, a.arguments, 'from'), NULL, k.allowed
FROM hostile.func AS f
CROSS JOIN LATERAL (
    SELECT 'all NULL', (SELECT coalesce(string_agg(format('NULL::%s', f.argtypes[i]), ', ' ORDER BY i), '')
                        FROM generate_series(1, f.nargs) AS i)
    WHERE f.nargs > 0
    UNION ALL
    SELECT 'required arguments only', hostile.arguments(f, f.nargs - f.ndefaults, 0, NULL, 'literal')
) AS a (label, arguments)
JOIN hostile.contract AS k ON to_regprocedure(k.signature) = f.oid
CROSS JOIN hostile.caller AS c;

-- Pass 2, rows: every valid hostile value of a position as the rows of one
-- statement, in the select list: the call site's caches see the argument
-- change from row to row (and the first error ends the statement).
INSERT INTO hostile.call (pass, caller, role, setting, signature, position, value_label, sql, input_error, allowed)
SELECT 'rows', c.name, c.role, c.claims, f.signature, i, 'all valid values as rows',
       format('SELECT pg_catalog.count(s.r)::text FROM (SELECT (iam.%I(%s))::text AS r FROM (VALUES %s) AS v (x)) AS s',
              f.name,
              (SELECT string_agg(CASE WHEN j = i THEN 'v.x'
                                      ELSE format('(%s)::%s', hostile.benign_expr(f.name, f.argnames[j], f.argtypes[j]), f.argtypes[j]) END,
                                 ', ' ORDER BY j)
               FROM generate_series(1, f.nargs) AS j),
              (SELECT string_agg(format('((%s)::%s)', v.expr, f.argtypes[i]), ', ' ORDER BY v.label)
               FROM hostile.value AS v WHERE v.type = f.argtypes[i] AND v.input_error IS NULL)),
       NULL, k.allowed
FROM hostile.func AS f
CROSS JOIN LATERAL generate_series(1, f.nargs) AS i
JOIN hostile.contract AS k ON to_regprocedure(k.signature) = f.oid
CROSS JOIN hostile.caller AS c
WHERE EXISTS (SELECT FROM hostile.value AS v WHERE v.type = f.argtypes[i])
  AND c.name IN ('superuser', 'anon', 'alice (user)', 'pam (platform_admin)');

-- Pass 3, settings: ordinary arguments under every hostile setting, in the
-- select list, by the four database roles (the superuser not under the
-- shadowing search_path: it may run what it likes).
INSERT INTO hostile.call (pass, caller, role, setting, signature, position, value_label, sql, input_error, allowed)
SELECT 'settings', r.name, r.role, s.label, f.signature, 0, 'ordinary arguments',
       hostile.call_sql(f, hostile.arguments(f, f.nargs, 0, NULL, 'literal'), 'select list'), NULL,
       k.allowed
         || CASE WHEN s.read_only THEN '{25006}'::text[] ELSE '{}' END
         || CASE WHEN s.authenticate AND s.expect_auth <> 'ok' THEN '{28000}'::text[] ELSE '{}' END
FROM hostile.func AS f
JOIN hostile.contract AS k ON to_regprocedure(k.signature) = f.oid
CROSS JOIN hostile.setting AS s
CROSS JOIN (VALUES ('superuser', 'none'), ('service_role', 'service_role'), ('authenticated', 'authenticated'),
                   ('anon', 'anon')) AS r (name, role)
WHERE s.search_path IS NULL OR r.role <> 'none';

-- What a call's outcome was.
CREATE TABLE hostile.outcome (
    call_id          int PRIMARY KEY REFERENCES hostile.call,
    sqlstate         text NOT NULL,        -- 'ok' for a result
    code             text NOT NULL,        -- the same; for PGRST, the code in its body
    pgrst_valid      boolean,              -- for PGRST: body and detail are PostgREST's JSON
    result           text,
    message          text,
    message_bytes    int,
    counts_changed   boolean NOT NULL,
    identity_changed boolean NOT NULL,
    ms               numeric NOT NULL
);

-- The row count of every iam table, as one text: no failing call may change it.
DO $$
BEGIN
    EXECUTE format('CREATE FUNCTION hostile.counts() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS %L',
        'SELECT concat_ws('','', ' || (
            SELECT string_agg(format('%L, (SELECT count(*) FROM iam.%I)', c.relname, c.relname), ', ' ORDER BY c.relname)
            FROM pg_catalog.pg_class AS c
            WHERE c.relnamespace = 'iam'::regnamespace AND c.relkind IN ('r', 'p')) || ')');
END $$;

-- Who the session is, as far as iam_ext and PostgreSQL can tell: a failing
-- call must leave it as it was (a failed authenticate_request no identity).
-- Run as the caller, under the caller's settings.
CREATE FUNCTION hostile.identity() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT concat_ws('|', current_user, current_setting('role'), iam.current_user_id(),
                     iam.has_permission('*'), iam.current_company_ids(), iam.is_service_caller(),
                     current_setting('search_path'), current_setting('transaction_read_only'),
                     current_setting('request.jwt.claims'), current_setting('request.headers', true),
                     current_setting('request.method', true))
$$;

-- Runs share `share` of `shares` of the calls, each in its own transaction
-- (rolled back: the fixture stays as it is, and an API-key context dies with
-- it). The caller's settings, role and API-key request are set up in one
-- subtransaction, the call made in another inside it: after a failing call,
-- row counts and identity must be what they were just before it.
CREATE PROCEDURE hostile.run(share int, shares int) LANGUAGE plpgsql AS $$
DECLARE
    baseline_counts text;
    baseline_identity text;
    before_identity text;
    caller_search_path text := current_setting('search_path');
    ids int[];
    call_id int;
    c hostile.call;
    s hostile.setting;
    has_setting boolean;
    state text;
    code text;
    pgrst_valid boolean;
    result text;
    message text;
    detail text;
    started timestamptz;
    elapsed numeric;
    counts_changed boolean;
    identity_changed boolean;
    done hostile.outcome[] := '{}';
BEGIN
    -- request.headers and request.method are no settings of ours: define them.
    PERFORM set_config('request.headers', '', false), set_config('request.method', '', false);
    baseline_counts := hostile.counts();
    baseline_identity := hostile.identity();
    ROLLBACK;
    SELECT array_agg(k.id ORDER BY k.id) INTO ids FROM hostile.call AS k WHERE k.id % shares = share;
    FOREACH call_id IN ARRAY coalesce(ids, '{}') LOOP
        SELECT * INTO c FROM hostile.call AS k WHERE k.id = call_id;
        has_setting := c.pass = 'settings';
        IF has_setting THEN
            SELECT * INTO s FROM hostile.setting AS t WHERE t.label = c.setting;
        END IF;
        result := NULL;
        message := NULL;
        detail := NULL;
        counts_changed := false;
        identity_changed := false;
        started := clock_timestamp();
        BEGIN
            IF NOT has_setting THEN
                PERFORM set_config('request.jwt.claims', c.setting, true);
            ELSE
                PERFORM set_config('request.jwt.claims', s.claims, true),
                        set_config('request.jwt.claim.sub', s.claim_sub, true),
                        set_config('request.headers', s.headers, true),
                        set_config('request.method', s.method, true);
                IF s.read_only THEN
                    PERFORM set_config('transaction_read_only', 'on', true);
                END IF;
                IF s.search_path IS NOT NULL THEN
                    PERFORM set_config('search_path', s.search_path, true);
                END IF;
            END IF;
            PERFORM set_config('role', c.role, true);
            IF has_setting AND s.authenticate THEN
                PERFORM iam.authenticate_request();
            END IF;
            before_identity := hostile.identity();
            BEGIN
                EXECUTE c.sql INTO result;
                state := 'ok';
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
                counts_changed := hostile.counts() IS DISTINCT FROM baseline_counts;
                identity_changed := hostile.identity() IS DISTINCT FROM before_identity;
            END;
            PERFORM set_config('search_path', caller_search_path, true),
                    set_config('role', 'none', true);
        EXCEPTION WHEN OTHERS THEN
            -- The set-up failed: authenticate_request refused the request's key.
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
            counts_changed := hostile.counts() IS DISTINCT FROM baseline_counts;
            identity_changed := hostile.identity() IS DISTINCT FROM baseline_identity;
        END;
        elapsed := extract(epoch FROM clock_timestamp() - started) * 1000;
        -- PostgREST parses a PGRST error's message and detail as JSON.
        code := state;
        pgrst_valid := NULL;
        IF state = 'PGRST' THEN
            BEGIN
                code := message::jsonb ->> 'code';
                pgrst_valid := jsonb_typeof(message::jsonb) = 'object'
                           AND jsonb_typeof(detail::jsonb -> 'status') = 'number'
                           AND jsonb_typeof(detail::jsonb -> 'headers') = 'object';
            EXCEPTION WHEN OTHERS THEN
                code := 'PGRST';
                pgrst_valid := false;
            END;
        END IF;
        ROLLBACK;
        done := done || ROW(call_id, state, coalesce(code, 'PGRST'), pgrst_valid, result, left(message, 300),
                            octet_length(message), counts_changed, identity_changed, round(elapsed, 3))::hostile.outcome;
        IF cardinality(done) >= 500 THEN
            INSERT INTO hostile.outcome SELECT * FROM unnest(done);
            COMMIT;
            done := '{}';
        END IF;
    END LOOP;
    INSERT INTO hostile.outcome SELECT * FROM unnest(done);
    COMMIT;
END
$$;
