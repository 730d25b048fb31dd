#!/usr/bin/env bash
# The cost of another identity provider's subject (0.8.0): one
# PostgREST-shaped request per transaction (the role and the JWT claims set
# with set_config, the pre-request iam.authenticate_request(), then one row
# read by primary key from a table whose policy calls
# iam.current_user_id() and iam.has_role()), for one of 10,000 users, in two
# cases mixed transaction by transaction in one pgbench run per round
# (mix_pgbench: they differ by microseconds, less than a shared machine
# drifts between runs):
#   uuid:     "sub" is the user's UUID, with iam.external_subjects off: the
#             path of every request before 0.8.0;
#   external: "sub" is an Auth0 id ("auth0|" and 24 hex digits) of the same
#             user, with iam.external_subjects = lookup: the claims are
#             parsed with their issuer and iam.external_identities is probed,
#             once per request.
# The claims are alike in size and keys (both carry Auth0's "iss"). Run by
# bench/run.sh with PG* pointing at a scratch database; prints TPS, the
# ratio, and the server's own time per request.
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
CREATE FUNCTION bench.user_id(n int) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
CREATE FUNCTION bench.subject(n int) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT 'auth0|' || lpad(to_hex(n), 24, '0') $$;
INSERT INTO iam.users (id) SELECT bench.user_id(n) FROM generate_series(1, 10000) AS n ON CONFLICT DO NOTHING;
INSERT INTO iam.external_identities (issuer, subject, user_id)
SELECT 'https://example.auth0.com/', bench.subject(n), bench.user_id(n) FROM generate_series(1, 10000) AS n;
CREATE TABLE bench.courses (id int PRIMARY KEY, owner uuid, title text);
INSERT INTO bench.courses SELECT i, bench.user_id(1 + i % 10000), 'course ' || i FROM generate_series(1, 100000) AS i;
ALTER TABLE bench.courses ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_or_admin ON bench.courses FOR SELECT TO authenticated
    USING (owner = iam.current_user_id() OR iam.has_role('platform_admin'));
GRANT SELECT ON bench.courses TO authenticated;
VACUUM ANALYZE iam.users, iam.external_identities, bench.courses;
SQL

# The row read is the user's own (owner = user n), so both cases return it.
for variant in uuid external; do
    case $variant in
        uuid) mode=off sub="' || bench.user_id(:n) || '" ;;
        external) mode=lookup sub="' || bench.subject(:n) || '" ;;
    esac
    cat >"$work/$variant.sql" <<SCRIPT
\set n random(1, 9999)
BEGIN;
SET LOCAL iam.external_subjects = $mode;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"iss": "https://example.auth0.com/", "sub": "$sub", "aud": "https://api.example.com", "role": "authenticated"}', true),
       set_config('request.method', 'GET', true), set_config('request.path', '/courses', true),
       set_config('request.headers', '{"accept": "application/json"}', true);
SELECT iam.authenticate_request();
SELECT title FROM bench.courses WHERE id = :n;
COMMIT;
SCRIPT
done

source "$lib/pgbench.sh"
mix_pgbench 5 "" "-c 1" uuid "$work/uuid.sql" external "$work/external.sql"

# The server's own time, without the round trips: a procedure sets the
# claims, calls the pre-request, reads the row and commits, one transaction
# per request.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE PROCEDURE bench.requests(external boolean, calls int) LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    FOR i IN 1..calls LOOP
        n := 1 + i % 9999;
        PERFORM set_config('iam.external_subjects', CASE WHEN external THEN 'lookup' ELSE 'off' END, true);
        PERFORM set_config('request.jwt.claims',
                           format('{"iss": "https://example.auth0.com/", "sub": "%s", "aud": "https://api.example.com", "role": "authenticated"}',
                                  CASE WHEN external THEN bench.subject(n) ELSE bench.user_id(n)::text END), true);
        PERFORM iam.authenticate_request();
        PERFORM title FROM bench.courses WHERE id = n AND owner = iam.current_user_id();
        COMMIT;
    END LOOP;
END $$;
SQL
calls=20000
server_us() {  # server_us EXTERNAL: us per request, best of 3
    local round ms best=
    for round in 1 2 3; do
        ms=$(psql -X -q -At -c "CALL bench.requests($1, 1000)" -c '\timing on' \
                 -c "CALL bench.requests($1, $calls)" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
        best=$(awk -v a="${best:-$ms}" -v b="$ms" 'BEGIN { print (b < a ? b : a) }')
    done
    awk -v ms="$best" -v n="$calls" 'BEGIN { printf "%.1f", ms * 1000 / n }'
}
server_uuid=$(server_us false) server_external=$(server_us true)
psql -X -q -c "SET client_min_messages = warning" \
    -c "DELETE FROM iam.users WHERE id IN (SELECT bench.user_id(n) FROM generate_series(1, 10000) AS n)" \
    -c "DROP SCHEMA bench CASCADE"

echo "a request's subject, UUID or another provider's, pgbench -M prepared, 1 client, the cases mixed at random in each round (TPS from their mean latency), rounds: $(wc -w <<<"${tps_rounds[uuid]}") x ${seconds}s"
report_pgbench uuid uuid "a UUID sub (iam.external_subjects off)" external "an Auth0 sub (lookup in external_identities)"
echo "  the server's own time per request (pre-request, one row read), best of 3 x $calls:" \
    "UUID $server_uuid us, Auth0 $server_external us," \
    "ratio $(awk -v a="$server_external" -v b="$server_uuid" 'BEGIN { printf "%.3f", a / b }')"
target "request with another provider's subject (mapped) x the same request with a UUID subject" external uuid "<=" 1.05
