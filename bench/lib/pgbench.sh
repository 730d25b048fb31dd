# Sourced by the pgbench benchmarks. race_pgbench ROUNDS PGOPTIONS ARGUMENTS
# NAME SCRIPT [NAME SCRIPT ...]: runs each pgbench script in turn for
# $seconds, ROUNDS times over, so that a noisy neighbour slows all of them
# alike, and leaves each one's best TPS in best[NAME].
declare -A best
race_pgbench() {
    local rounds=$1 options=$2 arguments=$3
    shift 3
    local -a runs=("$@")
    local round i tps
    for round in $(seq "$rounds"); do
        for ((i = 0; i < ${#runs[@]}; i += 2)); do
            # shellcheck disable=SC2086  # ARGUMENTS are words for pgbench
            tps=$(PGOPTIONS="$options" pgbench -n -M prepared $arguments -T "$seconds" \
                      -f "${runs[i + 1]}" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
            best[${runs[i]}]=$(awk -v a="${best[${runs[i]}]:-0}" -v b="${tps:-0}" \
                'BEGIN { print (b > a ? b : a) }')
        done
    done
}
