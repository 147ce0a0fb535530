#!/usr/bin/env bash
# The test suites under AddressSanitizer and ThreadSanitizer, against sanitized builds of the
# library: the Swift tests, the C API test, the C scenarios of tests/sanitize/ (threads.c: the
# threaded ones; files.c: saves into crowded folders) and the Python tests that cross the C
# boundary. Any sanitizer report fails the run.
#
# Usage: scripts/test-sanitize.sh [address] [thread]      (default: both)
# Environment: ARCH_FLAGS as in the Makefile.
#
# What goes where (all ignored by git):
#   .build-asan/, .build-tsan/   one SwiftPM scratch folder per sanitizer: the test bundle and
#                                libSmallNetC.so (the Swift runtime linked dynamically)
#   build/sanitize/{asan,tsan}/  libsmallnet.so, the C programs, logs/ (one log per step),
#                                reports/ (every report of every process, child processes too)
#                                and work/ (the C scenarios' files)
#
# How each part runs:
#   Swift   `swift test --sanitize=…` with the Makefile's TEST_FLAGS.
#   C       clang -fsanitize=… linked against the sanitized library.
#   Python  the ordinary CPython with the sanitizer runtime in LD_PRELOAD. ThreadSanitizer's
#           runtime from this toolchain needs libdispatch and libBlocksRuntime preloaded beside
#           it (it intercepts libdispatch). It checks only instrumented code (the library), and
#           sees the interpreter's GIL through its pthread interceptors, so the uninstrumented
#           interpreter gives no false reports. Under AddressSanitizer leak detection is off
#           (CPython keeps memory at exit by design); the C programs are checked for leaks.
# Each sanitizer writes its reports to files (log_path), so a report from a child process whose
# output a test swallows still fails the step; the canaries (tests/sanitize/canary.c) show first
# that a planted bug is reported and fails a C program and a Python process.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
ROOT=$PWD

SANITIZERS=("$@")
[ ${#SANITIZERS[@]} -gt 0 ] || SANITIZERS=(address thread)
read -r -a ARCH <<<"${ARCH_FLAGS-}"
CLANG=/opt/swift/usr/bin/clang
SWIFT_LIB_DIR=/opt/swift/usr/lib/swift/linux
PYTHON=$(python3 -c 'import sys; print(sys.executable)') # the interpreter itself, not a shim script

# Python tests: everything that crosses the C boundary, short of whole trainings on the real
# data (test_fashion_mnist, test_notebook: minutes of arithmetic the Swift and C suites cover)
# and the comparison with PyTorch (no boundary of ours to check in torch).
PYTHON_ASAN=(tests/test_callbacks.py tests/test_checkpoint.py tests/test_cnn.py tests/test_data.py
    tests/test_errors.py tests/test_hardening.py tests/test_header_consistency.py tests/test_inputs.py
    tests/test_loading.py tests/test_model.py tests/test_optim.py tests/test_sklearn.py
    tests/test_training.py tests/test_travel.py)
# Under ThreadSanitizer (5–15× slower): the tests with threads, callbacks, forks and errors, and
# the quick ones on inputs, CNNs and optimizers. Not test_travel: its worker processes take a
# minute and a half under TSan, and its RSS ratio cannot hold with TSan's shadow memory.
PYTHON_TSAN=(tests/test_hardening.py tests/test_training.py tests/test_callbacks.py tests/test_errors.py
    tests/test_checkpoint.py tests/test_model.py tests/test_inputs.py tests/test_cnn.py tests/test_optim.py)
# Swift tests left out under ThreadSanitizer: single-threaded arithmetic over the whole data set
# (over two minutes under TSan); the thread-count tests cover the pool.
SWIFT_TSAN_SKIP=(--skip 'TrainingTests.testShortTrainingOnRealFashionMNIST'
    --skip 'PreprocessingTests.testFashionMNISTTrainingImagesGiveTheirPublishedConstants')

passed=0
failed=0
summary=()

seconds() { date +%s; }

# step NAME COMMAND...: runs COMMAND with its output in logs/NAME.log and its sanitizer reports
# in reports/NAME.<pid>; passes when it exits 0 and no report was written.
step() {
    local name=$1
    shift
    local log=$OUT/logs/$name.log start rc=0
    rm -f "$OUT/reports/$name".*
    start=$(seconds)
    REPORT_BASE=$OUT/reports/$name "$@" >"$log" 2>&1 || rc=$?
    local took=$(($(seconds) - start)) reports
    reports=$(find "$OUT/reports" -name "$name.*" -type f | sort)
    if [ $rc -eq 0 ] && [ -z "$reports" ]; then
        passed=$((passed + 1))
        summary+=("  pass  $KIND $name (${took}s)")
        echo "  pass  $name (${took}s): $(grep -E 'Executed [0-9]+ tests|[0-9]+ passed' "$log" | tail -1 | sed 's/^[[:space:]]*//')"
    else
        failed=$((failed + 1))
        summary+=("  FAIL  $KIND $name (exit $rc, $(echo "$reports" | grep -c . || true) report files)")
        echo "  FAIL  $name (${took}s, exit $rc): last lines of $log"
        tail -n 25 "$log" | sed 's/^/        /'
        for report in $reports; do
            echo "        --- $report"
            sed 's/^/        /' "$report"
        done
    fi
}

# The options of each sanitizer, with reports written under $REPORT_BASE (set by step).
asan_options() { # detect_leaks quarantine_mb
    echo "halt_on_error=1:abort_on_error=0:detect_leaks=$1:quarantine_size_mb=$2:log_path=$REPORT_BASE"
}
tsan_options() {
    echo "halt_on_error=1:second_deadlock_stack=1:log_path=$REPORT_BASE"
}
with_options() { # runs "$@" with the current sanitizer's options (leaks: 1 or 0; quarantine in MB)
    local leaks=$1 quarantine=$2
    shift 2
    if [ "$KIND" = asan ]; then
        ASAN_OPTIONS=$(asan_options "$leaks" "$quarantine") "$@"
    else
        TSAN_OPTIONS=$(tsan_options) "$@"
    fi
}

# Linker flags a sanitized C program needs: this toolchain's TSan runtime intercepts
# libdispatch, so it is linked with libdispatch and BlocksRuntime.
runtime_libs() {
    [ "$KIND" = tsan ] && echo -L"$SWIFT_LIB_DIR" -ldispatch -lBlocksRuntime -Wl,-rpath,"$SWIFT_LIB_DIR"
    return 0
}

# A C program against the sanitized library: cc_sanitized SOURCE OUTPUT.
cc_sanitized() {
    local source=$1 output=$2
    "$CLANG" -std=c11 -D_DEFAULT_SOURCE -O1 -g -fno-omit-frame-pointer -fsanitize="$SANITIZER" -Iinclude "$source" \
        -L"$OUT" -lsmallnet -lm $(runtime_libs) -Wl,-rpath,"$OUT" -o "$output" 2>&1 |
        { grep -v -e 'ld.gold: warning: Cannot export local symbol' -e 'implicit-const-int-float-conversion' \
            -e 'RAND_MAX' -e '^ *[0-9]* | ' -e '^ *| ' -e 'warning generated' || true; }
    [ -x "$output" ]
}

python_preload() {
    if [ "$KIND" = asan ]; then
        "$CLANG" -print-file-name=libclang_rt.asan-x86_64.so
    else
        echo "$("$CLANG" -print-file-name=libclang_rt.tsan-x86_64.so) $SWIFT_LIB_DIR/libdispatch.so $SWIFT_LIB_DIR/libBlocksRuntime.so"
    fi
}

# The canaries: a planted bug must give a non-zero exit and a report.
canary_c() {
    local name=$1 bug=$2 rc=0
    REPORT_BASE=$OUT/canary-reports/$name with_options 0 256 "$OUT/canary" "$bug" >/dev/null 2>&1 || rc=$?
    [ $rc -ne 0 ] && grep -qs -e "ERROR: AddressSanitizer: heap-use-after-free" -e "WARNING: ThreadSanitizer: data race" \
        "$OUT/canary-reports/$name".*
}
canary_python() {
    local name=$1 code=$2 rc=0
    REPORT_BASE=$OUT/canary-reports/$name LD_PRELOAD="$(python_preload)" with_options 0 256 \
        "$PYTHON" -c "import ctypes, threading; lib = ctypes.CDLL('$OUT/libcanary.so'); $code" >/dev/null 2>&1 || rc=$?
    [ $rc -ne 0 ] && grep -qs -e "ERROR: AddressSanitizer: heap-use-after-free" -e "WARNING: ThreadSanitizer: data race" \
        "$OUT/canary-reports/$name".*
}
canaries() {
    rm -rf "$OUT/canary-reports"
    mkdir -p "$OUT/canary-reports"
    "$CLANG" -O1 -g -fsanitize="$SANITIZER" -DCANARY_MAIN tests/sanitize/canary.c -o "$OUT/canary" -lpthread \
        $(runtime_libs) 2>&1 | { grep -v 'ld.gold: warning: Cannot export local symbol' || true; }
    "$CLANG" -O1 -g -fsanitize="$SANITIZER" -shared -fPIC tests/sanitize/canary.c -o "$OUT/libcanary.so"
    if [ "$KIND" = asan ]; then
        canary_c c use-after-free &&
            canary_python python 'lib.canary_use_after_free()'
    else
        canary_c c race &&
            canary_python python 'ts = [threading.Thread(target=lib.canary_bump, args=(100000,)) for _ in range(2)]
[t.start() for t in ts]; [t.join() for t in ts]'
    fi
}

swift_flags() {
    echo -c release "${ARCH[@]}" -Xcc -fno-math-errno -Xswiftc -enable-testing --sanitize="$SANITIZER" \
        --scratch-path ".build-$KIND"
}

run_swift_tests() {
    local skip=()
    [ "$KIND" = tsan ] && skip=("${SWIFT_TSAN_SKIP[@]}")
    # The XCTest runner leaks its own test-case objects at exit: leaks are checked on the C side.
    SMALLNET_REQUIRE_DATA=1 with_options 0 256 swift test --skip-build $(swift_flags) "${skip[@]}"
}

run_python_tests() {
    local tests=("${PYTHON_ASAN[@]}")
    [ "$KIND" = tsan ] && tests=("${PYTHON_TSAN[@]}")
    # quarantine 1 MB: the RSS tests of 10,000 create/free cycles allow 5 MB of growth.
    (cd python && SMALLNET_REQUIRE_DATA=1 SMALLNET_LIBRARY="$OUT/libsmallnet.so" LD_PRELOAD="$(python_preload)" \
        with_options 0 1 "$PYTHON" -m pytest -q -p no:cacheprovider --durations=5 "${tests[@]}")
}

total_start=$(seconds)
for SANITIZER in "${SANITIZERS[@]}"; do
    case $SANITIZER in
    address) KIND=asan ;;
    thread) KIND=tsan ;;
    *) echo "unknown sanitizer '$SANITIZER' (address or thread)" >&2 && exit 2 ;;
    esac
    OUT=$ROOT/build/sanitize/$KIND
    mkdir -p "$OUT/logs" "$OUT/reports"
    echo "== $SANITIZER sanitizer ($KIND)"

    start=$(seconds)
    # One scratch folder serves the test bundle and the library (built second, it compiles only
    # the C shim).
    swift build --product smallnetPackageTests $(swift_flags) 2>&1 | { grep -v 'ld.gold: warning' || true; } | tail -n 3
    swift build --product SmallNetC $(swift_flags) 2>&1 | { grep -v 'ld.gold: warning' || true; } | tail -n 1
    # A fresh copy renamed over the old one, as `make lib` does.
    cp ".build-$KIND/release/libSmallNetC.so" "$OUT/.libsmallnet.so.new"
    mv -f "$OUT/.libsmallnet.so.new" "$OUT/libsmallnet.so"
    echo "  built .build-$KIND and $OUT/libsmallnet.so in $(($(seconds) - start))s"

    if canaries; then
        passed=$((passed + 1))
        summary+=("  pass  $KIND canaries (planted bug reported and failing, in C and in Python)")
        echo "  pass  canaries: a planted bug is reported and fails a C program and a Python process"
    else
        failed=$((failed + 1))
        summary+=("  FAIL  $KIND canaries: a planted bug went unreported or did not fail the run")
        echo "  FAIL  canaries: a planted bug went unreported or did not fail the run"
    fi

    for program in tests/c/test_api.c tests/sanitize/threads.c tests/sanitize/files.c; do
        cc_sanitized "$program" "$OUT/$(basename "$program" .c)"
    done
    rm -rf "$OUT/work"
    mkdir -p "$OUT/work/threads" "$OUT/work/files"

    step swift run_swift_tests
    # quarantine 1 MB: test_api's RSS check over 10,000 create/free cycles allows 5 MB.
    step c-api with_options 1 1 "$OUT/test_api"
    step c-threads with_options 1 256 "$OUT/threads" "$OUT/work/threads"
    step c-files with_options 1 256 "$OUT/files" "$OUT/work/files"
    step python run_python_tests
done

echo "== what ran"
printf '%s\n' "${summary[@]}"
echo "  swift: every XCTest; under thread less ${SWIFT_TSAN_SKIP[1]} and ${SWIFT_TSAN_SKIP[3]}"
echo "  c-api: tests/c/test_api.c; c-threads: tests/sanitize/threads.c; c-files: tests/sanitize/files.c"
[[ " ${SANITIZERS[*]} " == *" address "* ]] && echo "  python under address: ${PYTHON_ASAN[*]#tests/}"
[[ " ${SANITIZERS[*]} " == *" thread "* ]] && echo "  python under thread: ${PYTHON_TSAN[*]#tests/}"
echo "  logs and reports: build/sanitize/<asan|tsan>/{logs,reports}/; $(($(seconds) - total_start))s in all"
echo "sanitize: $passed passed, $failed failed"
[ $failed -eq 0 ]
