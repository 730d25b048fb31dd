-- API-key verification: 100,000 keys, each verified once inside one
-- statement, best of 5 rounds (run by bench/run.sh; prints ratios):
--   floor: the index lookup by key_prefix that nothing can avoid
--   peer:  the usual PL/pgSQL + pgcrypto function (sha256 hex, looked up by
--          prefix and hash)
--   ours:  iam.verify_api_key
-- Then iam.create_api_key throughput (keys per second).
\set ON_ERROR_STOP on
\set QUIET on
\pset footer off
SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS iam_ext;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
INSERT INTO iam.users (id) VALUES ('00000000-0000-4000-8000-000000000001') ON CONFLICT DO NOTHING;

-- 100,000 keys made by iam_ext, timed: create_api_key throughput.
\ir lib/race.sql
CREATE TABLE bench.keys (k text, p text);
DO $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    INSERT INTO bench.keys
    SELECT c.api_key, c.key_prefix
    FROM generate_series(1, 100000) AS i,
    LATERAL iam.create_api_key('bench ' || i, '00000000-0000-4000-8000-000000000001') AS c;
    INSERT INTO bench.timings VALUES ('create_api_key x 100,000',
        extract(epoch FROM clock_timestamp() - started) * 1000, 100000);
END
$$;
ANALYZE bench.keys, iam.api_keys;

\ir lib/api_key_peer.sql

SET max_parallel_workers_per_gather = 0;
-- A first pass sets every key's last_used_at; within iam.last_used_interval
-- (60 s) the timed rounds then measure verification alone.
SELECT count(v.key_id) AS warm_up FROM bench.keys b, LATERAL iam.verify_api_key(b.k) v \gset
SELECT bench.race(
    ARRAY['floor (index lookup by key_prefix)', 'peer (PL/pgSQL + pgcrypto sha256)', 'iam_ext verify_api_key'],
    ARRAY['SELECT count((SELECT id FROM iam.api_keys a WHERE a.key_prefix = b.p)) FROM bench.keys b',
          'SELECT count(v.key_id) FROM bench.keys b, LATERAL bench.peer_verify(b.k) v',
          'SELECT count(v.key_id) FROM bench.keys b, LATERAL iam.verify_api_key(b.k) v'],
    5) \gset

SELECT name, round(best_ms::numeric, 1) AS best_ms, rows,
       CASE WHEN name LIKE 'create%' THEN round((rows / (best_ms / 1000))::numeric) END AS keys_per_s,
       CASE WHEN name NOT LIKE 'create%' THEN round((best_ms / (SELECT best_ms FROM bench.timings WHERE name LIKE 'floor%'))::numeric, 2) END AS x_floor,
       CASE WHEN name NOT LIKE 'create%' THEN round((best_ms / (SELECT best_ms FROM bench.timings WHERE name LIKE 'iam_ext%'))::numeric, 2) END AS x_ours
FROM bench.timings ORDER BY best_ms;
DROP SCHEMA bench CASCADE;
DELETE FROM iam.api_keys;
