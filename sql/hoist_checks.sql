-- Policies that call iam's checks with constant arguments, written without
-- the (SELECT ...) trick, are planned as if they had it: each call is an
-- InitPlan, evaluated once per execution, not once per row. The answers are
-- the same as per row, for every caller and every execution of a plan kept
-- across identity changes.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
BEGIN;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
\i test/fixtures/people.sql
-- Nina owns three of the notes; Pam is a platform_admin.

CREATE TABLE notes (id int, owner uuid, company_id uuid, body text);
INSERT INTO notes SELECT i, CASE WHEN i <= 3 THEN 'a0000000-0000-4000-8000-0000000000d1'::uuid END, NULL, 'note ' || i
FROM generate_series(1, 10) AS i;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_own_or_admin ON notes FOR SELECT
    USING (owner = iam.current_user_id() OR iam.has_role('platform_admin'));
CREATE POLICY company_notes ON notes FOR SELECT USING (iam.is_company_member(company_id));
CREATE POLICY write_own ON notes FOR INSERT WITH CHECK (owner = iam.current_user_id());
CREATE POLICY update_admin ON notes FOR UPDATE USING (iam.has_any_role('{platform_admin}'));
GRANT SELECT, INSERT, UPDATE ON notes TO authenticated;
CREATE VIEW admin_view WITH (security_barrier) AS SELECT id FROM notes WHERE iam.has_role('platform_admin');
GRANT SELECT ON admin_view TO authenticated;

SET LOCAL ROLE authenticated;
-- Constant arguments: InitPlans, the default user argument of a check too
-- (iam.current_user_id()). A column argument (company_id) stays per row.
EXPLAIN (COSTS OFF) SELECT count(*) FROM notes;
EXPLAIN (COSTS OFF) UPDATE notes SET body = 'x';
EXPLAIN (COSTS OFF) SELECT * FROM (SELECT id FROM notes) AS n WHERE n.id IN (SELECT id FROM notes);
EXPLAIN (COSTS OFF) WITH c AS (SELECT id FROM notes) SELECT count(*) FROM c;

-- One prepared plan, three callers: each execution answers for its caller.
PREPARE visible AS SELECT count(*) FROM notes;
SELECT pg_temp.as_user('Nina');
EXECUTE visible;
SELECT pg_temp.as_user('Pam');
EXECUTE visible;
SELECT count(*) FROM admin_view;
-- Signed in with no subject: by hand, as as_user(NULL) would be anon.
SET LOCAL request.jwt.claims = '';
EXECUTE visible;
SELECT count(*) FROM admin_view;

-- WITH CHECK is hoisted too, and still refuses a row that is not the caller's.
SELECT pg_temp.as_user('Nina');
INSERT INTO notes VALUES (11, 'a0000000-0000-4000-8000-0000000000d1', NULL, 'mine');
SAVEPOINT before_foreign_row;
INSERT INTO notes VALUES (12, 'a0000000-0000-4000-8000-0000000000e1', NULL, 'not mine');
ROLLBACK TO SAVEPOINT before_foreign_row;

-- The same answers with hoisting off, where every row calls the functions.
SET LOCAL iam.hoist_checks = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM notes;
SELECT count(*) FROM notes;
RESET iam.hoist_checks;
SELECT count(*) FROM notes;
RESET ROLE;
ROLLBACK;
