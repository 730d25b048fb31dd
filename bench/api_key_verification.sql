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
CREATE EXTENSION IF NOT EXISTS pgcrypto;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
INSERT INTO iam.users (id) VALUES ('00000000-0000-4000-8000-000000000001') ON CONFLICT DO NOTHING;

-- 100,000 keys made by iam_ext, timed: create_api_key throughput.
CREATE TABLE bench.timings (name text PRIMARY KEY, best_ms float8, rows bigint);
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

-- The peer: the same keys stored the common way, in a table of its own.
CREATE TABLE bench.peer_keys (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), key_prefix text UNIQUE,
                              key_hash text, user_id uuid, is_active boolean DEFAULT true, expires_at timestamptz);
INSERT INTO bench.peer_keys (key_prefix, key_hash, user_id)
SELECT p, encode(digest(k, 'sha256'), 'hex'), '00000000-0000-4000-8000-000000000001' FROM bench.keys;
CREATE INDEX ON bench.peer_keys (key_prefix, key_hash);
ANALYZE bench.peer_keys;
CREATE FUNCTION bench.peer_verify(api_key text)
    RETURNS TABLE (key_id uuid, user_id uuid) LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT k.id, k.user_id FROM bench.peer_keys AS k
    WHERE k.key_prefix = substr(api_key, 5, 8) AND k.key_hash = encode(digest(api_key, 'sha256'), 'hex')
      AND k.is_active AND (k.expires_at IS NULL OR k.expires_at > now());
END
$$;

CREATE FUNCTION bench.race(names text[], queries text[], rounds int) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
    elapsed float8;
    seen bigint;
BEGIN
    FOR round IN 1..rounds LOOP
        FOR i IN 1..array_length(queries, 1) LOOP
            started := clock_timestamp();
            EXECUTE queries[i] INTO seen;
            elapsed := extract(epoch FROM clock_timestamp() - started) * 1000;
            INSERT INTO bench.timings VALUES (names[i], elapsed, seen)
            ON CONFLICT (name) DO UPDATE SET best_ms = least(bench.timings.best_ms, excluded.best_ms);
        END LOOP;
    END LOOP;
END
$$;

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
