# Thin wrapper over CMake.  `make demo` and `make test` install any missing
# Debian packages first (scripts/deps.sh), then build.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all demo test test-fast bench clean deps deps-test

all: $(BUILD)/drec

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh --test

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DDREC_WERROR=ON >/dev/null

$(BUILD)/drec: deps $(BUILD)/Makefile FORCE
	@cmake --build $(BUILD) -j $(JOBS)

demo: $(BUILD)/drec
	$(BUILD)/drec demo

# The whole suite twice: an optimised build, then AddressSanitizer +
# UndefinedBehaviorSanitizer on the same tests.
test: deps-test $(BUILD)/drec
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDREC_SANITIZE=ON -DDREC_WERROR=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && DREC_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

# Optimised build only (for a quick loop while developing).
test-fast: $(BUILD)/drec
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: $(BUILD)/drec
	bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

FORCE:
