#!/usr/bin/env bash
# Installs what smallnet needs on Debian when it is missing: zlib headers, the FashionMNIST
# data package, pkg-config, and qemu-user (the tests run the library on emulated older CPUs).
# Safe to run again; does nothing when all is there.
# With --build, only what building the library needs (no data set, no qemu): `make lib`, `pip install`.
set -euo pipefail

missing=()
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
if [ "${1:-}" != "--build" ]; then
    [ -d /usr/share/datasets/fashion-mnist ] || [ -n "${SMALLNET_DATA:-}" ] || missing+=(dataset-fashion-mnist)
    command -v qemu-x86_64 >/dev/null || missing+=(qemu-user)
fi
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc)

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "note: add /opt/swift/usr/bin to PATH (the Makefile does this itself)"
    else
        echo "error: Swift 6 is required (https://www.swift.org/install/linux/)" >&2
        exit 1
    fi
fi
