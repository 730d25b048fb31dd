#!/usr/bin/env bash
# `make bench` in a short smoke run (one round, one second per pgbench
# round): every benchmark runs to its end and the summary has its shape, a
# line per target with a ratio, a range and a verdict, and no benchmark
# prints a negative cost. Speed is never checked here: the machines are shared.
# server options: -c shared_preload_libraries=iam_ext
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

out=$(IAM_BENCH_SECONDS=1 IAM_BENCH_ROUNDS=1 "$IAM_ROOT/bench/run.sh" 2>&1) || { echo "$out"; die "make bench failed"; }
summary=$(sed -n '/summary: iam_ext/,$p' <<<"$out")
echo "$summary"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
grep -q '^| target ' <<<"$summary" || fail "no summary table"
lines=$(grep -c '^| [a-z_]*: ' <<<"$summary" || true)
# Every benchmark contributes at least one line.
for bench in "$IAM_ROOT"/bench/*.sql "$IAM_ROOT"/bench/*.sh; do
    name=$(basename "$bench"); name=${name%.*}
    [ "$name" = run ] && continue
    grep -q "^| $name: " <<<"$summary" || fail "$name has no line in the summary"
done
bad=$(grep '^| [a-z_]*: ' <<<"$summary" |
      grep -Ev '\| [0-9]+\.[0-9]{2}( \([0-9]+\.[0-9]{2} to [0-9]+\.[0-9]{2}\))? +\| (<=|>=) [0-9.]+ +\| (met|not met)(, noisy)? +\|$|\| [0-9]+\.[0-9]{2}( \([0-9.]+ to [0-9.]+\))? +\| - +\| no target +\|$' || true)
[ -z "$bad" ] || fail "summary lines without a ratio, a target and a verdict: $bad"
negative=$(grep -E 'over the floor.*: -[0-9]' <<<"$out" || true)
[ -z "$negative" ] || fail "a negative cost was printed: $negative"
[ "$failures" -eq 0 ] || exit 1
echo "PASS: make bench smoke run: $lines summary lines, each with a ratio and a verdict"
