#!/usr/bin/env bash
# The operator is the extension's owner, whoever that is. On a plain cluster
# (postgres the bootstrap superuser) with the API roles and Supabase Auth's
# tables, appowner, a role that is no superuser and not named postgres, with
# CREATEDB and CREATE on the database, installs the trusted extension. The
# objects belong to the bootstrap superuser, the extension to appowner, who
# then runs every operator function (apply_grants, enable_auth_sync,
# disable_auth_sync, rotate_api_key_pepper) and is the operator in the
# session (iam.is_operator_session()), while anon, authenticated and
# service_role are not and may run none of them. REASSIGN OWNED then moves
# the extension to another role, newowner (PostgreSQL has no ALTER EXTENSION
# ... OWNER TO): the former owner is the operator in the session no more at
# once, and the next apply_grants() (run by the former owner or a
# superuser) gives newowner the operator's grants and takes them from the
# former owner.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"

dir=$(mktemp -d /tmp/iam_ext_owner.XXXXXX)
chmod 755 "$dir"
port=$(free_port 56700)
trap 'cluster_stop "$dir"; rm -rf "$dir"' EXIT
cluster_start "$dir" "$port"
export PGHOST=$dir PGPORT=$port
db=iam_owner
as_super() { value -U postgres -d "$db" -c "$1"; }
as() { value -U "$1" -d "$db" -c "$2"; }
# The SQLSTATE of a statement run as a role, or ok.
state_as() {
    local out
    out=$(psql -X -q -tA -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -U "$1" -d "$db" -c "$2" 2>&1) && { echo ok; return; }
    sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' <<<"$out" | head -1
}

failures=0 checks=0
check() {  # check WHAT EXPECTED ACTUAL
    checks=$((checks + 1))
    if [ "$2" = "$3" ]; then echo "  ok: $1"
    else echo "  FAIL: $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}

echo "setup: the API roles, auth.users, and appowner"
sql -U postgres -d postgres -o /dev/null <<SQL
SET client_min_messages = warning;
CREATE ROLE appowner LOGIN NOSUPERUSER CREATEDB PASSWORD '$PGPASSWORD';
CREATE ROLE newowner LOGIN NOSUPERUSER PASSWORD '$PGPASSWORD';
CREATE DATABASE $db;
GRANT CREATE ON DATABASE $db TO appowner;
SQL
sql -U postgres -d "$db" -o /dev/null <<SQL
SET client_min_messages = warning;
\ir $IAM_ROOT/test/fixtures/supabase_roles.sql
\ir $IAM_ROOT/test/fixtures/supabase_auth.sql
SQL
as_super "INSERT INTO auth.users (id, aud, role, email, email_confirmed_at)
          VALUES ('a0000000-0000-4000-8000-00000000aa01', 'authenticated', 'authenticated', 'ann@example.test', now())" \
    >/dev/null

echo "CREATE EXTENSION as appowner"
as appowner "CREATE EXTENSION iam_ext" >/dev/null
check "appowner owns the extension" appowner \
    "$(as appowner "SELECT extowner::regrole FROM pg_extension WHERE extname = 'iam_ext'")"
check "the bootstrap superuser owns its objects" postgres \
    "$(as appowner "SELECT relowner::regrole FROM pg_class WHERE oid = 'iam.api_keys'::regclass")"
check "appowner is the operator in the session" t "$(as appowner "SELECT iam.is_operator_session()")"
for role in anon authenticated service_role; do
    check "$role is not the operator" f \
        "$(as postgres "SET ROLE $role; SELECT iam.is_operator_session()")"
done

echo "the operator's functions as appowner"
check "apply_grants()" ok "$(state_as appowner "SELECT iam.apply_grants()")"
check "enable_auth_sync() syncs the user there is" 1 "$(as appowner "SELECT iam.enable_auth_sync()")"
check "the sync's triggers are on auth.users" 3 \
    "$(as_super "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND tgname LIKE 'iam_sync_%'")"
check "appowner has the tables' privileges" "true|true" \
    "$(as_super "SELECT has_table_privilege('appowner', 'iam.users', 'SELECT') || '|'
                     || has_table_privilege('appowner', 'iam.user_roles', 'INSERT')")"
# RLS applies to an owner without BYPASSRLS, as to any role that does not
# own the tables: its rows come with BYPASSRLS, as postgres has on Supabase.
check "without BYPASSRLS, RLS hides the rows" 0 "$(as appowner "SELECT count(*) FROM iam.users")"
as_super "ALTER ROLE appowner BYPASSRLS" >/dev/null
check "with BYPASSRLS, appowner reads them" ann@example.test "$(as appowner "SELECT email FROM iam.users")"
as_super "SELECT count(*) FROM iam.create_api_key('first', 'a0000000-0000-4000-8000-00000000aa01')" >/dev/null
check "rotate_api_key_pepper()" 2 "$(as appowner "SELECT iam.rotate_api_key_pepper()")"
check "appowner never reads the peppers" 42501 "$(state_as appowner "SELECT count(*) FROM iam.api_key_peppers")"
check "disable_auth_sync()" ok "$(state_as appowner "SELECT iam.disable_auth_sync()")"
check "the sync's triggers are gone" 0 \
    "$(as_super "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND tgname LIKE 'iam_sync_%'")"
for fn in "iam.apply_grants()" "iam.enable_auth_sync()" "iam.disable_auth_sync()" "iam.rotate_api_key_pepper()"; do
    for role in anon authenticated service_role; do
        check "$role may not run $fn" 42501 "$(state_as postgres "SET ROLE $role; SELECT $fn")"
    done
done

echo "REASSIGN OWNED moves the extension to newowner"
check "there is no ALTER EXTENSION ... OWNER TO" 42601 \
    "$(state_as postgres "ALTER EXTENSION iam_ext OWNER TO newowner")"
as_super "REASSIGN OWNED BY appowner TO newowner" >/dev/null
check "newowner owns the extension" newowner \
    "$(as_super "SELECT extowner::regrole FROM pg_extension WHERE extname = 'iam_ext'")"
check "appowner is the operator in the session no more" f "$(as appowner "SELECT iam.is_operator_session()")"
check "newowner has no grants before apply_grants()" 42501 "$(state_as newowner "SELECT iam.apply_grants()")"
check "the former owner runs apply_grants() once more" ok "$(state_as appowner "SELECT iam.apply_grants()")"
check "newowner now runs it" ok "$(state_as newowner "SELECT iam.apply_grants()")"
check "newowner is the operator in the session" t "$(as newowner "SELECT iam.is_operator_session()")"
check "newowner enables the sync" 0 "$(as newowner "SELECT iam.enable_auth_sync()")"
check "newowner rotates the pepper" 3 "$(as newowner "SELECT iam.rotate_api_key_pepper()")"
check "appowner lost the operator's functions" 42501 "$(state_as appowner "SELECT iam.apply_grants()")"
check "and every privilege on schema iam" "false|false|false" \
    "$(as_super "SELECT has_schema_privilege('appowner', 'iam', 'USAGE') || '|'
                     || has_table_privilege('appowner', 'iam.users', 'SELECT') || '|'
                     || has_function_privilege('appowner', 'iam.disable_auth_sync()', 'EXECUTE')")"
check "the API roles kept theirs" "true|true|false" \
    "$(as_super "SELECT has_table_privilege('service_role', 'iam.users', 'SELECT') || '|'
                     || has_table_privilege('authenticated', 'iam.users', 'SELECT') || '|'
                     || has_function_privilege('service_role', 'iam.apply_grants()', 'EXECUTE')")"
as newowner "SELECT iam.disable_auth_sync()" >/dev/null
as newowner "DROP EXTENSION iam_ext" >/dev/null
check "newowner drops the extension" 0 "$(as_super "SELECT count(*) FROM pg_extension WHERE extname = 'iam_ext'")"

[ $failures -eq 0 ] || { echo "FAIL: $failures of $checks checks on the extension's owner"; exit 1; }
echo "PASS: $checks checks: the operator is the extension's owner, whoever that is"
