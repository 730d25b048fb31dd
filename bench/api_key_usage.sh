#!/usr/bin/env bash
# What a request costs its API key, one call of iam.consume_api_key per
# transaction, pgbench -M prepared, 4 clients, with iam_ext preloaded:
#   - a key with a rate limit (never reached) against the same key without
#     one: the shared-memory counter, per request;
#   - a metered key (credits), one hot key and 10,000 keys, against a plain
#     UPDATE ... SET n = n - 1 of one row (of one row among 10,000), each in
#     its own transaction: the floor of spending a counter exactly.
# Every key is verified once first, and the timed runs stay within
# iam.last_used_interval. Run by bench/run.sh with PG* pointing at a scratch
# database; prints TPS and ratios.
set -euo pipefail
seconds=${IAM_BENCH_SECONDS:-8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
INSERT INTO iam.users (id) VALUES ('00000000-0000-4000-8000-000000000001') ON CONFLICT DO NOTHING;
SET iam.max_api_keys_per_owner = 0;
CREATE TABLE bench.keys (n int PRIMARY KEY, kind text, k text, id uuid);
INSERT INTO bench.keys
SELECT i, 'metered', c.api_key, c.id FROM generate_series(1, 10000) AS i,
LATERAL iam.create_api_key('metered ' || i, '00000000-0000-4000-8000-000000000001') AS c;
INSERT INTO bench.keys
SELECT 10000 + i, kind, c.api_key, c.id FROM unnest(ARRAY['unlimited', 'limited']) WITH ORDINALITY AS t(kind, i),
LATERAL iam.create_api_key(kind, '00000000-0000-4000-8000-000000000001') AS c;
UPDATE iam.api_keys SET remaining = 2000000000 WHERE name LIKE 'metered %';
UPDATE iam.api_keys SET rate_limit = 2000000000, rate_limit_window = '1 second' WHERE name = 'limited';
SELECT count(*) FROM bench.keys AS b, LATERAL iam.verify_api_key(b.k) AS v;
-- The floor: counters, one row per key.
CREATE TABLE bench.counters (n int PRIMARY KEY, remaining int NOT NULL);
INSERT INTO bench.counters SELECT i, 2000000000 FROM generate_series(1, 10000) AS i;
VACUUM ANALYZE bench.keys, bench.counters, iam.api_keys;
SQL

key_of() { psql -X -At -c "SELECT k FROM bench.keys WHERE kind = '$1' ORDER BY n LIMIT 1"; }
for kind in unlimited limited; do
    echo "SELECT iam.consume_api_key('$(key_of $kind)');" >"$work/$kind.sql"
done
echo "SELECT iam.consume_api_key('$(key_of metered)');" >"$work/hot.sql"
echo "UPDATE bench.counters SET remaining = remaining - 1 WHERE n = 1;" >"$work/hot_floor.sql"
cat >"$work/spread.sql" <<'SCRIPT'
\set n random(1, 10000)
SELECT iam.consume_api_key(k) FROM bench.keys WHERE n = :n;
SCRIPT
# The floor looks its row up through bench.keys too, as the metered case
# must to find its key's text.
cat >"$work/spread_floor.sql" <<'SCRIPT'
\set n random(1, 10000)
UPDATE bench.counters SET remaining = remaining - 1 WHERE n = (SELECT n FROM bench.keys WHERE n = :n);
SCRIPT
source "$(dirname "$0")/lib/pgbench.sh"
race_pgbench 3 "-c iam.last_used_interval=3600" "-c 4 -j 2" \
    unlimited "$work/unlimited.sql" limited "$work/limited.sql" \
    hot_floor "$work/hot_floor.sql" hot "$work/hot.sql" \
    spread_floor "$work/spread_floor.sql" spread "$work/spread.sql"
spent=$(psql -X -At -c "SELECT sum(2000000000::bigint - remaining) FROM iam.api_keys WHERE name LIKE 'metered %'")
psql -X -q -c "SET client_min_messages = warning" -c "DROP SCHEMA bench CASCADE" -c "DELETE FROM iam.api_keys"

echo "one call of iam.consume_api_key per transaction, pgbench -M prepared, 4 clients, rounds: $(wc -w <<<"${tps_rounds[unlimited]}") x ${seconds}s"
report_pgbench unlimited unlimited "a key without credits or limit" limited "the same with a rate limit"
report_pgbench hot_floor hot_floor "UPDATE of one hot row" hot "one hot metered key"
report_pgbench spread_floor spread_floor "UPDATE of one of 10,000 rows" spread "one of 10,000 metered keys"
echo "  credits spent in all: $spent"
target "request with a rate limit, x the same key without one" limited unlimited "<=" 1.2
target "request spending a credit of one hot key, x a plain UPDATE of one row" hot hot_floor "<=" 1.25
target "request spending a credit of one of 10,000 keys, x a plain UPDATE of one of 10,000 rows" spread spread_floor "<=" 1.25
