# The two commands of the README: `make run` (the main job) and `make test`.
# Both install missing Debian packages first and build everything.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
MODEL      ?= qwen2.5-7b-instruct
MODEL_PATH ?=

.PHONY: all deps build run test unit asan fuzz format clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: plan a catalog model on this machine's detected hardware, then
# chat with SmolLM2-135M-Instruct (or MODEL_PATH=a GGUF file or HF folder).
run: build
	@bash scripts/main-job.sh $(BUILD)/rightsize $(MODEL) "$(MODEL_PATH)"

# Everything CI checks: unit and CLI tests, the same tests under ASan+UBSan,
# and every libFuzzer target for FUZZ_SECONDS each.
test: unit asan fuzz

unit: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRS_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRS_FUZZ=ON -DRS_SANITIZE=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@bash scripts/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' '*.cu')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
