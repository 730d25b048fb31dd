# Sourced by the pgbench benchmarks.
# race_pgbench ROUNDS PGOPTIONS ARGUMENTS NAME SCRIPT [NAME SCRIPT ...]: runs
# each pgbench script in turn for $seconds, ROUNDS times over (at most
# $IAM_BENCH_ROUNDS, for a smoke run), so that a noisy neighbour slows all of
# them alike, and leaves each one's TPS per round in tps_rounds[NAME].
declare -A tps_rounds
race_pgbench() {
    local rounds=$1 options=$2 arguments=$3
    shift 3
    local -a runs=("$@")
    local round i tps
    [ -n "${IAM_BENCH_ROUNDS:-}" ] && [ "$IAM_BENCH_ROUNDS" -lt "$rounds" ] && rounds=$IAM_BENCH_ROUNDS
    for round in $(seq "$rounds"); do
        for ((i = 0; i < ${#runs[@]}; i += 2)); do
            # shellcheck disable=SC2086  # ARGUMENTS are words for pgbench
            tps=$(PGOPTIONS="$options" pgbench -n -M prepared $arguments -T "$seconds" \
                      -f "${runs[i + 1]}" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
            tps_rounds[${runs[i]}]+="${tps:-0} "
        done
    done
}

# mix_pgbench ROUNDS PGOPTIONS ARGUMENTS NAME SCRIPT [NAME SCRIPT ...]: runs
# the scripts together, one pgbench run of $seconds per round (ROUNDS, at
# most $IAM_BENCH_ROUNDS), each transaction picking one of them at random:
# a noisy neighbour then slows all of them alike, at the grain of a
# transaction instead of a run, for cases that differ by a few
# microseconds. Leaves in tps_rounds[NAME] each one's transactions per
# second as its mean latency gives them (1 / latency), which ratio and
# report_pgbench read as they read race_pgbench's.
mix_pgbench() {
    local rounds=$1 options=$2 arguments=$3
    shift 3
    local -a runs=("$@") files=()
    local round i output tps
    [ -n "${IAM_BENCH_ROUNDS:-}" ] && [ "$IAM_BENCH_ROUNDS" -lt "$rounds" ] && rounds=$IAM_BENCH_ROUNDS
    for ((i = 0; i < ${#runs[@]}; i += 2)); do files+=(-f "${runs[i + 1]}"); done
    for round in $(seq "$rounds"); do
        # shellcheck disable=SC2086  # ARGUMENTS are words for pgbench
        output=$(PGOPTIONS="$options" pgbench -n -M prepared $arguments -T "$seconds" "${files[@]}" 2>/dev/null) || true
        for ((i = 0; i < ${#runs[@]}; i += 2)); do
            # "SQL script N: FILE", then " - latency average = L ms".
            tps=$(awk -v n=$((i / 2 + 1)) '/^SQL script [0-9]+:/ { current = $3 + 0 }
                current == n && /latency average/ && $5 > 0 { printf "%.3f", 1000 / $5 }' <<<"$output")
            tps_rounds[${runs[i]}]+="${tps:-0} "
        done
    done
}

# ratio CASE REFERENCE: "median low high" of CASE's time per transaction
# (1/TPS) over REFERENCE's, round by round (each pair ran side by side).
ratio() {
    awk -v c="${tps_rounds[$1]}" -v f="${tps_rounds[$2]}" 'BEGIN {
        n = split(c, a, " "); split(f, b, " ")
        for (i = 1; i <= n; i++) { r[i] = b[i] / a[i]
            for (j = i; j > 1 && r[j] < r[j - 1]; j--) { t = r[j]; r[j] = r[j - 1]; r[j - 1] = t } }
        printf "%.3f %.3f %.3f", (n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2), r[1], r[n] }'
}

# shown MEDIAN LOW HIGH: "1.02 (0.98 to 1.05)"
shown() { awk -v m="$1" -v l="$2" -v h="$3" 'BEGIN {
    if (l == h) printf "%.2f", m; else printf "%.2f (%.2f to %.2f)", m, l, h }'; }

# report_pgbench FLOOR NAME LABEL [NAME LABEL ...]: a line per case: best TPS,
# time per transaction (best, and the spread of the rounds) and x floor (time
# over the floor's, median of the rounds and range), then what each case
# costs over the floor per transaction, or "below noise" when that is within
# the spread of the floor's own rounds (a case faster than the floor, which
# a reference that is not a true floor allows, is printed "under the floor").
report_pgbench() {
    local floor=$1 name label; shift
    printf '  %-48s %9s %22s %24s\n' case 'best TPS' 'us/transaction (range)' 'x floor (range)'
    local -a cases=("$@")
    for ((i = 0; i < ${#cases[@]}; i += 2)); do
        name=${cases[i]} label=${cases[i + 1]}
        awk -v label="$label" -v r="${tps_rounds[$name]}" -v x="$(shown $(ratio "$name" "$floor"))" 'BEGIN {
            n = split(r, t, " "); lo = hi = 1e6 / t[1]
            for (i = 2; i <= n; i++) { u = 1e6 / t[i]; if (u < lo) lo = u; if (u > hi) hi = u }
            printf "  %-48s %9.0f %22s %24s\n", label, 1e6 / lo, sprintf("%.1f (%.1f to %.1f)", lo, lo, hi), x }'
    done
    for ((i = 0; i < ${#cases[@]}; i += 2)); do
        name=${cases[i]} label=${cases[i + 1]}
        [ "$name" = "$floor" ] && continue
        awk -v label="$label" -v c="${tps_rounds[$name]}" -v f="${tps_rounds[$floor]}" 'BEGIN {
            n = split(c, a, " "); split(f, b, " "); lo = hi = 1e6 / b[1]
            for (i = 1; i <= n; i++) { u = 1e6 / b[i]; if (u < lo) lo = u; if (u > hi) hi = u
                d[i] = 1e6 / a[i] - u
                for (j = i; j > 1 && d[j] < d[j - 1]; j--) { t = d[j]; d[j] = d[j - 1]; d[j - 1] = t } }
            cost = n % 2 ? d[(n + 1) / 2] : (d[n / 2] + d[n / 2 + 1]) / 2
            noise = hi - lo
            if (n < 2 && cost <= 0) printf "  over the floor, %s: below noise (one round, no noise estimate)\n", label
            else if (n < 2) printf "  over the floor, %s: %.1f us per transaction (one round, no noise estimate)\n", label, cost
            else if (cost <= noise && cost >= -noise) printf "  over the floor, %s: below noise (the floor'"'"'s own spread: %.1f us)\n", label, noise
            else if (cost < 0) printf "  under the floor, %s: %.1f us less per transaction (the floor'"'"'s own spread: %.1f us)\n", label, -cost, noise
            else printf "  over the floor, %s: %.1f us per transaction (the floor'"'"'s own spread: %.1f us)\n", label, cost, noise }'
    done
}

# target WHAT CASE REFERENCE OP THRESHOLD: a line of make bench's summary,
# CASE's ratio over REFERENCE against a target (OP '<=' or '>=', or '' for
# none), appended to $IAM_BENCH_SUMMARY_FILE.
target() {
    local what=$1 case=$2 reference=$3 op=$4 threshold=$5 median low high
    read -r median low high <<<"$(ratio "$case" "$reference")"
    printf '%s|%s|%s|%s|%s|%s|%s\n' "$(basename "$0" .sh)" "$what" "$median" "$low" "$high" "$op" "$threshold" \
        >>"${IAM_BENCH_SUMMARY_FILE:-/dev/null}"
}
