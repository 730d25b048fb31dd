#!/usr/bin/env bash
# Upgrades give the same extension as a fresh install. The current version
# is installed by the script make assembles from sql/schema/, so the last
# comparison checks that script against every upgrade path; earlier versions
# are installed from 0.1.0 and the upgrades. For every upgrade script
# iam_ext--A--B.sql (frozen in sql/upgrades/, or assembled by make in sql/
# for the current version): install A, ALTER EXTENSION UPDATE TO B, and
# compare with CREATE EXTENSION ... VERSION B: tables, columns, defaults,
# constraints, indexes, triggers, policies, functions, privileges, comments,
# dump configuration and the extension's member objects (pg_describe_object
# of its pg_depend rows with deptype 'e'). What is compared:
# test/integration/schema_fingerprint.sql (pg_dump cannot be used: it leaves
# out every object that belongs to an extension). Every older version must
# also reach the control file's default_version with a plain ALTER EXTENSION
# UPDATE, and CREATE EXTENSION must install default_version. The repository's
# scripts and control file must be the ones installed (make install).
set -euo pipefail
shopt -s nullglob

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
control="$root/iam_ext.control"
default_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$control")
[ -n "$default_version" ] || { echo "FAIL: no default_version in $control"; exit 1; }
# The package metadata names the same version.
meta_version=$(sed -n 's/^    "version": "\(.*\)",$/\1/p' "$root/META.json")
[ "$meta_version" = "$default_version" ] ||
    { echo "FAIL: META.json says version $meta_version, iam_ext.control $default_version"; exit 1; }
extension_dir="$("${PG_CONFIG:-pg_config}" --sharedir)/extension"
source "$here/../lib.sh"

fresh_db=iam_upgrade_fresh
upgraded_db=iam_upgrade_upgraded
scratch=$(mktemp -d)
drop_databases() {  # only if the server is still there to ask
    pg_isready -q || return 0
    dropdb --if-exists "$fresh_db" 2>/dev/null || true
    dropdb --if-exists "$upgraded_db" 2>/dev/null || true
}
trap 'drop_databases; rm -rf "$scratch"' EXIT

# Every definition of the installed extension, one sorted line per fact.
schema_of() { sql -d "$1" -tA -f "$here/schema_fingerprint.sql"; }
installed_version() { sql -d "$1" -tA -c "SELECT extversion FROM pg_extension WHERE extname = 'iam_ext'"; }
version_of() { local name; name=$(basename "$1" .sql); echo "${name#iam_ext--}"; }

upgrades=() installs=()
for script in "$root"/sql/upgrades/iam_ext--*.sql "$root"/sql/iam_ext--*.sql; do
    case $(version_of "$script") in
        *--*) upgrades+=("$script") ;;
        *) installs+=("$script") ;;
    esac
done
[ ${#installs[@]} -gt 0 ] || { echo "FAIL: no install script sql/iam_ext--<version>.sql"; exit 1; }

# The server runs what is in its extension directory, not the repository.
echo "repository scripts and control file installed in $extension_dir:"
for file in "$control" "${installs[@]}" "${upgrades[@]}"; do
    installed="$extension_dir/$(basename "$file")"
    if [ ! -f "$installed" ]; then
        echo "FAIL: $(basename "$file") is not installed in $extension_dir: run make install"; exit 1
    elif ! cmp -s "$file" "$installed"; then
        echo "FAIL: the installed $(basename "$file") differs from the repository's: run make install"
        diff "$installed" "$file" | sed 's/^/    /' || true
        exit 1
    fi
    echo "  $(basename "$file") identical"
done

# Every version CREATE EXTENSION can be asked for, oldest first.
versions=$(for script in "${installs[@]}" "${upgrades[@]}"; do
    version_of "$script" | sed 's/--/\n/'
done | sort -uV)

failures=0
drop_databases
createdb "$fresh_db"
sql -d "$fresh_db" -c 'CREATE EXTENSION iam_ext'
version=$(installed_version "$fresh_db")
if [ "$version" = "$default_version" ]; then
    schema_of "$fresh_db" >"$scratch/default"
    echo "CREATE EXTENSION iam_ext installs default_version $default_version" \
        "($(grep -c '' "$scratch/default") definitions, $(grep -c '^member ' "$scratch/default") member objects)"
else
    echo "CREATE EXTENSION iam_ext installed $version, but iam_ext.control says default_version = '$default_version'"
    failures=$((failures + 1))
fi

if [ ${#upgrades[@]} -eq 0 ]; then
    [ $failures -eq 0 ] || { echo "FAIL: CREATE EXTENSION does not install default_version"; exit 1; }
    echo "SKIP: no upgrade scripts yet (only ${versions//$'\n'/ })"
    exit 0
fi

for script in "${upgrades[@]}"; do
    step=$(version_of "$script")
    from=${step%--*}; to=${step#*--}
    drop_databases
    createdb "$fresh_db"; createdb "$upgraded_db"
    sql -d "$fresh_db" -c "CREATE EXTENSION iam_ext VERSION '$to'" ||
        { echo "FAIL: CREATE EXTENSION iam_ext VERSION '$to' failed (above)"; exit 1; }
    sql -d "$upgraded_db" -c "CREATE EXTENSION iam_ext VERSION '$from'" \
        -c "ALTER EXTENSION iam_ext UPDATE TO '$to'" ||
        { echo "FAIL: $from -> $to: installing $from and updating to $to failed (above)"; exit 1; }
    [ "$(installed_version "$upgraded_db")" = "$to" ] ||
        { echo "FAIL: $from -> $to: ALTER EXTENSION UPDATE TO '$to' left version $(installed_version "$upgraded_db")"; exit 1; }
    schema_of "$fresh_db" >"$scratch/fresh"
    schema_of "$upgraded_db" >"$scratch/upgraded"
    if diff "$scratch/fresh" "$scratch/upgraded" >"$scratch/diff"; then
        echo "$from -> $to: same $(grep -c '' "$scratch/fresh") definitions" \
            "($(grep -c '^member ' "$scratch/fresh") member objects) as CREATE EXTENSION VERSION '$to'"
    else
        echo "$from -> $to differs from CREATE EXTENSION VERSION '$to' (< fresh, > upgraded):"
        sed 's/^/    /' "$scratch/diff"
        failures=$((failures + 1))
    fi
    # Without its own install script, CREATE EXTENSION VERSION B is itself
    # built by running A's install script and this upgrade: then the
    # comparison above can only show that the upgrade applies.
    [ -f "$root/sql/iam_ext--$to.sql" ] || [ -f "$root/sql/upgrades/iam_ext--$to.sql" ] ||
        echo "  note: there is no install script iam_ext--$to.sql, so CREATE EXTENSION VERSION '$to'" \
            "runs an install script and the upgrades itself: equal by construction"
done

# Every older version reaches the newest with a plain ALTER EXTENSION UPDATE.
for from in $versions; do
    [ "$(printf '%s\n%s\n' "$from" "$default_version" | sort -V | head -1)" = "$from" ] || continue
    [ "$from" != "$default_version" ] || continue
    drop_databases; createdb "$upgraded_db"
    if ! sql -d "$upgraded_db" -c "CREATE EXTENSION iam_ext VERSION '$from'" -c 'ALTER EXTENSION iam_ext UPDATE'; then
        echo "$from: CREATE EXTENSION iam_ext VERSION '$from' then ALTER EXTENSION iam_ext UPDATE failed (above)"
        failures=$((failures + 1)); continue
    fi
    version=$(installed_version "$upgraded_db")
    if [ "$version" = "$default_version" ]; then
        schema_of "$upgraded_db" >"$scratch/reached"
        if [ ! -f "$scratch/default" ]; then
            echo "$from: ALTER EXTENSION iam_ext UPDATE reaches $default_version (not compared: see above)"
        elif diff "$scratch/default" "$scratch/reached" >"$scratch/diff"; then
            echo "$from: ALTER EXTENSION iam_ext UPDATE reaches $default_version, same definitions as CREATE EXTENSION"
        else
            echo "$from: ALTER EXTENSION iam_ext UPDATE reaches $default_version but differs from CREATE EXTENSION (< fresh, > upgraded):"
            sed 's/^/    /' "$scratch/diff"
            failures=$((failures + 1))
        fi
    else
        echo "$from: ALTER EXTENSION iam_ext UPDATE reached $version, not default_version $default_version"
        failures=$((failures + 1))
    fi
done

# With data: whoever administered a company in 0.6.0 (an active member holding
# enterprise_admin, in every company of theirs) administers exactly the same
# companies after the upgrade, now by role_in_company; nobody else does.
if [ -f "$root/sql/upgrades/iam_ext--0.6.0--0.7.0.sql" ]; then
    drop_databases; createdb "$upgraded_db"
    admins_of() {  # every (user, company) pair and whether the user administers it
        value -d "$upgraded_db" -c "SELECT string_agg(u.full_name || '/' || c.name || '=' || iam.is_company_admin(c.id, u.id),
                                                       ' ' ORDER BY u.full_name, c.name)
                                    FROM iam.users AS u CROSS JOIN iam.companies AS c"
    }
    sql -d "$upgraded_db" -q -o /dev/null <<'SQL'
CREATE EXTENSION iam_ext VERSION '0.6.0';
INSERT INTO iam.users (id, full_name) VALUES
    ('a0000000-0000-4000-8000-0000000000a2', 'Vera'), ('a0000000-0000-4000-8000-0000000000a3', 'Carol'),
    ('a0000000-0000-4000-8000-0000000000a4', 'Remy'), ('a0000000-0000-4000-8000-0000000000b1', 'Olga');
INSERT INTO iam.companies (id, name) VALUES
    ('c0000000-0000-4000-8000-00000000000a', 'Acme'), ('c0000000-0000-4000-8000-00000000000b', 'Globex'),
    ('c0000000-0000-4000-8000-00000000000c', 'Initech');
INSERT INTO iam.company_users (user_id, company_id, is_active_in_company) VALUES
    ('a0000000-0000-4000-8000-0000000000a2', 'c0000000-0000-4000-8000-00000000000a', true),
    ('a0000000-0000-4000-8000-0000000000a3', 'c0000000-0000-4000-8000-00000000000a', true),
    ('a0000000-0000-4000-8000-0000000000a3', 'c0000000-0000-4000-8000-00000000000b', true),
    ('a0000000-0000-4000-8000-0000000000a4', 'c0000000-0000-4000-8000-00000000000a', false),
    ('a0000000-0000-4000-8000-0000000000b1', 'c0000000-0000-4000-8000-00000000000b', true);
SELECT iam.grant_role(u::uuid, 'enterprise_admin') FROM (VALUES ('a0000000-0000-4000-8000-0000000000a3'),
    ('a0000000-0000-4000-8000-0000000000a4'), ('a0000000-0000-4000-8000-0000000000b1')) AS g (u);
SQL
    before=$(admins_of)
    sql -d "$upgraded_db" -q -c "ALTER EXTENSION iam_ext UPDATE TO '0.7.0'"
    after=$(admins_of)
    roles=$(value -d "$upgraded_db" -c "SELECT string_agg(u.full_name || '/' || c.name || '=' || cu.role_in_company, ' '
                                                          ORDER BY u.full_name, c.name)
                                        FROM iam.company_users AS cu JOIN iam.users AS u ON u.id = cu.user_id
                                        JOIN iam.companies AS c ON c.id = cu.company_id")
    expected_roles="Carol/Acme=admin Carol/Globex=admin Olga/Globex=admin Remy/Acme=admin Vera/Acme=member"
    if [ "$before" = "$after" ] && [ "$roles" = "$expected_roles" ]; then
        echo "0.6.0 -> 0.7.0 with data: the same admins of the same companies ($(grep -o '=true' <<<"$after" | wc -l) pairs), by role_in_company"
    else
        echo "0.6.0 -> 0.7.0 with data: admins changed"
        echo "    before: $before"; echo "    after:  $after"; echo "    roles:  $roles (expected $expected_roles)"
        failures=$((failures + 1))
    fi
fi

# With data: 0.7.0 -> 0.8.0 keeps every answer of the role and company
# checks exactly as it was (0.8.0 adds permissions beside them): each user's
# platform roles, memberships and admin rights, asked about them and asked
# by them, over users, roles, companies active, suspended and deleted,
# memberships active and not.
if [ -f "$root/sql/upgrades/iam_ext--0.6.0--0.7.0.sql" ]; then
    drop_databases; createdb "$upgraded_db"
    answers_query() {  # every answer, one line
        echo "SELECT string_agg(line, ' ' ORDER BY line) FROM (
                  SELECT u.full_name || '/' || r.name || '=' || iam.has_role(u.id, r.name) AS line
                  FROM iam.users AS u CROSS JOIN iam.roles AS r
                  UNION ALL
                  SELECT u.full_name || '@' || c.name || '=' || iam.is_company_member(c.id, u.id)
                         || '/' || iam.is_company_admin(c.id, u.id)
                  FROM iam.users AS u CROSS JOIN iam.companies AS c
                  UNION ALL
                  SELECT u.full_name || '.asks=' || pg_temp.asked_by(u.id) FROM iam.users AS u) AS answers"
    }
    sql -d "$upgraded_db" -q -o /dev/null <<'SQL'
CREATE EXTENSION iam_ext VERSION '0.7.0';
INSERT INTO iam.users (id, full_name) SELECT ('a0000000-0000-4000-8000-0000000000' || lpad(to_hex(i), 2, '0'))::uuid, 'user' || i
FROM generate_series(1, 24) AS i;
INSERT INTO iam.companies (id, name, current_iam_status, is_deleted) VALUES
    ('c0000000-0000-4000-8000-00000000000a', 'Acme', 'active', false),
    ('c0000000-0000-4000-8000-00000000000b', 'Globex', 'active', false),
    ('c0000000-0000-4000-8000-00000000000c', 'Initech', 'suspended_by_admin', false),
    ('c0000000-0000-4000-8000-00000000000d', 'Hooli', 'pending_verification', false),
    ('c0000000-0000-4000-8000-00000000000e', 'Gone', 'active', true);
-- Each user in a pattern of companies, active or not, member or admin.
INSERT INTO iam.company_users (user_id, company_id, is_active_in_company, role_in_company)
SELECT u.id, c.id, (i + j) % 3 <> 0, CASE WHEN (i * j) % 4 = 1 THEN 'admin' ELSE 'member' END
FROM generate_series(1, 24) AS i
CROSS JOIN LATERAL (SELECT ('a0000000-0000-4000-8000-0000000000' || lpad(to_hex(i), 2, '0'))::uuid AS id) AS u
CROSS JOIN generate_series(1, 5) AS j
CROSS JOIN LATERAL (SELECT ('c0000000-0000-4000-8000-00000000000' || to_hex(9 + j))::uuid AS id) AS c
WHERE (i + 2 * j) % 3 <> 1;
-- Each user some of the seven roles.
INSERT INTO iam.user_roles (user_id, role_id)
SELECT ('a0000000-0000-4000-8000-0000000000' || lpad(to_hex(i), 2, '0'))::uuid, r.id
FROM generate_series(1, 24) AS i
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM iam.roles) AS r ON (i + r.n) % 4 = 0 OR i % 7 = r.n;
SQL
    asked_by='CREATE FUNCTION pg_temp.asked_by(who uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    answer text;
BEGIN
    PERFORM set_config($q$request.jwt.claims$q$, json_build_object($q$sub$q$, who)::text, true);
    SELECT iam.current_user_id()::text || $q$:$q$ || array_to_string(iam.roles_of(), $q$,$q$) || $q$:$q$
           || iam.has_any_role($q${platform_admin,support_agent}$q$) || $q$:$q$
           || (SELECT string_agg(x::text, $q$,$q$ ORDER BY x) FROM unnest(iam.current_company_ids()) AS x)
      INTO answer;
    PERFORM set_config($q$request.jwt.claims$q$, repeat($q$x$q$, 0), true);
    RETURN answer;
END
$$'
    before=$(sql -d "$upgraded_db" -tA -q -c "$asked_by" -c "$(answers_query)")
    sql -d "$upgraded_db" -q -c "ALTER EXTENSION iam_ext UPDATE TO '0.8.0'"
    after=$(sql -d "$upgraded_db" -tA -q -c "$asked_by" -c "$(answers_query)")
    if [ -n "$before" ] && [ "$before" = "$after" ]; then
        echo "0.7.0 -> 0.8.0 with data: the same $(wc -w <<<"$after") answers of has_role, is_company_member," \
             "is_company_admin, roles_of, has_any_role and current_company_ids"
    else
        echo "0.7.0 -> 0.8.0 with data: answers changed"
        diff <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after") | sed 's/^/    /' | head -20
        failures=$((failures + 1))
    fi
fi

[ $failures -eq 0 ] || { echo "FAIL: $failures upgrade check(s)"; exit 1; }
echo "PASS: ${#upgrades[@]} upgrade script(s) give the same extension as a fresh install; every version reaches $default_version"
