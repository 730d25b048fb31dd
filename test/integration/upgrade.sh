#!/usr/bin/env bash
# Upgrades give the same extension as a fresh install. For every upgrade
# script sql/iam_ext--A--B.sql: install A, ALTER EXTENSION UPDATE TO B, and
# compare with CREATE EXTENSION ... VERSION B: tables, columns, defaults,
# constraints, indexes, triggers, policies, functions, privileges, comments,
# dump configuration and the extension's member objects. Every older
# version must also reach the control file's default_version.
# What is compared: test/integration/schema_fingerprint.sql. Without any
# upgrade script yet, checks that CREATE EXTENSION installs default_version.
set -euo pipefail
shopt -s nullglob

root=$(cd "$(dirname "$0")/../.." && pwd)
default_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/iam_ext.control")
extension_dir="$("${PG_CONFIG:-pg_config}" --sharedir)/extension"
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

fresh_db=iam_upgrade_fresh
upgraded_db=iam_upgrade_upgraded
scratch=$(mktemp -d)
drop_databases() { dropdb --if-exists "$fresh_db" 2>/dev/null; dropdb --if-exists "$upgraded_db" 2>/dev/null; true; }
trap 'drop_databases; rm -rf "$scratch"' EXIT

# Every definition of the installed extension, one sorted line per fact.
schema_of() { sql -d "$1" -tA -f "$(dirname "$0")/schema_fingerprint.sql"; }
installed_version() { sql -d "$1" -tA -c "SELECT extversion FROM pg_extension WHERE extname = 'iam_ext'"; }

upgrades=("$root"/sql/iam_ext--*--*.sql)
for script in "${upgrades[@]}"; do
    cmp -s "$script" "$extension_dir/$(basename "$script")" ||
        { echo "FAIL: $(basename "$script") is not installed as in the repository (make install)"; exit 1; }
done

if [ ${#upgrades[@]} -eq 0 ]; then
    drop_databases
    createdb "$fresh_db"
    sql -d "$fresh_db" -c 'CREATE EXTENSION iam_ext'
    version=$(installed_version "$fresh_db")
    [ "$version" = "$default_version" ] ||
        { echo "FAIL: CREATE EXTENSION installed $version, the control file says $default_version"; exit 1; }
    versions=$(cd "$root/sql" && ls iam_ext--*.sql | sed 's/iam_ext--\(.*\)\.sql/\1/' | tr '\n' ' ')
    schema_of "$fresh_db" >"$scratch/fresh"
    echo "CREATE EXTENSION installs default_version $default_version ($(grep -c '' "$scratch/fresh") definitions)"
    echo "SKIP: no upgrade scripts yet (only ${versions% })"
    exit 0
fi

failures=0
for script in "${upgrades[@]}"; do
    step=$(basename "$script" .sql); step=${step#iam_ext--}
    from=${step%--*}; to=${step#*--}
    drop_databases
    createdb "$fresh_db"; createdb "$upgraded_db"
    sql -d "$fresh_db" -c "CREATE EXTENSION iam_ext VERSION '$to'"
    sql -d "$upgraded_db" -c "CREATE EXTENSION iam_ext VERSION '$from'" \
        -c "ALTER EXTENSION iam_ext UPDATE TO '$to'"
    schema_of "$fresh_db" >"$scratch/fresh"
    schema_of "$upgraded_db" >"$scratch/upgraded"
    if diff "$scratch/fresh" "$scratch/upgraded" >"$scratch/diff"; then
        echo "$from -> $to: same $(grep -c '' "$scratch/fresh") definitions as a fresh $to"
    else
        echo "$from -> $to differs from a fresh $to (< fresh, > upgraded):"; cat "$scratch/diff"
        failures=$((failures + 1))
    fi
    # Every version reaches the newest with a plain ALTER EXTENSION UPDATE.
    drop_databases; createdb "$upgraded_db"
    sql -d "$upgraded_db" -c "CREATE EXTENSION iam_ext VERSION '$from'" -c 'ALTER EXTENSION iam_ext UPDATE'
    version=$(installed_version "$upgraded_db")
    if [ "$version" != "$default_version" ]; then
        echo "$from: ALTER EXTENSION UPDATE reached $version, not $default_version"
        failures=$((failures + 1))
    fi
done
[ $failures -eq 0 ] || { echo "FAIL: $failures upgrade check(s)"; exit 1; }
echo "PASS: ${#upgrades[@]} upgrade script(s) give the same extension as a fresh install"
