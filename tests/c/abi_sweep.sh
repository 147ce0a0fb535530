#!/usr/bin/env bash
# The randomized sweep of the whole C API against build/lib: builds tests/c/abi_sweep.c, checks
# that it calls every function smallnet.h declares, runs CALLS calls (default 100000) from SEED
# (default: $SMALLNET_SWEEP_SEED, else 1), and fails on any crash, hang or broken contract.
# For each failing batch (up to 3) it prints the stack of the crash when gdb is there.
#
#   tests/c/abi_sweep.sh [CALLS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/../.."
calls=${1:-100000}
seed=${2:-${SMALLNET_SWEEP_SEED:-1}}
out=build/abi_sweep
mkdir -p build
cc -std=c11 -O2 -g -Wall -Wextra -Werror -Iinclude tests/c/abi_sweep.c -Lbuild/lib -lsmallnet -lz -lm \
    -Wl,-rpath,"$PWD/build/lib" -o "$out"

# Every function of the header, and nothing else, is in the sweep's table.
if ! diff <(grep -o 'sn_[a-z0-9_]*(' include/smallnet.h | tr -d '(' | sort -u) <("$out" --list | sort) >/dev/null; then
    echo "abi_sweep: the sweep's functions differ from smallnet.h's (< header only, > sweep only):"
    diff <(grep -o 'sn_[a-z0-9_]*(' include/smallnet.h | tr -d '(' | sort -u) <("$out" --list | sort) || true
    exit 1
fi
echo "abi_sweep: all $("$out" --list | wc -l) functions of smallnet.h are in the sweep"

# One kernel thread (reproducible); no Swift backtracer (the parent reports the call).
export SMALLNET_NUM_THREADS=1 SWIFT_BACKTRACE=enable=no
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$out" "$seed" "$calls" | tee "$log" || status=$?
if [ "$status" -ne 0 ] && command -v gdb >/dev/null; then
    grep -o '^FAIL seed [0-9]* batch [0-9]*' "$log" | head -3 | while read -r _ _ s _ b; do
        echo "== stack of seed $s batch $b"
        gdb -q -batch -ex 'set follow-fork-mode child' -ex run -ex bt --args "$out" "$s" "$calls" --batch="$b" 2>&1 |
            grep -E '^#[0-9]' | head -8 | cut -c1-240 || true
    done
fi
exit "$status"
