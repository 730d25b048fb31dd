#!/usr/bin/env bash
# Referral redemption throughput: one redemption per transaction, each for a
# new user, with pgbench -M prepared and 4 clients, against an INSERT of the
# same row into a copy of iam.referrals without the checks (the floor).
# Run by bench/run.sh with PG* pointing at a scratch database. Commits do
# not wait for the WAL flush (synchronous_commit = off): on the shared disks
# here a flush costs tens of milliseconds and would be all the runs measure.
set -euo pipefail
seconds=${IAM_BENCH_SECONDS:-8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
INSERT INTO iam.users (id) SELECT ('f1000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid FROM generate_series(1, 300000) AS i;
CREATE TABLE bench.new_users (n bigint PRIMARY KEY, id uuid);
INSERT INTO bench.new_users SELECT i, ('f1000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid FROM generate_series(101, 300000) AS i;
DO $$ BEGIN
    PERFORM iam.create_referral_code(('f1000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid)
    FROM generate_series(1, 100) AS i;
END $$;
CREATE TABLE bench.codes AS SELECT row_number() OVER () AS n, id, user_id, code FROM iam.referral_codes;
CREATE SEQUENCE bench.next_user START 101;
CREATE TABLE bench.floor_referrals (LIKE iam.referrals INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench.floor_referrals ADD UNIQUE (referred_user_id);
VACUUM ANALYZE bench.new_users, bench.codes, iam.referral_codes;
SQL

cat >"$work/floor.sql" <<'SCRIPT'
\set c random(1, 100)
INSERT INTO bench.floor_referrals (referrer_user_id, referred_user_id, referral_code_used_id)
SELECT c.user_id, u.id, c.id FROM bench.codes c, bench.new_users u
WHERE c.n = :c AND u.n = (SELECT nextval('bench.next_user'));
SCRIPT
cat >"$work/ours.sql" <<'SCRIPT'
\set c random(1, 100)
SELECT iam.redeem_referral_code(lower(c.code), u.id) FROM bench.codes c, bench.new_users u
WHERE c.n = :c AND u.n = (SELECT nextval('bench.next_user'));
SCRIPT
source "$(dirname "$0")/lib/pgbench.sh"
race_pgbench 2 "-c synchronous_commit=off" "-c 4 -j 2" floor "$work/floor.sql" ours "$work/ours.sql"
psql -X -q -c "SET client_min_messages = warning" -c "DROP SCHEMA bench CASCADE" \
    -c "DELETE FROM iam.users WHERE id::text LIKE 'f1000000-%'"

echo "one redemption per transaction, pgbench -M prepared, 4 clients, synchronous_commit off, rounds: $(wc -w <<<"${tps_rounds[floor]}") x ${seconds}s"
report_pgbench floor floor "floor: INSERT of the referral, no checks" ours "iam_ext redeem_referral_code (typed lower case)"
target "referral redemption, iam_ext x floor (no target: the floor checks nothing)" ours floor "" ""
