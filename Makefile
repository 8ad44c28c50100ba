# A thin layer over meson and ninja; see README.md.
#
#   make / make build   install missing build packages, build build/shoald, shoalctl, shoal-smb
#   make test           ASan+UBSan build in build-test, then tests/run (unit + integration +
#                       conformance)
#   make conformance    ASan+UBSan build in build-test, then only the smbtorture conformance
#                       harness, tests/conformance/run (SUITES="smb2.read smb2.lock" selects suites)
#   make run            build, then run shoald with its embedded demo configuration
#   make fuzz           libFuzzer targets (clang) in build-fuzz, each run FUZZ_SECONDS (default
#                       60); new inputs are merged into tests/fuzz/corpus (tests/fuzz/run)
#   make bench          optimized build in build, then bench/run: shoal against a private Samba
#                       smbd side by side, results in bench/results (BENCH_ARGS="--quick" or
#                       "--only read,write" pass options; see bench/run --help). Not part of test.
#   make soak           optimized build in build, then tests/soak/run: 64 clients mixing metadata
#                       and data operations for SOAK_SECONDS (default 600) while the server's RSS
#                       and descriptors are sampled; results in tests/soak/results. Not part of test.
#   make clean          remove the build folders (./run, the demo's share and state, stays)
#
# Variables: BUILD, BUILD_TEST, BUILD_FUZZ (folders), JOBS (parallel jobs, default 2),
# FUZZ_SECONDS, FUZZ_TARGETS (names of tests/fuzz/fuzz_NAME.c; default all), BENCH_ARGS,
# SOAK_SECONDS.

BUILD      ?= build
BUILD_TEST ?= build-test
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
JOBS       ?= 2
MESON      ?= meson
NINJA      ?= ninja

.PHONY: all build test conformance fuzz bench soak run clean deps-build deps-test

all: build

deps-build:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh build test

# A folder without build.ninja is left over from a failed setup: start it afresh.
build: deps-build
	@if [ ! -f $(BUILD)/build.ninja ]; then \
		rm -rf $(BUILD) && $(MESON) setup $(BUILD) --buildtype=debugoptimized; \
	fi
	$(NINJA) -C $(BUILD) -j$(JOBS)

# tests/run builds build-test itself (ninja -k 0), so a broken build is reported as one failed
# check next to the unit tests that still built.
test: deps-test
	@if [ ! -f $(BUILD_TEST)/build.ninja ]; then \
		rm -rf $(BUILD_TEST) && $(MESON) setup $(BUILD_TEST) --buildtype=debugoptimized \
			-Db_sanitize=address,undefined -Db_lundef=false; \
	fi
	SHOAL_BUILD_TEST=$(BUILD_TEST) JOBS=$(JOBS) tests/run

conformance: deps-test
	@if [ ! -f $(BUILD_TEST)/build.ninja ]; then \
		rm -rf $(BUILD_TEST) && $(MESON) setup $(BUILD_TEST) --buildtype=debugoptimized \
			-Db_sanitize=address,undefined -Db_lundef=false; \
	fi
	$(NINJA) -C $(BUILD_TEST) -j$(JOBS) shoald shoalctl
	SHOAL_BUILD_TEST=$(BUILD_TEST) SHOAL_CONFORMANCE_SUITES="$(SUITES)" tests/conformance/run

fuzz: deps-build
	BUILD_FUZZ=$(BUILD_FUZZ) FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) tests/fuzz/run $(FUZZ_TARGETS)

# bench/run installs its packages and builds shoald, shoalctl and shoal-bench in BUILD itself.
bench:
	BUILD=$(BUILD) JOBS=$(JOBS) bench/run $(BENCH_ARGS)

# tests/soak/run builds shoald and shoalctl in BUILD itself, like bench/run.
soak:
	BUILD=$(BUILD) JOBS=$(JOBS) SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/run

run: build
	exec ./$(BUILD)/shoald

clean:
	rm -rf $(BUILD) $(BUILD_TEST) $(BUILD_FUZZ)
