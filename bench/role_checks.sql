-- Role checks inside RLS policies: count(*) over 1,000,000 rows as an
-- authenticated user who sees 1,000 of them, with the policy
--   owner = <current user> OR <has role platform_admin>
-- Run by bench/run.sh in a scratch database; prints each timing and ratios.
\ir lib/race.sql
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA bench, iam TO authenticated;

-- 1,000 users; user 1 owns rows 1..1000 of 1,000,000.
INSERT INTO iam.users (id)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid FROM generate_series(1, 1000) AS i
ON CONFLICT DO NOTHING;
CREATE TABLE bench.floor_rows (id int, owner uuid);
INSERT INTO bench.floor_rows
SELECT i, ('00000000-0000-4000-8000-' || lpad(to_hex(CASE WHEN i <= 1000 THEN 1 ELSE 2 + i % 999 END), 12, '0'))::uuid
FROM generate_series(1, 1000000) AS i;
CREATE TABLE bench.peer_rows AS SELECT * FROM bench.floor_rows;
CREATE TABLE bench.peer_wrapped_rows AS SELECT * FROM bench.floor_rows;
CREATE TABLE bench.ours_rows AS SELECT * FROM bench.floor_rows;
GRANT SELECT ON bench.floor_rows, bench.peer_rows, bench.peer_wrapped_rows, bench.ours_rows TO authenticated;
VACUUM ANALYZE bench.floor_rows, bench.peer_rows, bench.peer_wrapped_rows, bench.ours_rows;

\ir lib/role_check_peer.sql

ALTER TABLE bench.peer_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.peer_rows FOR SELECT TO authenticated
    USING (owner = bench.uid() OR bench.peer_has_role('platform_admin'));
ALTER TABLE bench.peer_wrapped_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.peer_wrapped_rows FOR SELECT TO authenticated
    USING (owner = (SELECT bench.uid()) OR (SELECT bench.peer_has_role('platform_admin')));
ALTER TABLE bench.ours_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.ours_rows FOR SELECT TO authenticated
    USING (owner = iam.current_user_id() OR iam.has_role('platform_admin'));

GRANT INSERT, SELECT ON bench.rounds TO authenticated;

SET max_parallel_workers_per_gather = 0;  -- one core's cost, comparable across machines
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}';
-- The unwrapped peer takes seconds per run: one run.
SELECT bench.race(ARRAY['peer, unwrapped'], ARRAY[$$SELECT count(*) FROM bench.peer_rows$$], 1) \gset
SELECT bench.race(
    ARRAY['floor (no RLS, WHERE owner = user)', 'peer, wrapped in (SELECT ...)', 'iam_ext, unwrapped'],
    ARRAY[$$SELECT count(*) FROM bench.floor_rows WHERE owner = '00000000-0000-4000-8000-000000000001'$$,
          $$SELECT count(*) FROM bench.peer_wrapped_rows$$,
          $$SELECT count(*) FROM bench.ours_rows$$],
    7) \gset
RESET ROLE;

\echo 'x floor, x iam_ext: time over theirs, median of the rounds (range)'
SELECT name, best_ms, spread_ms, rounds, x_floor, x_reference AS x_iam_ext
FROM bench.report('floor (no RLS, WHERE owner = user)', 'iam_ext, unwrapped');
SELECT bench.target('role check in a policy, iam_ext x floor', 'iam_ext, unwrapped', 'floor (no RLS, WHERE owner = user)', '<=', 1.5),
       bench.target('role check in a policy, iam_ext x the peer wrapped in (SELECT ...)', 'iam_ext, unwrapped', 'peer, wrapped in (SELECT ...)', '<=', 1.0),
       bench.target('role check in a policy, the peer unwrapped x iam_ext', 'peer, unwrapped', 'iam_ext, unwrapped', '>=', 10) \gset
\ir lib/summary.sql
DROP SCHEMA bench CASCADE;
