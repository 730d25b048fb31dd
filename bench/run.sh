#!/usr/bin/env bash
# Runs every benchmark in bench/*.sql against a throwaway cluster (or, with
# PGHOST/PGDATABASE set, against that server, in a scratch database) and
# prints each one's timings and ratios. `make bench` calls it.
set -euo pipefail
source "$(dirname "$0")/../test/lib.sh"

if [ -z "${PGHOST:-}${PGDATABASE:-}" ]; then
    ensure_packages $IAM_BUILD_PACKAGES
    build_and_install
    work=$(mktemp -d /tmp/iam_ext_bench.XXXXXX); chmod 755 "$work"
    export PGPASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    port=$(free_port 56432)
    trap 'cluster_stop "$work"; rm -rf "$work"' EXIT
    # Room for every table of a benchmark in shared buffers: the runs compare
    # CPU cost, not the page cache. iam_ext preloaded, as docs/security.md
    # advises deploying it (the guessing benchmark counts failures server-wide).
    cluster_start "$work" "$port" "" "-c shared_buffers=512MB -c shared_preload_libraries=iam_ext"
    export PGHOST=$work PGPORT=$port PGUSER=postgres
fi
# bench/*.sql run in psql; the other scripts drive pgbench themselves.
for bench in "$IAM_ROOT"/bench/*.sql "$IAM_ROOT"/bench/*.sh; do
    [ "$(basename "$bench")" = run.sh ] && continue
    say "$(basename "$bench")"
    dropdb --if-exists iam_bench >/dev/null 2>&1
    createdb iam_bench
    case $bench in
        *.sql) psql -X -d iam_bench -f "$bench" ;;
        *) PGDATABASE=iam_bench "$bench" ;;
    esac
    dropdb iam_bench
done
