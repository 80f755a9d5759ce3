#!/usr/bin/env bash
# The registry workflows end to end, against a real registry on this machine: starts Debian's
# docker-registry on 127.0.0.1 (a free port, storage in a temporary directory), pushes two
# versions of an image with skopeo (built as OCI layouts by the python3 standard library), makes a
# deployment repository that uses it, then runs scan, resolve --record-notes, drift (before and
# after the tag is re-pushed), check --verify-registry and pin. Stops the registry on exit.
#   bash examples/registry-demo.sh [BINARY]     (default: build/src/changetrail)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ct=$(realpath "${1:-$here/../build/src/changetrail}")
[ -x "$ct" ] || { echo "registry-demo: $ct is not built (bash ci/setup.sh)" >&2; exit 2; }
for tool in docker-registry skopeo python3 git; do
  command -v "$tool" >/dev/null || { echo "registry-demo: $tool is missing (bash ci/install-deps.sh)" >&2; exit 2; }
done
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
cat >"$work/registry.yml" <<YAML
version: 0.1
storage:
  filesystem: {rootdirectory: $work/storage}
  delete: {enabled: true}
http: {addr: "$host"}
log: {level: error}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://$host/v2/')" 2>/dev/null && break
  sleep 0.1
done

# push VERSION REVISION: an image whose config labels carry the version and source revision
push() {
  python3 - "$work/oci-$1" "$1" "$2" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, version, revision = sys.argv[1:]
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open("%s/blobs/sha256/%s" % (out, h), "wb").write(data)
    return "sha256:" + h, len(data)
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w") as t:
    body = ("web " + version + "\n").encode()
    info = tarfile.TarInfo("VERSION"); info.size = len(body); info.mtime = 0
    t.addfile(info, io.BytesIO(body))
layer = gzip.compress(raw.getvalue(), mtime=0)
ld, ll = blob(layer)
labels = {"org.opencontainers.image.version": version, "org.opencontainers.image.revision": revision,
          "org.opencontainers.image.source": "https://github.com/acme/web"}
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": labels},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode()
cd, cl = blob(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cl},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ll}]}).encode()
md, ml = blob(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
           "size": ml, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
  skopeo copy -q --dest-tls-verify=false "oci:$work/oci-$1:latest" "docker://$host/acme/web:1.4"
}

push 1.4.2 8c1f0a6e2d7b4c3a9e5f1d2b6a8c0e4f7a9b3d51
export GIT_AUTHOR_NAME="Ada Ops" GIT_AUTHOR_EMAIL=ada@example.com GIT_COMMITTER_NAME="Ada Ops" GIT_COMMITTER_EMAIL=ada@example.com
git init -q -b main "$work/deploy"
mkdir -p "$work/deploy/clusters/prod"
cat >"$work/deploy/clusters/prod/web.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: web
          image: $host/acme/web:1.4   # bumped by the release bot
YAML
git -C "$work/deploy" add -A
git -C "$work/deploy" -c commit.gpgsign=false commit -q -m "web: deploy 1.4"

export CHANGETRAIL_LEDGER=$work/ledger.db
run() { echo "\$ changetrail $*" | sed "s#$work/##g"; { s=0; "$ct" "$@" 2>&1 || s=$?; echo "(exit $s)"; } | sed "s#$work/##g"; echo; }
cd "$work"
run scan --repo deploy
run resolve --repo deploy --insecure-registry "$host" --record-notes
run drift --repo deploy --insecure-registry "$host"
echo "# the tag acme/web:1.4 is re-pushed with other content (a rebuild)"
push 1.4.3 f00dfeed2d7b4c3a9e5f1d2b6a8c0e4f7a9b3d51
echo
run drift --repo deploy --insecure-registry "$host"
run pin deploy --insecure-registry "$host"
run pin deploy --insecure-registry "$host" --write
run check --verify-registry --insecure-registry "$host" deploy
