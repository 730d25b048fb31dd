-- The shapes of docs/policies.md ("Protect your own tables"), each with its
-- policies exactly as written there, on tables of 1,000,000 rows: 300
-- companies (company_id = i % 300), 3,000 owners (owner = i % 3,000, each a
-- member of company owner % 300, so a row's owner belongs to its company),
-- one course in 97 public, one owner in ten a course_creator. The callers:
--   the user U, owner 0: a member of companies 0, 1 and 2 (the template
--     member grants courses:read), an instructor in company 1 (courses:*,
--     enrollments:manage), a course_creator (courses:create);
--   U's key, scoped to what the shapes ask of it: courses:read,
--     courses:edit, notes:read and enrollments:manage (request.headers,
--     iam.authenticate_request() and the statement in one transaction);
--   Sam, support_agent (courses:review);
--   anon.
-- The tables, as the cookbook builds them: notes (own rows); courses after
-- "Company rows" and "Company rows editable by holders of a permission"
-- (courses_edit: courses_read, courses_insert, courses_update,
-- courses_delete); courses after every section (courses_all: those and
-- courses_staff, courses_public); enrollments, its foreign keys to the
-- courses and to the memberships; course_drafts (rows owned by holders of a
-- role).
-- Each case's floor: the same statement on the same table, run by the
-- table's owner, to whom RLS does not apply, with the answer written out
-- as a literal filter (owner = '<U>', company_id = ANY ('{...}'), ...). A
-- case that counts other rows than its floor stops the benchmark.
-- The editable shape is measured by the UPDATE's row selection, a SELECT
-- ... FOR UPDATE: it applies the SELECT policies and the UPDATE policy's
-- USING, as the UPDATE does.
-- Every case of a round runs in its own transaction (a procedure that
-- commits), so that a request's role, claims and key end with its case;
-- parallel query off; 9 interleaved rounds (a tenth first, not kept), medians.
-- Run by bench/run.sh in a scratch database; prints each timing and ratios.
\ir lib/race.sql
\ir lib/api_roles.sql

CREATE FUNCTION bench.company(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('c8000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
CREATE FUNCTION bench.owner(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('b8000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
CREATE FUNCTION bench.companies(variadic i int[]) RETURNS text LANGUAGE sql IMMUTABLE AS
    $$ SELECT array_agg(bench.company(c) ORDER BY c)::text FROM unnest(i) AS c $$;

-- The permission model of the cookbook, as its set-up block writes it.
INSERT INTO iam.companies (id, name) SELECT bench.company(i), 'Company ' || i FROM generate_series(0, 299) AS i;
INSERT INTO iam.users (id) SELECT bench.owner(i) FROM generate_series(0, 2999) AS i;
INSERT INTO iam.users (id) VALUES ('b8100000-0000-4000-8000-0000000000e3');
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
SELECT bench.owner(i), bench.company(i % 300), 'member' FROM generate_series(0, 2999) AS i
UNION ALL SELECT bench.owner(0), bench.company(i), 'member' FROM generate_series(1, 2) AS i;
INSERT INTO iam.user_roles (user_id, role_id)
SELECT bench.owner(i), (SELECT id FROM iam.roles WHERE name = 'course_creator') FROM generate_series(0, 2999, 10) AS i;
SELECT iam.grant_role('b8100000-0000-4000-8000-0000000000e3', 'support_agent') \gset
INSERT INTO iam.permissions (name) VALUES ('courses:read'), ('courses:edit'), ('courses:create'),
    ('courses:review'), ('enrollments:manage'), ('notes:read'), ('notes:write');
INSERT INTO iam.company_role_permissions (company_role_id, permission)
VALUES (iam.company_role_id(bench.company(0), 'member'), 'courses:read');
INSERT INTO iam.company_roles (name) VALUES ('instructor');
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT id, p FROM iam.company_roles, unnest('{courses:*,enrollments:manage}'::text[]) AS p WHERE name = 'instructor';
INSERT INTO iam.role_permissions (role_id, permission)
SELECT id, CASE name WHEN 'support_agent' THEN 'courses:review' ELSE 'courses:create' END
FROM iam.roles WHERE name IN ('support_agent', 'course_creator');
SELECT iam.assign_company_role(bench.company(1), bench.owner(0), 'instructor') \gset
CREATE TABLE bench.keys AS
SELECT k.api_key FROM iam.create_api_key('bench shapes', bench.owner(0),
    permissions => '["courses:read", "courses:edit", "notes:read", "enrollments:manage"]') AS k;

-- The tables, as docs/policies.md creates them (in schema bench), filled
-- before their foreign keys are added (one validating join each, instead of
-- a check per row).
CREATE TABLE bench.notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner uuid NOT NULL DEFAULT iam.current_user_id(),
    body text NOT NULL
);
INSERT INTO bench.notes (owner, body) SELECT bench.owner(i % 3000), 'note ' || i FROM generate_series(1, 1000000) AS i;
CREATE TABLE bench.courses_edit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id uuid NOT NULL,
    title text NOT NULL,
    is_public boolean NOT NULL DEFAULT false,
    UNIQUE (id, company_id)
);
INSERT INTO bench.courses_edit (company_id, title, is_public)
SELECT bench.company(i % 300), 'course ' || i, i % 97 = 0 FROM generate_series(1, 1000000) AS i;
CREATE TABLE bench.courses_all (LIKE bench.courses_edit INCLUDING ALL);
INSERT INTO bench.courses_all OVERRIDING SYSTEM VALUE SELECT * FROM bench.courses_edit;
CREATE TABLE bench.enrollments (
    course_id bigint NOT NULL,
    company_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (course_id, user_id)
);
-- Course i's learner: owner i % 3,000, a member of the course's company.
INSERT INTO bench.enrollments SELECT id, company_id, bench.owner((id % 3000)::int) FROM bench.courses_edit;
CREATE TABLE bench.course_drafts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner uuid NOT NULL DEFAULT iam.current_user_id(),
    title text NOT NULL
);
INSERT INTO bench.course_drafts (owner, title) SELECT bench.owner(i % 3000), 'draft ' || i FROM generate_series(1, 1000000) AS i;
ALTER TABLE bench.notes ADD FOREIGN KEY (owner) REFERENCES iam.users (id) ON DELETE CASCADE;
ALTER TABLE bench.courses_edit ADD FOREIGN KEY (company_id) REFERENCES iam.companies (id) ON DELETE CASCADE;
ALTER TABLE bench.courses_all ADD FOREIGN KEY (company_id) REFERENCES iam.companies (id) ON DELETE CASCADE;
ALTER TABLE bench.enrollments
    ADD FOREIGN KEY (course_id, company_id) REFERENCES bench.courses_edit (id, company_id) ON DELETE CASCADE,
    ADD FOREIGN KEY (user_id, company_id) REFERENCES iam.company_users (user_id, company_id) ON DELETE CASCADE;
ALTER TABLE bench.course_drafts ADD FOREIGN KEY (owner) REFERENCES iam.users (id) ON DELETE CASCADE;
VACUUM ANALYZE bench.notes, bench.courses_edit, bench.courses_all, bench.enrollments, bench.course_drafts;

-- The policies and grants, word for word but for the schema.
GRANT USAGE ON SCHEMA bench TO anon, authenticated;
ALTER TABLE bench.notes ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT (body), UPDATE (body), DELETE ON bench.notes TO authenticated;
CREATE POLICY notes_read ON bench.notes FOR SELECT TO authenticated
    USING (owner = iam.current_user_id()
           AND (iam.current_api_key_id() IS NULL OR iam.has_permission('notes:read')));
CREATE POLICY notes_write ON bench.notes FOR ALL TO authenticated
    USING (owner = iam.current_user_id()
           AND (iam.current_api_key_id() IS NULL OR iam.has_permission('notes:write')))
    WITH CHECK (owner = iam.current_user_id()
                AND (iam.current_api_key_id() IS NULL OR iam.has_permission('notes:write')));

ALTER TABLE bench.courses_edit ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench.courses_all ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON bench.courses_edit, bench.courses_all TO authenticated;
GRANT INSERT (company_id, title, is_public), UPDATE (title, is_public), DELETE
    ON bench.courses_edit, bench.courses_all TO authenticated;
CREATE POLICY courses_read ON bench.courses_edit FOR SELECT TO authenticated
    USING (iam.can('courses:read', company_id));
CREATE POLICY courses_insert ON bench.courses_edit FOR INSERT TO authenticated
    WITH CHECK (iam.can('courses:edit', company_id));
CREATE POLICY courses_update ON bench.courses_edit FOR UPDATE TO authenticated
    USING (iam.can('courses:edit', company_id)) WITH CHECK (iam.can('courses:edit', company_id));
CREATE POLICY courses_delete ON bench.courses_edit FOR DELETE TO authenticated
    USING (iam.can('courses:edit', company_id));
CREATE POLICY courses_read ON bench.courses_all FOR SELECT TO authenticated
    USING (iam.can('courses:read', company_id));
CREATE POLICY courses_insert ON bench.courses_all FOR INSERT TO authenticated
    WITH CHECK (iam.can('courses:edit', company_id));
CREATE POLICY courses_update ON bench.courses_all FOR UPDATE TO authenticated
    USING (iam.can('courses:edit', company_id)) WITH CHECK (iam.can('courses:edit', company_id));
CREATE POLICY courses_delete ON bench.courses_all FOR DELETE TO authenticated
    USING (iam.can('courses:edit', company_id));
CREATE POLICY courses_staff ON bench.courses_all FOR SELECT TO authenticated
    USING (iam.can('courses:review'));
GRANT SELECT ON bench.courses_all TO anon;
CREATE POLICY courses_public ON bench.courses_all FOR SELECT TO anon, authenticated
    USING (is_public);

ALTER TABLE bench.enrollments ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE ON bench.enrollments TO authenticated;
CREATE POLICY enrollments_read ON bench.enrollments FOR SELECT TO authenticated
    USING ((user_id = iam.current_user_id() AND iam.can('courses:read', company_id))
           OR iam.can('enrollments:manage', company_id));
CREATE POLICY enrollments_insert ON bench.enrollments FOR INSERT TO authenticated
    WITH CHECK (iam.can('enrollments:manage', company_id));
CREATE POLICY enrollments_delete ON bench.enrollments FOR DELETE TO authenticated
    USING (iam.can('enrollments:manage', company_id));

ALTER TABLE bench.course_drafts ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT (title), UPDATE (title), DELETE ON bench.course_drafts TO authenticated;
CREATE POLICY drafts_owner ON bench.course_drafts FOR ALL TO authenticated
    USING (owner = iam.current_user_id() AND iam.can('courses:create'))
    WITH CHECK (owner = iam.current_user_id() AND iam.can('courses:create'));
CREATE POLICY drafts_review ON bench.course_drafts FOR SELECT TO authenticated
    USING (iam.can('courses:review') AND iam.has_role(owner, 'course_creator'));

SET max_parallel_workers_per_gather = 0;

-- The floor of a case has no setup: the tables' owner runs it.
\ir lib/race_requests.sql

-- The cases: one line per shape and caller, each with its floor (the
-- callers of a shape with the same answer share one).
CREATE FUNCTION bench.jwt(sub uuid) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT format($f$SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %L, true)$f$,
                  json_build_object('sub', sub, 'role', 'authenticated'))
$$;
CREATE TABLE bench.callers (caller text PRIMARY KEY, setup text);
INSERT INTO bench.callers VALUES
    ('JWT', bench.jwt(bench.owner(0))),
    ('key', format($f$SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', '{"role": "anon"}', true),
                             set_config('request.headers', %L, true), iam.authenticate_request()$f$,
                   (SELECT json_build_object('x-api-key', api_key) FROM bench.keys))),
    ('support JWT', bench.jwt('b8100000-0000-4000-8000-0000000000e3')),
    ('anon', $f$SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', '{"role": "anon"}', true)$f$);
CREATE TABLE bench.cases (n serial, name text, floor text, setup text, query text);
INSERT INTO bench.cases (name, floor, setup, query)
SELECT s.shape || ', ' || coalesce(x.c, 'floor' || s.floor_of), s.shape || ', floor' || s.floor_of, cl.setup,
       CASE WHEN x.c IS NULL THEN s.floor_query ELSE s.query END
FROM (VALUES
    (1, 'own rows', '{JWT,key}'::text[], '', 'SELECT count(*) FROM bench.notes',
     format('SELECT count(*) FROM bench.notes WHERE owner = %L', bench.owner(0))),
    (2, 'company rows', '{JWT,key}', '', 'SELECT count(*) FROM bench.courses_edit',
     format('SELECT count(*) FROM bench.courses_edit WHERE company_id = ANY (%L::uuid[])', bench.companies(0, 1, 2))),
    (3, 'editable rows FOR UPDATE', '{JWT,key}', '', 'SELECT count(*) FROM (SELECT id FROM bench.courses_edit FOR UPDATE) AS s',
     format('SELECT count(*) FROM (SELECT id FROM bench.courses_edit WHERE company_id = ANY (%L::uuid[]) FOR UPDATE) AS s',
            bench.companies(1))),
    (4, 'join table', '{JWT,key}', '', 'SELECT count(*) FROM bench.enrollments',
     format('SELECT count(*) FROM bench.enrollments WHERE (user_id = %L AND company_id = ANY (%L::uuid[])) OR company_id = ANY (%L::uuid[])',
            bench.owner(0), bench.companies(0, 1, 2), bench.companies(1))),
    (5, 'platform staff', '{support JWT}', '', 'SELECT count(*) FROM bench.courses_all', 'SELECT count(*) FROM bench.courses_all'),
    (6, 'role holders', '{JWT}', ' (owner)', 'SELECT count(*) FROM bench.course_drafts',
     format('SELECT count(*) FROM bench.course_drafts WHERE owner = %L', bench.owner(0))),
    (7, 'role holders', '{support JWT}', ' (staff)', 'SELECT count(*) FROM bench.course_drafts',
     format('SELECT count(*) FROM bench.course_drafts WHERE owner = ANY (%L::uuid[])',
            (SELECT array_agg(bench.owner(i)) FROM generate_series(0, 2999, 10) AS i))),
    (8, 'public plus private', '{JWT}', ' (member)', 'SELECT count(*) FROM bench.courses_all',
     format('SELECT count(*) FROM bench.courses_all WHERE company_id = ANY (%L::uuid[]) OR is_public', bench.companies(0, 1, 2))),
    (9, 'public plus private', '{anon}', ' (anon)', 'SELECT count(*) FROM bench.courses_all',
     'SELECT count(*) FROM bench.courses_all WHERE is_public')
    ) AS s (n, shape, callers, floor_of, query, floor_query)
CROSS JOIN LATERAL (SELECT NULL::text, 0 UNION ALL SELECT * FROM unnest(s.callers) WITH ORDINALITY) AS x (c, i)
LEFT JOIN bench.callers cl ON cl.caller = x.c
ORDER BY s.n, x.i;
SELECT array_agg(name ORDER BY n) AS names, array_agg(setup ORDER BY n) AS setups,
       array_agg(query ORDER BY n) AS queries FROM bench.cases \gset

-- A round first, not kept: the tables were written around shared buffers,
-- and the first scan of each would read them in.
CALL bench.race_requests(:'names'::text[], :'setups'::text[], :'queries'::text[], 1);
DELETE FROM bench.rounds;
CALL bench.race_requests(:'names'::text[], :'setups'::text[], :'queries'::text[], 9);

-- Every case must count what its floor counts, and no shape's answer may be
-- empty or the whole table unless it should be (staff: every course).
DO $$
DECLARE
    wrong text;
BEGIN
    SELECT string_agg(DISTINCT r.name || ': ' || r.rows || ' rows, its floor ' || f.rows, '; ') INTO wrong
    FROM bench.cases c JOIN bench.rounds r ON r.name = c.name JOIN bench.rounds f ON f.name = c.floor AND f.round = r.round
    WHERE r.rows <> f.rows OR r.rows = 0 OR (r.rows = 1000000) <> (c.name LIKE 'platform staff%');
    IF wrong IS NOT NULL THEN
        RAISE EXCEPTION 'policy_shapes: a case counts other rows than it should: %', wrong;
    END IF;
END $$;

\echo 'x floor: time over the floor of the same shape (the same statement by the owner, the answer as a literal), median of the rounds (range)'
SELECT r.name, r.best_ms, r.spread_ms, r.rounds, (SELECT max(rows) FROM bench.rounds x WHERE x.name = r.name) AS rows_seen,
       (SELECT bench.shown(x.median, x.low, x.high) FROM bench.ratio(r.name, c.floor) x) AS x_floor
FROM bench.report(NULL, NULL) r JOIN bench.cases c USING (name)
ORDER BY c.n;
DO $$ BEGIN
    PERFORM bench.target('policy shape, ' || c.name || ', x floor', c.name, c.floor, '', NULL)
    FROM bench.cases c WHERE c.name <> c.floor;
END $$;
\ir lib/summary.sql
DROP SCHEMA bench CASCADE;
DELETE FROM iam.api_keys WHERE user_id::text LIKE 'b8000000-%';
DELETE FROM iam.users WHERE id::text LIKE 'b8%';
DELETE FROM iam.companies WHERE id::text LIKE 'c8000000-%';
