#!/usr/bin/env bash
# Installs what is missing (Debian packages only) and builds changetrail into build/.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#   ci/setup.sh             runtime + build dependencies, then build
#   BUILD_DIR=... ci/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh --build-only
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCHANGETRAIL_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j2 --target changetrail
echo "ci/setup: built $build_dir/src/changetrail"
