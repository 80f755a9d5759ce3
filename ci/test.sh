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

# No secret in any test output (issue 4): the fixture's passwords and any JWT (the token server's
# tokens all start with "eyJ") must not appear in what the tests printed.
python3 - "$build_dir" <<'PY' || status=1
import json, os, sys
build = sys.argv[1]
log = os.path.join(build, "Testing", "Temporary", "LastTest.log")
fixture = os.path.join(build, "registry-fixture", "fixture.stopped.json")
text = open(log, errors="replace").read() if os.path.exists(log) else ""
secrets = []
if os.path.exists(fixture):
    f = json.load(open(fixture))
    secrets = [r.get("password", "") for r in (f.get("basic", {}), f.get("token", {})) if r.get("password")]
found = [s for s in secrets if s in text] + (["a JWT (eyJ...)"] if "eyJ" in text else [])
if found:
    print("ci/test: secrets in the test output (%s): %s" % (log, ", ".join("password" if s in secrets else s for s in found)))
    sys.exit(1)
print("ci/test: no password or token in the test output (%d bytes, %d passwords checked)" % (len(text), len(secrets)))
PY

if [ -x ci/fuzz-seeds.sh ] || [ -f ci/fuzz-seeds.sh ]; then
  bash ci/fuzz-seeds.sh || status=$?
fi
exit "$status"
