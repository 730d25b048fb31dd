#!/usr/bin/env bash
# Accepting a company invitation: one acceptance per transaction, each by a
# new invitee as themselves (the claims PostgREST sets, then
# iam.accept_company_invitation with their token), with pgbench -M prepared
# and 4 clients, against the same transaction inserting the membership into
# a copy of iam.company_users without checks, triggers or audit (the floor).
# Run by bench/run.sh with PG* pointing at a scratch database; commits do not
# wait for the WAL flush, as in referral_redemption.sh.
set -euo pipefail
seconds=${IAM_BENCH_SECONDS:-8}
invitees=$((seconds * 12000))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -X -q -v ON_ERROR_STOP=1 -v invitees="$invitees" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS iam_ext;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
INSERT INTO iam.companies (id, name) VALUES ('c1000000-0000-4000-8000-000000000001', 'Bench');
INSERT INTO iam.users (id) SELECT ('f2000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid FROM generate_series(1, :invitees) AS i;
CREATE TABLE bench.invitees (n bigint PRIMARY KEY, id uuid, claims text, token text);
INSERT INTO bench.invitees
SELECT i, u, json_build_object('sub', u, 'role', 'authenticated')::text, inv.token
FROM generate_series(1, :invitees) AS i,
     LATERAL (SELECT ('f2000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid AS u) AS made,
     LATERAL iam.invite_to_company('c1000000-0000-4000-8000-000000000001', user_id => made.u) AS inv;
CREATE SEQUENCE bench.next_invitee;
CREATE SEQUENCE bench.next_floor;
CREATE TABLE bench.floor_members (LIKE iam.company_users INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench.floor_members ADD PRIMARY KEY (user_id, company_id);
VACUUM ANALYZE bench.invitees, iam.company_invitations, iam.users;
SQL

cat >"$work/floor.sql" <<'SCRIPT'
SELECT nextval('bench.next_floor') AS n \gset
BEGIN;
SELECT set_config('request.jwt.claims', claims, true) FROM bench.invitees WHERE n = :n;
INSERT INTO bench.floor_members (user_id, company_id)
SELECT id, 'c1000000-0000-4000-8000-000000000001' FROM bench.invitees WHERE n = :n;
END;
SCRIPT
cat >"$work/ours.sql" <<'SCRIPT'
SELECT nextval('bench.next_invitee') AS n \gset
BEGIN;
SELECT set_config('request.jwt.claims', claims, true) FROM bench.invitees WHERE n = :n;
SELECT iam.accept_company_invitation(token) FROM bench.invitees WHERE n = :n;
END;
SCRIPT
source "$(dirname "$0")/lib/pgbench.sh"
race_pgbench 2 "-c synchronous_commit=off" "-c 4 -j 2" floor "$work/floor.sql" ours "$work/ours.sql"
accepted=$(psql -X -tA -c "SELECT count(*) FROM iam.company_invitations WHERE accepted_at IS NOT NULL")
members=$(psql -X -tA -c "SELECT count(*) FROM iam.company_users")
psql -X -q -c "SET client_min_messages = warning" -c "DROP SCHEMA bench CASCADE" \
    -c "DELETE FROM iam.companies WHERE id = 'c1000000-0000-4000-8000-000000000001'" \
    -c "DELETE FROM iam.users WHERE id::text LIKE 'f2000000-%'"
[ "$accepted" = "$members" ] || { echo "FAIL: $accepted invitations accepted, but $members memberships"; exit 1; }

echo "one acceptance per transaction, pgbench -M prepared, 4 clients, synchronous_commit off, rounds: $(wc -w <<<"${tps_rounds[floor]}") x ${seconds}s; $accepted accepted"
report_pgbench floor floor "floor: INSERT of the membership, no checks" ours "iam_ext accept_company_invitation"
target "invitation acceptance, iam_ext x floor (no target: the floor checks nothing)" ours floor "" ""
