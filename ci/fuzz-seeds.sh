#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan, UBSan) in build-fuzz and runs each one over the files
# of its corpus in fuzz/corpus/ only: no mutation, so the run is short and deterministic. Per
# target, <target>_seeds runs the seeds and <target>_reproducers the crash-* reproducers of bugs
# found by fuzzing; an input that crashes, leaks, hangs or breaks an invariant fails its ctest.
# Longer fuzzing: fuzz/README.md.
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
for tool in clang clang++; do
  if ! command -v "$tool" >/dev/null; then
    echo "ci/fuzz-seeds: $tool not found: apt-get install clang libclang-rt-14-dev (or: bash ci/install-deps.sh --with-fuzz)" >&2
    exit 2
  fi
done

CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCHANGETRAIL_FUZZ=ON -DCHANGETRAIL_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j2
# The seed runs are registered in the fuzz/ directory of the build (see fuzz/CMakeLists.txt).
ctest --test-dir "$build_dir/fuzz" -L fuzz -j2 --output-on-failure
