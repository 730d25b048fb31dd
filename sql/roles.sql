-- The identity context and the role and company checks (0.2.0), asked
-- about and by the tests' people (test/fixtures/people.sql). Claims are set
-- by hand, not with as_user: they are under test, read by the session's own role.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
\i test/fixtures/people.sql
-- Also: Carol a member of Initech (suspended), Vera an inactive member of Globex.
INSERT INTO iam.company_users (user_id, company_id, is_active_in_company) VALUES
    ('a0000000-0000-4000-8000-0000000000a3', 'c0000000-0000-4000-8000-00000000000c', true),
    ('a0000000-0000-4000-8000-0000000000a2', 'c0000000-0000-4000-8000-00000000000b', false);

-- No claims: nobody is calling.
SELECT iam.current_user_id(), iam.has_role('platform_admin'), iam.roles_of(), iam.current_company_ids();

-- current_user_id() reads the claims as Supabase's auth.uid() does.
SELECT claim_sub, claims, iam.current_user_id()
FROM (VALUES
    (NULL, '{"sub": "a0000000-0000-4000-8000-0000000000e1", "role": "authenticated"}'),
    ('', '{"sub": "a0000000-0000-4000-8000-0000000000a3"}'),
    ('a0000000-0000-4000-8000-0000000000a2', '{"sub": "a0000000-0000-4000-8000-0000000000e1"}'),
    ('', ''),
    ('', '{"role": "anon"}'),
    ('', '{"sub": "not-a-uuid"}'),
    ('not-a-uuid', '{"sub": "a0000000-0000-4000-8000-0000000000e1"}'),
    ('', '{"sub": "{A0000000-0000-4000-8000-0000000000E1}"}'),
    ('', '{"sub": 42}'),
    ('', '{"app_metadata": {"sub": "a0000000-0000-4000-8000-0000000000e1"}}'),
    ('', '{"sub": "a0000000-0000-4000-8000-0000000000e1", "sub": "a0000000-0000-4000-8000-0000000000a3"}'),
    ('', '{"sub": "a0000000-0000-4000-8000-0000000000e1"'),
    ('', '[1, 2]')) AS c (claim_sub, claims),
LATERAL (SELECT set_config('request.jwt.claim.sub', coalesce(claim_sub, ''), false),
                set_config('request.jwt.claims', claims, false)) AS s;

-- Role checks for the current user.
SELECT set_config('request.jwt.claim.sub', '', false),
       set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a3"}', false);
SELECT iam.has_role('enterprise_admin') AS admin, iam.has_role('platform_admin') AS platform,
       iam.has_any_role(ARRAY['platform_admin', 'enterprise_admin']) AS any_admin,
       iam.has_any_role(ARRAY['platform_admin', NULL]) AS any_with_null,
       iam.has_any_role('{}') AS any_of_none, iam.roles_of();
SELECT iam.current_company_ids();

-- Role checks for a given user.
SELECT u.full_name, iam.has_role(u.id, 'platform_admin') AS platform_admin,
       iam.has_role(u.id, 'enterprise_employee') AS employee, iam.roles_of(u.id)
FROM iam.users u ORDER BY u.full_name;
SELECT iam.has_role(NULL, 'platform_admin'), iam.has_role('a0000000-0000-4000-8000-0000000000e1', NULL),
       iam.roles_of(NULL);

-- Unknown role names are errors, as in pg_has_role (42704), even for nobody.
SELECT iam.has_role('root');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT iam.has_role(NULL, 'root');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT iam.has_any_role(ARRAY['platform_admin', 'root']);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT iam.has_role(repeat('x', 1000000));
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Membership counts only while active, in an active, not deleted company.
SELECT u.full_name, c.name AS company,
       iam.is_company_member(c.id, u.id) AS member, iam.is_company_admin(c.id, u.id) AS admin
FROM iam.users u CROSS JOIN iam.companies c
WHERE u.full_name IN ('Carol', 'Vera', 'Remy', 'Olga', 'Ivan', 'Pam') ORDER BY 1, 2;
SELECT iam.is_company_member('c0000000-0000-4000-8000-00000000000a') AS carol_in_acme,
       iam.is_company_admin('c0000000-0000-4000-8000-00000000000a') AS carol_admin_of_acme,
       iam.is_company_member(NULL) AS null_company;
UPDATE iam.companies SET is_deleted = true, deleted_at = now() WHERE name = 'Acme';
SELECT iam.is_company_member('c0000000-0000-4000-8000-00000000000a') AS member_of_deleted,
       iam.current_company_ids();
UPDATE iam.companies SET is_deleted = false, deleted_at = NULL WHERE name = 'Acme';

-- Answers are remembered per call site within a statement only: the same
-- call site in a PL/pgSQL loop sees a role granted between two iterations.
DO $$
DECLARE
    i int;
BEGIN
    FOR i IN 1..2 LOOP
        RAISE NOTICE 'iteration %: course_creator = %', i, iam.has_role('course_creator');
        INSERT INTO iam.user_roles (user_id, role_id)
        SELECT 'a0000000-0000-4000-8000-0000000000a3', id FROM iam.roles WHERE name = 'course_creator'
        ON CONFLICT DO NOTHING;
    END LOOP;
END
$$;
BEGIN;
DELETE FROM iam.user_roles WHERE role_id = (SELECT id FROM iam.roles WHERE name = 'course_creator');
SELECT iam.has_role('course_creator') AS after_revoke_in_same_transaction;
ROLLBACK;

-- The caller changing from row to row is seen on every row.
SELECT c.sub, iam.has_role('platform_admin') AS platform_admin
FROM (VALUES ('a0000000-0000-4000-8000-0000000000e1'), ('a0000000-0000-4000-8000-0000000000a3'),
             ('a0000000-0000-4000-8000-0000000000e1')) AS c (sub),
LATERAL (SELECT set_config('request.jwt.claims', json_build_object('sub', c.sub)::text, false)) AS s;

-- A literal role name is looked up once per statement; a role name that
-- varies, from row to row or from one PL/pgSQL iteration to the next, is
-- looked up on every change (and an unknown one is still an error).
SELECT r.name, iam.has_role('a0000000-0000-4000-8000-0000000000a3', r.name) AS carol_holds
FROM (VALUES ('enterprise_admin'), ('solo_learner'), ('enterprise_admin')) AS r (name);
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a3"}', false) IS NOT NULL AS as_carol;
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['enterprise_admin', 'solo_learner', 'enterprise_admin', 'root'] LOOP
        RAISE NOTICE '% = %', role_name, iam.has_role(role_name);
    END LOOP;
END
$$;

-- The checks work for a role with no privileges on the iam tables: they
-- are what RLS policies call, as the querying role.
CREATE ROLE iam_regress_nobody;
GRANT USAGE ON SCHEMA iam TO iam_regress_nobody;
SELECT set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a3"}', false) IS NOT NULL AS as_carol;
SET ROLE iam_regress_nobody;
SELECT iam.has_role('enterprise_admin'), iam.current_company_ids(),
       iam.is_company_admin('c0000000-0000-4000-8000-00000000000a');
SELECT count(*) FROM iam.user_roles;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Who may ask about another user is decided for each caller (a role that is
-- neither superuser nor service_role here), even when the caller changes
-- between rows of one statement and the answer is cached: Pam
-- (platform_admin) may ask whether Pam is one, then Vera may not.
SELECT c.sub, iam.has_role('a0000000-0000-4000-8000-0000000000e1', 'platform_admin') AS pam_is_admin
FROM (VALUES ('a0000000-0000-4000-8000-0000000000e1')) AS c (sub),
LATERAL (SELECT set_config('request.jwt.claims', json_build_object('sub', c.sub)::text, false)) AS s;
SELECT c.sub, iam.has_role('a0000000-0000-4000-8000-0000000000e1', 'platform_admin') AS pam_is_admin
FROM (VALUES ('a0000000-0000-4000-8000-0000000000e1'), ('a0000000-0000-4000-8000-0000000000a2')) AS c (sub),
LATERAL (SELECT set_config('request.jwt.claims', json_build_object('sub', c.sub)::text, false)) AS s;

RESET ROLE;
REVOKE USAGE ON SCHEMA iam FROM iam_regress_nobody;
DROP ROLE iam_regress_nobody;

RESET request.jwt.claims;
RESET request.jwt.claim.sub;

-- The next file starts from the tests' people again.
DELETE FROM iam.companies;
DELETE FROM iam.users;
