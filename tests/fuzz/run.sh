#!/usr/bin/env bash
# Builds the libFuzzer targets against a coverage- and ASan-instrumented build of the C library
# and runs each for SECONDS (default 60); fails if any target finds a crash, a hang (an input
# over 10 s), a leak or memory over 2 GB. Prints each target's executions and coverage.
# First it runs the inputs of tests/fuzz/regressions/<target>/ (each crashed the library once).
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      targets: checkpoint json architecture idx idx_gz
#
# New inputs go to build/fuzz/corpus/<target>/ (kept between runs; the committed seeds in
# tests/fuzz/corpus/<target>/ are only read); a failing input to build/fuzz/artifacts/.
# Reproduce one with: build/fuzz/fuzz_<target> build/fuzz/artifacts/<target>-crash-…
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(checkpoint json architecture idx idx_gz)

export PATH=/opt/swift/usr/bin:$PATH
scratch=.build-fuzz
out=build/fuzz
mkdir -p "$out/artifacts" "$out/logs"

# The library with ASan and libFuzzer's coverage (8-bit counters, PC table, comparisons), built
# as a plain dynamic library; libFuzzer itself comes with the harness (clang -fsanitize=fuzzer).
# (swiftc's -sanitize-coverage=edge alone gives trace-pc-guard, which libFuzzer no longer reads.)
ARCH_FLAGS=${ARCH_FLAGS-}  # as the Makefile: empty for the portable build
# shellcheck disable=SC2086
if ! swift build -c release --product SmallNetC --scratch-path "$scratch" $ARCH_FLAGS -Xcc -fno-math-errno \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
    >"$out/logs/build.log" 2>&1; then
    tail -30 "$out/logs/build.log"
    echo "fuzz: the instrumented library did not build"
    exit 1
fi

linker=()
command -v ld.lld >/dev/null && linker=(-fuse-ld=lld)
for t in "${targets[@]}"; do
    clang -g -O1 -fsanitize=fuzzer,address "${linker[@]}" -Wall -Wextra -Werror -Iinclude "tests/fuzz/fuzz_$t.c" \
        -L"$scratch/release" -lSmallNetC -lz -Wl,-rpath,"$PWD/$scratch/release" -o "$out/fuzz_$t"
done

# One kernel thread (reproducible), no Swift backtracer (it would hold the crashing process
# instead of letting libFuzzer report), temporary files in a folder of this invocation's own
# (two invocations with different targets may run at once).
tmp=$(mktemp -d "$PWD/$out/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export SMALLNET_NUM_THREADS=1 SWIFT_BACKTRACE=enable=no SMALLNET_FUZZ_TMP="$tmp"
failed=0

# Past crashes, one input at a time so that every one is reported.
for t in "${targets[@]}"; do
    for input in tests/fuzz/regressions/"$t"/*; do
        [ -f "$input" ] || continue
        if "$out/fuzz_$t" "$input" >"$out/logs/regression-$t.log" 2>&1; then
            echo "regression $input: ok"
        else
            echo "regression $input: FAILED"
            grep -E 'ERROR|deadly|#[0-9]+ 0x.* in ' "$out/logs/regression-$t.log" | grep -v -E 'libFuzzer|fuzzer::|__sanitizer|libc.so' |
                head -6 | cut -c1-220 | sed 's/^/    /'
            failed=1
        fi
    done
done
printf '%-13s %10s %9s %9s %8s %6s %s\n' target executions exec/s cov-seeds cov-end corpus result
for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t"
    log=$out/logs/$t.log
    status=0
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -dict=tests/fuzz/smallnet.dict -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov0=$(sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$log" | tail -1)
    cov1=$(sed -n 's/^#[0-9]*[^0-9]*cov: \([0-9]*\).*/\1/p' "$log" | tail -1)
    corp=$(sed -n 's/^#[0-9].* corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -1)
    result=ok
    if [ "$status" -ne 0 ]; then result="FAILED (exit $status)"; failed=1; fi
    printf '%-13s %10s %9s %9s %8s %6s %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov0:-?}" "${cov1:-?}" "${corp:-?}" "$result"
    if [ "$status" -ne 0 ]; then
        grep -E 'ERROR|SUMMARY|deadly|Test unit written|returned|#[0-9]+ 0x' "$log" | head -40 | sed 's/^/    /'
    fi
done
[ "$failed" -eq 0 ] || { echo "fuzz: FAILED (logs in $out/logs, inputs in $out/artifacts)"; exit 1; }
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no crash"
