-- Tenant checks that vary per row (iam.is_company_member(company_id),
-- is_company_admin, has_role(owner, ...), company_id = ANY
-- (iam.current_company_ids())) are answered from a memo of the statement:
-- the answers stay those of the tables as the statement sees them, however
-- the memberships, roles and companies change between statements, in a
-- PL/pgSQL loop, or under a plan kept for several callers.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
BEGIN;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
\i test/fixtures/people.sql

-- 300 lessons over Acme, Globex and Initech (suspended), interleaved, so
-- that no two neighbouring rows ask the same question; 30 owners.
CREATE TABLE lessons (id int, company_id uuid, owner uuid);
INSERT INTO lessons
SELECT i, (ARRAY['c0000000-0000-4000-8000-00000000000a', 'c0000000-0000-4000-8000-00000000000b',
                 'c0000000-0000-4000-8000-00000000000c'])[1 + i % 3]::uuid,
       ('a0000000-0000-4000-8000-0000000001' || lpad((i % 30)::text, 2, '0'))::uuid
FROM generate_series(1, 300) AS i;
ALTER TABLE lessons ENABLE ROW LEVEL SECURITY;
CREATE POLICY members ON lessons FOR SELECT USING (iam.is_company_member(company_id));
CREATE TABLE lessons_any (LIKE lessons);
INSERT INTO lessons_any SELECT * FROM lessons;
ALTER TABLE lessons_any ENABLE ROW LEVEL SECURITY;
CREATE POLICY members ON lessons_any FOR SELECT USING (company_id = ANY (iam.current_company_ids()));
CREATE TABLE lessons_admin (LIKE lessons);
INSERT INTO lessons_admin SELECT * FROM lessons;
ALTER TABLE lessons_admin ENABLE ROW LEVEL SECURITY;
CREATE POLICY admins ON lessons_admin FOR SELECT USING (iam.is_company_admin(company_id));
GRANT SELECT ON lessons, lessons_any, lessons_admin TO authenticated;

-- signed_in_as(name) switches to that user for the transaction, as PostgREST
-- sets the claims; counts is what the caller sees through each policy, and
-- seen_by(name) the same for a user, each count a statement of its own.
-- Not as_user: the claims are local to the transaction here, as PostgREST's are.
CREATE FUNCTION pg_temp.signed_in_as(name text) RETURNS text LANGUAGE sql AS $$
    SELECT set_config('request.jwt.claims',
                      json_build_object('sub', pg_temp.person(name), 'role', 'authenticated')::text, true)
$$;
CREATE VIEW counts WITH (security_invoker) AS
SELECT (SELECT count(*) FROM lessons) AS member, (SELECT count(*) FROM lessons_any) AS any_form,
       (SELECT count(*) FROM lessons_admin) AS admin;
GRANT SELECT ON counts TO authenticated;
CREATE FUNCTION pg_temp.seen_by(name text, OUT member bigint, OUT any_form bigint, OUT admin bigint)
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.signed_in_as(name);
    member := (SELECT count(*) FROM lessons);
    any_form := (SELECT count(*) FROM lessons_any);
    admin := (SELECT count(*) FROM lessons_admin);
END
$$;

-- The rewrite: = ANY (iam.current_company_ids()) is answered by
-- iam.is_current_company, a probe per row; iam.hoist_checks = off keeps the
-- array.
SET LOCAL ROLE authenticated;
EXPLAIN (COSTS OFF) SELECT count(*) FROM lessons_any;
SET LOCAL iam.hoist_checks = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM lessons_any;
RESET iam.hoist_checks;

-- Each caller sees the companies they are in (an admin their companies
-- through the admin policy too).
SELECT v.name, s.* FROM (VALUES ('Alice'), ('Carol'), ('Olga'), ('Vera'), ('Nina'), ('Pam')) AS v (name),
     LATERAL pg_temp.seen_by(v.name) AS s;

-- Gus joins Globex and leaves it again, between statements of one
-- transaction: each statement sees the membership as it is.
SELECT pg_temp.signed_in_as('Gus') \gset
SELECT * FROM counts;
RESET ROLE;
INSERT INTO iam.company_users (user_id, company_id)
VALUES ('a0000000-0000-4000-8000-0000000000d2', 'c0000000-0000-4000-8000-00000000000b');
SET LOCAL ROLE authenticated;
SELECT * FROM counts;
RESET ROLE;
UPDATE iam.company_users SET is_active_in_company = false
WHERE user_id = 'a0000000-0000-4000-8000-0000000000d2' AND company_id = 'c0000000-0000-4000-8000-00000000000b';
SET LOCAL ROLE authenticated;
SELECT * FROM counts;

-- The same in a PL/pgSQL loop running one statement per iteration, with
-- the membership switched on and off by the operator in between.
RESET ROLE;
CREATE FUNCTION pg_temp.set_gus_in_globex(active boolean) RETURNS void LANGUAGE sql SECURITY DEFINER AS $$
    UPDATE iam.company_users SET is_active_in_company = active
    WHERE user_id = 'a0000000-0000-4000-8000-0000000000d2' AND company_id = 'c0000000-0000-4000-8000-00000000000b'
$$;
GRANT EXECUTE ON FUNCTION pg_temp.set_gus_in_globex(boolean) TO authenticated;
SET LOCAL ROLE authenticated;
-- The third answer is a PL/pgSQL simple expression, whose evaluation state
-- (and so the check's memo) lives across the loop's statements.
DO $$
DECLARE
    seen int[] := '{}';
    globex uuid := 'c0000000-0000-4000-8000-00000000000b';
    member boolean;
BEGIN
    FOR i IN 1..4 LOOP
        PERFORM pg_temp.set_gus_in_globex(i % 2 = 1);
        member := iam.is_company_member(globex);
        seen := seen || (SELECT count(*) FROM lessons)::int || (SELECT count(*) FROM lessons_any)::int
                     || member::int;
    END LOOP;
    RAISE NOTICE 'Gus in Globex, out, in, out: lessons seen (member, any) and member: %', seen;
END
$$;

-- Acme is suspended mid-transaction: its members stop seeing its lessons at
-- the next statement, and see them again once it is active.
SELECT pg_temp.signed_in_as('Alice') \gset
SELECT * FROM counts;
RESET ROLE;
UPDATE iam.companies SET current_iam_status = 'suspended_by_admin' WHERE name = 'Acme';
SET LOCAL ROLE authenticated;
SELECT * FROM counts;
RESET ROLE;
UPDATE iam.companies SET current_iam_status = 'active' WHERE name = 'Acme';
SET LOCAL ROLE authenticated;
SELECT * FROM counts;

-- One prepared statement, its plan kept (generic), executed for three
-- callers in turn: each gets their own answer, not the previous caller's.
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE seen AS SELECT (SELECT count(*) FROM lessons) AS member, (SELECT count(*) FROM lessons_any) AS any_form;
SELECT pg_temp.signed_in_as('Alice') \gset
EXECUTE seen;
SELECT pg_temp.signed_in_as('Olga') \gset
EXECUTE seen;
SELECT pg_temp.signed_in_as('Nina') \gset
EXECUTE seen;
SELECT pg_temp.signed_in_as('Alice') \gset
EXECUTE seen;
DEALLOCATE seen;

-- A role column over more owners than the memo reads one by one (it then
-- loads the role's holders at once): the count is the holders' lessons,
-- before and after one more owner becomes a course creator.
RESET ROLE;
INSERT INTO iam.users (id) SELECT ('a0000000-0000-4000-8000-0000000001' || lpad(i::text, 2, '0'))::uuid FROM generate_series(0, 29) AS i;
CREATE TABLE many_owners AS
SELECT i AS id, ('a0000000-0000-4000-8000-0000000001' || lpad((i % 30)::text, 2, '0'))::uuid AS owner
FROM generate_series(1, 3000) AS i;
INSERT INTO many_owners SELECT 3000 + i, gen_random_uuid() FROM generate_series(1, 600) AS i;
ALTER TABLE many_owners ENABLE ROW LEVEL SECURITY;
CREATE POLICY creators ON many_owners FOR SELECT USING (iam.has_role(owner, 'course_creator'));
GRANT SELECT ON many_owners TO authenticated;
SELECT count(iam.grant_role(('a0000000-0000-4000-8000-0000000001' || lpad(i::text, 2, '0'))::uuid, 'course_creator')) AS creators
FROM generate_series(0, 29, 3) AS i;
SELECT pg_temp.signed_in_as('Pam') \gset
SET LOCAL ROLE authenticated;
SELECT count(*) AS lessons_of_creators FROM many_owners;
RESET ROLE;
SELECT iam.grant_role('a0000000-0000-4000-8000-000000000101', 'course_creator');
SET LOCAL ROLE authenticated;
SELECT count(*) AS lessons_of_creators FROM many_owners;
-- Another user's roles stay hidden from a caller who may not read them.
SELECT pg_temp.signed_in_as('Alice') \gset
SELECT count(*) FROM many_owners;
ROLLBACK;
