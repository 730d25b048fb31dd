-- Tenant checks inside RLS policies: count(*) over 1,000,000 rows spread over
-- 1,000 companies (company_id = i % 1000, so neighbouring rows belong to
-- different companies), as an authenticated member of 3 companies and as a
-- consultant in 500, parallel query off:
--   floor: the table without RLS, WHERE company_id = ANY ('{...}'::uuid[])
--          holding the caller's companies as a literal;
--   peer:  the policy Supabase's RLS guide recommends,
--          company_id IN (SELECT company_id FROM members WHERE user_id = (SELECT auth.uid()));
--   iam_ext: USING (iam.is_company_member(company_id)) and
--          USING (company_id = ANY (iam.current_company_ids())).
-- Then, for a company admin, is_company_admin(company_id), and a per-row
-- role check has_role(owner, 'course_creator') over 100,000 distinct owners.
-- Run by bench/run.sh in a scratch database; prints each timing and ratios.
\ir lib/race.sql
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
    PERFORM iam.apply_grants();
END $$;
GRANT USAGE ON SCHEMA bench TO authenticated;

-- 1,000 companies; the member is in companies 0..2, the consultant in
-- 0..499, the admin (role_in_company admin) in 0..2.
CREATE FUNCTION bench.company(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('c5000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
INSERT INTO iam.companies (id, name) SELECT bench.company(i), 'Company ' || i FROM generate_series(0, 999) AS i;
INSERT INTO iam.users (id) VALUES ('b5000000-0000-4000-8000-000000000003'), ('b5000000-0000-4000-8000-000000000500'),
    ('b5000000-0000-4000-8000-00000000000a');
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
SELECT 'b5000000-0000-4000-8000-000000000003'::uuid, bench.company(i), 'member' FROM generate_series(0, 2) AS i
UNION ALL SELECT 'b5000000-0000-4000-8000-000000000500', bench.company(i), 'member' FROM generate_series(0, 499) AS i
UNION ALL SELECT 'b5000000-0000-4000-8000-00000000000a', bench.company(i), 'admin' FROM generate_series(0, 2) AS i;
-- 100,000 owners, one in ten a course_creator.
INSERT INTO iam.users (id) SELECT ('b6000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid FROM generate_series(1, 100000) AS i;
INSERT INTO iam.user_roles (user_id, role_id)
SELECT ('b6000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, (SELECT id FROM iam.roles WHERE name = 'course_creator')
FROM generate_series(10, 100000, 10) AS i;

CREATE TABLE bench.floor_rows AS
SELECT i AS id, bench.company(i % 1000) AS company_id,
       ('b6000000-0000-4000-8000-' || lpad((1 + i % 100000)::text, 12, '0'))::uuid AS owner
FROM generate_series(1, 1000000) AS i;
CREATE TABLE bench.peer_rows AS SELECT * FROM bench.floor_rows;
CREATE TABLE bench.member_rows AS SELECT * FROM bench.floor_rows;
CREATE TABLE bench.any_rows AS SELECT * FROM bench.floor_rows;
CREATE TABLE bench.admin_rows AS SELECT * FROM bench.floor_rows;
CREATE TABLE bench.owner_rows AS SELECT * FROM bench.floor_rows;
-- The peer's membership table, as the guide has it (no RLS of its own).
CREATE TABLE bench.members AS SELECT user_id, company_id FROM iam.company_users;
CREATE INDEX ON bench.members (user_id);
CREATE FUNCTION bench.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid
$$;
GRANT SELECT ON ALL TABLES IN SCHEMA bench TO authenticated;
VACUUM ANALYZE bench.floor_rows, bench.peer_rows, bench.member_rows, bench.any_rows, bench.admin_rows,
    bench.owner_rows, bench.members;

ALTER TABLE bench.peer_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON bench.peer_rows FOR SELECT TO authenticated
    USING (company_id IN (SELECT m.company_id FROM bench.members m WHERE m.user_id = (SELECT bench.uid())));
ALTER TABLE bench.member_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON bench.member_rows FOR SELECT TO authenticated USING (iam.is_company_member(company_id));
ALTER TABLE bench.any_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON bench.any_rows FOR SELECT TO authenticated USING (company_id = ANY (iam.current_company_ids()));
ALTER TABLE bench.admin_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON bench.admin_rows FOR SELECT TO authenticated USING (iam.is_company_admin(company_id));
ALTER TABLE bench.owner_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY creators ON bench.owner_rows FOR SELECT TO authenticated USING (iam.has_role(owner, 'course_creator'));

GRANT INSERT, SELECT ON bench.rounds TO authenticated;
-- The role-column case asks about other users: as the service role would.
SET max_parallel_workers_per_gather = 0;

INSERT INTO iam.users (id) VALUES ('b5000000-0000-4000-8000-0000000000e1');
SELECT iam.grant_role('b5000000-0000-4000-8000-0000000000e1', 'platform_admin') \gset
CREATE TABLE bench.creators AS
SELECT ur.user_id FROM iam.user_roles ur JOIN iam.roles r ON r.id = ur.role_id WHERE r.name = 'course_creator';
ANALYZE bench.creators;
GRANT SELECT ON bench.creators TO authenticated;

-- The cases for one caller: NAME is the caller's label, SUB their user id,
-- COMPANIES their companies as an array literal (the floor's).
CREATE FUNCTION bench.race_tenant(label text, sub uuid, companies text, rounds int) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', json_build_object('sub', sub, 'role', 'authenticated')::text, false);
    PERFORM bench.race(
        ARRAY['floor, ' || label, 'peer, ' || label, 'is_company_member, ' || label,
              '= ANY (current_company_ids()), ' || label],
        ARRAY[format('SELECT count(*) FROM bench.floor_rows WHERE company_id = ANY (%L::uuid[])', companies),
              'SELECT count(*) FROM bench.peer_rows',
              'SELECT count(*) FROM bench.member_rows',
              'SELECT count(*) FROM bench.any_rows'],
        rounds);
END
$$;
SELECT array_agg(bench.company(i))::text AS three FROM generate_series(0, 2) AS i \gset
SELECT array_agg(bench.company(i))::text AS five_hundred FROM generate_series(0, 499) AS i \gset
SET ROLE authenticated;
SELECT bench.race_tenant('3 companies', 'b5000000-0000-4000-8000-000000000003', :'three', 5) \gset
SELECT bench.race_tenant('500 companies', 'b5000000-0000-4000-8000-000000000500', :'five_hundred', 5) \gset
SELECT set_config('request.jwt.claims', '{"sub": "b5000000-0000-4000-8000-00000000000a", "role": "authenticated"}', false) \gset
SELECT bench.race(ARRAY['floor, admin of 3', 'is_company_admin, admin of 3'],
    ARRAY[format('SELECT count(*) FROM bench.floor_rows WHERE company_id = ANY (%L::uuid[])', :'three'),
          'SELECT count(*) FROM bench.admin_rows'], 5) \gset
SELECT set_config('request.jwt.claims', '{"sub": "b5000000-0000-4000-8000-0000000000e1", "role": "authenticated"}', false) \gset
SELECT bench.race(ARRAY['floor, 100,000 owners', 'has_role(owner), 100,000 owners'],
    ARRAY['SELECT count(*) FROM bench.floor_rows WHERE owner IN (SELECT user_id FROM bench.creators)',
          'SELECT count(*) FROM bench.owner_rows'], 3) \gset
RESET ROLE;

\echo 'x floor: time over the floor of the same caller, median of the rounds (range)'
SELECT r.name, r.best_ms, r.spread_ms, r.rounds,
       (SELECT bench.shown(x.median, x.low, x.high) FROM bench.ratio(r.name, f.name) x) AS x_floor,
       (SELECT bench.shown(x.median, x.low, x.high) FROM bench.ratio(r.name, p.name) x) AS x_peer
FROM bench.report(NULL, NULL) r
LEFT JOIN LATERAL (SELECT name FROM bench.rounds f WHERE f.name LIKE 'floor, %'
                   AND split_part(r.name, ', ', 2) = split_part(f.name, ', ', 2) LIMIT 1) f ON true
LEFT JOIN LATERAL (SELECT name FROM bench.rounds p WHERE p.name LIKE 'peer, %'
                   AND split_part(r.name, ', ', 2) = split_part(p.name, ', ', 2) LIMIT 1) p ON true
ORDER BY r.name LIKE '%500%', r.best_ms;
SELECT bench.target('tenant check, is_company_member(company_id), 3 companies, x floor', 'is_company_member, 3 companies', 'floor, 3 companies', '<=', 1.2),
       bench.target('tenant check, is_company_member(company_id), 500 companies, x floor', 'is_company_member, 500 companies', 'floor, 500 companies', '<=', 1.2),
       bench.target('tenant check, = ANY (current_company_ids()), 3 companies, x floor', '= ANY (current_company_ids()), 3 companies', 'floor, 3 companies', '<=', 1.1),
       bench.target('tenant check, = ANY (current_company_ids()), 500 companies, x floor', '= ANY (current_company_ids()), 500 companies', 'floor, 500 companies', '<=', 1.1),
       bench.target('tenant check, is_company_member, 3 companies, x peer', 'is_company_member, 3 companies', 'peer, 3 companies', '<=', 1.0),
       bench.target('tenant check, is_company_member, 500 companies, x peer', 'is_company_member, 500 companies', 'peer, 500 companies', '<=', 1.0),
       bench.target('tenant check, = ANY, 3 companies, x peer', '= ANY (current_company_ids()), 3 companies', 'peer, 3 companies', '<=', 1.0),
       bench.target('tenant check, = ANY, 500 companies, x peer', '= ANY (current_company_ids()), 500 companies', 'peer, 500 companies', '<=', 1.0),
       bench.target('tenant check, is_company_admin(company_id), admin of 3 (role_in_company), x floor', 'is_company_admin, admin of 3', 'floor, admin of 3', '<=', 1.2),
       bench.target('role column, has_role(owner, ...), 100,000 owners, x floor', 'has_role(owner), 100,000 owners', 'floor, 100,000 owners', '', NULL) \gset
\ir lib/summary.sql
DROP SCHEMA bench CASCADE;
DELETE FROM iam.users WHERE id::text LIKE 'b5000000-%' OR id::text LIKE 'b6000000-%';
DELETE FROM iam.companies WHERE id::text LIKE 'c5000000-%';
