#!/usr/bin/env bash
# One PostgREST-shaped request per transaction (role and JWT claims set with
# set_config, then one row read by primary key), with pgbench -M prepared:
#   floor: the table without RLS
#   peer:  RLS with the Supabase-guide PL/pgSQL SECURITY DEFINER role check,
#          wrapped in (SELECT ...)
#   ours:  RLS with iam.current_user_id() and iam.has_role(), unwrapped
# Then the JWT revocation check of the pre-request function, in the same
# PostgREST-shaped transaction with iam.authenticate_request() (the claims of
# one of 10,000 users, then one row read by primary key from the table
# without RLS, so that only the pre-request differs), the three cases mixed
# transaction by transaction in one pgbench run per round (mix_pgbench: they
# differ by microseconds, less than a shared machine drifts between runs):
#   no subject: claims without "sub" or "session_id": the check has nothing
#               to look up, which is the whole of the JWT path before it;
#   user:       "sub": one probe of iam.users' primary key;
#   session:    "sub" and "session_id", with a table auth.sessions of 10,000
#               sessions: a probe of each.
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

# The JWT path: 10,000 users, each with a session in auth.sessions (made
# here, as GoTrue lays it out, unless the database has one).
auth_made=$(psql -X -At -c "SELECT to_regclass('auth.sessions') IS NULL")
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
CREATE FUNCTION bench.user_id(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
CREATE FUNCTION bench.session_id(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT ('5e550000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
INSERT INTO iam.users (id) SELECT bench.user_id(n) FROM generate_series(2, 10000) AS n ON CONFLICT DO NOTHING;
DO $$ BEGIN
    IF to_regclass('auth.sessions') IS NULL THEN
        CREATE SCHEMA IF NOT EXISTS auth;
        CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL, created_at timestamptz,
                                    updated_at timestamptz, not_after timestamptz, user_agent text);
        INSERT INTO auth.sessions (id, user_id, created_at)
        SELECT bench.session_id(n), bench.user_id(n), now() FROM generate_series(1, 10000) AS n;
    END IF;
END $$;
VACUUM ANALYZE iam.users, auth.sessions;
SQL
# The claims are built alike in every case: only their keys differ.
for variant in no_subject user session; do
    case $variant in
        no_subject) claims="'{\"role\": \"authenticated\", \"uid\": \"' || bench.user_id(:n) || '\", \"sid\": \"' || bench.session_id(:n) || '\"}'" ;;
        user) claims="'{\"role\": \"authenticated\", \"sub\": \"' || bench.user_id(:n) || '\", \"sid\": \"' || bench.session_id(:n) || '\"}'" ;;
        session) claims="'{\"role\": \"authenticated\", \"sub\": \"' || bench.user_id(:n) || '\", \"session_id\": \"' || bench.session_id(:n) || '\"}'" ;;
    esac
    cat >"$work/jwt_$variant.sql" <<SCRIPT
\set n random(1, 10000)
\set id random(1, 1000)
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', $claims, true),
       set_config('request.method', 'GET', true), set_config('request.path', '/floor_courses', true),
       set_config('request.headers', '{"accept": "application/json"}', true);
SELECT iam.authenticate_request();
SELECT title FROM bench.floor_courses WHERE id = :id;
COMMIT;
SCRIPT
done

source "$lib/pgbench.sh"
race_pgbench 3 "" "-c 1" floor "$work/floor.sql" peer "$work/peer.sql" ours "$work/ours.sql"
# A database with GoTrue's own auth.sessions holds none of these sessions:
# there, the session case is left out.
jwt_cases=(jwt_none "$work/jwt_no_subject.sql" jwt_user "$work/jwt_user.sql")
[ "$auth_made" = f ] || jwt_cases+=(jwt_session "$work/jwt_session.sql")
mix_pgbench 5 "" "-c 1" "${jwt_cases[@]}"
# The server's own time for the pre-request, without the round trips: a
# procedure sets the claims, calls it and commits, one transaction per call.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE PROCEDURE bench.pre_requests(sub_key text, session_key text, calls int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..calls LOOP
        PERFORM set_config('request.jwt.claims', format('{"role": "authenticated", "%s": "%s", "%s": "%s"}',
                           sub_key, bench.user_id(1 + i % 10000), session_key, bench.session_id(1 + i % 10000)), true);
        PERFORM iam.authenticate_request();
        COMMIT;
    END LOOP;
END $$;
SQL
calls=20000
server_us() {  # server_us SUB_KEY SESSION_KEY: us per call, best of 3
    local round ms best=
    for round in 1 2 3; do
        ms=$(psql -X -q -At -c "CALL bench.pre_requests('$1', '$2', 1000)" -c '\timing on' \
                 -c "CALL bench.pre_requests('$1', '$2', $calls)" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
        best=$(awk -v a="${best:-$ms}" -v b="$ms" 'BEGIN { print (b < a ? b : a) }')
    done
    awk -v ms="$best" -v n="$calls" 'BEGIN { printf "%.1f", ms * 1000 / n }'
}
server_none=$(server_us uid sid) server_user=$(server_us sub sid)
[ "$auth_made" = f ] || server_session=$(server_us sub session_id)
psql -X -q -c "SET client_min_messages = warning" \
    -c "DELETE FROM iam.users WHERE id IN (SELECT bench.user_id(n) FROM generate_series(2, 10000) AS n)" \
    -c "DROP SCHEMA bench CASCADE"
[ "$auth_made" = f ] || psql -X -q -c "SET client_min_messages = warning" -c "DROP SCHEMA auth CASCADE"

echo "one request per transaction, pgbench -M prepared, 1 client, rounds: $(wc -w <<<"${tps_rounds[floor]}") x ${seconds}s"
report_pgbench floor floor "floor (no RLS)" peer "peer (SECURITY DEFINER check, wrapped)" \
    ours "iam_ext (has_role, unwrapped)"
target "request with a role check, iam_ext x floor" ours floor "" ""
target "request with a role check, iam_ext x the peer wrapped" ours peer "<=" 1.0

echo "the JWT revocation check of the pre-request, pgbench -M prepared, 1 client, the cases mixed at random in each round (TPS from their mean latency), rounds: $(wc -w <<<"${tps_rounds[jwt_none]}") x ${seconds}s"
jwt_labels=(jwt_none "claims without a subject (nothing to check)" jwt_user "a user's JWT (iam.users probed)")
[ "$auth_made" = f ] || jwt_labels+=(jwt_session "with session_id (and auth.sessions probed)")
report_pgbench jwt_none "${jwt_labels[@]}"
echo "  the pre-request's own time on the server, a transaction per call, best of 3 x $calls calls:" \
    "no subject $server_none us, user $server_user us${server_session:+, session $server_session us}"
target "request with a JWT, revocation check (iam.users) x the same request without it" jwt_user jwt_none "<=" 1.05
[ "$auth_made" = f ] || target "request with a JWT, revocation check (iam.users and auth.sessions) x the same request without it" \
    jwt_session jwt_none "<=" 1.05
