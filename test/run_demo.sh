#!/usr/bin/env bash
# `make run`: build and install iam_ext, then either
#   - with DATABASE_URL or PGHOST/PGPORT/PGDATABASE/PGUSER set: install it in
#     that database and show the walkthrough inside a transaction that is
#     rolled back (only the extension stays), or
#   - otherwise: start a PostgreSQL cluster of its own (as the postgres user
#     when run as root) with iam_ext preloaded (its rate limits live in shared
#     memory), load the demo data, show the walkthrough inside a transaction
#     that is rolled back (so that every make run shows the same thing), make
#     an empty database for the README's tour and print connection strings.
#     The server keeps running until `make stop`.
# The cluster lives in .run/ in the checkout, unless the cluster's owner
# cannot reach it (as root, a clone in a folder postgres cannot enter, such
# as root's home): then in a folder of postgres's own named after the
# checkout. .run/cluster says where; `make stop` (--stop) stops it there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUN_DIR="$IAM_ROOT/.run"
DEMO_DB=iam_demo
TOUR_DB=iam_tour
fixtures="$IAM_ROOT/test/fixtures"

# Sets CLUSTER_DIR: where make run keeps its cluster (remembered in
# .run/cluster).
locate_cluster() {
    mkdir -p "$RUN_DIR"
    if [ -f "$RUN_DIR/cluster" ]; then
        CLUSTER_DIR=$(cat "$RUN_DIR/cluster")
        return
    fi
    CLUSTER_DIR=$RUN_DIR
    if [ "$(id -u)" -eq 0 ] && [ ! -d "$RUN_DIR/data" ]; then
        chown postgres: "$RUN_DIR"
        if ! as_cluster_owner test -w "$RUN_DIR"; then
            local home
            home=$(getent passwd postgres | cut -d: -f6)
            CLUSTER_DIR="${home:-/var/lib/postgresql}/iam_ext/$(basename "$IAM_ROOT")-$(printf '%s' "$IAM_ROOT" | sha256sum | cut -c1-8)"
        fi
    fi
    echo "$CLUSTER_DIR" >"$RUN_DIR/cluster"
}

if [ "${1:-}" = --stop ]; then
    CLUSTER_DIR=$RUN_DIR
    [ -f "$RUN_DIR/cluster" ] && CLUSTER_DIR=$(cat "$RUN_DIR/cluster")
    if [ -f "$CLUSTER_DIR/data/postmaster.pid" ]; then
        cluster_stop "$CLUSTER_DIR"
        say "stopped the server in $CLUSTER_DIR"
    else
        say "no server from make run is running"
    fi
    exit 0
fi

ensure_packages $IAM_BUILD_PACKAGES
build_and_install

# The server the user pointed at: install or update the extension there, then
# the walkthrough inside a transaction that is rolled back, which creates
# whatever it needs (the API roles, their grants, the caller's membership in
# them, the demo rows) so that afterwards the server holds the extension only.
existing_server() {
    local target=${DATABASE_URL:-} shown
    shown=$(printf '%s' "${target:-your PG* settings}" | sed -E 's#(://[^:/@]*:)[^@]*@#\1***@#')
    at_server() { psql -X -q -v ON_ERROR_STOP=1 ${target:+"$target"} "$@"; }
    local state
    state=$(at_server -tA -c "SELECT current_user, current_database(),
            coalesce((SELECT default_version FROM pg_available_extensions WHERE name = 'iam_ext'), ''),
            coalesce((SELECT extversion FROM pg_extension WHERE extname = 'iam_ext'), '')") ||
        die "could not connect to $shown"
    local user database available installed
    IFS='|' read -r user database available installed <<<"$state"
    # Without a database named, libpq takes the user's name: say so before
    # installing anything there.
    if [ -z "${PGDATABASE:-}" ] && { [ -z "$target" ] || ! dbname_in_url "$target"; }; then
        say "no database named (PGDATABASE is not set): libpq chose database $database, named after user $user; set PGDATABASE=<database> to choose another"
    fi
    [ -n "$available" ] || die "the server at $shown has no iam_ext files. make run installed them for the PostgreSQL $PG_MAJOR of this machine ($("$PG_CONFIG" --sharedir)/extension); on the server's machine run: make && sudo make install PG_CONFIG=<its pg_config>"
    if [ -z "$installed" ]; then
        at_server -c 'CREATE EXTENSION iam_ext' ||
            die "CREATE EXTENSION iam_ext failed as $user. iam_ext is a trusted extension: a role with CREATE on the database may install it; as a superuser: GRANT CREATE ON DATABASE \"$database\" TO \"$user\";"
        say "created iam_ext $available in database $database of $shown"
    elif [ "$installed" != "$available" ]; then
        at_server -c 'ALTER EXTENSION iam_ext UPDATE' ||
            die "ALTER EXTENSION iam_ext UPDATE failed as $user: connect as the extension's owner, $(at_server -tA -c "SELECT extowner::regrole FROM pg_extension WHERE extname = 'iam_ext'"), or a superuser"
        say "updated iam_ext from $installed to $available in database $database of $shown (ALTER EXTENSION iam_ext UPDATE)"
    else
        say "iam_ext $installed is already installed in database $database of $shown"
    fi
    say "walkthrough on demo data, inside a transaction that is rolled back"
    { echo 'BEGIN;'; cat "$fixtures/walkthrough_setup.sql" "$fixtures/people.sql" "$fixtures/demo.sql" "$fixtures/walkthrough.sql"; echo 'ROLLBACK;'; } |
        at_server || die "the walkthrough stopped (the transaction was rolled back: only the extension stays)"
    say "the walkthrough was rolled back; database $database of $shown holds iam_ext $available and nothing else of the demo"
}

# dbname_in_url URL: whether a postgresql:// URL names a database (a path
# after the host, or dbname= among its parameters).
dbname_in_url() {
    case $1 in
        *[?\&]dbname=?*) return 0 ;;
        postgres://* | postgresql://*) ;;
        *dbname=?*) return 0 ;;
        *) return 1 ;;
    esac
    local rest=${1#*://}
    rest=${rest%%\?*}
    case $rest in */?*) return 0 ;; *) return 1 ;; esac
}

if [ -n "${DATABASE_URL:-}${PGHOST:-}${PGPORT:-}${PGDATABASE:-}${PGUSER:-}" ]; then
    existing_server
    exit 0
fi

# The local cluster keeps its password in .run/password (readable by you).
locate_cluster
if [ -f "$RUN_DIR/password" ]; then
    PGPASSWORD=$(cat "$RUN_DIR/password")
else
    PGPASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    (umask 077 && printf '%s\n' "$PGPASSWORD" >"$RUN_DIR/password")
fi
export PGPASSWORD

if [ -f "$RUN_DIR/port" ]; then port=$(cat "$RUN_DIR/port")
else port=$(free_port "${IAM_RUN_PORT:-5433}"); echo "$port" >"$RUN_DIR/port"; fi

# iam_ext is preloaded: API-key rate limits count in shared memory, which a
# library can only have from server start.
server_options="-c shared_preload_libraries=iam_ext"
built=$(sha256sum "$("$PG_CONFIG" --pkglibdir)/iam_ext.so" | cut -d' ' -f1)
start_cluster() {  # start_cluster start|restart
    as_cluster_owner "$(pg_bin pg_ctl)" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/postgres.log" -w "$1" \
        -o "-p $port -k $CLUSTER_DIR -c listen_addresses=localhost $server_options" >/dev/null ||
        die "PostgreSQL did not start, see $CLUSTER_DIR/postgres.log"
}
if [ ! -d "$CLUSTER_DIR/data" ]; then
    say "creating a PostgreSQL $PG_MAJOR cluster in $CLUSTER_DIR (port $port)"
    if [ "$CLUSTER_DIR" != "$RUN_DIR" ]; then
        mkdir -p "$CLUSTER_DIR" && chown postgres: "$(dirname "$CLUSTER_DIR")"
    fi
    cluster_start "$CLUSTER_DIR" "$port" localhost "$server_options"
    echo "$built" >"$RUN_DIR/loaded"
elif ! as_cluster_owner "$(pg_bin pg_ctl)" -D "$CLUSTER_DIR/data" status >/dev/null 2>&1; then
    say "starting the cluster in $CLUSTER_DIR (port $port)"
    start_cluster start
    echo "$built" >"$RUN_DIR/loaded"
else
    say "the cluster in $CLUSTER_DIR is already running (port $port)"
fi

export PGHOST=localhost PGPORT=$port PGUSER=postgres
# A server started by an older make run, or by hand, may lack the preload;
# a preloaded library that was rebuilt since the server started is loaded
# by a restart only (.run/loaded holds the checksum of the one it runs).
if [ "$(psql -X -q -d postgres -tAc 'SHOW shared_preload_libraries')" != iam_ext ]; then
    say "restarting the cluster with iam_ext preloaded (shared_preload_libraries = iam_ext)"
    start_cluster restart
elif [ "$(cat "$RUN_DIR/loaded" 2>/dev/null)" != "$built" ]; then
    say "restarting the cluster to load the iam_ext just built"
    start_cluster restart
fi
echo "$built" >"$RUN_DIR/loaded"
psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DEMO_DB'" | grep -q 1 ||
    createdb "$DEMO_DB"
say "loading the demo data into $DEMO_DB"
# A demo database from an older make run is updated.
psql -X -q -v ON_ERROR_STOP=1 -d "$DEMO_DB" -f "$fixtures/supabase_roles.sql" -c 'SET client_min_messages = warning' \
    -c 'CREATE EXTENSION IF NOT EXISTS iam_ext' -c 'ALTER EXTENSION iam_ext UPDATE' -c 'RESET client_min_messages' \
    -f "$fixtures/people.sql" -f "$fixtures/demo.sql"
say "walkthrough (inside a transaction that is rolled back: the demo data stay as loaded)"
{ echo 'BEGIN;'; cat "$fixtures/walkthrough.sql"; echo 'ROLLBACK;'; } |
    psql -X -q -v ON_ERROR_STOP=1 -d "$DEMO_DB"

# The README's tour makes its own users and companies: in iam_demo they
# would collide with the demo's. It gets an empty database, made anew by
# every make run.
psql -X -q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $TOUR_DB" \
    -c "CREATE DATABASE $TOUR_DB"

url="postgresql://postgres:$PGPASSWORD@localhost:$port/$DEMO_DB"
tour_url="postgresql://postgres:$PGPASSWORD@localhost:$port/$TOUR_DB"
echo
say "iam_ext is running, with the demo data in database $DEMO_DB. Its connection string:"
echo
echo "$url"
echo
echo "Connect with:"
echo "    psql '$url'"
echo
echo "For the README's tour (it starts with CREATE EXTENSION), an empty database, made anew by every make run:"
echo
echo "$tour_url"
echo
echo "The cluster lives in $CLUSTER_DIR; it keeps running until: make stop"
