#!/usr/bin/env bash
# Runs every benchmark in bench/ against a throwaway cluster (or, with
# PGHOST/PGDATABASE set, against that server, in a scratch database), prints
# each one's timings and ratios, and ends with the summary: every target, its
# measured ratio (median of the rounds, and range) and whether it is met.
# `make bench` calls it. IAM_BENCH_SECONDS (pgbench seconds per round) and
# IAM_BENCH_ROUNDS (a cap on the rounds) make a short smoke run; BENCH=<name>
# runs one benchmark; IAM_BENCH_SCALE=full runs scale_checks at full size
# (IAM_BENCH_ROWS, IAM_BENCH_PART and IAM_BENCH_COMPANIES below size it further).
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
summary=$(mktemp /tmp/iam_ext_bench_summary.XXXXXX)
trap 'rm -f "$summary"; [ -z "${work:-}" ] || { cluster_stop "$work"; rm -rf "$work"; }' EXIT
export IAM_BENCH_SUMMARY_FILE=$summary
[ -n "${IAM_BENCH_ROUNDS:-}" ] && export PGOPTIONS="${PGOPTIONS:-} -c bench.rounds=$IAM_BENCH_ROUNDS"
# IAM_BENCH_SCALE=full: the scale benchmark at its full size (bench/scale_checks.sql).
[ -n "${IAM_BENCH_SCALE:-}" ] && export PGOPTIONS="${PGOPTIONS:-} -c bench.scale=$IAM_BENCH_SCALE"
# IAM_BENCH_ROWS: the rows per table of scale_checks (10000000 for the manual
# run); IAM_BENCH_PART=tenant|roles: one of its parts; IAM_BENCH_COMPANIES:
# its tenant part's company counts (e.g. 100000, or 1000,100000).
[ -n "${IAM_BENCH_ROWS:-}" ] && export PGOPTIONS="${PGOPTIONS:-} -c bench.scale_rows=$IAM_BENCH_ROWS"
[ -n "${IAM_BENCH_PART:-}" ] && export PGOPTIONS="${PGOPTIONS:-} -c bench.scale_part=$IAM_BENCH_PART"
[ -n "${IAM_BENCH_COMPANIES:-}" ] && export PGOPTIONS="${PGOPTIONS:-} -c bench.scale_companies=$IAM_BENCH_COMPANIES"
started=$SECONDS
# bench/*.sql run in psql; the other scripts drive pgbench themselves.
for bench in "$IAM_ROOT"/bench/*.sql "$IAM_ROOT"/bench/*.sh; do
    name=$(basename "$bench"); name=${name%.*}
    [ "$name" = run ] && continue
    [ -n "${BENCH:-}" ] && [ "$name" != "$BENCH" ] && continue
    say "$name"
    dropdb --if-exists iam_bench >/dev/null 2>&1
    createdb iam_bench
    case $bench in
        *.sql) part=$(mktemp); psql -X -d iam_bench -v bench_name="$name" -v summary_file="$part" -f "$bench"
               cat "$part" >>"$summary"; rm -f "$part" ;;
        *) PGDATABASE=iam_bench "$bench" ;;
    esac
    dropdb iam_bench
done

# A ratio is this case's cost over the other's (more is slower): the median
# of the rounds decides whether a target is met, and "noisy" says that the
# range of the rounds spans the target, so another run may decide otherwise.
echo
say "summary: iam_ext $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$IAM_ROOT/iam_ext.control"), PostgreSQL $(psql -X -tA -d postgres -c 'SHOW server_version' | cut -d' ' -f1), $(date -u +%Y-%m-%d), $((SECONDS - started)) s"
awk -F'|' '
    function fmt(m, l, h) { return l == h ? sprintf("%.2f", m) : sprintf("%.2f (%.2f to %.2f)", m, l, h) }
    BEGIN { printf "| %-90s | %-24s | %-8s | %-14s |\n", "target", "measured (range)", "target", "verdict"
            printf "|%s|%s|%s|%s|\n", "---", "---", "---", "---" }
    {   if ($6 == "") { goal = "-"; verdict = "no target" }
        else {
            goal = $6 " " $7
            met = ($6 == "<=") ? $3 <= $7 : $3 >= $7
            spans = $4 + 0 <= $7 + 0 && $7 + 0 <= $5 + 0 && $4 != $5
            verdict = (met ? "met" : "not met") (spans ? ", noisy" : "")
        }
        printf "| %-90s | %-24s | %-8s | %-14s |\n", $1 ": " $2, fmt($3, $4, $5), goal, verdict }' "$summary"
