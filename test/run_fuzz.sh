#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets of the core (clang, ASan, UBSan)
# and runs each one for IAM_FUZZ_SECONDS (default 60) from its seed corpus in
# test/fuzz/corpus/<target>. New inputs go to a scratch folder; a crashing
# input is kept there and named, to be added to the corpus once fixed.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
seconds=${IAM_FUZZ_SECONDS:-60}

ensure_packages make cmake pkg-config clang libsodium-dev
build="$IAM_ROOT/build-fuzz"
CXX=clang++ cmake -S "$IAM_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIAM_FUZZ=ON >/dev/null &&
    cmake --build "$build" -j2 >/dev/null || die "the fuzz targets did not build"

scratch=$(mktemp -d /tmp/iam_ext_fuzz.XXXXXX)
failed=0
for target in "$build"/fuzz_*; do
    name=$(basename "$target")
    [ -x "$target" ] || continue
    say "$name, ${seconds}s"
    mkdir -p "$scratch/$name"
    if (cd "$scratch/$name" && "$target" -max_total_time="$seconds" -print_final_stats=1 \
            "$scratch/$name" "$IAM_ROOT/test/fuzz/corpus/$name") >"$scratch/$name.log" 2>&1; then
        grep -E "^stat::number_of_executed_units" "$scratch/$name.log" | sed "s/^/  /"
    else
        tail -30 "$scratch/$name.log"
        echo "  CRASH: the input is in $scratch/$name (crash-*); add it to test/fuzz/corpus/$name"
        failed=1
    fi
done
[ $failed -eq 0 ] && rm -rf "$scratch"
exit $failed
