#!/usr/bin/env bash
# `make test`: every test layer, each against a throwaway cluster of its own
# that is created here and removed at the end, then one summary.
#   --unit-only   the Catch2 suite alone
#   PG_MAJOR=17|18 the suite on that PostgreSQL, in a Debian root (test/in_root.sh)
#   ONLY=<layer>  that layer alone (a name of the summary: unit-catch2,
#                 regress-pg_regress, integration-soak, ...)
set -uo pipefail
shopt -s nullglob
source "$(dirname "$0")/lib.sh"

unit_only=false
[ "${1:-}" = --unit-only ] && unit_only=true

# Another PostgreSQL than the host's (bookworm: 15) runs in a Debian root
# that ships it.
if [ "$PG_MAJOR" != 15 ] && [ -z "${IAM_IN_ROOT:-}" ]; then exec "$IAM_ROOT/test/in_root.sh" test/run_tests.sh; fi

if $unit_only; then ensure_packages make g++ cmake catch2 libsodium-dev
else ensure_packages $IAM_TEST_PACKAGES; fi

work=$(mktemp -d /tmp/iam_ext_test.XXXXXX)
chmod 755 "$work"
cleanup() {
    local dir
    for dir in "$work"/cluster-*; do cluster_stop "$dir"; done
    rm -rf "$work"
}
trap cleanup EXIT
export PGPASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')

results=()
failed=0
record() {  # record LAYER STATUS SECONDS: with the layer's own count of tests
    local counted
    counted=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+|All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed|Tests=[0-9]+|^(PASS|SKIP):.*' \
        "$work/$1.log" | tail -1)
    results+=("$(printf '%-28s %-5s %4ss  %s' "$1" "$2" "$3" "$counted")")
    [ "$2" = PASS ] || failed=1
}

# run_layer NAME COMMAND...: runs COMMAND in a subshell (so that a fatal
# error ends only this layer), its output kept in $work/NAME.log and shown
# only when it fails.
run_layer() {
    local name=$1 start=$SECONDS; shift
    [ -z "${ONLY:-}" ] || [ "$name" = "$ONLY" ] || return 0
    say "$name"
    if ( "$@" ) >"$work/$name.log" 2>&1; then
        record "$name" PASS $((SECONDS - start))
    else
        cat "$work/$name.log"
        record "$name" FAIL $((SECONDS - start))
    fi
}

# with_cluster NAME COMMAND...: COMMAND runs with PG* pointing at a new
# cluster, which is stopped when the layer's subshell exits. The server
# options are $cluster_options.
cluster_options=""
with_cluster() {
    local name=$1; shift
    local dir="$work/cluster-$name" port
    port=$(free_port 55432)
    trap "cluster_stop '$dir'" EXIT
    cluster_start "$dir" "$port" "" "$cluster_options"
    PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres "$@"
}

unit_tests() {
    cmake -S "$IAM_ROOT" -B "$IAM_ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
        cmake --build "$IAM_ROOT/build" -j2 &&
        ctest --test-dir "$IAM_ROOT/build" --output-on-failure -j2
}

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitized_unit_tests() {
    cmake -S "$IAM_ROOT" -B "$IAM_ROOT/build-sanitize" -DCMAKE_BUILD_TYPE=Debug \
        -DIAM_SANITIZE=ON >/dev/null &&
        cmake --build "$IAM_ROOT/build-sanitize" -j2 &&
        ctest --test-dir "$IAM_ROOT/build-sanitize" --output-on-failure -j2
}

regression_tests() {
    # The boundary probe is loaded by the server, which may not be able to
    # read the source tree: give it a copy it can.
    make -C "$IAM_ROOT" -s test/boundary/iam_boundary_probe.so PG_CONFIG="$PG_CONFIG" || return 1
    mkdir -p "$work/probe" && cp "$IAM_ROOT/test/boundary/iam_boundary_probe.so" "$work/probe/"
    chmod -R a+rX "$work/probe"
    IAM_BOUNDARY_PROBE="$work/probe/iam_boundary_probe.so" \
        make -C "$IAM_ROOT" -s installcheck PG_CONFIG="$PG_CONFIG" ||
        { cat "$IAM_ROOT/regression.diffs" 2>/dev/null; return 1; }
}

pgtap_tests() {
    createdb iam_pgtap &&
        psql -X -q -v ON_ERROR_STOP=1 -d iam_pgtap \
            -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION iam_ext' &&
        pg_prove --dbname iam_pgtap --verbose --failures "$IAM_ROOT"/test/pgtap/*.sql
}

run_layer unit-catch2 unit_tests
run_layer unit-catch2-asan-ubsan sanitized_unit_tests
if ! $unit_only; then
    build_and_install
    run_layer regress-pg_regress with_cluster regress regression_tests
    run_layer pgtap-pg_prove with_cluster pgtap pgtap_tests
    # A script names the server options it needs on a line
    # "# server options: ..." (the adversarial suite preloads iam_ext).
    for script in "$IAM_ROOT"/test/integration/*.sh; do
        name="integration-$(basename "$script" .sh)"
        cluster_options=$(sed -n 's/^# server options: //p' "$script")
        run_layer "$name" with_cluster "$(basename "$script" .sh)" "$script"
    done
fi

if [ ${#results[@]} -eq 0 ]; then echo "no layer is named ${ONLY:-}"; exit 1; fi
echo
echo "iam_ext test summary"
printf '  %s\n' "${results[@]}"
if [ $failed -ne 0 ]; then echo "FAILED"; exit 1; fi
echo "all passed"
