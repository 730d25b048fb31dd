-- Permissions for the application's own tables (0.8.0): the catalogue,
-- platform roles and company roles that carry permissions, several company
-- roles per member, iam.can() for each kind of caller, a key's scope
-- intersected with its owner's permissions, freshness, and who may grant
-- what (nobody gives more than they hold).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/people.sql
SELECT coalesce(max(id), 0) AS audit_start FROM iam.audit_log \gset

-- A request authenticated by an API key, as PostgREST makes it: anon, the
-- key in a header, the pre-request function. Inside a transaction.
CREATE FUNCTION pg_temp.with_key(api_key text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.as_user(NULL);
    PERFORM set_config('request.headers', json_build_object('x-api-key', api_key)::text, true);
    PERFORM iam.authenticate_request();
    RETURN 'key of ' || coalesce((SELECT name FROM pg_temp.people WHERE id = iam.current_user_id()), 'a company');
END
$$;
-- Each person's answer to can(permission) in each company.
CREATE FUNCTION pg_temp.who_can(permission text) RETURNS TABLE (person text, acme boolean, globex boolean,
                                                                 initech boolean, platform boolean)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT name FROM pg_temp.people WHERE name IN ('Alice', 'Vera', 'Carol', 'Olga', 'Ivan', 'Nina', 'Gus', 'Pam', 'Sam')
             ORDER BY name LOOP
        PERFORM pg_temp.as_user(p.name);
        person := p.name;
        acme := iam.can(permission, 'c0000000-0000-4000-8000-00000000000a');
        globex := iam.can(permission, 'c0000000-0000-4000-8000-00000000000b');
        initech := iam.can(permission, 'c0000000-0000-4000-8000-00000000000c');
        platform := iam.can(permission);
        RESET ROLE;
        RETURN NEXT;
    END LOOP;
END
$$;

------------------------------------------------------------------------------
-- The catalogue. The application registers its permissions; checking one it
-- did not register is an error, so a typo in a policy is loud.
------------------------------------------------------------------------------
SELECT pg_temp.as_user('Pam');
INSERT INTO iam.permissions (name, description) VALUES
    ('courses:read', 'Read courses'), ('courses:edit', 'Edit courses'), ('reports:view', 'View reports');
SELECT name FROM iam.permissions ORDER BY name;
SELECT iam.can('courses:raed');
SELECT iam.can(NULL);
SELECT iam.can('');
SELECT iam.can('courses:*');
SELECT iam.can(repeat('x', 201));
SELECT iam.can('has space');
-- Registering follows the grammar of a permission, without wildcards; only
-- platform admins register.
INSERT INTO iam.permissions (name) VALUES ('courses:*');
INSERT INTO iam.permissions (name) VALUES (NULL);
SELECT pg_temp.as_user('Carol');
INSERT INTO iam.permissions (name) VALUES ('billing:refund');

------------------------------------------------------------------------------
-- Roles carry permissions. Built in: platform_admin holds '*' everywhere, a
-- company's admins '*' in their company; members hold what the template
-- member grants (nothing, until the application says).
------------------------------------------------------------------------------
RESET ROLE;
SELECT r.name, array_agg(p.permission ORDER BY p.permission) AS grants
FROM iam.role_permissions AS p JOIN iam.roles AS r ON r.id = p.role_id GROUP BY r.name ORDER BY 1;
SELECT r.name, r.company_id IS NULL AS template, array_remove(array_agg(p.permission ORDER BY p.permission), NULL) AS grants
FROM iam.company_roles AS r LEFT JOIN iam.company_role_permissions AS p ON p.company_role_id = r.id
GROUP BY r.name, r.company_id ORDER BY 1;

-- The platform defines templates available in every company, and says what
-- platform roles and the template member grant.
SELECT pg_temp.as_user('Pam');
INSERT INTO iam.company_roles (name, description) VALUES ('instructor', 'Teaches'), ('learner', 'Learns');
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT r.id, g.permission FROM iam.company_roles AS r
JOIN (VALUES ('instructor', 'courses:*'), ('learner', 'courses:read')) AS g (role, permission) ON g.role = r.name
WHERE r.company_id IS NULL;
INSERT INTO iam.role_permissions (role_id, permission)
SELECT id, 'courses:edit' FROM iam.roles WHERE name = 'course_creator';
INSERT INTO iam.role_permissions (role_id, permission)
SELECT id, 'reports:view' FROM iam.roles WHERE name = 'support_agent';
-- A grant names a registered permission, or is a wildcard.
INSERT INTO iam.role_permissions (role_id, permission)
SELECT id, 'reports:veiw' FROM iam.roles WHERE name = 'support_agent';
INSERT INTO iam.role_permissions (role_id, permission)
SELECT id, 'reports**' FROM iam.roles WHERE name = 'support_agent';

-- A company defines its own roles; its admin manages them.
SELECT pg_temp.as_user('Carol');
INSERT INTO iam.company_roles (company_id, name, description)
VALUES ('c0000000-0000-4000-8000-00000000000a', 'grader', 'Grades and sees reports'),
       ('c0000000-0000-4000-8000-00000000000a', 'coordinator', 'Manages who teaches');
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT r.id, g.permission FROM iam.company_roles AS r
JOIN (VALUES ('grader', 'reports:view'), ('coordinator', 'iam:roles:manage'), ('coordinator', 'courses:read'))
    AS g (role, permission) ON g.role = r.name
WHERE r.company_id = 'c0000000-0000-4000-8000-00000000000a';
-- A member may hold several roles in a company.
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera'), 'instructor'),
       iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera'), 'grader'),
       iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'learner'),
       iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'learner') AS again;
-- A company's role name is its own: not a template's, and not another
-- company's to use.
INSERT INTO iam.company_roles (company_id, name) VALUES ('c0000000-0000-4000-8000-00000000000a', 'learner');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera'), 'no_such_role');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Gus'), 'learner');
RESET ROLE;

------------------------------------------------------------------------------
-- iam.can for each person, company and the platform. Vera holds instructor
-- and grader in Acme; Alice learner; Carol is Acme's admin and a plain
-- member nowhere else; Ivan administers a suspended company; Nina holds
-- course_creator; Pam platform_admin; Sam support_agent.
------------------------------------------------------------------------------
SELECT * FROM pg_temp.who_can('courses:read');
SELECT * FROM pg_temp.who_can('courses:edit');
SELECT * FROM pg_temp.who_can('reports:view');
-- anon holds nothing; the service role with nobody named holds everything.
SELECT pg_temp.as_user(NULL);
SELECT iam.can('courses:read'), iam.can('courses:read', 'c0000000-0000-4000-8000-00000000000a');
RESET ROLE;
SET request.jwt.claims = '{"role":"service_role"}';
SET ROLE service_role;
SELECT iam.can('courses:read'), iam.can('courses:read', 'c0000000-0000-4000-8000-00000000000a');
RESET ROLE;
RESET request.jwt.claims;

-- Per row, like any check: a policy on the application's table.
CREATE TABLE public.courses (
    id serial PRIMARY KEY,
    company_id uuid,
    title text NOT NULL
);
ALTER TABLE public.courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY courses_select ON public.courses FOR SELECT USING (iam.can('courses:read', company_id));
CREATE POLICY courses_update ON public.courses FOR UPDATE USING (iam.can('courses:edit', company_id));
GRANT SELECT, UPDATE (title) ON public.courses TO authenticated, anon;
INSERT INTO public.courses (company_id, title) VALUES
    ('c0000000-0000-4000-8000-00000000000a', 'Acme onboarding'), ('c0000000-0000-4000-8000-00000000000a', 'Acme safety'),
    ('c0000000-0000-4000-8000-00000000000b', 'Globex basics'), (NULL, 'Platform news');
-- With a constant permission the check runs once per statement (an
-- InitPlan, hoisted by the planner hook); with a column, once per row.
CREATE FUNCTION pg_temp.runs_once(query text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        IF line LIKE '%InitPlan%' THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;
SELECT pg_temp.runs_once($$SELECT * FROM public.courses WHERE iam.can('courses:read')$$) AS constant,
       pg_temp.runs_once($$SELECT * FROM public.courses WHERE iam.can('courses:read', company_id)$$) AS per_row;
SELECT pg_temp.as_user('Alice');
SELECT title FROM public.courses ORDER BY id;
UPDATE public.courses SET title = title || '!' RETURNING title;
SELECT pg_temp.as_user('Vera');
UPDATE public.courses SET title = title || '!' RETURNING title;
SELECT pg_temp.as_user('Nina');
SELECT title FROM public.courses ORDER BY id;
UPDATE public.courses SET title = rtrim(title, '!') RETURNING title;
RESET ROLE;

------------------------------------------------------------------------------
-- Live: a revocation is seen by the next statement, in the same
-- transaction too; so is a suspended company.
------------------------------------------------------------------------------
BEGIN;
SELECT pg_temp.as_user('Vera');
SELECT count(*) AS vera_reads FROM public.courses;
RESET ROLE;
DELETE FROM iam.company_member_roles WHERE user_id = pg_temp.person('Vera')
  AND company_role_id = (SELECT id FROM iam.company_roles WHERE name = 'instructor');
SELECT pg_temp.as_user('Vera');
SELECT count(*) AS vera_reads FROM public.courses;
RESET ROLE;
UPDATE iam.company_role_permissions SET permission = 'courses:read'
WHERE company_role_id = (SELECT id FROM iam.company_roles WHERE name = 'grader');
SELECT pg_temp.as_user('Vera');
SELECT count(*) AS vera_reads FROM public.courses;
RESET ROLE;
UPDATE iam.companies SET current_iam_status = 'suspended_by_admin' WHERE name = 'Acme';
SELECT pg_temp.as_user('Vera');
SELECT count(*) AS vera_reads FROM public.courses;
RESET ROLE;
ROLLBACK;
-- Each statement sees the grants its snapshot sees: a cursor opened before
-- instructor lost courses:* answers as of its opening, and so do the rows
-- of the statement that took it away (here, in its second row), also at a
-- call site that lasts the transaction (a PL/pgSQL function's). And a
-- switch of database role (SET ROLE) is another caller there.
CREATE FUNCTION pg_temp.reads_acme() RETURNS boolean LANGUAGE plpgsql STABLE AS
    $$ BEGIN RETURN iam.can('courses:read', 'c0000000-0000-4000-8000-00000000000a'); END $$;
-- The operator's change, made in the middle of a statement of Vera's.
CREATE FUNCTION pg_temp.take_courses(take boolean) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF take THEN
        DELETE FROM iam.company_role_permissions WHERE permission = 'courses:*'
            AND company_role_id = (SELECT id FROM iam.company_roles WHERE name = 'instructor');
    END IF;
    RETURN take;
END
$$;
BEGIN;
SELECT pg_temp.as_user('Vera');
DECLARE before_taken CURSOR FOR SELECT pg_temp.reads_acme() AS vera_reads_acme FROM generate_series(1, 2);
SELECT i, pg_temp.take_courses(i = 2) AS taken_here, pg_temp.reads_acme() AS vera_reads_acme
FROM generate_series(1, 3) AS i;
SELECT pg_temp.reads_acme() AS vera_reads_acme_after;
FETCH ALL before_taken;
RESET ROLE;
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '', true) AS nobody_named;
SELECT pg_temp.reads_acme() AS the_operator_may;
SET LOCAL ROLE anon;
SELECT pg_temp.reads_acme() AS anon_may;
SET LOCAL ROLE service_role;
SELECT pg_temp.reads_acme() AS the_service_role_may;
ROLLBACK;

------------------------------------------------------------------------------
-- Keys: the owner's permissions intersected with the key's scope; a
-- company's key, its scope in its company. A narrowed or revoked key is
-- seen by the next statement.
------------------------------------------------------------------------------
SELECT pg_temp.as_user('Vera');
SELECT api_key AS vera_reader FROM iam.create_api_key('reader', permissions => '["courses:read"]') \gset
SELECT id AS vera_reader_id FROM iam.api_keys WHERE name = 'reader' \gset
SELECT api_key AS vera_reports FROM iam.create_api_key('reports', permissions => '["reports:*"]') \gset
SELECT pg_temp.as_user('Carol');
SELECT api_key AS acme_key FROM iam.create_api_key('acme', company_id => 'c0000000-0000-4000-8000-00000000000a',
                                                   permissions => '["courses:*"]') \gset
RESET ROLE;

BEGIN;
SELECT pg_temp.with_key(:'vera_reader');
SELECT iam.current_api_key_id() = :'vera_reader_id' AS this_key,
       iam.can('courses:read', 'c0000000-0000-4000-8000-00000000000a') AS read_acme,
       iam.can('courses:edit', 'c0000000-0000-4000-8000-00000000000a') AS edit_acme,
       iam.can('reports:view', 'c0000000-0000-4000-8000-00000000000a') AS reports_acme;
SELECT title FROM public.courses ORDER BY id;
UPDATE public.courses SET title = title RETURNING title;
ROLLBACK;
BEGIN;
SELECT pg_temp.with_key(:'vera_reports');
SELECT count(*) AS reads FROM public.courses;
SELECT iam.can('reports:view', 'c0000000-0000-4000-8000-00000000000a') AS reports_acme;
ROLLBACK;
BEGIN;
SELECT pg_temp.with_key(:'acme_key');
SELECT iam.current_user_id(), iam.can('courses:edit', 'c0000000-0000-4000-8000-00000000000a') AS edit_acme,
       iam.can('courses:edit', 'c0000000-0000-4000-8000-00000000000b') AS edit_globex,
       iam.can('courses:edit') AS edit_platform, iam.can('reports:view', 'c0000000-0000-4000-8000-00000000000a') AS reports_acme;
UPDATE public.courses SET title = title RETURNING title;
ROLLBACK;
-- A key that expires while its request runs stops counting at the next
-- statement: keys expire by the statement's start.
SELECT pg_temp.as_user('Vera');
SELECT api_key AS vera_brief FROM iam.create_api_key('brief', permissions => '["courses:read"]',
                                                     expires_at => clock_timestamp() + interval '1 second') \gset
RESET ROLE;
BEGIN;
SELECT pg_temp.with_key(:'vera_brief');
SELECT iam.has_permission('courses:read') AS key_may_read, pg_temp.reads_acme() AS can_read_acme;
SELECT pg_sleep(1.2);
SELECT iam.has_permission('courses:read') AS key_may_read, pg_temp.reads_acme() AS can_read_acme;
RESET ROLE;
ROLLBACK;
-- A user's key bound to a company acts there only: not in another company,
-- not in the one-argument form, even for what a platform role grants.
BEGIN;
INSERT INTO iam.role_permissions (role_id, permission)
SELECT id, 'courses:read' FROM iam.roles WHERE name = 'enterprise_employee';
SELECT pg_temp.as_user('Vera');
SELECT api_key AS vera_acme_key FROM iam.create_api_key('acme only', company_id => 'c0000000-0000-4000-8000-00000000000a',
                                                        user_id => pg_temp.person('Vera'),
                                                        permissions => '["courses:read"]') \gset
SELECT iam.can('courses:read') AS platform, iam.can('courses:read', 'c0000000-0000-4000-8000-00000000000b') AS globex;
SELECT pg_temp.with_key(:'vera_acme_key');
SELECT iam.can('courses:read') AS platform, iam.can('courses:read', NULL) AS no_company,
       iam.can('courses:read', 'c0000000-0000-4000-8000-00000000000a') AS acme,
       iam.can('courses:read', 'c0000000-0000-4000-8000-00000000000b') AS globex;
ROLLBACK;
-- Outside a key request: NULL.
SELECT iam.current_api_key_id();

------------------------------------------------------------------------------
-- One identity per request: Supabase's auth.uid(), auth.role() and
-- auth.jwt() (as Supabase defines them) see the key's owner and the key; a
-- JWT of another user with the key is refused.
------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
$$;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated;
BEGIN;
SELECT pg_temp.with_key(:'vera_reader');
SELECT auth.uid() = pg_temp.person('Vera') AS uid_is_vera, auth.uid() = iam.current_user_id() AS agrees,
       auth.role(), (auth.jwt() ->> 'iam_api_key_id')::uuid = iam.current_api_key_id() AS names_the_key,
       current_user;
ROLLBACK;
BEGIN;
SELECT pg_temp.with_key(:'acme_key');
SELECT auth.uid(), iam.current_user_id(), auth.role(), auth.jwt() ? 'iam_api_key_id' AS names_the_key;
ROLLBACK;
-- Vera's own JWT with her key: one person, her other claims kept.
BEGIN;
SELECT pg_temp.as_user('Vera');
SELECT set_config('request.jwt.claims', json_build_object('sub', pg_temp.person('Vera'), 'role', 'authenticated',
                                                          'email', 'vera@acme.test')::text, true),
       set_config('request.headers', json_build_object('x-api-key', :'vera_reader')::text, true) \gset
SELECT iam.authenticate_request();
SELECT auth.uid() = iam.current_user_id() AS agrees, auth.jwt() ->> 'email' AS email,
       auth.jwt() ? 'iam_api_key_id' AS names_the_key;
ROLLBACK;
-- Alice's JWT with Vera's key, or with Acme's: refused.
BEGIN;
SELECT pg_temp.as_user('Alice');
SELECT set_config('request.headers', json_build_object('x-api-key', :'vera_reader')::text, true) \gset
SELECT iam.authenticate_request();
ROLLBACK;
BEGIN;
SELECT pg_temp.as_user('Alice');
SELECT set_config('request.headers', json_build_object('x-api-key', :'acme_key')::text, true) \gset
SELECT iam.authenticate_request();
ROLLBACK;
RESET ROLE;
-- Narrowed, then revoked, by another session's committed change: the
-- next statement of the request sees it.
BEGIN;
SELECT pg_temp.with_key(:'vera_reader');
SELECT count(*) AS reads FROM public.courses;
RESET ROLE;
UPDATE iam.api_keys SET permissions = '[]' WHERE id = :'vera_reader_id';
SET LOCAL ROLE authenticated;
SELECT count(*) AS reads_after_narrowing FROM public.courses;
ROLLBACK;

------------------------------------------------------------------------------
-- Nobody gives more than they hold, on every path that writes the tables.
------------------------------------------------------------------------------
-- Carol makes Vera a coordinator: she may manage Acme's roles, and give
-- what she holds herself (courses:read, iam:roles:manage), no more.
SELECT pg_temp.as_user('Carol');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera'), 'coordinator');
SELECT pg_temp.as_user('Vera');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'coordinator');
-- Once she gives up instructor (courses:*), she cannot give it either.
SELECT iam.remove_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera'), 'instructor');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'instructor');
-- A custom role smuggling '*', or a permission she lacks.
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT id, '*' FROM iam.company_roles WHERE name = 'grader';
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT id, 'courses:edit' FROM iam.company_roles WHERE name = 'grader';
-- She may not touch the templates, nor another company's roles.
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT id, 'courses:read' FROM iam.company_roles WHERE name = 'member';
INSERT INTO iam.company_roles (company_id, name) VALUES ('c0000000-0000-4000-8000-00000000000b', 'spy');
-- A member assigning themselves a role.
SELECT pg_temp.as_user('Alice');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'grader');
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT pg_temp.person('Alice'), 'c0000000-0000-4000-8000-00000000000a', id FROM iam.company_roles WHERE name = 'grader';
-- Someone who may not manage Acme's roles learns nothing of its members
-- by trying: refused alike for a member (Alice), a former member (Remy)
-- and someone who never was (Gus).
SELECT pg_temp.as_user('Gus');
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT pg_temp.person(p), 'c0000000-0000-4000-8000-00000000000a', id
FROM iam.company_roles, unnest(ARRAY['Alice']) AS p WHERE name = 'learner';
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT pg_temp.person(p), 'c0000000-0000-4000-8000-00000000000a', id
FROM iam.company_roles, unnest(ARRAY['Remy']) AS p WHERE name = 'learner';
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT pg_temp.person(p), 'c0000000-0000-4000-8000-00000000000a', id
FROM iam.company_roles, unnest(ARRAY['Gus']) AS p WHERE name = 'learner';
-- Cross-company: Olga does not even see Acme's roles, and nobody, not even
-- the service role, gives a member of Globex a role of Acme's.
SELECT pg_temp.as_user('Olga');
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT pg_temp.person('Olga'), 'c0000000-0000-4000-8000-00000000000b', id FROM iam.company_roles WHERE name = 'grader';
RESET ROLE;
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT pg_temp.person('Olga'), 'c0000000-0000-4000-8000-00000000000b', id FROM iam.company_roles WHERE name = 'grader';
-- member and admin come from role_in_company, and keep their rows.
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
VALUES (pg_temp.person('Alice'), 'c0000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-000000000102');
SELECT pg_temp.as_user('Pam');
DELETE FROM iam.company_roles WHERE name = 'member';
UPDATE iam.company_roles SET name = 'boss' WHERE name = 'admin';
-- Not even the operator moves a role into another company (its holders in
-- Acme would hold a role Globex manages), names a template like a
-- company's role, or renames admin.
RESET ROLE;
UPDATE iam.company_roles SET company_id = 'c0000000-0000-4000-8000-00000000000b' WHERE name = 'grader';
INSERT INTO iam.company_roles (company_id, name) VALUES (NULL, 'grader');
UPDATE iam.company_roles SET name = 'boss' WHERE name = 'admin';
SELECT pg_temp.as_user('Pam');
-- A key minting a role: without iam:company_member_roles:write it writes
-- nothing; with it, no more than its scope.
RESET ROLE;
SELECT pg_temp.as_user('Carol');
SELECT api_key AS carol_narrow FROM iam.create_api_key('narrow', permissions => '["courses:read"]') \gset
SELECT api_key AS carol_roles FROM iam.create_api_key('roles',
    permissions => '["iam:company_member_roles:write", "iam:roles:manage", "courses:read"]') \gset
RESET ROLE;
BEGIN;
SELECT pg_temp.with_key(:'carol_narrow');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'grader');
ROLLBACK;
BEGIN;
SELECT pg_temp.with_key(:'carol_roles');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Alice'), 'grader');
ROLLBACK;
BEGIN;
SELECT pg_temp.with_key(:'carol_roles');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera'), 'learner');
ROLLBACK;
-- A platform role is granted only by one who holds what it grants.
SELECT pg_temp.as_user('Pam');
DELETE FROM iam.role_permissions WHERE permission = '*';
SELECT iam.grant_role(pg_temp.person('Gus'), 'course_creator');
RESET ROLE;
INSERT INTO iam.role_permissions (role_id, permission) VALUES ('00000000-0000-4000-8000-000000000007', '*');
-- A role the rules cannot see is refused, never left to the foreign key
-- (checked later, with a newer snapshot): Olga, Globex's admin and Acme's
-- coordinator, may not give herself in Acme a role of Globex's that she
-- creates in the same statement.
INSERT INTO iam.company_users (user_id, company_id) VALUES (pg_temp.person('Olga'), 'c0000000-0000-4000-8000-00000000000a');
SELECT pg_temp.as_user('Carol');
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Olga'), 'coordinator');
SELECT pg_temp.as_user('Olga');
WITH bridge AS (INSERT INTO iam.company_roles (company_id, name)
                VALUES ('c0000000-0000-4000-8000-00000000000b', 'bridge') RETURNING id)
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT pg_temp.person('Olga'), 'c0000000-0000-4000-8000-00000000000a', id FROM bridge;
WITH bridge AS (INSERT INTO iam.company_roles (company_id, name)
                VALUES ('c0000000-0000-4000-8000-00000000000a', 'bridge') RETURNING id)
INSERT INTO iam.company_role_permissions (company_role_id, permission) SELECT id, '*' FROM bridge;
SELECT count(*) AS bridges FROM iam.company_roles WHERE name = 'bridge';
-- Nor a template and a company's role of one name in one statement.
SELECT pg_temp.as_user('Pam');
INSERT INTO iam.company_roles (company_id, name)
VALUES (NULL, 'twin'), ('c0000000-0000-4000-8000-00000000000a', 'twin');
-- A membership that ends takes its company roles with it: readmitted, Olga
-- is a plain member again.
RESET ROLE;
UPDATE iam.company_users SET is_active_in_company = false
WHERE user_id = pg_temp.person('Olga') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
UPDATE iam.company_users SET is_active_in_company = true
WHERE user_id = pg_temp.person('Olga') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
SELECT count(*) AS olgas_roles_in_acme FROM iam.company_member_roles
WHERE user_id = pg_temp.person('Olga') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
SELECT action FROM iam.audit_log WHERE id > :audit_start AND action = 'member_role_removed'
  AND target_user_id = pg_temp.person('Olga');
-- ... and no role is given to a member whose membership has ended.
UPDATE iam.company_users SET is_active_in_company = false
WHERE user_id = pg_temp.person('Olga') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
SELECT iam.assign_company_role('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Olga'), 'learner');
DELETE FROM iam.company_users WHERE user_id = pg_temp.person('Olga') AND company_id = 'c0000000-0000-4000-8000-00000000000a';
SELECT iam.remove_company_role('c0000000-0000-4000-8000-00000000000a', NULL, 'learner');
-- A key bound to a company changes nothing of the platform's: not a
-- template, not a platform role's permissions, not who holds a platform
-- role; its owner, a platform admin, could.
INSERT INTO iam.company_users (user_id, company_id) VALUES (pg_temp.person('Pam'), 'c0000000-0000-4000-8000-00000000000a');
SELECT pg_temp.as_user('Pam');
SELECT api_key AS pam_acme_key FROM iam.create_api_key('acme only', company_id => 'c0000000-0000-4000-8000-00000000000a',
                                                       user_id => pg_temp.person('Pam'), permissions => '["*"]') \gset
RESET ROLE;
BEGIN;
SELECT pg_temp.with_key(:'pam_acme_key');
SAVEPOINT template;
INSERT INTO iam.company_roles (name) VALUES ('evil_template');
ROLLBACK TO template;
INSERT INTO iam.role_permissions (role_id, permission) SELECT id, 'reports:view' FROM iam.roles WHERE name = 'solo_learner';
ROLLBACK TO template;
SELECT iam.grant_role(pg_temp.person('Gus'), 'platform_admin');
ROLLBACK;
-- has_permission, like can, sees a key narrowed by the next statement.
BEGIN;
SELECT pg_temp.with_key(:'pam_acme_key');
SELECT iam.has_permission('courses:read') AS before_narrowing;
RESET ROLE;
UPDATE iam.api_keys SET permissions = '["reports:*"]' WHERE name = 'acme only' AND user_id = pg_temp.person('Pam');
SET LOCAL ROLE authenticated;
SELECT iam.has_permission('courses:read') AS after_narrowing, iam.has_permission('reports:view') AS still;
ROLLBACK;
DELETE FROM iam.company_users WHERE user_id = pg_temp.person('Pam') AND company_id = 'c0000000-0000-4000-8000-00000000000a';

-- A refused write changed nothing: Alice holds learner only.
SELECT r.name FROM iam.company_member_roles AS m JOIN iam.company_roles AS r ON r.id = m.company_role_id
WHERE m.user_id = pg_temp.person('Alice') ORDER BY 1;

-- Every change is audited.
SELECT action, count(*) FROM iam.audit_log WHERE id > :audit_start
  AND (action LIKE 'permission_%' OR action LIKE 'role_permission_%' OR action LIKE 'company_role_%'
       OR action LIKE 'member_role_%')
GROUP BY action ORDER BY action;

------------------------------------------------------------------------------
-- A member of many companies: a statement answers the first companies its
-- rows name one by one, then loads all of them; either way the answers are
-- the same as a statement asking about one company. Nina in 60 companies:
-- a reader role (courses:read) in every third, another role in the rest,
-- admin (the admin template: '*') of company 5, removed from 9 after holding a role there,
-- company 7 suspended.
------------------------------------------------------------------------------
BEGIN;
CREATE FUNCTION pg_temp.co(i int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT ('c1000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
INSERT INTO iam.companies (id, name, current_iam_status)
SELECT pg_temp.co(i), 'Many ' || i, CASE WHEN i = 7 THEN 'suspended_by_admin' ELSE 'active' END
FROM generate_series(0, 59) AS i;
INSERT INTO iam.company_users (user_id, company_id, is_active_in_company, role_in_company)
SELECT pg_temp.person('Nina'), pg_temp.co(i), true, CASE WHEN i = 5 THEN 'admin' ELSE 'member' END
FROM generate_series(0, 59) AS i;
INSERT INTO iam.company_roles (company_id, name)
SELECT pg_temp.co(i), CASE WHEN i % 3 = 0 THEN 'reader' ELSE 'writer' END FROM generate_series(0, 59) AS i;
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT id, CASE name WHEN 'reader' THEN 'courses:read' ELSE 'reports:view' END
FROM iam.company_roles WHERE company_id::text LIKE 'c1000000-%';
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT pg_temp.person('Nina'), company_id, id FROM iam.company_roles WHERE company_id::text LIKE 'c1000000-%';
UPDATE iam.company_users SET is_active_in_company = false
WHERE user_id = pg_temp.person('Nina') AND company_id = pg_temp.co(9);
CREATE TEMP TABLE asked AS
SELECT i, (i % 3 = 0 OR i = 5) AND i NOT IN (7, 9) AS expected FROM generate_series(0, 59) AS i;
GRANT SELECT ON asked TO authenticated;
SELECT pg_temp.as_user('Nina');
-- Each company asked twice in one statement: 60 companies, then again.
SELECT count(*) FILTER (WHERE can) AS held, count(*) FILTER (WHERE can <> expected) AS wrong
FROM (SELECT a.expected, iam.can('courses:read', pg_temp.co(a.i)) AS can
      FROM asked AS a, generate_series(1, 2) AS pass ORDER BY pass, a.i) AS answers;
-- One company per statement.
CREATE FUNCTION pg_temp.one_by_one() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    wrong bigint := 0;
    a record;
BEGIN
    FOR a IN SELECT * FROM asked LOOP
        IF iam.can('courses:read', pg_temp.co(a.i)) <> a.expected THEN
            wrong := wrong + 1;
        END IF;
    END LOOP;
    RETURN wrong;
END
$$;
SELECT pg_temp.one_by_one() AS wrong;
-- courses:edit through her platform role (course_creator): everywhere;
-- reports:view in the other companies but the suspended one.
SELECT count(*) FILTER (WHERE iam.can('courses:edit', pg_temp.co(i))) AS edit,
       count(*) FILTER (WHERE iam.can('reports:view', pg_temp.co(i))) AS reports
FROM generate_series(0, 59) AS i;
RESET ROLE;
ROLLBACK;
DROP TABLE public.courses;
