#!/usr/bin/env bash
# Builds the Python source distribution into DIR (default dist/): the package of python/ with the
# engine's sources under native/ (Package.swift, Sources, include, Makefile, scripts, LICENSE),
# so that `pip install smallnet-*.tar.gz` builds libsmallnet.so with `make -C native lib`.
#
#   scripts/make-sdist.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-dist}")
stage=build/sdist
rm -rf "$stage"
mkdir -p "$stage/native" "$out"

# The tracked files only (no build folders, caches or local libraries).
copy_tracked() {  # copy_tracked DEST PATH...
    local dest=$1
    shift
    git ls-files -z -- "$@" | while IFS= read -r -d '' file; do
        mkdir -p "$dest/$(dirname "$file")"
        cp -pL "$file" "$dest/$file"
    done
}
copy_tracked "$stage/native" Package.swift Sources include Makefile scripts LICENSE smallnet.pc.in
[ -f Package.resolved ] && cp -p Package.resolved "$stage/native/"
(cd python && git ls-files -z -- pyproject.toml setup.py README.md smallnet | while IFS= read -r -d '' file; do
    mkdir -p "../$stage/$(dirname "$file")"
    cp -pL "$file" "../$stage/$file"
done)
cp python/MANIFEST.in "$stage/"
cp -L LICENSE "$stage/LICENSE"  # python/LICENSE is a link into the source tree

python3 -m build --sdist --outdir "$out" "$stage" >"$stage.log" 2>&1 || { tail -20 "$stage.log"; exit 1; }
ls "$out"/smallnet-*.tar.gz
