-- The planner writes company_id = ANY (iam.current_company_ids()) as
-- iam.is_current_company(company_id). A rewrite must answer exactly what
-- the expression it replaces answers, NULLs included, in every boolean
-- context: for a caller in no company NULL = ANY ('{}') is false, for a
-- caller in a company NULL = ANY ('{<id>}') is NULL. Each context below is
-- compared three ways: rewritten in a WHERE clause, as written (hoisting
-- off), and in a select list (never rewritten), for anon, a user in no
-- company and users in one and in two companies.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
RESET client_min_messages;
BEGIN;
\i test/fixtures/supabase_roles.sql
SELECT iam.apply_grants();
\i test/fixtures/people.sql
-- Also: Alice in Globex, so that she has two companies.
INSERT INTO iam.company_users (user_id, company_id)
VALUES ('a0000000-0000-4000-8000-0000000000a1', 'c0000000-0000-4000-8000-00000000000b');

-- Rows of no company, of Acme, Globex, Initech (suspended) and a company
-- that does not exist.
CREATE TABLE items (id int, company_id uuid);
INSERT INTO items VALUES (1, NULL), (2, 'c0000000-0000-4000-8000-00000000000a'),
    (3, 'c0000000-0000-4000-8000-00000000000b'), (4, 'c0000000-0000-4000-8000-00000000000c'),
    (5, 'c0000000-0000-4000-8000-0000000000ff'), (6, NULL);
GRANT SELECT ON items TO anon, authenticated;
-- The same rows behind a policy that lets through what it cannot place,
-- and a view of the caller's own.
CREATE TABLE guarded (LIKE items);
INSERT INTO guarded SELECT * FROM items;
ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine_or_unknown ON guarded FOR SELECT
    USING (coalesce(company_id = ANY (iam.current_company_ids()), true));
GRANT SELECT ON guarded TO anon, authenticated;
CREATE VIEW not_current WITH (security_invoker) AS
    SELECT id FROM items WHERE NOT (company_id = ANY (iam.current_company_ids()));
GRANT SELECT ON not_current TO anon, authenticated;

CREATE TABLE contexts (name text, expression text);
INSERT INTO contexts VALUES
    ('bare', '%s'), ('NOT', 'NOT (%s)'), ('coalesce true', 'coalesce(%s, true)'),
    ('coalesce false', 'coalesce(%s, false)'), ('IS FALSE', '(%s) IS FALSE'),
    ('IS NOT FALSE', '(%s) IS NOT FALSE'), ('IS UNKNOWN', '(%s) IS UNKNOWN'),
    ('IS NOT TRUE', '(%s) IS NOT TRUE'), ('= false', '(%s) = false'),
    ('CASE', 'CASE WHEN %s THEN true ELSE NULL END IS NULL');
GRANT SELECT ON contexts TO anon, authenticated;

-- For the caller: in each context the ids a WHERE clause keeps with the
-- rewrite and without it, and each row's value in a select list
-- (t, f or n for NULL).
CREATE FUNCTION pg_temp.compared(OUT context text, OUT rewritten text, OUT as_written text,
                                 OUT select_list text, OUT same boolean)
    RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    c record;
    expression text;
BEGIN
    FOR c IN SELECT * FROM contexts ORDER BY name LOOP
        context := c.name;
        expression := format(c.expression, 'company_id = ANY (iam.current_company_ids())');
        PERFORM set_config('iam.hoist_checks', 'on', true);
        EXECUTE format('SELECT coalesce(string_agg(id::text, '','' ORDER BY id), '''') FROM items WHERE %s',
                       expression) INTO rewritten;
        EXECUTE format('SELECT string_agg(coalesce(left((%s)::text, 1), ''n''), '''' ORDER BY id) FROM items',
                       expression) INTO select_list;
        PERFORM set_config('iam.hoist_checks', 'off', true);
        EXECUTE format('SELECT coalesce(string_agg(id::text, '','' ORDER BY id), '''') FROM items WHERE %s',
                       expression) INTO as_written;
        PERFORM set_config('iam.hoist_checks', 'on', true);
        same := rewritten = as_written AND rewritten = (
            SELECT coalesce(string_agg(i::text, ',' ORDER BY i), '')
            FROM generate_series(1, length(select_list)) AS i WHERE substr(select_list, i, 1) = 't');
        RETURN NEXT;
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.compared() TO anon, authenticated;
-- The call itself, each answer a statement of its own.
CREATE FUNCTION pg_temp.calls(OUT companies int, OUT of_null boolean, OUT of_acme boolean,
                              OUT of_initech boolean)
    LANGUAGE plpgsql AS $$
BEGIN
    companies := cardinality(iam.current_company_ids());
    of_null := iam.is_current_company(NULL);
    of_acme := iam.is_current_company('c0000000-0000-4000-8000-00000000000a');
    of_initech := iam.is_current_company('c0000000-0000-4000-8000-00000000000c');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.calls() TO anon, authenticated;

-- The rewrite takes place under NOT, coalesce and IS FALSE.
SELECT pg_temp.as_user('Alice');
EXPLAIN (COSTS OFF)
SELECT id FROM items WHERE NOT (company_id = ANY (iam.current_company_ids()))
    OR coalesce(company_id = ANY (iam.current_company_ids()), true)
    OR (company_id = ANY (iam.current_company_ids())) IS FALSE;


-- Anon and Nina are in no company, Ivan only in a suspended one, Carol in
-- Acme (and suspended Initech), Alice in Acme and Globex. The call answers
-- false for NULL in no company and NULL in some, as = ANY does.
SELECT pg_temp.as_user(NULL);
SELECT * FROM pg_temp.calls();
SELECT * FROM pg_temp.compared();
SELECT pg_temp.as_user('Nina');
SELECT * FROM pg_temp.calls();
SELECT * FROM pg_temp.compared();
SELECT pg_temp.as_user('Ivan');
SELECT * FROM pg_temp.calls();
SELECT * FROM pg_temp.compared();
SELECT pg_temp.as_user('Carol');
SELECT * FROM pg_temp.calls();
SELECT * FROM pg_temp.compared();
SELECT pg_temp.as_user('Alice');
SELECT * FROM pg_temp.calls();
SELECT * FROM pg_temp.compared();

-- Policies and a view: the same rows with and without the rewrite.
CREATE FUNCTION pg_temp.through_policies_and_view(OUT caller text, OUT policies text,
                                                  OUT policies_as_written text, OUT via_view text,
                                                  OUT view_as_written text)
    RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
    FOR caller IN SELECT unnest(ARRAY[NULL, 'Nina', 'Ivan', 'Carol', 'Alice']) LOOP
        PERFORM pg_temp.as_user(caller);
        caller := coalesce(caller, 'anon');
        PERFORM set_config('iam.hoist_checks', 'on', true);
        policies := (SELECT string_agg(id::text, ',' ORDER BY id) FROM guarded);
        via_view := (SELECT string_agg(id::text, ',' ORDER BY id) FROM not_current);
        PERFORM set_config('iam.hoist_checks', 'off', true);
        policies_as_written := (SELECT string_agg(id::text, ',' ORDER BY id) FROM guarded);
        view_as_written := (SELECT string_agg(id::text, ',' ORDER BY id) FROM not_current);
        PERFORM set_config('iam.hoist_checks', 'on', true);
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('role', 'none', false);
END
$$;
RESET ROLE;
SELECT * FROM pg_temp.through_policies_and_view();
RESET ROLE;
ROLLBACK;
