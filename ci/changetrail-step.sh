#!/usr/bin/env bash
# changetrail as one step of any CI (Jenkins, Buildkite, Tekton, ...). Inputs are environment variables;
# the exit code of changetrail is the exit code of the step.
#
#   CHANGETRAIL_MODE        check (default) | record
#   CHANGETRAIL_REPO        the repository (default: .)
#   CHANGETRAIL_BIN         the changetrail binary (default: changetrail on PATH)
# check:
#   CHANGETRAIL_RANGE       A...B (a pull request: since the merge base) or A..B; empty: check the whole tree
#   CHANGETRAIL_FORMAT      text | json | sarif | junit | github | codequality (default: text)
#   CHANGETRAIL_OUTPUT      write the report to this file (default: stdout)
# record:
#   CHANGETRAIL_LEDGER      the ledger file (read by changetrail itself; keep it between runs)
#   CHANGETRAIL_PUSH_NOTES  1: push refs/notes/changetrail to CHANGETRAIL_REMOTE (default: origin) afterwards;
#                           the remote must accept the push with the credentials the CI already configured
#   CHANGETRAIL_SKIP_RESOLVE 1: scan only, no registry questions (no network; used by the tests)
#
# Exit codes: 0 clean, 1 findings at error severity (check), 2 usage or input error, 3 runtime failure
# (e.g. a registry could not answer in record mode). Nothing from the environment is echoed except the
# command line, which holds no secrets.
set -eu

mode=${CHANGETRAIL_MODE:-check}
repo=${CHANGETRAIL_REPO:-.}
bin=${CHANGETRAIL_BIN:-changetrail}

run() {
  echo "+ $*" >&2
  status=0
  "$@" || status=$?
  return 0
}

case "$mode" in
check)
  set -- check
  if [ -n "${CHANGETRAIL_RANGE:-}" ]; then
    set -- "$@" --range "$CHANGETRAIL_RANGE"
  fi
  set -- "$@" --format "${CHANGETRAIL_FORMAT:-text}"
  if [ -n "${CHANGETRAIL_OUTPUT:-}" ]; then
    set -- "$@" -o "$CHANGETRAIL_OUTPUT"
  fi
  run "$bin" "$@" "$repo"
  exit "$status"
  ;;
record)
  run "$bin" scan --repo "$repo"
  if [ "$status" -ne 0 ]; then
    exit "$status"
  fi
  if [ "${CHANGETRAIL_SKIP_RESOLVE:-0}" != 1 ]; then
    run "$bin" resolve --repo "$repo" --record-notes
    if [ "$status" -ne 0 ]; then
      exit "$status"
    fi
  fi
  if [ "${CHANGETRAIL_PUSH_NOTES:-0}" = 1 ]; then
    if git -C "$repo" show-ref --verify --quiet refs/notes/changetrail; then
      run git -C "$repo" push "${CHANGETRAIL_REMOTE:-origin}" refs/notes/changetrail
      if [ "$status" -ne 0 ]; then
        echo "changetrail-step: pushing refs/notes/changetrail failed" >&2
        exit 3
      fi
    else
      echo "changetrail-step: no refs/notes/changetrail to push" >&2
    fi
  fi
  exit 0
  ;;
*)
  echo "changetrail-step: CHANGETRAIL_MODE must be check or record, not '$mode'" >&2
  exit 2
  ;;
esac
