#!/usr/bin/env bash
# `make run` from a clone in a folder the postgres user cannot enter, as a
# new user clones into root's home: as root, clone this repository into a
# fresh folder of mode 0700, run `make run` there, connect with the
# connection string it prints, run it a second time (which reuses the
# cluster), and `make stop`. Needs root (the case does not arise otherwise).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: make run from a 0700 folder is a case for root only"; exit 0; }
home=$(mktemp -d /root/iam_ext_clone.XXXXXX)  # mktemp makes it 0700
clone="$home/iam_ext"
run_make() {  # as a new user would: none of the test cluster's settings
    env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGPASSWORD -u DATABASE_URL \
        make -C "$clone" -s "$@"
}
finish() {
    run_make stop >/dev/null 2>&1 || true
    [ -f "$clone/.run/cluster" ] && rm -rf "$(cat "$clone/.run/cluster")"
    rm -rf "$home"
    # The clone installed its own build: put this checkout's back.
    make -C "$IAM_ROOT" -s install >/dev/null
}
trap finish EXIT

git clone -q "$IAM_ROOT" "$clone"
echo "clone in $clone ($(stat -c %a "$home"))"
run_make run >"$home/run.log" 2>&1 || { cat "$home/run.log"; echo "FAIL: make run exited non-zero"; exit 1; }
# The first connection string printed is the demo's (the second, the tour's empty database).
url=$(grep -o "postgresql://[^']*" "$home/run.log" | head -1)
where=$(sed -n 's/^The cluster lives in \(.*\); .*/\1/p' "$home/run.log")
[ -n "$url" ] && [ -n "$where" ] || { cat "$home/run.log"; echo "FAIL: no connection string or cluster folder printed"; exit 1; }
echo "cluster in $where"
version=$(psql -X -tA "$url" -c "SELECT extversion FROM pg_extension WHERE extname = 'iam_ext'")
[ "$version" = "$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$IAM_ROOT/iam_ext.control")" ] ||
    { echo "FAIL: the printed connection string reaches iam_ext '$version'"; exit 1; }
echo "connected with the printed string: iam_ext $version"
run_make run >"$home/run2.log" 2>&1 || { cat "$home/run2.log"; echo "FAIL: a second make run failed"; exit 1; }
grep -q "is already running" "$home/run2.log" || { cat "$home/run2.log"; echo "FAIL: the second make run did not reuse the cluster"; exit 1; }
echo "a second make run reuses it"
# Read whole, then searched: grep -q in a pipe would end it at the first
# match, and pipefail would count the writer's broken pipe as a failure.
stopped=$(run_make stop)
grep -q "stopped the server in $where" <<<"$stopped" || { echo "FAIL: make stop did not find the cluster"; exit 1; }
! psql -X -tA "$url" -c "SELECT 1" >/dev/null 2>&1 || { echo "FAIL: the server still answers after make stop"; exit 1; }
echo "PASS: make run from a 0700 clone as root: the cluster in $where, reached by the printed string, reused, stopped"
