#!/usr/bin/env bash
# The portable build on other CPUs, emulated by qemu-user: an AVX2 CPU (Haswell, x86-64-v3), an
# SSE4.2 CPU without AVX (Nehalem, x86-64-v2) and one below the baseline (Core 2, no SSE4.1).
#
# On the first two: the C API test passes, a short training run (1 epoch on 2,000 images)
# passes, each says which kernel variant ran, and a checkpoint trained here predicts the 10,000
# FashionMNIST test images as it does natively (differences from rounding are counted; more
# than MAX_DIFFERENCES fail); on Haswell the C example classify.c prints what it prints here.
# On the third, the C API, the command-line tool and `import smallnet` refuse with a clear
# error instead of dying of an illegal instruction. Needs `make build lib`.
set -euo pipefail
cd "$(dirname "$0")/../.."
QEMU=${QEMU:-qemu-x86_64}
MAX_DIFFERENCES=${MAX_DIFFERENCES:-5}
data=${SMALLNET_DATA:-/usr/share/datasets/fashion-mnist}
bin=$PWD/.build/release/smallnet
lib=$PWD/build/lib
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v "$QEMU" >/dev/null || { echo "test-isa: $QEMU not found (scripts/install-deps.sh installs qemu-user)"; exit 1; }
models=$("$QEMU" -cpu help || true)  # it lists the models, then exits with status 1
for cpu in Haswell Nehalem core2duo; do
    grep -qw "$cpu" <<<"$models" || { echo "test-isa: $QEMU has no CPU model $cpu"; exit 1; }
done
[ -x "$bin" ] && [ -f "$lib/libsmallnet.so" ] || { echo "test-isa: run make build lib first"; exit 1; }

# Runs a command on an emulated CPU; TCG's notes about CPUID bits it does not model are dropped.
emulate() {
    local cpu=$1
    shift
    "$QEMU" -cpu "$cpu" "$@" 2> >(grep -v "^qemu-x86_64: warning: TCG doesn't support" >&2)
}

# Prints a step's report with the seconds since the previous one.
last=$SECONDS
report() { echo "$* ($((SECONDS - last)) s)"; last=$SECONDS; }

# Prints how a training run's history compares with the native one's, number by number.
compare_history() {
    python3 - "$1" "$2" <<'PY'
import json, sys
native, here = (json.load(open(path))["history"][-1] for path in sys.argv[1:])
for key in ("train_loss", "train_accuracy", "eval_loss", "eval_accuracy"):
    a, b = native[key], here[key]
    note = "the same" if a == b else f"differs by {abs(a - b):.3g} ({abs(a - b) / abs(a):.2g} relative)"
    print(f"  {key}: native {a!r}, here {b!r}: {note}")
PY
}

CFLAGS="-std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O2"
for test in test_api test_activations test_losses test_optim; do
    cc $CFLAGS -Iinclude "tests/c/$test.c" -L"$lib" -lsmallnet -lm -Wl,-rpath,"$lib" -o "$work/$test"
done
cc $CFLAGS -Iinclude tests/isa/unsupported_cpu.c -L"$lib" -lsmallnet -Wl,-rpath,"$lib" -o "$work/unsupported_cpu"
cc -std=c99 -pedantic -Wall -Wextra -Werror -O2 -Iinclude examples/c/classify.c -L"$lib" -lsmallnet -lz \
    -Wl,-rpath,"$lib" -o "$work/classify"

echo "== native: $("$bin" info | grep '^isa:')"
# The checkpoint: a small CNN (every kernel family: convolution, pooling, BatchNorm, GEMM).
"$bin" train --arch cnn --channels 4,8 --epochs 1 --train-limit 2000 --seed 1 --threads 2 \
    --save "$work/cnn.safetensors" > "$work/train-native.txt"
"$bin" predict "$work/cnn.safetensors" "$data/t10k-images-idx3-ubyte.gz" --threads 2 > "$work/predict-native.txt"
"$work/classify" "$work/cnn.safetensors" 500 | grep -v "per image" > "$work/classify-native.txt"
"$bin" train --arch fcn --params 50000 --epochs 1 --train-limit 2000 --seed 1 --threads 2 \
    --json "$work/smoke-native.json" > /dev/null
report "checkpoint trained, 10,000 test images predicted, smoke run"

# The predicted class of each image: the second field of `smallnet predict`'s lines.
classes() { awk '$1 ~ /\[[0-9]+\]$/ { print $1, $2 }' "$1"; }
classes "$work/predict-native.txt" > "$work/classes-native.txt"
[ "$(wc -l < "$work/classes-native.txt")" -eq 10000 ] || { echo "expected 10,000 predictions natively"; exit 1; }

failures=0
# No function of a kernel variant calls the standard library: a generic specialization the
# compiler does not inline is one shared symbol for every variant, and the linker keeps one
# variant's instructions for all of them (an AVX2 conversion called by the baseline kernels dies
# on an SSE CPU, on whichever path first calls it).
for file in "$bin" "$lib/libsmallnet.so"; do
    calls=$(objdump -d --no-show-raw-insn "$file" | awk '/^[0-9a-f]+ <.*>:$/ { name = $2; next }
        /call.*<\$ss/ && name ~ /SmallNetKernels(AVX512|AVX2|Baseline)/ { print name " calls " $NF }' | sort -u)
    if [ -n "$calls" ]; then
        echo "$calls" | head -n 10
        echo "FAIL: kernel variants in $(basename "$file") call the standard library"
        failures=$((failures + 1))
    fi
done
report "no kernel variant calls a shared standard-library symbol"

for pair in Haswell:avx2 Nehalem:baseline; do
    cpu=${pair%%:*} isa=${pair#*:}
    echo "== $cpu (expects the $isa kernels)"
    results=""
    for test in test_activations test_losses test_optim test_api; do
        emulate "$cpu" "$work/$test" > "$work/$test-$cpu.txt" || { cat "$work/$test-$cpu.txt"; echo "FAIL: $test on $cpu"; failures=$((failures + 1)); }
        results="$results$test: $(tail -n 1 "$work/$test-$cpu.txt" | sed 's/^C [a-z]* tests: //'); "
    done
    grep -qx "isa: $isa" "$work/test_api-$cpu.txt" || { echo "FAIL: the C API test on $cpu did not run $isa"; failures=$((failures + 1)); }
    report "C tests: $results$(grep '^isa:' "$work/test_api-$cpu.txt")"

    emulate "$cpu" "$bin" info | grep '^isa:' | tee "$work/info-$cpu.txt"
    grep -q "^isa: $isa " "$work/info-$cpu.txt" || { echo "FAIL: smallnet info on $cpu"; failures=$((failures + 1)); }
    if emulate "$cpu" "$bin" train --arch fcn --params 50000 --epochs 1 --train-limit 2000 --seed 1 --threads 2 \
        --json "$work/smoke-$cpu.json" > "$work/smoke-$cpu.txt"; then
        report "training smoke run (fcn 50K, 1 epoch on 2,000 images, evaluated on 10,000)"
        compare_history "$work/smoke-native.json" "$work/smoke-$cpu.json"
    else
        cat "$work/smoke-$cpu.txt"
        echo "FAIL: training on $cpu"
        failures=$((failures + 1))
    fi

    emulate "$cpu" "$bin" predict "$work/cnn.safetensors" "$data/t10k-images-idx3-ubyte.gz" --threads 2 \
        > "$work/predict-$cpu.txt" || { echo "FAIL: predict on $cpu"; failures=$((failures + 1)); }
    classes "$work/predict-$cpu.txt" > "$work/classes-$cpu.txt"
    different=$(diff "$work/classes-native.txt" "$work/classes-$cpu.txt" | grep -c '^>' || true)
    report "checkpoint on the 10,000 test images: $different predicted classes differ from the native run"
    if [ "$(wc -l < "$work/classes-$cpu.txt")" -ne 10000 ] || [ "$different" -gt "$MAX_DIFFERENCES" ]; then
        echo "FAIL: predictions on $cpu (more than $MAX_DIFFERENCES differ)"
        failures=$((failures + 1))
    fi

    if [ "$cpu" = Haswell ]; then
        emulate "$cpu" "$work/classify" "$work/cnn.safetensors" 500 | grep -v "per image" > "$work/classify-$cpu.txt"
        if diff "$work/classify-native.txt" "$work/classify-$cpu.txt" > /dev/null; then
            report "examples/c/classify.c: the same output as natively ($(wc -l < "$work/classify-native.txt") lines)"
        else
            diff "$work/classify-native.txt" "$work/classify-$cpu.txt" | head -n 20
            echo "FAIL: classify.c on $cpu"
            failures=$((failures + 1))
        fi
    fi
done

echo "== core2duo (below the x86-64-v2 baseline: a clear error)"
emulate core2duo "$work/unsupported_cpu" > "$work/unsupported.txt" || { cat "$work/unsupported.txt"; echo "FAIL: C API on core2duo"; failures=$((failures + 1)); }
echo "C API: $(head -n 1 "$work/unsupported.txt"); $(tail -n 1 "$work/unsupported.txt")"
status=0
emulate core2duo "$bin" info > "$work/cli.txt" 2>&1 || status=$?
echo "command-line tool: exit $status: $(cat "$work/cli.txt")"
if [ "$status" -ne 1 ] || [ "$(wc -l < "$work/cli.txt")" -ne 1 ] || ! grep -q "^smallnet: error: .*x86-64-v2" "$work/cli.txt"; then
    echo "FAIL: the command-line tool on core2duo"
    failures=$((failures + 1))
fi
python=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
status=0
SMALLNET_LIBRARY="$lib/libsmallnet.so" PYTHONPATH="$PWD/python" emulate core2duo "$python" -c 'import smallnet' \
    > "$work/python.txt" 2>&1 || status=$?
echo "import smallnet: exit $status: $(tail -n 1 "$work/python.txt")"
if [ "$status" -eq 0 ] || ! tail -n 1 "$work/python.txt" | grep -q "^ImportError: .*x86-64-v2"; then
    echo "FAIL: import smallnet on core2duo"
    failures=$((failures + 1))
fi
report "core2duo checks"

# Natively, SMALLNET_ISA naming no variant is refused the same way.
SMALLNET_ISA=none-such "$work/unsupported_cpu" > "$work/override.txt" || { cat "$work/override.txt"; failures=$((failures + 1)); }
echo "SMALLNET_ISA=none-such natively: $(head -n 1 "$work/override.txt")"

[ "$failures" -eq 0 ] || { echo "test-isa: $failures failed"; exit 1; }
echo "test-isa: passed in ${SECONDS}s"
