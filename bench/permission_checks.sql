-- Permission checks inside RLS policies: count(*) over 1,000,000 rows spread
-- over 1,000 companies (company_id = i % 1000), the tenant workload of
-- tenant_checks.sql, as a member of 3 companies and as a consultant in 500.
-- Each company defines two roles of its own, course_reader (courses:read
-- and courses:edit) and reporter (reports:view); a caller holds
-- course_reader in every other company of theirs (0, 2, 4, ...) and
-- reporter in the rest, so the permission is held in 2 of 3 companies and
-- in 250 of 500. Parallel query off. Per caller:
--   floor:   the table without RLS, WHERE company_id = ANY ('{...}'::uuid[])
--            holding the companies where the caller holds courses:read;
--   can:     USING (iam.can('courses:read', company_id)), with a JWT;
--   can, key: the same policy in a request authenticated by the caller's
--            key, scoped to courses:read only (narrower than the role):
--            request.headers, iam.authenticate_request() and the count in
--            one transaction;
--   authorize(): Supabase's RBAC guide, its PL/pgSQL authorize() reading
--            the role from the JWT's claims and counting role_permissions
--            (wrapped in (SELECT ...), as the guide writes its policies),
--            with the RLS guide's tenant check beside it: the guide's role
--            is one per user, not per company, so it lets through every
--            company of the caller, and does less than iam.can;
--   join:    a hand-written per-company permission check, EXISTS over the
--            caller's member roles joined to the roles' permissions, on
--            copies of the tables without RLS of their own.
-- Every case of a round runs in its own transaction (a procedure that
-- commits), so that the key's request ends before the next case.
-- Run by bench/run.sh in a scratch database; prints each timing and ratios.
\ir lib/race.sql
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
    PERFORM iam.apply_grants();
END $$;
GRANT USAGE ON SCHEMA bench TO anon, authenticated;

CREATE FUNCTION bench.company(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('c7000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
CREATE FUNCTION bench.caller(companies int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('b7000000-0000-4000-8000-' || lpad(companies::text, 12, '0'))::uuid $$;
INSERT INTO iam.permissions (name) VALUES ('courses:read'), ('courses:edit'), ('reports:view') ON CONFLICT DO NOTHING;
INSERT INTO iam.companies (id, name) SELECT bench.company(i), 'Company ' || i FROM generate_series(0, 999) AS i;
INSERT INTO iam.users (id) VALUES (bench.caller(3)), (bench.caller(500));
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
SELECT bench.caller(n), bench.company(i), 'member' FROM unnest(ARRAY[3, 500]) AS n, generate_series(0, n - 1) AS i;
INSERT INTO iam.company_roles (company_id, name)
SELECT bench.company(i), r FROM generate_series(0, 999) AS i, unnest(ARRAY['course_reader', 'reporter']) AS r;
INSERT INTO iam.company_role_permissions (company_role_id, permission)
SELECT r.id, p FROM iam.company_roles r, unnest(ARRAY['courses:read', 'courses:edit']) AS p
WHERE r.name = 'course_reader' AND r.company_id::text LIKE 'c7000000-%'
UNION ALL
SELECT r.id, 'reports:view' FROM iam.company_roles r WHERE r.name = 'reporter' AND r.company_id::text LIKE 'c7000000-%';
INSERT INTO iam.company_member_roles (user_id, company_id, company_role_id)
SELECT cu.user_id, cu.company_id, r.id
FROM iam.company_users cu
JOIN iam.company_roles r ON r.company_id = cu.company_id
    AND r.name = CASE WHEN right(cu.company_id::text, 12)::int % 2 = 0 THEN 'course_reader' ELSE 'reporter' END
WHERE cu.user_id IN (bench.caller(3), bench.caller(500));
-- Each caller's key, narrower than their role: courses:read only.
CREATE TABLE bench.keys AS
SELECT n AS companies, k.api_key
FROM unnest(ARRAY[3, 500]) AS n,
LATERAL iam.create_api_key('bench reader', bench.caller(n), permissions => '["courses:read"]') AS k;

CREATE TABLE bench.floor_rows AS
SELECT i AS id, bench.company(i % 1000) AS company_id FROM generate_series(1, 1000000) AS i;
CREATE TABLE bench.can_rows AS SELECT * FROM bench.floor_rows;
CREATE TABLE bench.guide_rows AS SELECT * FROM bench.floor_rows;
CREATE TABLE bench.join_rows AS SELECT * FROM bench.floor_rows;

-- Supabase's RBAC guide: roles and permissions as enums, the user's one
-- role in the JWT (its access token hook puts it there as user_role), and
-- authorize() reading it; auth.jwt() and auth.uid() as Supabase defines
-- them. The tenant half is the RLS guide's membership table.
CREATE TYPE bench.app_permission AS ENUM ('courses.read', 'courses.edit', 'reports.view');
CREATE TYPE bench.app_role AS ENUM ('reader', 'reporter');
CREATE TABLE bench.role_permissions (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    role bench.app_role NOT NULL,
    permission bench.app_permission NOT NULL,
    UNIQUE (role, permission));
INSERT INTO bench.role_permissions (role, permission)
VALUES ('reader', 'courses.read'), ('reader', 'courses.edit'), ('reporter', 'reports.view');
CREATE FUNCTION bench.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
CREATE FUNCTION bench.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE FUNCTION bench.authorize(requested_permission bench.app_permission) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    bind_permissions int;
    user_role bench.app_role;
BEGIN
    SELECT (bench.jwt() ->> 'user_role')::bench.app_role INTO user_role;
    SELECT count(*) INTO bind_permissions FROM bench.role_permissions
    WHERE role_permissions.permission = requested_permission AND role_permissions.role = user_role;
    RETURN bind_permissions > 0;
END
$$;
CREATE TABLE bench.members AS
SELECT user_id, company_id FROM iam.company_users WHERE user_id IN (bench.caller(3), bench.caller(500));
CREATE INDEX ON bench.members (user_id);
-- The hand-written per-company check's tables: who holds which company
-- role where, and what each role grants.
CREATE TABLE bench.member_roles AS
SELECT user_id, company_id, company_role_id AS role_id FROM iam.company_member_roles
WHERE user_id IN (bench.caller(3), bench.caller(500));
CREATE INDEX ON bench.member_roles (user_id, company_id);
CREATE TABLE bench.company_role_grants AS
SELECT company_role_id AS role_id, permission FROM iam.company_role_permissions;
CREATE INDEX ON bench.company_role_grants (role_id, permission);
GRANT SELECT ON ALL TABLES IN SCHEMA bench TO authenticated;
GRANT EXECUTE ON FUNCTION bench.authorize(bench.app_permission) TO authenticated;
VACUUM ANALYZE bench.floor_rows, bench.can_rows, bench.guide_rows, bench.join_rows, bench.role_permissions,
    bench.members, bench.member_roles, bench.company_role_grants;

ALTER TABLE bench.can_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON bench.can_rows FOR SELECT TO authenticated USING (iam.can('courses:read', company_id));
ALTER TABLE bench.guide_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON bench.guide_rows FOR SELECT TO authenticated
    USING ((SELECT bench.authorize('courses.read'))
           AND company_id IN (SELECT m.company_id FROM bench.members m WHERE m.user_id = (SELECT bench.uid())));
ALTER TABLE bench.join_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON bench.join_rows FOR SELECT TO authenticated
    USING (EXISTS (SELECT FROM bench.member_roles mr JOIN bench.company_role_grants g ON g.role_id = mr.role_id
                   WHERE mr.user_id = (SELECT bench.uid()) AND mr.company_id = join_rows.company_id
                     AND g.permission = 'courses:read'));

GRANT INSERT, SELECT, DELETE ON bench.rounds TO authenticated;
SET max_parallel_workers_per_gather = 0;

-- bench.race_requests(names, setups, queries, rounds): bench.race, each case
-- in its own transaction: its setup (NULL: none) and its query are timed
-- together, then committed, so that what a setup made LOCAL (a key's
-- request) ends with its case.
CREATE PROCEDURE bench.race_requests(names text[], setups text[], queries text[], rounds int)
    LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    took float8;
    seen bigint;
BEGIN
    rounds := least(rounds, coalesce(nullif(current_setting('bench.rounds', true), '')::int, rounds));
    FOR round IN 1..rounds LOOP
        FOR i IN 1..array_length(queries, 1) LOOP
            started := clock_timestamp();
            IF setups[i] IS NOT NULL THEN
                EXECUTE setups[i];
            END IF;
            EXECUTE queries[i] INTO seen;
            took := extract(epoch FROM clock_timestamp() - started) * 1000;
            COMMIT;
            INSERT INTO bench.rounds VALUES (names[i], round, took, seen);
            COMMIT;
        END LOOP;
    END LOOP;
END
$$;
GRANT EXECUTE ON PROCEDURE bench.race_requests(text[], text[], text[], int) TO authenticated;

-- The cases for one caller, in companies 0..N-1.
CREATE FUNCTION bench.cases(n int, OUT names text[], OUT setups text[], OUT queries text[])
    LANGUAGE sql STABLE AS $$
    SELECT ARRAY['floor, ' || n, 'can, ' || n, 'can, key, ' || n, 'authorize(), ' || n, 'join, ' || n],
           ARRAY[jwt, jwt, format($f$SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', '', true),
                                            set_config('request.headers', %L, true), iam.authenticate_request()$f$,
                                  json_build_object('x-api-key', (SELECT api_key FROM bench.keys WHERE companies = n))),
                 jwt, jwt],
           ARRAY[format('SELECT count(*) FROM bench.floor_rows WHERE company_id = ANY (%L::uuid[])',
                        (SELECT array_agg(bench.company(i)) FROM generate_series(0, n - 1, 2) AS i)),
                 'SELECT count(*) FROM bench.can_rows', 'SELECT count(*) FROM bench.can_rows',
                 'SELECT count(*) FROM bench.guide_rows', 'SELECT count(*) FROM bench.join_rows']
    FROM (SELECT format($f$SELECT set_config('request.jwt.claims', %L, true)$f$,
                        json_build_object('sub', bench.caller(n), 'role', 'authenticated', 'user_role', 'reader')) AS jwt) AS c
$$;
SELECT names AS names_3, setups AS setups_3, queries AS queries_3 FROM bench.cases(3) \gset
SELECT names AS names_500, setups AS setups_500, queries AS queries_500 FROM bench.cases(500) \gset
-- Both callers' cases in each round, so that a noisy neighbour slows all
-- of them alike.
SET ROLE authenticated;
-- A round first, not kept: the tables were written around shared buffers,
-- and the first scan of each would read them in.
CALL bench.race_requests(:'names_3'::text[] || :'names_500'::text[], :'setups_3'::text[] || :'setups_500'::text[],
                         :'queries_3'::text[] || :'queries_500'::text[], 1);
DELETE FROM bench.rounds;
CALL bench.race_requests(:'names_3'::text[] || :'names_500'::text[], :'setups_3'::text[] || :'setups_500'::text[],
                         :'queries_3'::text[] || :'queries_500'::text[], 5);
RESET ROLE;

-- The cases must count what the floor counts; the guide's, every company
-- of the caller (its role is not per company): 1,000 rows each.
DO $$
DECLARE
    wrong text;
BEGIN
    SELECT string_agg(DISTINCT r.name || ': ' || r.rows || ' rows, the floor ' || f.rows, '; ') INTO wrong
    FROM bench.rounds r JOIN bench.rounds f ON f.round = r.round AND f.name = 'floor, ' || split_part(r.name, ', ', -1)
    WHERE r.rows <> CASE WHEN r.name LIKE 'authorize()%' THEN 1000 * split_part(r.name, ', ', -1)::bigint ELSE f.rows END;
    IF wrong IS NOT NULL THEN
        RAISE EXCEPTION 'permission_checks: a case counts other rows than it should: %', wrong;
    END IF;
END $$;

\echo 'x floor: time over the floor of the same caller, median of the rounds (range); companies: the caller''s'
SELECT r.name, r.best_ms, r.spread_ms, r.rounds,
       (SELECT bench.shown(x.median, x.low, x.high) FROM bench.ratio(r.name, 'floor, ' || split_part(r.name, ', ', -1)) x) AS x_floor,
       (SELECT bench.shown(x.median, x.low, x.high) FROM bench.ratio(r.name, 'can, ' || split_part(r.name, ', ', -1)) x) AS x_can
FROM bench.report(NULL, NULL) r
ORDER BY split_part(r.name, ', ', -1)::int, r.best_ms;
SELECT bench.target('permission check, can(p, company_id), 3 companies, x floor', 'can, 3', 'floor, 3', '<=', 1.2),
       bench.target('permission check, can(p, company_id), 500 companies, x floor', 'can, 500', 'floor, 500', '<=', 1.2),
       bench.target('permission check, can(p, company_id), a narrower key, 3 companies, x floor', 'can, key, 3', 'floor, 3', '<=', 1.2),
       bench.target('permission check, can(p, company_id), a narrower key, 500 companies, x floor', 'can, key, 500', 'floor, 500', '<=', 1.2),
       bench.target('permission check, can, 3 companies, x the RBAC guide''s authorize()', 'can, 3', 'authorize(), 3', '<=', 1.0),
       bench.target('permission check, can, 500 companies, x the RBAC guide''s authorize()', 'can, 500', 'authorize(), 500', '<=', 1.0),
       bench.target('permission check, can, 3 companies, x a hand-written join', 'can, 3', 'join, 3', '<=', 1.0),
       bench.target('permission check, can, 500 companies, x a hand-written join', 'can, 500', 'join, 500', '<=', 1.0) \gset
\ir lib/summary.sql
DROP SCHEMA bench CASCADE;
DELETE FROM iam.api_keys WHERE user_id::text LIKE 'b7000000-%';
DELETE FROM iam.users WHERE id::text LIKE 'b7000000-%';
DELETE FROM iam.companies WHERE id::text LIKE 'c7000000-%';
