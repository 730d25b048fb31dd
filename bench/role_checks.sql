-- Role checks inside RLS policies: count(*) over 1,000,000 rows as an
-- authenticated user who sees 1,000 of them, with the policy
--   owner = <current user> OR <has role platform_admin>
-- Run by bench/run.sh in a scratch database; prints each timing and ratios.
\set ON_ERROR_STOP on
\set QUIET on
\pset footer off
SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS iam_ext;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
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

-- The peer: Supabase-guide style, auth.uid() and a SECURITY DEFINER check.
CREATE FUNCTION bench.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE FUNCTION bench.peer_has_role(role_name text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    RETURN (SELECT count(*) > 0 FROM iam.user_roles ur JOIN iam.roles r ON r.id = ur.role_id
            WHERE ur.user_id = bench.uid() AND r.name = role_name);
END
$$;
GRANT EXECUTE ON FUNCTION bench.uid(), bench.peer_has_role(text) TO authenticated;

ALTER TABLE bench.peer_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.peer_rows FOR SELECT TO authenticated
    USING (owner = bench.uid() OR bench.peer_has_role('platform_admin'));
ALTER TABLE bench.peer_wrapped_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.peer_wrapped_rows FOR SELECT TO authenticated
    USING (owner = (SELECT bench.uid()) OR (SELECT bench.peer_has_role('platform_admin')));
ALTER TABLE bench.ours_rows ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.ours_rows FOR SELECT TO authenticated
    USING (owner = iam.current_user_id() OR iam.has_role('platform_admin'));

-- Best of five runs of each count, as the authenticated user 1.
CREATE TABLE bench.timings (name text, best_ms float8, seen bigint);
GRANT INSERT ON bench.timings TO authenticated;
CREATE FUNCTION bench.best_of(query text, runs int DEFAULT 5) RETURNS TABLE (best_ms float8, seen bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    elapsed float8;
BEGIN
    best_ms := 'infinity';
    FOR i IN 1..runs LOOP
        started := clock_timestamp();
        EXECUTE query INTO seen;
        elapsed := extract(epoch FROM clock_timestamp() - started) * 1000;
        best_ms := least(best_ms, elapsed);
    END LOOP;
    RETURN NEXT;
END
$$;
GRANT EXECUTE ON FUNCTION bench.best_of(text, int) TO authenticated;

SET max_parallel_workers_per_gather = 0;  -- one core's cost, comparable across machines
SET ROLE authenticated;
SET request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}';
INSERT INTO bench.timings SELECT 'floor (no RLS, WHERE owner = user)', * FROM bench.best_of(
    $$SELECT count(*) FROM bench.floor_rows WHERE owner = '00000000-0000-4000-8000-000000000001'$$);
INSERT INTO bench.timings SELECT 'peer, unwrapped', * FROM bench.best_of($$SELECT count(*) FROM bench.peer_rows$$, 1);
INSERT INTO bench.timings SELECT 'peer, wrapped in (SELECT ...)', * FROM bench.best_of($$SELECT count(*) FROM bench.peer_wrapped_rows$$);
INSERT INTO bench.timings SELECT 'iam_ext, unwrapped', * FROM bench.best_of($$SELECT count(*) FROM bench.ours_rows$$);
RESET ROLE;

SELECT name, round(best_ms::numeric, 1) AS best_ms, seen,
       round((best_ms / (SELECT best_ms FROM bench.timings WHERE name LIKE 'floor%'))::numeric, 2) AS x_floor,
       round((best_ms / (SELECT best_ms FROM bench.timings WHERE name = 'iam_ext, unwrapped'))::numeric, 2) AS x_ours
FROM bench.timings;
DROP SCHEMA bench CASCADE;
