#!/usr/bin/env bash
# `DATABASE_URL=... make run` against servers users already have, each started
# here: a plain server with none of the API roles; one where they exist; a
# Supabase-layout server, as its demoted postgres; and a database holding
# iam_ext at an older version (updated, and make run says so). Each time:
# the exit status, the walkthrough's last step, and afterwards the database
# equal to a twin that only had CREATE EXTENSION (or ALTER EXTENSION UPDATE):
# the same roles, grants, policies and row counts, so no demo rows, roles or
# grants are left behind. A role that may not install the extension gets a
# message with the grant that fixes it, and the server is left as it was.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

failures=0 checks=0
check() {  # check WHAT EXPECTED ACTUAL
    checks=$((checks + 1))
    if [ "$2" = "$3" ]; then echo "  ok: $1"
    else echo "  FAIL: $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}
servers=()
finish() { local dir; for dir in "${servers[@]}"; do cluster_stop "$dir"; rm -rf "$dir"; done; }
trap finish EXIT
new_server() {  # new_server VAR [SUPERUSER]: a cluster of its own; VAR names its folder
    local dir
    dir=$(mktemp -d /tmp/iam_ext_existing.XXXXXX)
    chmod 755 "$dir"
    servers+=("$dir")
    cluster_start "$dir" "$(free_port 56700)" "" "" "${2:-postgres}"
    printf -v "$1" '%s' "$dir"
}
port_of() { sed -n 4p "$1/data/postmaster.pid"; }

# What must be equal between a database after make run and its twin: every
# role of the cluster, the grants and policies of schemas iam and public, and
# the rows of every iam table (sequences may advance: they are not rolled back).
fingerprint() {  # fingerprint DIR DB [SUPERUSER]
    value -h "$1" -p "$(port_of "$1")" -U "${3:-postgres}" -d "$2" <<'SQL'
SELECT 'role ' || rolname FROM pg_roles
UNION ALL
SELECT format('schema %s %s', nspname, nspacl) FROM pg_namespace WHERE nspname IN ('iam', 'public')
UNION ALL
SELECT format('relation %s %s %s', c.oid::regclass, c.relkind, c.relacl)
FROM pg_class c WHERE c.relnamespace IN (to_regnamespace('iam'), 'public'::regnamespace) AND c.relkind <> 'S'
UNION ALL
SELECT format('function %s %s', p.oid::regprocedure, p.proacl) FROM pg_proc p WHERE p.pronamespace = to_regnamespace('iam')
UNION ALL
SELECT format('policy %s.%s %s', schemaname, tablename, policyname) FROM pg_policies
UNION ALL
SELECT format('rows %s %s', c.oid::regclass,
              (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1])
FROM pg_class c WHERE c.relnamespace = to_regnamespace('iam') AND c.relkind = 'r'
ORDER BY 1;
SQL
}

# make_run WHO DIR DB USER: make run pointed at DB on the server in DIR, as
# USER, with nothing of the test's own PG* settings; its output in $out.
make_run() {
    local url="postgresql://$4@/$3?host=$2&port=$(port_of "$2")"
    status=0
    out=$(env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE DATABASE_URL="$url" make -C "$IAM_ROOT" -s run 2>&1) || status=$?
    echo "$out" >"$2/make_run_$1.log"
}

# case NAME DIR DB TWIN [USER [SUPERUSER]]: make run into DB, then DB and TWIN
# (prepared alike, with only the extension's own statement) must be equal.
run_case() {
    local name=$1 dir=$2 db=$3 twin=$4 user=${5:-postgres} superuser=${6:-postgres}
    echo "$name"
    make_run "$name" "$dir" "$db" "$user"
    check "$name: make run exits 0" 0 "$status"
    [ "$status" -eq 0 ] || tail -n 15 <<<"$out" | sed 's/^/    | /'
    check "$name: the walkthrough reached its last step" yes \
        "$(grep -q 'lessons_vera_sees' <<<"$out" && grep -q 'the walkthrough was rolled back' <<<"$out" && echo yes || echo no)"
    check "$name: afterwards the database holds the extension at $version and nothing of the demo" \
        "$(fingerprint "$dir" "$twin" "$superuser")" "$(fingerprint "$dir" "$db" "$superuser")"
    check "$name: iam_ext is at $version" "$version" \
        "$(value -h "$dir" -p "$(port_of "$dir")" -U "$superuser" -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'iam_ext'")"
}
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$IAM_ROOT/iam_ext.control")
at() { local dir=$1; shift; sql -h "$dir" -p "$(port_of "$dir")" "$@"; }

# 1. A plain server: none of the API roles.
new_server plain
at "$plain" -U postgres -d postgres -c 'CREATE DATABASE app' -c 'CREATE DATABASE twin'
at "$plain" -U postgres -d twin -c 'CREATE EXTENSION iam_ext'
run_case "a plain server without the API roles" "$plain" app twin
check "a plain server: make run says it created the extension" yes \
    "$(grep -q "created iam_ext $version" <<<"$out" && echo yes || echo no)"
check "a plain server: the API roles made for the walkthrough are gone" 0 \
    "$(value -h "$plain" -p "$(port_of "$plain")" -U postgres -d app -c "SELECT count(*) FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')")"

check "a plain server: the walkthrough says why it skips the rate limit (no preload)" yes \
    "$(grep -q 'skipped: this server does not preload iam_ext' <<<"$out" && echo yes || echo no)"

# 1b. The same server through PGHOST and PGPORT, no database named: libpq
# takes the user's name, and make run says so.
status=0
out=$(env -u DATABASE_URL -u PGDATABASE PGHOST="$plain" PGPORT="$(port_of "$plain")" PGUSER=postgres \
    make -C "$IAM_ROOT" -s run 2>&1) || status=$?
check "PGHOST and PGPORT without a database: make run exits 0" 0 "$status"
check "PGHOST and PGPORT without a database: make run says which database it chose" yes \
    "$(grep -q 'libpq chose database postgres, named after user postgres' <<<"$out" && echo yes || echo no)"

# 2. A server where the API roles exist (created after the extension in the
# older database, so its grants are missing until apply_grants).
new_server with_roles
at "$with_roles" -U postgres -d postgres -c 'CREATE DATABASE app' -c 'CREATE DATABASE twin' \
    -c 'CREATE DATABASE legacy' -c 'CREATE DATABASE legacy_twin'
for db in legacy legacy_twin; do
    at "$with_roles" -U postgres -d "$db" -c "CREATE EXTENSION iam_ext VERSION '0.6.0'"
done
at "$with_roles" -U postgres -d postgres -f "$IAM_ROOT/test/fixtures/supabase_roles.sql"
at "$with_roles" -U postgres -d twin -c 'CREATE EXTENSION iam_ext'
run_case "a server where the API roles exist" "$with_roles" app twin

# 3. The same server, a database with iam_ext 0.6.0: make run updates it.
at "$with_roles" -U postgres -d legacy_twin -c 'ALTER EXTENSION iam_ext UPDATE'
run_case "a database with iam_ext 0.6.0" "$with_roles" legacy legacy_twin
check "0.6.0: make run says it updated the extension" yes \
    "$(grep -q "updated iam_ext from 0.6.0 to $version" <<<"$out" && echo yes || echo no)"

# 4. Supabase's layout, as its postgres (not a superuser).
new_server supabase supabase_admin
PGHOST=$supabase PGPORT=$(port_of "$supabase") supabase_layout app
at "$supabase" -U supabase_admin -d postgres -c 'CREATE DATABASE twin OWNER postgres'
at "$supabase" -U postgres -d twin -c 'CREATE EXTENSION iam_ext'
run_case "a Supabase-layout server as postgres" "$supabase" app twin postgres supabase_admin

# 5. Refusals say what to do and leave the server as it was: a role without
# CREATE on the database, then one with it but without CREATEROLE, on the
# plain server (no API roles).
echo "a role that may not install the extension, then one that may not create the API roles"
at "$plain" -U postgres -d postgres -c "CREATE ROLE newbie LOGIN PASSWORD '$PGPASSWORD'" -c 'CREATE DATABASE newbies'
before=$(fingerprint "$plain" newbies)
make_run refused "$plain" newbies newbie
check "no CREATE on the database: make run fails" yes "$([ "$status" -ne 0 ] && echo yes || echo no)"
check "no CREATE on the database: the message gives the grant" yes \
    "$(grep -qF 'GRANT CREATE ON DATABASE "newbies" TO "newbie";' <<<"$out" && echo yes || echo no)"
check "no CREATE on the database: nothing changed" "$before" "$(fingerprint "$plain" newbies)"
at "$plain" -U postgres -d postgres -c 'GRANT CREATE ON DATABASE newbies TO newbie'
make_run no_roles "$plain" newbies newbie
check "no CREATEROLE: the walkthrough fails" yes "$([ "$status" -ne 0 ] && echo yes || echo no)"
check "no CREATEROLE: the message names the roles and how to create them" yes \
    "$(grep -q 'the walkthrough needs the roles anon, authenticated, service_role' <<<"$out" &&
       grep -q 'CREATE ROLE anon NOLOGIN NOINHERIT' <<<"$out" && echo yes || echo no)"
check "no CREATEROLE: the extension stays, the demo does not" 1 \
    "$(value -h "$plain" -p "$(port_of "$plain")" -U postgres -d newbies -c "SELECT count(*) FROM pg_extension WHERE extname = 'iam_ext'")"
check "no CREATEROLE: no demo user is left" 0 \
    "$(value -h "$plain" -p "$(port_of "$plain")" -U postgres -d newbies -c "SELECT count(*) FROM iam.users")"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ] || exit 1
echo "PASS: make run against 4 existing servers (one through PGHOST/PGPORT) and 2 refusals ($checks checks)"
