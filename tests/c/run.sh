#!/usr/bin/env bash
# The C suite: the API test against the build folder, then both examples built with pkg-config
# against an installed copy and run on the real data (one short epoch).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CFLAGS="-std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O2"

echo "== C API test (build folder)"
cc $CFLAGS -Iinclude tests/c/test_api.c -Lbuild/lib -lsmallnet -lm -Wl,-rpath,"$PWD/build/lib" -o "$work/test_api"
"$work/test_api"

echo "== examples against an installed copy (pkg-config)"
make --no-print-directory install PREFIX="$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
for example in train_fcn classify; do
    cc $CFLAGS examples/c/$example.c $(pkg-config --cflags --libs smallnet) -o "$work/$example"
done
readelf -d "$work/prefix/lib/libsmallnet.so" | grep -q 'SONAME.*libsmallnet.so.0'
(cd "$work" && SMOKE=1 LD_LIBRARY_PATH="$work/prefix/lib" ./train_fcn)
(cd "$work" && LD_LIBRARY_PATH="$work/prefix/lib" ./classify fcn100k.safetensors 500)
echo "C examples: 2 passed, 0 failed"
