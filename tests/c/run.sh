#!/usr/bin/env bash
# The C suite: the API test against the build folder, then both examples built with pkg-config
# against an installed copy and run on the real data (one short epoch).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CFLAGS="-std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O2"
# The examples are plain C99: no feature macros from the command line, pedantic.
EXAMPLE_CFLAGS="-std=c99 -pedantic -Wall -Wextra -Werror -O2"

echo "== C API test (build folder)"
cc $CFLAGS -Iinclude tests/c/test_api.c -Lbuild/lib -lsmallnet -lm -Wl,-rpath,"$PWD/build/lib" -o "$work/test_api"
cc $CFLAGS -Iinclude tests/c/test_activations.c -Lbuild/lib -lsmallnet -lm -Wl,-rpath,"$PWD/build/lib" -o "$work/test_activations"
"$work/test_activations"
cc $CFLAGS -Iinclude tests/c/test_losses.c -Lbuild/lib -lsmallnet -lm -Wl,-rpath,"$PWD/build/lib" -o "$work/test_losses"
"$work/test_losses"
cc $CFLAGS -Iinclude tests/c/test_optim.c -Lbuild/lib -lsmallnet -lm -Wl,-rpath,"$PWD/build/lib" -o "$work/test_optim"
"$work/test_optim"
"$work/test_api"

echo "== examples against an installed copy (pkg-config)"
make --no-print-directory install PREFIX="$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
cc $EXAMPLE_CFLAGS examples/c/train_fcn.c $(pkg-config --cflags --libs smallnet) -o "$work/train_fcn"
cc $EXAMPLE_CFLAGS examples/c/classify.c $(pkg-config --cflags --libs smallnet) -lz -o "$work/classify"
echo "examples compile with $EXAMPLE_CFLAGS"
readelf -d "$work/prefix/lib/libsmallnet.so" | grep -q 'SONAME.*libsmallnet.so.0'
(cd "$work" && SMOKE=1 LD_LIBRARY_PATH="$work/prefix/lib" ./train_fcn)
(cd "$work" && LD_LIBRARY_PATH="$work/prefix/lib" ./classify fcn100k.safetensors 500) | tee "$work/classify.out"
# Raw test images through the model's own preprocessing: class names, and the accuracy a model
# trained for one short epoch reaches (a model fed unprepared pixels stays near chance).
grep -q '^image 0: .*(true: Ankle boot)$' "$work/classify.out"
accuracy=$(sed -n 's/^500 images, accuracy \([0-9.]*\) %.*/\1/p' "$work/classify.out")
awk -v a="$accuracy" 'BEGIN { exit !(a > 60) }' || { echo "classify: accuracy '$accuracy' % is too low"; exit 1; }
echo "C examples: 2 passed, 0 failed"
