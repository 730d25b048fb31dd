#!/usr/bin/env bash
# A hot standby serves what iam_ext promises it serves: API-key verification
# (without writing last_used_at; a metered key is refused, as spending its
# credits needs the primary), the role checks, and reads through the RLS
# policies. The standby is a pg_basebackup of the test cluster, started next
# to it and removed afterwards.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
primary_host=$PGHOST primary_port=$PGPORT
db=iam_replica

standby=$(mktemp -d /tmp/iam_ext_standby.XXXXXX)
chmod 755 "$standby"
[ "$(id -u)" -eq 0 ] && chown postgres: "$standby"
cleanup() {
    cluster_stop "$standby"
    rm -rf "$standby"
    PGHOST=$primary_host PGPORT=$primary_port dropdb --if-exists "$db" 2>/dev/null || true
}
trap cleanup EXIT

echo "primary: a user with a role, an API key, a protected table"
dropdb --if-exists "$db" 2>/dev/null || true
createdb "$db"
sql -d "$db" <<'SQL'
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
END $$;
CREATE EXTENSION iam_ext;
INSERT INTO iam.users (id, full_name) VALUES ('a0000000-0000-4000-8000-0000000000e1', 'Pam');
SELECT FROM iam.grant_role('a0000000-0000-4000-8000-0000000000e1', 'platform_admin');
CREATE TABLE replica_check (api_key text);
INSERT INTO replica_check
SELECT api_key FROM iam.create_api_key('replica', 'a0000000-0000-4000-8000-0000000000e1', permissions => '["courses:*"]');
GRANT SELECT ON replica_check TO authenticated;
-- A metered key (credits are spent on the primary only).
CREATE TABLE metered_check AS
SELECT id, api_key FROM iam.create_api_key('metered', 'a0000000-0000-4000-8000-0000000000e1');
SELECT iam.set_api_key_credits(id, 10) FROM metered_check;
-- The SQLSTATE a statement fails with, or 'ok'.
CREATE FUNCTION sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SQL
key=$(value -d "$db" -c "SELECT api_key FROM replica_check")
metered=$(value -d "$db" -c "SELECT api_key FROM metered_check")

echo "standby: pg_basebackup, started read-only"
as_cluster_owner "$(pg_bin pg_basebackup)" -D "$standby/data" -R -X stream -c fast \
    -h "$primary_host" -p "$primary_port" -U postgres >/dev/null
standby_port=$(free_port $((primary_port + 1)))
as_cluster_owner "$(pg_bin pg_ctl)" -D "$standby/data" -l "$standby/postgres.log" -w -t 60 start \
    -o "-p $standby_port -k $standby -c listen_addresses='' -c hot_standby=on" >/dev/null
export PGHOST=$standby PGPORT=$standby_port
for _ in $(seq 60); do
    [ "$(value -d "$db" -c "SELECT count(*) FROM replica_check" 2>/dev/null)" = 1 ] && break
    sleep 0.5
done

failures=0
check() {  # check WHAT EXPECTED QUERY
    local actual
    actual=$(value -d "$db" -c "$3" 2>&1) || true
    if [ "$actual" = "$2" ]; then
        echo "  ok: $1"
    else
        echo "  FAIL: $1: expected '$2', got '$actual'"
        failures=$((failures + 1))
    fi
}
check "the standby is in recovery" t "SELECT pg_is_in_recovery()"
check "a valid key verifies on the standby" 1 \
    "SET iam.last_used_interval = 0; SELECT count(*) FROM iam.verify_api_key('$key')"
# One character of the secret changed (to a different one: a random key may
# have an x there already).
check "a bad key gives no row, not an error" 0 \
    "SELECT count(*) FROM iam.verify_api_key(overlay('$key' PLACING CASE substr('$key', 20, 1) WHEN 'x' THEN 'y' ELSE 'x' END FROM 20))"
check "the key's permissions are read" "t|f" \
    "SELECT iam.api_key_has_permission('$key', 'courses:read'), iam.api_key_has_permission('$key', 'users:read')"
check "the role checks answer" "t|{platform_admin}" \
    "SET request.jwt.claims = '{\"sub\": \"a0000000-0000-4000-8000-0000000000e1\"}';
     SELECT iam.has_role('platform_admin'), iam.roles_of()"
check "RLS reads as authenticated" 1 \
    "SET request.jwt.claims = '{\"sub\": \"a0000000-0000-4000-8000-0000000000e1\"}';
     SET ROLE authenticated; SELECT count(*) FROM iam.users"
request_user=$(value -d "$db" 2>&1 <<SQL || true
\o /dev/null
BEGIN;
SELECT set_config('request.headers', json_build_object('x-api-key', '$key')::text, true);
SELECT iam.authenticate_request();
\o
SELECT iam.current_user_id();
COMMIT;
SQL
)
check "an API-key request authenticates" a0000000-0000-4000-8000-0000000000e1 "SELECT '$request_user'"
check "a metered key verifies on the standby" 1 "SELECT count(*) FROM iam.verify_api_key('$metered')"
check "... but its credits are spent on the primary only" \
    "25006: this API key has credits, and spending them needs the primary" \
    "SELECT sqlstate_of(\$\$SELECT iam.consume_api_key('$metered')\$\$)"

export PGHOST=$primary_host PGPORT=$primary_port
check "the standby wrote no last_used_at" t \
    "SELECT last_used_at IS NULL FROM iam.api_keys WHERE name = 'replica'"
check "... and spent no credit" 10 "SELECT remaining FROM iam.api_keys WHERE name = 'metered'"

[ $failures -eq 0 ] || { echo "FAIL: $failures check(s) on the hot standby"; exit 1; }
echo "PASS: a hot standby verifies API keys (read-only, metered keys refused), answers role checks and RLS reads"
