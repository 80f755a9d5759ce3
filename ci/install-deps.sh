#!/usr/bin/env bash
# Installs the Debian packages changetrail needs to build and test, only those that are missing.
# Idempotent: a second run installs nothing and does not touch the network.
set -euo pipefail

build_pkgs=(cmake g++ make pkg-config git
  libgit2-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libcli11-dev catch2
  libfyaml-dev libsqlite3-dev)
test_pkgs=(docker-registry skopeo apache2-utils openssl python3 curl)
fuzz_pkgs=(clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
case "${1:-}" in
  --build-only) ;;
  --with-fuzz) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  *) want+=("${test_pkgs[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci/install-deps: all ${#want[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "ci/install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "ci/install-deps: done"
