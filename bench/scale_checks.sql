-- Checks at scale: tenant policies over many companies and role checks over
-- many holders, each against its floor in the same run, parallel query off.
--   tenant: count(*) over ROWS rows spread over 1,000, 10,000 and 100,000
--     companies (company_id = i % N), as callers in 3, 500 and 5,000
--     companies; floor: the table without RLS, WHERE company_id = ANY
--     ('{...}'::uuid[]) with the caller's companies as a literal; iam_ext:
--     USING (iam.is_company_member(company_id)),
--     USING (company_id = ANY (iam.current_company_ids())) and
--     USING (iam.can('courses:read', company_id)), the permission granted to
--     the built-in member role (so held in every company of the caller).
--   role column: count(*) over ROWS rows whose owners range over twice the
--     holders of a role (half of the owners hold it), with 10,000 and
--     100,000 holders (and 1,000,000 in the full run); floor: WHERE owner IN
--     (SELECT user_id FROM <the holders>), a hash semi-join, with work_mem
--     room for its hash; iam_ext: USING (iam.has_role(owner, <role>)), as a
--     platform_admin. Then the same past iam.check_memory: 100,000 holders
--     at 1 MB (and 1,000,000 at 10 MB in the full run), and at 256 kB, past
--     what the rows' places hold too.
--   member column: count(*) over ROWS rows of (company, user) pairs ranging
--     over twice 100,000 memberships (half of the pairs are members);
--     floor: WHERE (company_id, member) IN (SELECT company_id, user_id FROM
--     <the memberships>); iam_ext: USING (iam.is_company_member(company_id,
--     member)), as a platform_admin, within the default iam.check_memory
--     and at 1 MB (12,288 pairs fit in its memo).
-- The default run (make bench, and its smoke run in CI) has 200,000 rows;
-- the full run, IAM_BENCH_SCALE=full (bench.scale = full): 1,000,000 rows
-- and a role with 1,000,000 holders. IAM_BENCH_ROWS (bench.scale_rows)
-- sets the rows alone, IAM_BENCH_PART (bench.scale_part: tenant or roles)
-- runs one part, IAM_BENCH_COMPANIES (bench.scale_companies, a list such
-- as 100000) the tenant part's company counts: the 10,000,000-row manual
-- run of docs/reports/performance.md.
-- Run by bench/run.sh in a scratch database; prints each timing and ratios.
\ir lib/race.sql
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
    PERFORM iam.apply_grants();
END $$;
GRANT USAGE ON SCHEMA bench TO authenticated;
SELECT coalesce(current_setting('bench.scale', true) = 'full', false) AS full_run \gset
SELECT coalesce(nullif(current_setting('bench.scale_rows', true), '')::int,
                CASE WHEN :'full_run' THEN 1000000 ELSE 200000 END) AS scale_rows \gset
SELECT CASE WHEN :'full_run' THEN '{10000,100000,1000000}' ELSE '{10000,100000}' END AS holder_counts \gset
SELECT coalesce(current_setting('bench.scale_part', true), '') AS part \gset
SELECT :'part' IN ('', 'tenant') AS run_tenant, :'part' IN ('', 'roles') AS run_roles \gset
SELECT '{' || coalesce(nullif(current_setting('bench.scale_companies', true), ''), '1000,10000,100000') || '}' AS company_counts \gset
\echo 'rows per table:' :scale_rows ', holders:' :holder_counts ', companies:' :company_counts ', part:' :part

CREATE FUNCTION bench.company(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('c7000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
CREATE FUNCTION bench.owner(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('b7000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid $$;
INSERT INTO iam.companies (id, name) SELECT bench.company(i), 'Company ' || i FROM generate_series(0, 99999) AS i;
-- Three callers, in companies 0..2, 0..499 and 0..4,999.
INSERT INTO iam.users (id) VALUES ('b7100000-0000-4000-8000-000000000003'), ('b7100000-0000-4000-8000-000000000500'),
    ('b7100000-0000-4000-8000-000000005000'), ('b7100000-0000-4000-8000-0000000000e1');
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
SELECT ('b7100000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, bench.company(i), 'member'
FROM unnest(ARRAY[3, 500, 5000]) AS n, generate_series(0, n - 1) AS i;
SELECT iam.grant_role('b7100000-0000-4000-8000-0000000000e1', 'platform_admin') \gset
-- iam.can's permission, held through the built-in member role.
INSERT INTO iam.permissions (name) VALUES ('courses:read') ON CONFLICT DO NOTHING;
INSERT INTO iam.company_role_permissions (company_role_id, permission)
VALUES ('00000000-0000-4000-8000-000000000101', 'courses:read');

SELECT set_config('bench.scale_rows_now', :'scale_rows', false) \gset
SELECT set_config('bench.company_counts_now', :'company_counts', false) \gset
\if :run_tenant
-- Per company count N: the floor's table, and one table per form with its
-- policy (same rows, same order).
DO $$
DECLARE
    n int;
    rows int := current_setting('bench.scale_rows_now')::int;
BEGIN
    FOREACH n IN ARRAY current_setting('bench.company_counts_now')::int[] LOOP
        EXECUTE format('CREATE TABLE bench.floor_%s AS SELECT i AS id, bench.company(i %% %s) AS company_id
                        FROM generate_series(1, %s) AS i', n, n, rows);
        EXECUTE format('CREATE TABLE bench.member_%s AS SELECT * FROM bench.floor_%s', n, n);
        EXECUTE format('CREATE TABLE bench.any_%s AS SELECT * FROM bench.floor_%s', n, n);
        EXECUTE format('CREATE TABLE bench.can_%s AS SELECT * FROM bench.floor_%s', n, n);
        EXECUTE format('ALTER TABLE bench.member_%s ENABLE ROW LEVEL SECURITY', n);
        EXECUTE format('CREATE POLICY tenant ON bench.member_%s FOR SELECT TO authenticated
                        USING (iam.is_company_member(company_id))', n);
        EXECUTE format('ALTER TABLE bench.any_%s ENABLE ROW LEVEL SECURITY', n);
        EXECUTE format('CREATE POLICY tenant ON bench.any_%s FOR SELECT TO authenticated
                        USING (company_id = ANY (iam.current_company_ids()))', n);
        EXECUTE format('ALTER TABLE bench.can_%s ENABLE ROW LEVEL SECURITY', n);
        EXECUTE format('CREATE POLICY tenant ON bench.can_%s FOR SELECT TO authenticated
                        USING (iam.can(%L, company_id))', n, 'courses:read');
    END LOOP;
END
$$;

\endif

\if :run_roles
-- Per holder count H: a role held by H users; ROWS rows whose owners range
-- over 2H ids, the holders and as many ids that hold nothing.
CREATE TABLE bench.holder_counts AS SELECT unnest(:'holder_counts'::int[]) AS h;
DO $$
DECLARE
    holders int;
    rows int := current_setting('bench.scale_rows_now')::int;
BEGIN
    INSERT INTO iam.users (id) SELECT bench.owner(i) FROM generate_series(1, (SELECT max(c.h) FROM bench.holder_counts c)) AS i;
    FOR holders IN SELECT c.h FROM bench.holder_counts c LOOP
        INSERT INTO iam.roles (name, description) VALUES ('bench_holders_' || holders, 'held by ' || holders || ' users');
        INSERT INTO iam.user_roles (user_id, role_id)
        SELECT bench.owner(i), (SELECT id FROM iam.roles WHERE name = 'bench_holders_' || holders)
        FROM generate_series(1, holders) AS i;
        EXECUTE format('CREATE TABLE bench.holders_%s AS SELECT bench.owner(i) AS user_id FROM generate_series(1, %s) AS i',
                       holders, holders);
        -- Owner ids 1..2H: those above H hold nothing (and need no user).
        EXECUTE format('CREATE TABLE bench.owner_floor_%s AS SELECT i AS id, bench.owner((1 + (i::bigint * 7919) %% (2 * %s))::int) AS owner
                        FROM generate_series(1, %s) AS i', holders, holders, rows);
        EXECUTE format('CREATE TABLE bench.owner_rows_%s AS SELECT * FROM bench.owner_floor_%s', holders, holders);
        EXECUTE format('ALTER TABLE bench.owner_rows_%s ENABLE ROW LEVEL SECURITY', holders);
        EXECUTE format('CREATE POLICY holders ON bench.owner_rows_%s FOR SELECT TO authenticated
                        USING (iam.has_role(owner, %L))', holders, 'bench_holders_' || holders);
    END LOOP;
END
$$;
-- 100,000 memberships, of user i in company i % 1,000; ROWS rows whose
-- pairs range over 200,000 (user i, company i % 1,000): those above 100,000
-- are no membership.
INSERT INTO iam.company_users (user_id, company_id, role_in_company)
SELECT bench.owner(i), bench.company(i % 1000), 'member' FROM generate_series(1, 100000) AS i;
CREATE TABLE bench.memberships AS SELECT bench.owner(i) AS user_id, bench.company(i % 1000) AS company_id
FROM generate_series(1, 100000) AS i;
CREATE TABLE bench.member_floor AS
SELECT i AS id, bench.company(k % 1000) AS company_id, bench.owner(k) AS member
FROM (SELECT i, (1 + (i::bigint * 7919) % 200000)::int AS k
      FROM generate_series(1, current_setting('bench.scale_rows_now')::int) AS i) AS pairs;
CREATE TABLE bench.member_rows AS SELECT * FROM bench.member_floor;
ALTER TABLE bench.member_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY members ON bench.member_rows FOR SELECT TO authenticated
    USING (iam.is_company_member(company_id, member));
\endif
GRANT SELECT ON ALL TABLES IN SCHEMA bench TO authenticated;
GRANT INSERT, SELECT ON bench.rounds TO authenticated;
VACUUM ANALYZE;

SET max_parallel_workers_per_gather = 0;
-- Room for the floor's hash of a million holders.
SET work_mem = '256MB';

-- The tenant cases of one caller in N companies.
CREATE FUNCTION bench.race_tenant(label text, sub uuid, companies text, rounds int) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    PERFORM set_config('request.jwt.claims', json_build_object('sub', sub, 'role', 'authenticated')::text, false);
    FOREACH n IN ARRAY current_setting('bench.company_counts_now')::int[] LOOP
        PERFORM bench.race(
            ARRAY[format('floor, %s companies, caller in %s', n, label),
                  format('is_company_member, %s companies, caller in %s', n, label),
                  format('= ANY, %s companies, caller in %s', n, label),
                  format('can, %s companies, caller in %s', n, label)],
            ARRAY[format('SELECT count(*) FROM bench.floor_%s WHERE company_id = ANY (%L::uuid[])', n, companies),
                  format('SELECT count(*) FROM bench.member_%s', n),
                  format('SELECT count(*) FROM bench.any_%s', n),
                  format('SELECT count(*) FROM bench.can_%s', n)],
            rounds);
    END LOOP;
END
$$;
SELECT array_agg(bench.company(i))::text AS in_3 FROM generate_series(0, 2) AS i \gset
SELECT array_agg(bench.company(i))::text AS in_500 FROM generate_series(0, 499) AS i \gset
SELECT array_agg(bench.company(i))::text AS in_5000 FROM generate_series(0, 4999) AS i \gset
SET ROLE authenticated;
\if :run_tenant
SELECT bench.race_tenant('3', 'b7100000-0000-4000-8000-000000000003', :'in_3', 5) \gset
SELECT bench.race_tenant('500', 'b7100000-0000-4000-8000-000000000500', :'in_500', 5) \gset
SELECT bench.race_tenant('5,000', 'b7100000-0000-4000-8000-000000005000', :'in_5000', 5) \gset
\endif
\if :run_roles

-- The role column asks about other users: as a platform_admin.
SELECT set_config('request.jwt.claims', '{"sub": "b7100000-0000-4000-8000-0000000000e1", "role": "authenticated"}', false) \gset
SELECT bench.race(ARRAY[format('floor, %s holders', h), format('has_role(owner), %s holders', h)],
                  ARRAY[format('SELECT count(*) FROM bench.owner_floor_%s WHERE owner IN (SELECT user_id FROM bench.holders_%s)', h, h),
                        format('SELECT count(*) FROM bench.owner_rows_%s', h)], 5)
FROM bench.holder_counts ORDER BY h \g /dev/null
-- Past the bound: 100,000 holders where iam.check_memory is 1 MB (24,576
-- would fit in the memo; 31,267 go in the holder set, the others are kept
-- by their rows' places), and 1,000,000 at 10 MB (289,582 in the set).
-- Then past the places too: 100,000 holders at 256 kB (24,938 places, the
-- others in the filter, read by descents), reported without a target.
SET iam.check_memory = '1MB';
SELECT bench.race(ARRAY['floor, 100000 holders past the bound', 'has_role(owner), 100000 holders past the bound'],
                  ARRAY['SELECT count(*) FROM bench.owner_floor_100000 WHERE owner IN (SELECT user_id FROM bench.holders_100000)',
                        'SELECT count(*) FROM bench.owner_rows_100000'], 5) \gset
SET iam.check_memory = '256kB';
SELECT bench.race(ARRAY['floor, 100000 holders past the places', 'has_role(owner), 100000 holders past the places'],
                  ARRAY['SELECT count(*) FROM bench.owner_floor_100000 WHERE owner IN (SELECT user_id FROM bench.holders_100000)',
                        'SELECT count(*) FROM bench.owner_rows_100000'], 5) \gset
SET iam.check_memory = '10MB';
SELECT bench.race(ARRAY['floor, 1000000 holders past the bound', 'has_role(owner), 1000000 holders past the bound'],
                  ARRAY['SELECT count(*) FROM bench.owner_floor_1000000 WHERE owner IN (SELECT user_id FROM bench.holders_1000000)',
                        'SELECT count(*) FROM bench.owner_rows_1000000'], 5)
FROM bench.holder_counts WHERE h = 1000000 \g /dev/null
-- Pairs about other users: 100,000 memberships within the default bound,
-- then at 1 MB (12,288 pairs fit in the memo; 11,516 go in the set, the
-- others are kept by their rows' places).
RESET iam.check_memory;
SELECT bench.race(ARRAY['floor(company_id, member), 100000 memberships',
                        'is_company_member(company_id, member), 100000 memberships'],
                  ARRAY['SELECT count(*) FROM bench.member_floor WHERE (company_id, member) IN (SELECT company_id, user_id FROM bench.memberships)',
                        'SELECT count(*) FROM bench.member_rows'], 5) \gset
SET iam.check_memory = '1MB';
SELECT bench.race(ARRAY['floor(company_id, member), 100000 memberships past the bound',
                        'is_company_member(company_id, member), 100000 memberships past the bound'],
                  ARRAY['SELECT count(*) FROM bench.member_floor WHERE (company_id, member) IN (SELECT company_id, user_id FROM bench.memberships)',
                        'SELECT count(*) FROM bench.member_rows'], 5) \gset
RESET iam.check_memory;
\endif
RESET ROLE;

-- Every case counts the rows its floor counts.
DO $$ BEGIN
    IF EXISTS (SELECT FROM bench.rounds r JOIN bench.rounds f ON f.round = r.round
               AND f.name = regexp_replace(r.name, '^(is_company_member|= ANY|can|has_role\(owner\))', 'floor')
               WHERE r.name NOT LIKE 'floor%' AND r.rows IS DISTINCT FROM f.rows) THEN
        RAISE EXCEPTION 'a check counted other rows than its floor';
    END IF;
END $$;

\echo 'x floor: time over the floor of the same case, median of the rounds (range)'
SELECT r.name, r.best_ms, r.spread_ms, r.rounds, r.per_call_us,
       (SELECT bench.shown(x.median, x.low, x.high)
        FROM bench.ratio(r.name, regexp_replace(r.name, '^(is_company_member|= ANY|can|has_role\(owner\))', 'floor')) x) AS x_floor
FROM bench.report(NULL, NULL) r ORDER BY r.name;
SELECT bench.target(format('%s, x floor', r.name), r.name,
                    regexp_replace(r.name, '^(is_company_member|= ANY|can|has_role\(owner\))', 'floor'),
                    '<=', CASE WHEN r.name LIKE '%past the bound' THEN 2.0 ELSE 1.2 END)
FROM (SELECT DISTINCT name FROM bench.rounds
      WHERE name NOT LIKE 'floor%' AND name NOT LIKE '%past the places' ORDER BY name) r \g /dev/null
SELECT bench.target(format('%s, x floor', r.name), r.name,
                    regexp_replace(r.name, '^has_role\(owner\)', 'floor'), NULL, NULL)
FROM (SELECT DISTINCT name FROM bench.rounds WHERE name LIKE 'has_role%past the places') r \g /dev/null
\ir lib/summary.sql
DROP SCHEMA bench CASCADE;
DELETE FROM iam.users WHERE id::text LIKE 'b7%';
DELETE FROM iam.roles WHERE name LIKE 'bench_holders_%';
DELETE FROM iam.companies WHERE id::text LIKE 'c7000000-%';
DELETE FROM iam.company_role_permissions WHERE permission = 'courses:read';
DELETE FROM iam.permissions WHERE name = 'courses:read';
