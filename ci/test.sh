#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings as errors, runs every
# test (unit, black-box, corpus, robustness), then the fuzz targets over their seed corpora.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh --with-fuzz
build_dir=${BUILD_DIR:-build-test}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHANGETRAIL_WERROR=ON -DCHANGETRAIL_TESTS=ON >/dev/null
cmake --build "$build_dir" -j2
status=0
(cd "$build_dir" && ctest -j2 --output-on-failure --timeout 900) || status=$?

if [ -x ci/fuzz-seeds.sh ] || [ -f ci/fuzz-seeds.sh ]; then
  bash ci/fuzz-seeds.sh || status=$?
fi
exit "$status"
