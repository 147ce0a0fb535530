# smallnet: `make` builds, `make run` trains the 100K FCN, `make test` runs every suite.

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

# Code generation: the host's vector unit by default. For a portable build, e.g.
#   make ARCH_FLAGS='-Xcc -march=x86-64-v3'
ARCH_FLAGS ?= -Xswiftc -target-cpu -Xswiftc native
SWIFT_FLAGS := -c release $(ARCH_FLAGS) -Xcc -fno-math-errno
TEST_FLAGS := $(SWIFT_FLAGS) -Xswiftc -enable-testing --scratch-path .build-test
BIN := .build/release/smallnet

.PHONY: all build deps run bench bench-pytorch test test-swift clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	swift build $(SWIFT_FLAGS)

# The main job: the 100K-parameter FCN on the real FashionMNIST, with the tuned defaults.
run: build
	$(BIN) train --arch fcn --params 100000

bench: build
	$(BIN) bench

# smallnet and PyTorch side by side (installs torch into .venv-bench on first use).
bench-pytorch: build
	@[ -x .venv-bench/bin/python ] || (python3 -m venv .venv-bench && .venv-bench/bin/pip install -q torch numpy)
	.venv-bench/bin/python bench/pytorch_reference.py

test: deps test-swift

test-swift:
	SMALLNET_REQUIRE_DATA=1 swift test $(TEST_FLAGS)

clean:
	rm -rf .build .build-test
