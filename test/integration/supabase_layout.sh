#!/usr/bin/env bash
# The operator's whole life cycle on a cluster laid out as Supabase's image
# lays it out: initdb as supabase_admin (the bootstrap superuser, oid 10);
# postgres created by it as a superuser, given the API roles and all
# privileges on auth.users, then demoted (NOSUPERUSER, CREATEROLE, CREATEDB,
# REPLICATION, BYPASSRLS); auth.users owned by supabase_auth_admin. As
# postgres, the role of Supabase's SQL editor: CREATE EXTENSION (WITH
# SCHEMA extensions, as Supabase's dashboard installs extensions),
# enable_auth_sync(), GoTrue's writes as supabase_auth_admin (signup,
# confirmation, email change, an anonymous user, an SSO user with a taken
# email, deletion), the access token hook as supabase_auth_admin with
# GoTrue's events, apply_grants(), rotate_api_key_pepper(), ALTER EXTENSION
# UPDATE from every earlier version, disable_auth_sync(), DROP EXTENSION.
# The pgTAP cases of Supabase (test/pgtap/supabase.sql, access_token_hook.sql)
# also run here, in a database whose extension postgres installed. The
# Security Advisor's rules that apply to an extension's schema
# (security_advisor.sql) find nothing on iam, installed or upgraded, and
# find each kind of fault planted in a schema of its own, and the extension
# installed by a plain CREATE EXTENSION, whose record is then in public.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"

dir=$(mktemp -d /tmp/iam_ext_supabase.XXXXXX)
chmod 755 "$dir"
port=$(free_port 56600)
trap 'cluster_stop "$dir"; rm -rf "$dir"' EXIT
cluster_start "$dir" "$port" "" "" supabase_admin
export PGHOST=$dir PGPORT=$port
db=iam_supabase
as_admin() { sql -U supabase_admin -d "${2:-$db}" -c "$1"; }
as_postgres() { value -U postgres -d "${2:-$db}" -c "$1"; }
as_gotrue() { sql -U supabase_auth_admin -d "$db" -o /dev/null -c "$1"; }
# json: an expression over psql variables, evaluated as postgres.
json() { value -U postgres -d "$db" "$@"; }

failures=0 checks=0
check() {  # check WHAT EXPECTED ACTUAL
    checks=$((checks + 1))
    if [ "$2" = "$3" ]; then echo "  ok: $1"
    else echo "  FAIL: $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}

echo "setup: the cluster as Supabase's image makes it"
supabase_layout "$db"
check "the bootstrap superuser (oid 10) is supabase_admin" supabase_admin \
    "$(as_postgres "SELECT rolname FROM pg_roles WHERE oid = 10")"
check "postgres is not a superuser" f "$(as_postgres "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'")"
check "auth.users belongs to supabase_auth_admin" supabase_auth_admin \
    "$(as_postgres "SELECT tableowner FROM pg_tables WHERE schemaname = 'auth' AND tablename = 'users'")"

echo "CREATE EXTENSION as postgres"
as_postgres "CREATE EXTENSION iam_ext WITH SCHEMA extensions" >/dev/null
check "the extension's record is in schema extensions" extensions \
    "$(as_postgres "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'iam_ext'")"
check "its objects are in iam, none in extensions" 0 \
    "$(as_postgres "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'extensions'::regnamespace)
                         + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'extensions'::regnamespace)
                         + (SELECT count(*) FROM pg_type WHERE typnamespace = 'extensions'::regnamespace)")"
check "postgres owns the extension" postgres \
    "$(as_postgres "SELECT extowner::regrole FROM pg_extension WHERE extname = 'iam_ext'")"
check "supabase_admin owns its objects" supabase_admin \
    "$(as_postgres "SELECT relowner::regrole FROM pg_class WHERE oid = 'iam.api_keys'::regclass")"

echo "enable_auth_sync and GoTrue's writes"
check "enable_auth_sync() as postgres" 0 "$(as_postgres "SELECT iam.enable_auth_sync()")"
gotrue_user() {  # gotrue_user ID EMAIL [SSO]: a signup as GoTrue makes it
    as_gotrue "INSERT INTO users (id, aud, role, email, is_sso_user) VALUES ('$1', '', '', '$2', ${3:-false})"
    as_gotrue "UPDATE users SET aud = 'authenticated', role = 'authenticated' WHERE id = '$1'"
}
pam=a0000000-0000-4000-8000-0000000000e1
gotrue_user "$pam" pam@platform.test
check "a signup is synced" pam@platform.test "$(as_postgres "SELECT email FROM iam.users WHERE id = '$pam'")"
as_gotrue "UPDATE users SET email_confirmed_at = now() WHERE id = '$pam'"
as_gotrue "UPDATE users SET email = 'pam@example.test', raw_user_meta_data = '{\"full_name\": \"Pam\"}' WHERE id = '$pam'"
check "an email change and a name are synced" "pam@example.test|Pam" \
    "$(as_postgres "SELECT email || '|' || full_name FROM iam.users WHERE id = '$pam'")"
anonymous=b1000000-0000-4000-8000-0000000000a0
as_gotrue "INSERT INTO users (id, aud, role, is_anonymous) VALUES ('$anonymous', 'authenticated', 'authenticated', true)"
check "an anonymous user is synced, without an email" "t" \
    "$(as_postgres "SELECT email IS NULL FROM iam.users WHERE id = '$anonymous'")"
sso=b1000000-0000-4000-8000-0000000000b5
gotrue_user "$sso" pam@example.test true 2>/dev/null
check "an SSO user with a taken email is synced without it; Pam keeps hers" "|pam@example.test" \
    "$(as_postgres "SELECT coalesce((SELECT email FROM iam.users WHERE id = '$sso'), '') || '|' || (SELECT email FROM iam.users WHERE id = '$pam')")"
as_gotrue "DELETE FROM users WHERE id = '$sso'"
check "a deletion is synced" 0 "$(as_postgres "SELECT count(*) FROM iam.users WHERE id = '$sso'")"

echo "the pgTAP cases of Supabase (test/pgtap/supabase.sql, access_token_hook.sql) on this layout"
# In a database of their own, with the extension installed by postgres.
as_admin "CREATE DATABASE iam_pgtap" postgres >/dev/null
as_admin "GRANT ALL ON DATABASE iam_pgtap TO postgres" postgres >/dev/null
as_admin "CREATE EXTENSION pgtap" iam_pgtap >/dev/null
# Here by a plain CREATE EXTENSION, its record in public: the Security
# Advisor's rules below find that.
as_postgres "CREATE EXTENSION iam_ext" iam_pgtap >/dev/null
pg_prove -U supabase_admin -d iam_pgtap "$here/../pgtap/supabase.sql" "$here/../pgtap/access_token_hook.sql" \
    >"$dir/pgtap.log" 2>&1 && check "pg_prove on the layout" pass pass ||
    { cat "$dir/pgtap.log"; check "pg_prove on the layout" pass fail; }

echo "the access token hook, as supabase_auth_admin"
as_postgres "SELECT iam.grant_role('$pam', 'course_creator')" >/dev/null
event() {  # event USER_ID METHOD: the event GoTrue sends
    printf '{"user_id": "%s", "authentication_method": "%s", "claims": {"aud": "authenticated", "sub": "%s", "role": "authenticated", "aal": "aal1", "is_anonymous": %s}}' \
        "$1" "$2" "$1" "$([ "$2" = anonymous ] && echo true || echo false)"
}
hook() { value -U supabase_auth_admin -d "$db" -v e="$1" <<<"SELECT iam.custom_access_token_hook(:'e')::text;"; }
check "a password sign-in gets its roles" '["course_creator"]' \
    "$(json -v r="$(hook "$(event "$pam" password)")" <<<"SELECT (:'r'::jsonb #> '{claims,iam,roles}')::text")"
check "an anonymous sign-in keeps every claim GoTrue made" t \
    "$(json -v r="$(hook "$(event "$anonymous" anonymous)")" -v e="$(event "$anonymous" anonymous)" \
        <<<"SELECT ((:'r'::jsonb -> 'claims') - 'iam') = (:'e'::jsonb -> 'claims')")"
check "a user with no iam row yet: the claims unchanged" "$(json -v e="$(event b1000000-0000-4000-8000-0000000000ff password)" <<<"SELECT jsonb_build_object('claims', :'e'::jsonb -> 'claims')::text")" \
    "$(hook "$(event b1000000-0000-4000-8000-0000000000ff password)")"
check "a malformed event: empty claims, no error" '{"claims": {}}' "$(hook '{"user_id": 42}')"
for role in anon authenticated service_role authenticator; do
    check "$role may not execute the hook" f \
        "$(as_postgres "SELECT has_function_privilege('$role', 'iam.custom_access_token_hook(jsonb)', 'EXECUTE')")"
done
check "supabase_auth_admin may, and reads no iam table itself" "true|false" \
    "$(as_postgres "SELECT has_function_privilege('supabase_auth_admin', 'iam.custom_access_token_hook(jsonb)', 'EXECUTE') || '|' || has_table_privilege('supabase_auth_admin', 'iam.users', 'SELECT')")"

echo "the operator's functions"
as_postgres "SELECT iam.apply_grants()" >/dev/null && check "apply_grants() as postgres" ok ok

echo "the permission model, as the operator"
acme=c0000000-0000-4000-8000-0000000000aa reader=d0000000-0000-4000-8000-0000000000aa
as_postgres "INSERT INTO iam.permissions (name) VALUES ('courses:read')" >/dev/null
as_postgres "INSERT INTO iam.companies (id, name) VALUES ('$acme', 'Acme')" >/dev/null
as_postgres "INSERT INTO iam.company_users (user_id, company_id) VALUES ('$pam', '$acme')" >/dev/null
as_postgres "INSERT INTO iam.company_roles (id, company_id, name) VALUES ('$reader', '$acme', 'reader')" >/dev/null
as_postgres "INSERT INTO iam.company_role_permissions (company_role_id, permission) VALUES ('$reader', 'courses:read')" >/dev/null
check "postgres registers a permission, defines a company role and assigns it" t \
    "$(as_postgres "SELECT iam.assign_company_role('$acme', '$pam', 'reader')")"
check "... and Pam then holds the permission in Acme, not elsewhere" "true|false" \
    "$(as_postgres "SELECT iam.can('courses:read', '$acme') || '|' || iam.can('courses:read')
                    FROM (SELECT set_config('request.jwt.claims', '{\"sub\": \"$pam\"}', false)) AS claims")"
check "each change audited, as postgres" 4 \
    "$(as_postgres "SELECT count(*) FROM iam.audit_log WHERE actor_role = 'postgres'
                    AND action IN ('permission_registered', 'company_role_created', 'role_permission_granted',
                                   'member_role_assigned')")"

echo "the Security Advisor's rules (security_advisor.sql), iam exposed through PostgREST"
advisor() {  # advisor SCHEMA [DATABASE]: the findings, one a line
    value -U postgres -d "${2:-$db}" -v schema="$1" -f "$here/security_advisor.sql" | paste -sd ';' -
}
check "no finding on iam" "" "$(advisor iam)"
# A plain CREATE EXTENSION records the extension (not its objects, which the
# script puts in iam) in the first schema of the search_path, public on
# Supabase: the linter reports extension_in_public, which WITH SCHEMA
# extensions avoids. The extension's schema stays what the installer chose:
# pg_dump restores the extension WITH SCHEMA that schema.
check "a plain CREATE EXTENSION: extension_in_public" "extension_in_public iam_ext" "$(advisor iam iam_pgtap)"
# The same rules find each fault they are for, planted in a schema of its own.
as_admin "CREATE SCHEMA advisor_probe AUTHORIZATION postgres" >/dev/null
as_postgres "CREATE TABLE advisor_probe.open_table (id int);
    CREATE VIEW advisor_probe.owner_view AS SELECT id FROM advisor_probe.open_table;
    CREATE VIEW advisor_probe.invoker_view WITH (security_invoker = true) AS SELECT id FROM advisor_probe.open_table;
    CREATE FUNCTION advisor_probe.definer() RETURNS int LANGUAGE sql SECURITY DEFINER
        SET search_path = pg_catalog AS 'SELECT 1';
    CREATE FUNCTION advisor_probe.path_free() RETURNS int LANGUAGE sql AS 'SELECT 1';
    GRANT USAGE ON SCHEMA advisor_probe TO anon, authenticated;
    GRANT SELECT ON ALL TABLES IN SCHEMA advisor_probe TO authenticated;
    REVOKE EXECUTE ON FUNCTION advisor_probe.definer() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION advisor_probe.definer() TO anon" >/dev/null
check "each planted fault is found" \
    "anon_security_definer_function_executable advisor_probe.definer();function_search_path_mutable advisor_probe.path_free();rls_disabled_in_exposed_schema advisor_probe.open_table;security_definer_view advisor_probe.owner_view" \
    "$(advisor advisor_probe)"
as_admin "DROP SCHEMA advisor_probe CASCADE" >/dev/null
as_postgres "SELECT count(*) FROM iam.create_api_key('first', '$pam')" >/dev/null  # makes pepper 1
check "rotate_api_key_pepper() as postgres" 2 "$(as_postgres "SELECT iam.rotate_api_key_pepper()")"
for version in $(as_postgres "SELECT string_agg(version, ' ' ORDER BY string_to_array(version, '.')::int[]) FROM pg_available_extension_versions WHERE name = 'iam_ext' AND version <> (SELECT default_version FROM pg_available_extensions WHERE name = 'iam_ext')"); do
    as_postgres "CREATE DATABASE iam_from_${version//./_}" >/dev/null
    as_admin "CREATE SCHEMA extensions; GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role" \
        "iam_from_${version//./_}" >/dev/null
    as_postgres "CREATE EXTENSION iam_ext WITH SCHEMA extensions VERSION '$version'" "iam_from_${version//./_}" >/dev/null
    as_postgres "ALTER EXTENSION iam_ext UPDATE" "iam_from_${version//./_}" >/dev/null
    check "ALTER EXTENSION iam_ext UPDATE from $version as postgres" \
        "$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$IAM_ROOT/iam_ext.control")" \
        "$(as_postgres "SELECT extversion FROM pg_extension WHERE extname = 'iam_ext'" "iam_from_${version//./_}")"
    check "no finding on iam upgraded from $version" "" "$(advisor iam "iam_from_${version//./_}")"
done

echo "disable_auth_sync and DROP EXTENSION"
as_postgres "SELECT iam.disable_auth_sync()" >/dev/null
check "disable_auth_sync() as postgres removes the triggers" 0 \
    "$(as_postgres "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND tgname LIKE 'iam_sync_%'")"
as_postgres "DROP EXTENSION iam_ext" >/dev/null
check "DROP EXTENSION iam_ext as postgres" 0 "$(as_postgres "SELECT count(*) FROM pg_extension WHERE extname = 'iam_ext'")"
gotrue_user b1000000-0000-4000-8000-0000000000c1 after@example.test
check "GoTrue still writes auth.users afterwards" 1 "$(as_postgres "SELECT count(*) FROM auth.users WHERE email = 'after@example.test'")"

[ $failures -eq 0 ] || { echo "FAIL: $failures of $checks checks on the Supabase layout"; exit 1; }
echo "PASS: $checks checks: the operator's life cycle as Supabase's demoted postgres, GoTrue and the hook as supabase_auth_admin"
