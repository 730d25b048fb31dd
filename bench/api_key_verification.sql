-- API-key verification: 100,000 keys, each verified once inside one
-- statement, best of 5 rounds (run by bench/run.sh; prints ratios):
--   floor: the index lookup by key_prefix that nothing can avoid
--   peer:  the usual PL/pgSQL + pgcrypto function (sha256 hex, looked up by
--          prefix and hash)
--   ours:  iam.verify_api_key
-- Then iam.create_api_key throughput (keys per second).
\ir lib/race.sql
INSERT INTO iam.users (id) VALUES ('00000000-0000-4000-8000-000000000001') ON CONFLICT DO NOTHING;

-- 100,000 keys made by iam_ext, timed: create_api_key throughput.
CREATE TABLE bench.keys (k text, p text);
DO $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    INSERT INTO bench.keys
    SELECT c.api_key, c.key_prefix
    FROM generate_series(1, 100000) AS i,
    LATERAL iam.create_api_key('bench ' || i, '00000000-0000-4000-8000-000000000001') AS c;
    INSERT INTO bench.rounds VALUES ('create_api_key x 100,000', 1,
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

\echo 'x floor, x iam_ext: time over theirs, median of the rounds (range)'
SELECT name, best_ms, spread_ms, rounds, per_call_us,
       CASE WHEN name LIKE 'create%' THEN round(1e6 / per_call_us) END AS keys_per_s,
       CASE WHEN name NOT LIKE 'create%' THEN x_floor END AS x_floor,
       CASE WHEN name NOT LIKE 'create%' THEN x_reference END AS x_iam_ext
FROM bench.report('floor (index lookup by key_prefix)', 'iam_ext verify_api_key');
SELECT bench.target('API-key verification, iam_ext x floor', 'iam_ext verify_api_key', 'floor (index lookup by key_prefix)', '<=', 1.3),
       bench.target('API-key verification, the peer x iam_ext', 'peer (PL/pgSQL + pgcrypto sha256)', 'iam_ext verify_api_key', '>=', 2.0) \gset
\ir lib/summary.sql
DROP SCHEMA bench CASCADE;
DELETE FROM iam.api_keys;
