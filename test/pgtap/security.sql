-- security.sql: row level security and privileges, seen as each kind of
-- caller (docs/security.md): anon, two members of one company, that
-- company's admin, an outsider, a support_agent, a platform_admin and the
-- service role. Every cell of the matrix is one statement run as that caller
-- the way PostgREST runs a request (SET ROLE and request.jwt.claims), then
-- rolled back; its outcome is the number of rows it read or changed, or its
-- SQLSTATE. Then the functions: grant/revoke, the company functions,
-- self-escalation through them, suspended and deleted companies, questions
-- about other users, cache correctness within a transaction and parallel
-- query.
--
-- Run with: pg_prove -d DB test/pgtap/security.sql (DB has pgtap and iam_ext).

BEGIN;
SELECT plan(930);

-- Supabase's API roles, created after the extension: apply_grants() is what
-- gives them their privileges.
\ir ../fixtures/supabase_roles.sql
SELECT iam.apply_grants();

\ir ../fixtures/people.sql
INSERT INTO iam.api_keys (id, user_id, company_id, name, key_prefix, hashed_key) VALUES
    ('e0000000-0000-4000-8000-0000000000a1', 'a0000000-0000-4000-8000-0000000000a1', NULL, 'alice', 'alice001', 'hash-a1'),
    ('e0000000-0000-4000-8000-0000000000a2', 'a0000000-0000-4000-8000-0000000000a2', NULL, 'vera', 'vera0001', 'hash-a2'),
    ('e0000000-0000-4000-8000-00000000000a', NULL, 'c0000000-0000-4000-8000-00000000000a', 'acme', 'acme0001', 'hash-acme'),
    ('e0000000-0000-4000-8000-0000000000b1', 'a0000000-0000-4000-8000-0000000000b1', NULL, 'olga', 'olga0001', 'hash-b1');
INSERT INTO iam.referral_codes (id, user_id, code) VALUES
    ('f0000000-0000-4000-8000-0000000000a1', 'a0000000-0000-4000-8000-0000000000a1', 'ALICE'),
    ('f0000000-0000-4000-8000-0000000000a2', 'a0000000-0000-4000-8000-0000000000a2', 'VERA'),
    ('f0000000-0000-4000-8000-0000000000b1', 'a0000000-0000-4000-8000-0000000000b1', 'OLGA');
-- Alice referred Nina; Olga referred Ivan.
INSERT INTO iam.referrals (referrer_user_id, referred_user_id, referral_code_used_id) VALUES
    ('a0000000-0000-4000-8000-0000000000a1', 'a0000000-0000-4000-8000-0000000000d1', 'f0000000-0000-4000-8000-0000000000a1'),
    ('a0000000-0000-4000-8000-0000000000b1', 'a0000000-0000-4000-8000-0000000000c1', 'f0000000-0000-4000-8000-0000000000b1');

-- act_as(database role, user): what PostgREST does for a request.
CREATE FUNCTION pg_temp.act_as(database_role text, user_id uuid DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('role', 'none', false);
    PERFORM set_config('request.jwt.claims',
        CASE WHEN user_id IS NULL THEN '' ELSE json_build_object('sub', user_id, 'role', database_role)::text END,
        false);
    PERFORM set_config('role', database_role, false);
END
$$;

-- attempt(statement): 'rows: n' if it ran (then rolled back), else its SQLSTATE.
CREATE FUNCTION pg_temp.attempt(statement text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    affected bigint;
BEGIN
    BEGIN
        IF statement ILIKE 'SELECT count(*)%' THEN
            EXECUTE statement INTO affected;
        ELSE
            EXECUTE statement;
            GET DIAGNOSTICS affected = ROW_COUNT;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'IAMOK', MESSAGE = affected::text;
    EXCEPTION
        WHEN SQLSTATE 'IAMOK' THEN RETURN 'rows: ' || SQLERRM;
        WHEN OTHERS THEN RETURN SQLSTATE;
    END;
END
$$;

-- The actors and the statements of the matrix ({me} is the actor's user id).
CREATE TEMP TABLE actors (actor text PRIMARY KEY, database_role text, user_id uuid, position int);
INSERT INTO actors VALUES
    ('anon', 'anon', NULL, 1),
    ('alice (member)', 'authenticated', 'a0000000-0000-4000-8000-0000000000a1', 2),
    ('carol (company admin)', 'authenticated', 'a0000000-0000-4000-8000-0000000000a3', 3),
    ('olga (outsider)', 'authenticated', 'a0000000-0000-4000-8000-0000000000b1', 4),
    ('sam (support_agent)', 'authenticated', 'a0000000-0000-4000-8000-0000000000e3', 5),
    ('pam (platform_admin)', 'authenticated', 'a0000000-0000-4000-8000-0000000000e1', 6),
    ('service_role', 'service_role', NULL, 7);
GRANT SELECT ON actors TO PUBLIC;

CREATE TEMP TABLE statements (name text PRIMARY KEY, sql text, position serial);
INSERT INTO statements (name, sql) VALUES
    ('roles: read', 'SELECT count(*) FROM iam.roles'),
    ('roles: insert', $$INSERT INTO iam.roles (name) VALUES ('tester')$$),
    ('roles: update', $$UPDATE iam.roles SET description = 'x' WHERE name = 'consultant'$$),
    ('roles: delete', $$DELETE FROM iam.roles WHERE name = 'consultant'$$),
    ('users: read', 'SELECT count(*) FROM iam.users'),
    ('users: insert', $$INSERT INTO iam.users (id, email) VALUES ('a0000000-0000-4000-8000-0000000000f1', 'new@example.test')$$),
    ('users: update own name', $$UPDATE iam.users SET full_name = 'x' WHERE id = {me}$$),
    ('users: update own email', $$UPDATE iam.users SET email = 'x@example.test' WHERE id = {me}$$),
    ('users: update vera', $$UPDATE iam.users SET full_name = 'x' WHERE id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('users: delete vera', $$DELETE FROM iam.users WHERE id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('user_roles: read', 'SELECT count(*) FROM iam.user_roles'),
    ('user_roles: grant vera', $$INSERT INTO iam.user_roles (user_id, role_id) VALUES ('a0000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-000000000004')$$),
    ('user_roles: grant self', $$INSERT INTO iam.user_roles (user_id, role_id) VALUES ({me}, '00000000-0000-4000-8000-000000000007')$$),
    ('user_roles: revoke vera', $$DELETE FROM iam.user_roles WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('companies: read', 'SELECT count(*) FROM iam.companies'),
    ('companies: insert', $$INSERT INTO iam.companies (name) VALUES ('Newco')$$),
    ('companies: rename acme', $$UPDATE iam.companies SET name = 'Acme 2' WHERE id = 'c0000000-0000-4000-8000-00000000000a'$$),
    ('companies: suspend acme', $$UPDATE iam.companies SET current_iam_status = 'suspended_by_admin' WHERE id = 'c0000000-0000-4000-8000-00000000000a'$$),
    ('companies: delete acme', $$DELETE FROM iam.companies WHERE id = 'c0000000-0000-4000-8000-00000000000a'$$),
    ('company_users: read', 'SELECT count(*) FROM iam.company_users'),
    ('company_members: read', 'SELECT count(*) FROM iam.company_members'),
    ('company_users: add nina to acme', $$INSERT INTO iam.company_users (user_id, company_id) VALUES ('a0000000-0000-4000-8000-0000000000d1', 'c0000000-0000-4000-8000-00000000000a')$$),
    ('company_users: join acme', $$INSERT INTO iam.company_users (user_id, company_id) VALUES ({me}, 'c0000000-0000-4000-8000-00000000000a')$$),
    ('company_users: remove vera', $$UPDATE iam.company_users SET is_active_in_company = false WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('company_users: delete vera', $$DELETE FROM iam.company_users WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('user_settings: read', 'SELECT count(*) FROM iam.user_settings'),
    ('user_settings: update own', $$UPDATE iam.user_settings SET theme = 'dark' WHERE user_id = {me}$$),
    ('user_settings: update vera', $$UPDATE iam.user_settings SET theme = 'dark' WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('user_settings: delete vera', $$DELETE FROM iam.user_settings WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('api_keys: read', 'SELECT count(*) FROM iam.api_keys'),
    ('api_keys: read hashed_key', 'SELECT count(hashed_key) FROM iam.api_keys'),
    ('api_keys: insert own', $$INSERT INTO iam.api_keys (user_id, name, key_prefix, hashed_key) VALUES ({me}, 'k', 'new00001', 'hash-new')$$),
    ('api_keys: revoke vera''s', $$UPDATE iam.api_keys SET is_active = false WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('api_keys: revoke acme''s', $$UPDATE iam.api_keys SET is_active = false WHERE company_id = 'c0000000-0000-4000-8000-00000000000a'$$),
    ('api_keys: delete vera''s', $$DELETE FROM iam.api_keys WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('referral_codes: read', 'SELECT count(*) FROM iam.referral_codes'),
    ('referral_codes: insert for nina', $$INSERT INTO iam.referral_codes (user_id, code) VALUES ('a0000000-0000-4000-8000-0000000000d1', 'NINA')$$),
    ('referral_codes: deactivate vera''s', $$UPDATE iam.referral_codes SET is_active = false WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$),
    ('referrals: read', 'SELECT count(*) FROM iam.referrals'),
    ('referrals: advance', $$UPDATE iam.referrals SET status = 'completed_signup'$$),
    ('referrals: delete', 'DELETE FROM iam.referrals'),
    ('audit_log: read', 'SELECT count(*) FROM iam.audit_log'),
    ('audit_log: forge', $$INSERT INTO iam.audit_log (actor_role, action, target_user_id) VALUES ('x', 'role_granted', 'a0000000-0000-4000-8000-0000000000a2')$$),
    ('audit_log: erase', 'DELETE FROM iam.audit_log');
GRANT SELECT ON statements TO PUBLIC;

CREATE FUNCTION pg_temp.run_matrix() RETURNS TABLE (actor text, statement text, outcome text)
    LANGUAGE plpgsql AS $$
DECLARE
    a record;
    s record;
BEGIN
    FOR a IN SELECT * FROM actors ORDER BY position LOOP
        FOR s IN SELECT * FROM statements ORDER BY position LOOP
            PERFORM pg_temp.act_as(a.database_role, a.user_id);
            actor := a.actor;
            statement := s.name;
            outcome := pg_temp.attempt(replace(s.sql, '{me}', coalesce(quote_literal(a.user_id), 'NULL')));
            RETURN NEXT;
        END LOOP;
    END LOOP;
    PERFORM set_config('role', 'none', false);
    PERFORM set_config('request.jwt.claims', '', false);
END
$$;

-- pgTAP keeps its state in temporary tables: the API roles must write them.
DO $$
BEGIN
    EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA %s TO PUBLIC', pg_my_temp_schema()::regnamespace);
    EXECUTE format('GRANT ALL ON ALL SEQUENCES IN SCHEMA %s TO PUBLIC', pg_my_temp_schema()::regnamespace);
END
$$;


-- The expected outcome of each statement, per actor, in the order of
-- `actors`: anon, alice, carol, olga, sam, pam, service_role. A number is
-- rows read or changed; 42501 is refused. (A NOT NULL or CHECK violation
-- for service_role comes from {me} being NULL: it has no user.)
CREATE TEMP TABLE expected_outcomes (statement text PRIMARY KEY, outcomes text[]);
INSERT INTO expected_outcomes VALUES
    ('roles: read', '{7,7,7,7,7,7,7}'),
    ('roles: insert', '{42501,42501,42501,42501,42501,1,1}'),
    ('roles: update', '{42501,0,0,0,0,1,1}'),
    ('roles: delete', '{42501,42501,42501,42501,42501,42501,42501}'),
    ('users: read', '{42501,1,1,1,11,11,11}'),
    ('users: insert', '{42501,42501,42501,42501,42501,1,1}'),
    ('users: update own name', '{42501,1,1,1,1,1,0}'),
    ('users: update own email', '{42501,42501,42501,42501,42501,42501,0}'),
    ('users: update vera', '{42501,0,0,0,0,1,1}'),
    ('users: delete vera', '{42501,42501,42501,42501,42501,42501,1}'),
    ('user_roles: read', '{42501,1,1,1,11,11,11}'),
    ('user_roles: grant vera', '{42501,42501,42501,42501,42501,1,1}'),
    ('user_roles: grant self', '{42501,42501,42501,42501,42501,42501,23502}'),
    ('user_roles: revoke vera', '{42501,0,0,0,0,1,1}'),
    ('companies: read', '{42501,1,1,1,3,3,3}'),
    ('companies: insert', '{42501,42501,42501,42501,42501,1,1}'),
    ('companies: rename acme', '{42501,0,1,0,0,1,1}'),
    ('companies: suspend acme', '{42501,0,42501,0,0,1,1}'),
    ('companies: delete acme', '{42501,42501,42501,42501,42501,42501,1}'),
    ('company_users: read', '{42501,1,4,1,6,6,6}'),
    ('company_members: read', '{42501,0,3,1,5,5,5}'),
    ('company_users: add nina to acme', '{42501,42501,42501,42501,42501,1,1}'),
    ('company_users: join acme', '{42501,42501,42501,42501,42501,1,23502}'),
    ('company_users: remove vera', '{42501,0,1,0,0,1,1}'),
    ('company_users: delete vera', '{42501,42501,42501,42501,42501,42501,1}'),
    ('user_settings: read', '{42501,1,1,1,11,11,11}'),
    ('user_settings: update own', '{42501,1,1,1,1,1,0}'),
    ('user_settings: update vera', '{42501,0,0,0,0,1,1}'),
    ('user_settings: delete vera', '{42501,42501,42501,42501,42501,42501,1}'),
    ('api_keys: read', '{42501,1,1,1,4,4,4}'),
    ('api_keys: read hashed_key', '{42501,42501,42501,42501,42501,42501,1}'),
    ('api_keys: insert own', '{42501,1,1,1,1,1,23514}'),
    ('api_keys: revoke vera''s', '{42501,0,0,0,0,1,1}'),
    ('api_keys: revoke acme''s', '{42501,0,1,0,0,1,1}'),
    ('api_keys: delete vera''s', '{42501,42501,42501,42501,42501,42501,1}'),
    ('referral_codes: read', '{42501,1,0,1,3,3,3}'),
    ('referral_codes: insert for nina', '{42501,42501,42501,42501,42501,1,1}'),
    ('referral_codes: deactivate vera''s', '{42501,0,0,0,0,1,1}'),
    ('referrals: read', '{42501,1,0,1,2,2,2}'),
    ('referrals: advance', '{42501,0,0,0,0,2,2}'),
    ('referrals: delete', '{42501,42501,42501,42501,42501,42501,2}'),
    ('audit_log: read', '{42501,0,0,0,0,21,21}'),
    ('audit_log: forge', '{42501,42501,42501,42501,42501,42501,1}'),
    ('audit_log: erase', '{42501,42501,42501,42501,42501,42501,21}');

-- A SQLSTATE has five characters; a row count here has fewer.
SELECT is(m.outcome,
          CASE WHEN length(e.outcomes[a.position]) < 5 THEN 'rows: ' ELSE '' END || e.outcomes[a.position],
          m.actor || ' / ' || m.statement)
FROM pg_temp.run_matrix() AS m
JOIN actors AS a USING (actor)
JOIN expected_outcomes AS e USING (statement);

------------------------------------------------------------------------------
-- The permission model's tables (docs/security.md, "The permission model's
-- matrix"): the same cells for the catalogue, the platform roles'
-- permissions, the company roles, their permissions and who holds them, with
-- the holders of a permission beside the roles: Vera holds iam:roles:manage
-- in Acme (Acme's role coordinator), Carol's key is scoped to iam:* and
-- Acme's own key to *. A key's cell is a request as PostgREST makes it with
-- the key alone (anon, x-api-key, iam.authenticate_request()). Each cell runs
-- with row_security on, then off. Set up and run in a savepoint that is
-- rolled back, so the rest of this file sees the cast as it was; the outcomes
-- are carried out of it in a psql variable.
------------------------------------------------------------------------------
SAVEPOINT permission_matrix;
SELECT pg_temp.as_operator();
INSERT INTO iam.permissions (name) VALUES ('courses:read'), ('courses:edit');
INSERT INTO iam.role_permissions (role_id, permission) VALUES ('00000000-0000-4000-8000-000000000004', 'courses:edit');
INSERT INTO iam.company_roles (id, company_id, name) VALUES
    ('d0000000-0000-4000-8000-000000000001', NULL, 'instructor'),
    ('d0000000-0000-4000-8000-0000000000a1', 'c0000000-0000-4000-8000-00000000000a', 'coordinator'),
    ('d0000000-0000-4000-8000-0000000000a2', 'c0000000-0000-4000-8000-00000000000a', 'grader'),
    ('d0000000-0000-4000-8000-0000000000b1', 'c0000000-0000-4000-8000-00000000000b', 'auditor');
INSERT INTO iam.company_role_permissions (company_role_id, permission) VALUES
    ('d0000000-0000-4000-8000-000000000001', 'courses:read'),
    ('d0000000-0000-4000-8000-0000000000a1', 'iam:roles:manage'),
    ('d0000000-0000-4000-8000-0000000000a1', 'courses:read'),
    ('d0000000-0000-4000-8000-0000000000a2', 'courses:read'),
    ('d0000000-0000-4000-8000-0000000000b1', 'courses:read');
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id) VALUES
    (pg_temp.person('Vera'), 'c0000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-0000000000a1'),
    (pg_temp.person('Alice'), 'c0000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-0000000000a2'),
    (pg_temp.person('Olga'), 'c0000000-0000-4000-8000-00000000000b', 'd0000000-0000-4000-8000-0000000000b1');
SELECT api_key AS carol_key FROM iam.create_api_key('carol iam', pg_temp.person('Carol'), NULL, '["iam:*"]') \gset
SELECT api_key AS acme_key FROM iam.create_api_key('acme all', NULL, 'c0000000-0000-4000-8000-00000000000a', '["*"]') \gset

-- The actors: a user id for {me}; a key, presented as the request's only
-- credential.
CREATE TEMP TABLE permission_actors (actor text PRIMARY KEY, database_role text, user_id uuid, api_key text,
                                     position int);
INSERT INTO permission_actors VALUES
    ('anon', 'anon', NULL, NULL, 1),
    ('alice (member)', 'authenticated', pg_temp.person('Alice'), NULL, 2),
    ('carol (company admin)', 'authenticated', pg_temp.person('Carol'), NULL, 3),
    ('vera (iam:roles:manage)', 'authenticated', pg_temp.person('Vera'), NULL, 4),
    ('olga (Globex admin)', 'authenticated', pg_temp.person('Olga'), NULL, 5),
    ('sam (support_agent)', 'authenticated', pg_temp.person('Sam'), NULL, 6),
    ('pam (platform_admin)', 'authenticated', pg_temp.person('Pam'), NULL, 7),
    ('carol''s key (iam:*)', 'anon', pg_temp.person('Carol'), :'carol_key', 8),
    ('acme''s key (*)', 'anon', NULL, :'acme_key', 9),
    ('service_role', 'service_role', NULL, NULL, 10);

CREATE TEMP TABLE permission_statements (name text PRIMARY KEY, sql text, position serial);
INSERT INTO permission_statements (name, sql) VALUES
    ('permissions: read', 'SELECT count(*) FROM iam.permissions'),
    ('permissions: register courses:delete', $$INSERT INTO iam.permissions (name) VALUES ('courses:delete')$$),
    ('permissions: describe courses:read', $$UPDATE iam.permissions SET description = 'x' WHERE name = 'courses:read'$$),
    ('permissions: delete courses:edit', $$DELETE FROM iam.permissions WHERE name = 'courses:edit'$$),
    ('role_permissions: read', 'SELECT count(*) FROM iam.role_permissions'),
    ('role_permissions: give course_creator courses:read',
     $$INSERT INTO iam.role_permissions (role_id, permission) VALUES ('00000000-0000-4000-8000-000000000004', 'courses:read')$$),
    ('role_permissions: take courses:edit from course_creator',
     $$DELETE FROM iam.role_permissions WHERE role_id = '00000000-0000-4000-8000-000000000004'$$),
    ('company_roles: read', 'SELECT count(*) FROM iam.company_roles'),
    ('company_roles: define a template', $$INSERT INTO iam.company_roles (name) VALUES ('tutor')$$),
    ('company_roles: define an Acme role',
     $$INSERT INTO iam.company_roles (company_id, name) VALUES ('c0000000-0000-4000-8000-00000000000a', 'reviewer')$$),
    ('company_roles: define a Globex role',
     $$INSERT INTO iam.company_roles (company_id, name) VALUES ('c0000000-0000-4000-8000-00000000000b', 'reviewer')$$),
    ('company_roles: rename Acme''s grader',
     $$UPDATE iam.company_roles SET name = 'marker' WHERE id = 'd0000000-0000-4000-8000-0000000000a2'$$),
    ('company_roles: describe the template instructor',
     $$UPDATE iam.company_roles SET description = 'x' WHERE id = 'd0000000-0000-4000-8000-000000000001'$$),
    ('company_roles: delete Acme''s grader',
     $$DELETE FROM iam.company_roles WHERE id = 'd0000000-0000-4000-8000-0000000000a2'$$),
    ('company_roles: delete the template member',
     $$DELETE FROM iam.company_roles WHERE id = '00000000-0000-4000-8000-000000000101'$$),
    ('company_role_permissions: read', 'SELECT count(*) FROM iam.company_role_permissions'),
    ('company_role_permissions: give Acme''s grader courses:edit',
     $$INSERT INTO iam.company_role_permissions VALUES ('d0000000-0000-4000-8000-0000000000a2', 'courses:edit')$$),
    ('company_role_permissions: give Acme''s grader iam:roles:manage',
     $$INSERT INTO iam.company_role_permissions VALUES ('d0000000-0000-4000-8000-0000000000a2', 'iam:roles:manage')$$),
    ('company_role_permissions: give Acme''s grader *',
     $$INSERT INTO iam.company_role_permissions VALUES ('d0000000-0000-4000-8000-0000000000a2', '*')$$),
    ('company_role_permissions: give the template instructor courses:edit',
     $$INSERT INTO iam.company_role_permissions VALUES ('d0000000-0000-4000-8000-000000000001', 'courses:edit')$$),
    ('company_role_permissions: take courses:read from Acme''s grader',
     $$DELETE FROM iam.company_role_permissions WHERE company_role_id = 'd0000000-0000-4000-8000-0000000000a2'$$),
    ('company_member_roles: read', 'SELECT count(*) FROM iam.company_member_roles'),
    ('company_member_roles: make Alice Acme''s coordinator',
     $$INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
       VALUES ('a0000000-0000-4000-8000-0000000000a1', 'c0000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-0000000000a1')$$),
    ('company_member_roles: make oneself Acme''s coordinator',
     $$INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
       VALUES ({me}, 'c0000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-0000000000a1')$$),
    ('company_member_roles: give Vera Globex''s auditor in Acme',
     $$INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
       VALUES ('a0000000-0000-4000-8000-0000000000a2', 'c0000000-0000-4000-8000-00000000000a', 'd0000000-0000-4000-8000-0000000000b1')$$),
    ('company_member_roles: give Vera the template admin',
     $$INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
       VALUES ('a0000000-0000-4000-8000-0000000000a2', 'c0000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-000000000102')$$),
    ('company_member_roles: take Vera''s coordinator',
     $$DELETE FROM iam.company_member_roles WHERE user_id = 'a0000000-0000-4000-8000-0000000000a2'$$);
GRANT SELECT ON permission_actors, permission_statements TO PUBLIC;

-- attempt_request(statement, key, row_security): attempt() within a request:
-- the key (if any) authenticates it first, row_security is set for it, and
-- all of it is rolled back with the statement.
CREATE FUNCTION pg_temp.attempt_request(statement text, api_key text, row_security boolean) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    affected bigint;
BEGIN
    BEGIN
        IF api_key IS NOT NULL THEN
            PERFORM set_config('request.headers', json_build_object('x-api-key', api_key)::text, true);
            PERFORM iam.authenticate_request();
        END IF;
        PERFORM set_config('row_security', CASE WHEN row_security THEN 'on' ELSE 'off' END, true);
        IF statement ILIKE 'SELECT count(*)%' THEN
            EXECUTE statement INTO affected;
        ELSE
            EXECUTE statement;
            GET DIAGNOSTICS affected = ROW_COUNT;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'IAMOK', MESSAGE = affected::text;
    EXCEPTION
        WHEN SQLSTATE 'IAMOK' THEN RETURN 'rows: ' || SQLERRM;
        WHEN OTHERS THEN RETURN SQLSTATE;
    END;
END
$$;

CREATE FUNCTION pg_temp.run_permission_matrix(row_security boolean)
    RETURNS TABLE (actor text, statement text, outcome text)
    LANGUAGE plpgsql AS $$
DECLARE
    a record;
    s record;
BEGIN
    FOR a IN SELECT * FROM pg_temp.permission_actors ORDER BY position LOOP
        FOR s IN SELECT * FROM pg_temp.permission_statements ORDER BY position LOOP
            -- A key's request carries no JWT: its user is the key's owner.
            PERFORM pg_temp.act_as(a.database_role, CASE WHEN a.api_key IS NULL THEN a.user_id END);
            actor := a.actor;
            statement := s.name;
            outcome := pg_temp.attempt_request(replace(s.sql, '{me}', coalesce(quote_literal(a.user_id), 'NULL')),
                                               a.api_key, row_security);
            RETURN NEXT;
        END LOOP;
    END LOOP;
    PERFORM set_config('role', 'none', false);
    PERFORM set_config('request.jwt.claims', '', false);
END
$$;

SELECT json_agg(json_build_object('actor', o.actor, 'position', a.position, 'statement', o.statement,
                                  'rls', o.rls, 'outcome', o.outcome))
    AS permission_outcomes
FROM (SELECT m.*, true AS rls FROM pg_temp.run_permission_matrix(true) AS m
      UNION ALL
      SELECT m.*, false FROM pg_temp.run_permission_matrix(false) AS m) AS o
JOIN pg_temp.permission_actors AS a USING (actor) \gset
ROLLBACK TO SAVEPOINT permission_matrix;

-- The expected outcome of each statement, per actor, in the order of
-- permission_actors: anon, alice, carol, vera, olga, sam, pam, carol's key,
-- acme's key, service_role; with row_security on. With it off, every caller
-- that RLS binds is refused (42501) and the service role, which RLS does not
-- bind, gets what it gets with it on.
CREATE TEMP TABLE expected_permission_outcomes (statement text PRIMARY KEY, outcomes text[]);
INSERT INTO expected_permission_outcomes VALUES
    ('permissions: read', '{42501,3,3,3,3,3,3,3,3,3}'),
    ('permissions: register courses:delete', '{42501,42501,42501,42501,42501,42501,1,42501,42501,1}'),
    ('permissions: describe courses:read', '{42501,0,0,0,0,0,1,0,0,1}'),
    ('permissions: delete courses:edit', '{42501,0,0,0,0,0,1,0,0,1}'),
    ('role_permissions: read', '{42501,2,2,2,2,2,2,2,2,2}'),
    ('role_permissions: give course_creator courses:read', '{42501,42501,42501,42501,42501,42501,1,42501,42501,1}'),
    ('role_permissions: take courses:edit from course_creator', '{42501,0,0,0,0,0,1,0,0,1}'),
    ('company_roles: read', '{42501,5,5,5,4,6,6,5,5,6}'),
    ('company_roles: define a template', '{42501,42501,42501,42501,42501,42501,1,42501,42501,1}'),
    ('company_roles: define an Acme role', '{42501,42501,1,1,42501,42501,1,1,1,1}'),
    ('company_roles: define a Globex role', '{42501,42501,42501,42501,1,42501,1,42501,42501,1}'),
    ('company_roles: rename Acme''s grader', '{42501,0,1,1,0,0,1,1,1,1}'),
    ('company_roles: describe the template instructor', '{42501,0,0,0,0,0,1,0,0,1}'),
    ('company_roles: delete Acme''s grader', '{42501,0,1,1,0,0,1,1,1,1}'),
    ('company_roles: delete the template member', '{42501,0,0,0,0,0,42501,0,0,42501}'),
    ('company_role_permissions: read', '{42501,5,5,5,3,6,6,5,5,6}'),
    ('company_role_permissions: give Acme''s grader courses:edit', '{42501,42501,1,42501,42501,42501,1,42501,1,1}'),
    ('company_role_permissions: give Acme''s grader iam:roles:manage', '{42501,42501,1,1,42501,42501,1,1,1,1}'),
    ('company_role_permissions: give Acme''s grader *', '{42501,42501,1,42501,42501,42501,1,42501,1,1}'),
    ('company_role_permissions: give the template instructor courses:edit', '{42501,42501,42501,42501,42501,42501,1,42501,42501,1}'),
    ('company_role_permissions: take courses:read from Acme''s grader', '{42501,0,1,1,0,0,1,1,1,1}'),
    ('company_member_roles: read', '{42501,1,2,2,1,3,3,2,2,3}'),
    ('company_member_roles: make Alice Acme''s coordinator', '{42501,42501,1,1,42501,42501,1,42501,1,1}'),
    ('company_member_roles: make oneself Acme''s coordinator', '{42501,42501,1,23505,42501,42501,23503,42501,23502,23502}'),
    ('company_member_roles: give Vera Globex''s auditor in Acme', '{42501,22023,22023,22023,22023,22023,22023,22023,22023,22023}'),
    ('company_member_roles: give Vera the template admin', '{42501,22023,22023,22023,22023,22023,22023,22023,22023,22023}'),
    ('company_member_roles: take Vera''s coordinator', '{42501,0,1,1,0,0,1,1,1,1}');
GRANT SELECT ON expected_permission_outcomes TO PUBLIC;

SELECT is(o.outcome,
          CASE WHEN length(expected) < 5 THEN 'rows: ' ELSE '' END || expected,
          o.actor || ' / ' || o.statement || CASE WHEN o.rls THEN '' ELSE ' (row_security off)' END)
FROM json_to_recordset(:'permission_outcomes') AS o (actor text, position int, statement text, rls boolean, outcome text)
JOIN expected_permission_outcomes AS e USING (statement),
LATERAL (SELECT CASE WHEN o.rls OR o.actor = 'service_role' THEN e.outcomes[o.position] ELSE '42501' END AS expected) AS x;

------------------------------------------------------------------------------
-- grant_role and revoke_role
------------------------------------------------------------------------------
SELECT pg_temp.act_as('authenticated', pg_temp.person('Carol'));
SELECT throws_ok($$SELECT iam.grant_role(pg_temp.person('Vera'), 'course_creator')$$,
    '42501', 'permission denied to grant roles', 'A company admin cannot grant roles');
SELECT throws_ok($$SELECT iam.revoke_role(pg_temp.person('Pam'), 'platform_admin')$$,
    '42501', 'permission denied to revoke roles', 'nor revoke them');

SELECT pg_temp.act_as('authenticated', pg_temp.person('Pam'));
SELECT is(iam.grant_role(pg_temp.person('Vera'), 'course_creator'), true,
    'A platform_admin grants a role');
SELECT is(iam.grant_role(pg_temp.person('Vera'), 'course_creator'), false,
    'granting it again changes nothing');
SELECT throws_ok($$SELECT iam.grant_role(pg_temp.person('Pam'), 'course_creator')$$,
    '42501', 'permission denied to grant a role to yourself',
    'Nobody grants themselves a role, not even a platform_admin');
SELECT throws_ok($$SELECT iam.grant_role(pg_temp.person('Vera'), 'root')$$,
    '42704', 'role "root" does not exist', 'An unknown role is 42704');
SELECT throws_ok($$SELECT iam.grant_role(NULL, 'course_creator')$$,
    '22023', NULL, 'A NULL user is 22023');
SELECT throws_ok($$SELECT iam.grant_role('a0000000-0000-4000-8000-0000000000ff', 'course_creator')$$,
    'P0002', 'user a0000000-0000-4000-8000-0000000000ff does not exist', 'An unknown user is P0002');
SELECT is((SELECT count(*)::int FROM iam.audit_log AS l
           WHERE l.action = 'role_granted' AND l.target_user_id = pg_temp.person('Vera')
             AND l.actor_user_id = pg_temp.person('Pam') AND l.actor_role = 'authenticated'),
    1, 'The grant is in the audit log once, with who made it');

-- A grant or revoke is seen by the very next statement of the transaction.
SELECT pg_temp.act_as('authenticated', pg_temp.person('Vera'));
SELECT is(iam.has_role('course_creator'), true, 'The grantee holds the role in the next statement');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Pam'));
SELECT is(iam.revoke_role(pg_temp.person('Vera'), 'course_creator'), true,
    'A platform_admin revokes a role');
SELECT is(iam.revoke_role(pg_temp.person('Vera'), 'course_creator'), false,
    'revoking it again changes nothing');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Vera'));
SELECT is(iam.has_role('course_creator'), false, 'and the role is gone in the next statement');

SELECT pg_temp.act_as('service_role');
SELECT is(iam.grant_role(pg_temp.person('Alice'), 'consultant'), true,
    'The service role grants roles');
SELECT is((SELECT actor_role FROM iam.audit_log WHERE role_id = '00000000-0000-4000-8000-000000000005'),
    'service_role', 'and the audit log names it');

------------------------------------------------------------------------------
-- API keys through the functions: who may create, rotate, revoke, verify
------------------------------------------------------------------------------
SELECT pg_temp.act_as('authenticated', pg_temp.person('Alice'));
SELECT is((SELECT count(*)::int FROM iam.create_api_key('alice cli')), 1,
    'A user creates a key for themselves (the default owner)');
SELECT throws_ok($$SELECT iam.create_api_key('x', pg_temp.person('Vera'))$$,
    '42501', NULL, 'but not for another user');
SELECT throws_ok($$SELECT iam.create_api_key('x', company_id => 'c0000000-0000-4000-8000-00000000000a')$$,
    '42501', NULL, 'nor for their company unless they administer it');
SELECT throws_ok($$SELECT iam.rotate_api_key('e0000000-0000-4000-8000-0000000000a2')$$,
    'P0002', NULL, 'nor rotate another user''s key');
SELECT throws_ok($$SELECT iam.revoke_api_key('e0000000-0000-4000-8000-0000000000a2')$$,
    'P0002', NULL, 'nor revoke it');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Olga'));
SELECT throws_ok($$SELECT iam.create_api_key('x', company_id => 'c0000000-0000-4000-8000-00000000000a')$$,
    '42501', NULL, 'An outsider cannot create a company''s key');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Carol'));
SELECT is((SELECT count(*)::int FROM iam.create_api_key('acme deploy', company_id => 'c0000000-0000-4000-8000-00000000000a')),
    1, 'A company admin creates a key for the company');
SELECT is(iam.revoke_api_key('e0000000-0000-4000-8000-00000000000a'), true,
    'and revokes the company''s keys');
SELECT pg_temp.act_as('anon');
SELECT throws_ok($$SELECT iam.create_api_key('x', pg_temp.person('Alice'))$$,
    '42501', NULL, 'anon creates no key');
SELECT pg_temp.act_as('service_role');
SELECT api_key AS vera_key FROM iam.create_api_key('vera ci', pg_temp.person('Vera')) \gset
SELECT pg_temp.act_as('anon');
SELECT is((SELECT user_id FROM iam.verify_api_key(:'vera_key')), pg_temp.person('Vera'),
    'anon verifies a key (the login path) without reading api_keys');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Alice'));
SELECT throws_ok($$SELECT hashed_key FROM iam.api_keys$$, '42501', NULL,
    'and no API role reads hashed_key');
SELECT throws_ok($$SELECT iam.rotate_api_key_pepper()$$, '42501', NULL,
    'nor rotates the pepper');
SELECT pg_temp.act_as('service_role');
SELECT throws_ok($$SELECT count(*) FROM iam.api_key_peppers$$, '42501', NULL,
    'The service role cannot read the peppers either');

------------------------------------------------------------------------------
-- Referral codes through the functions
------------------------------------------------------------------------------
SELECT pg_temp.act_as('authenticated', pg_temp.person('Alice'));
SELECT is((iam.create_referral_code()).code, 'ALICE', 'A user''s code, asked for again, is their code');
SELECT throws_ok($$SELECT iam.create_referral_code(pg_temp.person('Sam'))$$, '42501', NULL,
    'A user cannot make a code for someone else');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Vera'));
SELECT throws_ok($$SELECT iam.redeem_referral_code('alice', pg_temp.person('Pam'))$$, '42501', NULL,
    'A user cannot redeem a code on another user''s behalf');
SELECT is((SELECT referrer_user_id FROM iam.redeem_referral_code(' alice ')), pg_temp.person('Alice'),
    'A user redeems someone''s code for themselves, without being able to read that code');
SELECT is((SELECT count(*)::int FROM iam.referral_codes WHERE user_id <> pg_temp.person('Vera')), 0, 'and still sees no code but their own');
SELECT throws_ok($$SELECT iam.advance_referral((SELECT id FROM iam.referrals WHERE referred_user_id = pg_temp.person('Vera')), 'completed_signup')$$,
    '42501', NULL, 'nor advances their own referral');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Alice'));
SELECT is((SELECT count(*)::int FROM iam.referrals WHERE referred_user_id = pg_temp.person('Vera')), 1,
    'The referrer sees the referral they made');
SELECT pg_temp.act_as('service_role');
SELECT is((SELECT status FROM iam.advance_referral((SELECT id FROM iam.referrals WHERE referred_user_id = pg_temp.person('Vera')), 'completed_signup')),
    'completed_signup', 'Billing (the service role) advances it');

------------------------------------------------------------------------------
-- Company membership, status and deletion
------------------------------------------------------------------------------
SELECT pg_temp.act_as('authenticated', pg_temp.person('Carol'));
SELECT throws_ok($$SELECT iam.add_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Nina'))$$,
    '42501', 'permission denied to add members to company c0000000-0000-4000-8000-00000000000a',
    'A company admin does not add people without their consent: they invite them');
SELECT is(iam.remove_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera')), true,
    'A company admin removes a member');
SELECT is(iam.remove_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera')), false,
    'removing them again changes nothing');
SELECT is(iam.is_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera')), false,
    'a removed member is no longer a member');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Pam'));
SELECT is(iam.add_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Nina')), true,
    'A platform_admin provisions a member directly');
SELECT is(iam.add_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera')), true,
    'and adding a removed member back reactivates the membership');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Carol'));
SELECT is(ARRAY(SELECT action FROM iam.audit_log WHERE target_user_id = pg_temp.person('Vera')
                AND company_id IS NOT NULL ORDER BY id),
    '{}'::text[], 'A company admin cannot read the audit log');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Pam'));
SELECT is(ARRAY(SELECT action FROM iam.audit_log WHERE target_user_id = pg_temp.person('Vera')
                AND company_id IS NOT NULL ORDER BY id),
    ARRAY['member_added', 'member_removed', 'member_reactivated'],
    'A platform_admin reads every membership change in the audit log');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Carol'));
SELECT throws_ok($$SELECT iam.add_company_member('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Carol'))$$,
    '42501', 'permission denied to add members to company c0000000-0000-4000-8000-00000000000b',
    'A company admin cannot add anyone to another company');
SELECT throws_ok($$SELECT iam.set_company_status('c0000000-0000-4000-8000-00000000000a', 'active')$$,
    '42501', 'permission denied to change the status of company c0000000-0000-4000-8000-00000000000a',
    'A company admin cannot change their company''s status');
SELECT throws_ok($$UPDATE iam.companies SET current_iam_status = 'pending_verification'$$,
    '42501', 'permission denied to change the status of company c0000000-0000-4000-8000-00000000000a',
    'not even by updating the row');

SELECT pg_temp.act_as('authenticated', pg_temp.person('Alice'));
SELECT throws_ok($$SELECT iam.add_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Olga'))$$,
    '42501', NULL, 'A member cannot add members');
SELECT throws_ok($$SELECT iam.remove_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Vera'))$$,
    '42501', NULL, 'nor remove them');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Olga'));
SELECT throws_ok($$SELECT iam.add_company_member('c0000000-0000-4000-8000-00000000000a', pg_temp.person('Olga'))$$,
    '42501', NULL, 'An outsider cannot join a company');
SELECT throws_ok($$SELECT iam.set_company_status('c0000000-0000-4000-8000-00000000000a', 'closed')$$,
    '22023', 'invalid company status: ''closed''', 'An unknown status is 22023');

-- Admin rights are per company; people join by invitation, as themselves.
SELECT pg_temp.act_as('service_role');
INSERT INTO iam.company_users (user_id, company_id) VALUES (pg_temp.person('Carol'), 'c0000000-0000-4000-8000-00000000000b');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Carol'));
SELECT is(iam.is_company_admin('c0000000-0000-4000-8000-00000000000b'), false,
    'Acme''s admin, a plain member of Globex, is not Globex''s admin');
SELECT throws_ok($$SELECT * FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000b', email => 'x@example.test')$$,
    '42501', NULL, '... invites nobody to it');
SELECT is((SELECT count(*)::int FROM iam.company_members WHERE company_id = 'c0000000-0000-4000-8000-00000000000b'), 0,
    '... and reads none of its members');
SELECT token AS gus_token FROM iam.invite_to_company('c0000000-0000-4000-8000-00000000000a', user_id => pg_temp.person('Gus')) \gset
SELECT is((SELECT count(*)::int FROM iam.company_members WHERE user_id = pg_temp.person('Gus')), 0,
    'An invitee is shown to the company''s admins only once they accept');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Nina'));
SELECT throws_ok(format('SELECT iam.accept_company_invitation(%L)', :'gus_token'), 'P0002', NULL,
    'Someone else''s token admits nobody else');
SELECT pg_temp.act_as('anon');
SELECT throws_ok(format('SELECT iam.accept_company_invitation(%L)', :'gus_token'), '42501', NULL,
    'anon may not accept an invitation');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Gus'));
SELECT is(iam.accept_company_invitation(:'gus_token'), 'c0000000-0000-4000-8000-00000000000a'::uuid,
    'The invitee accepts, as himself');
SELECT is(iam.is_company_member('c0000000-0000-4000-8000-00000000000a'), true, '... and is a member');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Carol'));
SELECT is((SELECT count(*)::int FROM iam.company_members WHERE user_id = pg_temp.person('Gus')), 1,
    '... whom the admins now see');
SELECT throws_ok(format('SELECT iam.remove_company_member(%L, %L)', 'c0000000-0000-4000-8000-00000000000a', pg_temp.person('Carol')),
    '23514', NULL, 'The last admin of a company may not leave it');
SELECT pg_temp.act_as('service_role');
SELECT is((SELECT count(*)::int FROM iam.company_invitations WHERE accepted_by = pg_temp.person('Gus')), 1,
    'The service role reads the accepted invitation');

SELECT pg_temp.act_as('authenticated', pg_temp.person('Pam'));
SELECT is(iam.set_company_status('c0000000-0000-4000-8000-00000000000b', 'suspended_by_admin'), true,
    'A platform_admin suspends a company');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Olga'));
SELECT is(iam.is_company_member('c0000000-0000-4000-8000-00000000000b'), false,
    'The members of a suspended company are no longer members');
SELECT is(iam.current_company_ids(), '{}'::uuid[], 'and have no current company');
SELECT is((SELECT count(*)::int FROM iam.companies), 0, 'nor see it');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Ivan'));
SELECT is(iam.is_company_admin('c0000000-0000-4000-8000-00000000000c'), false,
    'The admin of a suspended company is not its admin');
SELECT throws_ok($$SELECT iam.remove_company_member('c0000000-0000-4000-8000-00000000000c', pg_temp.person('Ivan'))$$,
    '42501', NULL, 'and cannot manage it');

SELECT pg_temp.act_as('authenticated', pg_temp.person('Carol'));
SELECT is(iam.delete_company('c0000000-0000-4000-8000-00000000000a'), true,
    'A company admin deletes their company (softly)');
SELECT is(iam.is_company_admin('c0000000-0000-4000-8000-00000000000a'), false,
    'after which nobody is its admin');
SELECT is((SELECT count(*)::int FROM iam.companies), 0, 'nor sees it');
SELECT pg_temp.act_as('service_role');
SELECT is((SELECT deleted_at IS NOT NULL FROM iam.companies WHERE id = 'c0000000-0000-4000-8000-00000000000a'),
    true, 'The deleted company keeps its row, with deleted_at');

------------------------------------------------------------------------------
-- Questions about other users
------------------------------------------------------------------------------
SELECT pg_temp.act_as('authenticated', pg_temp.person('Alice'));
SELECT is(iam.has_role(pg_temp.person('Alice'), 'solo_learner'), true, 'A user may ask about themselves');
SELECT throws_ok($$SELECT iam.has_role(pg_temp.person('Pam'), 'platform_admin')$$,
    '42501', 'permission denied to read the roles or memberships of another user',
    'but not who the platform admins are');
SELECT throws_ok($$SELECT iam.roles_of(pg_temp.person('Pam'))$$, '42501', NULL,
    'nor another user''s roles');
SELECT throws_ok($$SELECT iam.is_company_member('c0000000-0000-4000-8000-00000000000b', pg_temp.person('Olga'))$$,
    '42501', NULL, 'nor another user''s memberships');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Sam'));
SELECT is(iam.has_role(pg_temp.person('Pam'), 'platform_admin'), true, 'A support_agent may ask');
SELECT is(iam.roles_of(pg_temp.person('Carol')), '{enterprise_admin}', 'and list roles');
SELECT pg_temp.act_as('service_role');
SELECT is(iam.has_role(pg_temp.person('Pam'), 'platform_admin'), true, 'So may the service role');

------------------------------------------------------------------------------
-- Parallel query: workers give the answers the leader gives.
------------------------------------------------------------------------------
SELECT pg_temp.act_as('none');
CREATE TABLE public.iam_parallel_rows AS SELECT i FROM generate_series(1, 200000) AS i;
ANALYZE public.iam_parallel_rows;
GRANT SELECT ON public.iam_parallel_rows TO authenticated;
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT pg_temp.act_as('authenticated', pg_temp.person('Pam'));
SELECT matches(pg_temp.plan_of($$SELECT count(*) FROM public.iam_parallel_rows WHERE iam.has_role('platform_admin')$$),
    'Parallel Seq Scan', 'The role check runs in a parallel plan');
SELECT is((SELECT count(*)::int FROM public.iam_parallel_rows WHERE iam.has_role('platform_admin')
           AND iam.current_user_id() = pg_temp.person('Pam')),
    200000, 'and every worker sees the platform_admin');
SELECT pg_temp.act_as('authenticated', pg_temp.person('Alice'));
SELECT is((SELECT count(*)::int FROM public.iam_parallel_rows WHERE iam.has_role('platform_admin')),
    0, 'and a member as a member');
RESET max_parallel_workers_per_gather;
SELECT pg_temp.act_as('none');

SELECT * FROM finish();
ROLLBACK;
