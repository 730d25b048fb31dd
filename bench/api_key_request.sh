#!/usr/bin/env bash
# One API-key verification per transaction, pgbench -M prepared, 4 clients,
# against SELECT 1 (the floor of a round trip) and the usual PL/pgSQL +
# pgcrypto peer, over 10,000 keys. Run by bench/run.sh with PG* pointing at a
# scratch database; prints TPS and ratios.
#
# Every key is verified once first, and the timed runs stay within
# iam.last_used_interval: they measure verification. A verification that
# does update last_used_at makes its transaction write, and so wait for a
# WAL flush at commit; that happens at most once per key per interval and is
# measured apart ("touching").
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
CREATE TABLE bench.keys (n int PRIMARY KEY, k text);
INSERT INTO bench.keys
SELECT i, c.api_key FROM generate_series(1, 10000) AS i,
LATERAL iam.create_api_key('bench ' || i, '00000000-0000-4000-8000-000000000001') AS c;
SQL
psql -X -q -v ON_ERROR_STOP=1 -f "$(dirname "$0")/lib/api_key_peer.sql"
psql -X -q -c "VACUUM ANALYZE bench.keys, iam.api_keys"
touch_started=$(date +%s.%N)
psql -X -q -At -c "SET iam.last_used_interval = 0" \
    -c "SELECT count(v.key_id) FROM bench.keys AS b, LATERAL iam.verify_api_key(b.k) AS v" >/dev/null
touch_seconds=$(awk -v a="$touch_started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
# The keys go into pgbench as a file, one per line, picked at random.
psql -X -At -c "SELECT k FROM bench.keys ORDER BY n" >"$work/keys"

cat >"$work/floor.sql" <<'SCRIPT'
SELECT 1;
SCRIPT
for variant in peer ours; do
    function=$([ $variant = peer ] && echo bench.peer_verify || echo iam.verify_api_key)
    cat >"$work/$variant.sql" <<SCRIPT
\set n random(1, 10000)
SELECT count(*) FROM $function((SELECT k FROM bench.keys WHERE n = :n));
SCRIPT
done
source "$(dirname "$0")/lib/pgbench.sh"
race_pgbench 3 "-c iam.last_used_interval=3600" "-c 4 -j 2" \
    floor "$work/floor.sql" peer "$work/peer.sql" ours "$work/ours.sql"
psql -X -q -c "SET client_min_messages = warning" -c "DROP SCHEMA bench CASCADE" -c "DELETE FROM iam.api_keys"

echo "one verification per transaction, pgbench -M prepared, 4 clients, rounds: $(wc -w <<<"${tps_rounds[floor]}") x ${seconds}s"
report_pgbench floor floor "SELECT 1 (the round trip)" peer "peer (PL/pgSQL + pgcrypto sha256)" ours "iam.verify_api_key"
target "request with a key verification, iam_ext x the peer" ours peer "<=" 1.0
awk -v s="$touch_seconds" 'BEGIN {
    printf "  touching: 10,000 verifications that each update last_used_at, in one statement: %.2f s (%.0f us each)\n", s, s * 100 }'
