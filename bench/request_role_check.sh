#!/usr/bin/env bash
# One PostgREST-shaped request per transaction (role and JWT claims set with
# set_config, then one row read by primary key), with pgbench -M prepared:
#   floor: the table without RLS
#   peer:  RLS with the Supabase-guide PL/pgSQL SECURITY DEFINER role check,
#          wrapped in (SELECT ...)
#   ours:  RLS with iam.current_user_id() and iam.has_role(), unwrapped
# Run by bench/run.sh with PG* pointing at a scratch database; prints TPS and
# the cost of the check per request.
set -euo pipefail
seconds=${IAM_BENCH_SECONDS:-8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

lib=$(dirname "$0")/lib
psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS iam_ext" \
    -c "DROP SCHEMA IF EXISTS bench CASCADE" -c "CREATE SCHEMA bench"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
END $$;
DO $$ BEGIN PERFORM iam.apply_grants(); END $$;
GRANT USAGE ON SCHEMA bench TO authenticated;
INSERT INTO iam.users (id) VALUES ('00000000-0000-4000-8000-000000000001') ON CONFLICT DO NOTHING;
CREATE TABLE bench.floor_courses (id int PRIMARY KEY, owner uuid, title text);
INSERT INTO bench.floor_courses
SELECT i, CASE WHEN i <= 1000 THEN '00000000-0000-4000-8000-000000000001'::uuid ELSE gen_random_uuid() END,
       'course ' || i
FROM generate_series(1, 100000) AS i;
CREATE TABLE bench.peer_courses AS SELECT * FROM bench.floor_courses;
ALTER TABLE bench.peer_courses ADD PRIMARY KEY (id);
CREATE TABLE bench.ours_courses AS SELECT * FROM bench.floor_courses;
ALTER TABLE bench.ours_courses ADD PRIMARY KEY (id);
GRANT SELECT ON bench.floor_courses, bench.peer_courses, bench.ours_courses TO authenticated;
SQL
psql -X -q -v ON_ERROR_STOP=1 -f "$lib/role_check_peer.sql"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
ALTER TABLE bench.peer_courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.peer_courses FOR SELECT TO authenticated
    USING (owner = (SELECT bench.uid()) OR (SELECT bench.peer_has_role('platform_admin')));
ALTER TABLE bench.ours_courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.ours_courses FOR SELECT TO authenticated
    USING (owner = iam.current_user_id() OR iam.has_role('platform_admin'));
VACUUM ANALYZE bench.floor_courses, bench.peer_courses, bench.ours_courses;
SQL

for variant in floor peer ours; do
    cat >"$work/$variant.sql" <<SCRIPT
\set id random(1, 1000)
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}', true);
SELECT title FROM bench.${variant}_courses WHERE id = :id;
COMMIT;
SCRIPT
done

source "$lib/pgbench.sh"
race_pgbench 3 "" "-c 1" floor "$work/floor.sql" peer "$work/peer.sql" ours "$work/ours.sql"
psql -X -q -c "SET client_min_messages = warning" -c "DROP SCHEMA bench CASCADE"

echo "one request per transaction, pgbench -M prepared, 1 client, rounds: $(wc -w <<<"${tps_rounds[floor]}") x ${seconds}s"
report_pgbench floor floor "floor (no RLS)" peer "peer (SECURITY DEFINER check, wrapped)" \
    ours "iam_ext (has_role, unwrapped)"
target "request with a role check, iam_ext x floor" ours floor "" ""
target "request with a role check, iam_ext x the peer wrapped" ours peer "<=" 1.0
