#!/usr/bin/env bash
# Writes a small deployment repository to examples/repo (or $1): a real git repository with a
# few commits, several environments and every format changetrail reads, and a few references
# that are not pinned. Deterministic: fixed authors, dates and contents.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here/repo}
rm -rf "$dest"
mkdir -p "$dest"
cd "$dest"

export GIT_AUTHOR_NAME="Ada Ops" GIT_AUTHOR_EMAIL="ada@example.com"
export GIT_COMMITTER_NAME="Ada Ops" GIT_COMMITTER_EMAIL="ada@example.com"
git init -q -b main .
git config commit.gpgsign false

commit() { # commit "message" "date"
  git add -A
  GIT_AUTHOR_DATE="$2" GIT_COMMITTER_DATE="$2" git commit -q -m "$1"
}

# Digests below are sha256 values of fixed strings: well-formed, and stable across runs.
digest() { printf 'sha256:%s' "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"; }
web_digest=$(digest web-1.4.2)
api_digest=$(digest api-2.8.0)
redis_digest=$(digest redis-7.2.4)

mkdir -p clusters/prod clusters/staging base overlays/dev apps/shop compose images/web

cat > .changetrail.yaml <<YAML
# changetrail configuration for this deployment repository
environments:
  - {name: prod, paths: ["clusters/prod/**"]}
  - {name: staging, paths: ["clusters/staging/**"]}
policy:
  allowed_registries: ["ghcr.io/acme/*", "docker.io/library/*", "registry.k8s.io/*"]
ignore: ["**/testdata/**"]
YAML

cat > clusters/prod/web.yaml <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  template:
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/web:1.4.2@${web_digest}
      containers:
        - name: web
          image: ghcr.io/acme/web:1.4.2@${web_digest}
          ports: [{containerPort: 8080}]
        - name: metrics
          image: ghcr.io/acme/metrics-sidecar:0.9.1
YAML

cat > clusters/prod/api.yaml <<YAML
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: api
  namespace: shop
spec:
  interval: 10m
  chart:
    spec:
      chart: api
      version: 3.2.1
      sourceRef: {kind: HelmRepository, name: acme-charts, namespace: flux-system}
  values:
    image:
      repository: ghcr.io/acme/api
      tag: 2.8.0@${api_digest}
    worker:
      image:
        repository: ghcr.io/acme/api-worker
        tag: 2.8.0
YAML

cat > clusters/prod/charts.yaml <<YAML
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: acme-charts
  namespace: flux-system
spec:
  type: oci
  url: oci://ghcr.io/acme/charts
YAML

cat > clusters/staging/web.yaml <<YAML
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
          image: ghcr.io/acme/web:main
YAML

cat > base/deployment.yaml <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cart
spec:
  template:
    spec:
      containers:
        - name: cart
          image: ghcr.io/acme/cart
YAML
cat > base/kustomization.yaml <<YAML
resources: [deployment.yaml]
YAML
cat > overlays/dev/kustomization.yaml <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
images:
  - name: ghcr.io/acme/cart
    newTag: 0.3.0
YAML

cat > apps/shop/values.yaml <<YAML
# Helm values for the shop chart
image:
  registry: docker.io
  repository: library/redis
  tag: 7.2.4@${redis_digest}
search:
  image: docker.io/library/elasticsearch:latest
YAML

cat > compose/compose.yaml <<'YAML'
services:
  db:
    image: postgres:${PG_VERSION:-16.2}
  cache:
    image: redis
  tools:
    image: ${REGISTRY}/toolbox:1.0
YAML
printf 'REGISTRY=ghcr.io/acme\n' > compose/.env

cat > images/web/Dockerfile <<'DOCKER'
# syntax=docker/dockerfile:1
ARG NODE_VERSION=20.11.1
FROM node:${NODE_VERSION}-alpine AS build
WORKDIR /src
COPY . .
RUN npm ci && npm run build

FROM nginx:1.25.4-alpine
COPY --from=build /src/dist /usr/share/nginx/html
DOCKER

commit "Add shop deployment" "2026-11-20T09:00:00Z"

# A later change: the staging web tag and the compose cache get a suppression with a reason.
sed -i 's|    image: redis$|    # changetrail:ignore missing-tag local development cache, never deployed\n    image: redis|' compose/compose.yaml
commit "compose: document the local cache" "2026-11-21T14:30:00Z"

# The days before the incident: a bot bumps prod web (pinned), someone promotes the worker
# with a mutable tag at night, and the prod web manifest moves into a per-app folder.
web150_digest=$(digest web-1.5.0)
sed -i "s|ghcr.io/acme/web:1.4.2@${web_digest}|ghcr.io/acme/web:1.5.0@${web150_digest}|g" clusters/prod/web.yaml
GIT_AUTHOR_NAME="renovate[bot]" GIT_AUTHOR_EMAIL="bot@renovateapp.com" commit "chore(deps): update ghcr.io/acme/web to 1.5.0" "2026-11-22T16:05:00Z"

sed -i 's|ghcr.io/acme/web:main|ghcr.io/acme/web:1.5.0-rc.1|' clusters/staging/web.yaml
commit "staging: web 1.5.0-rc.1" "2026-11-22T18:40:00Z"

sed -i '/api-worker/{n;s|tag: 2.8.0|tag: latest|}' clusters/prod/api.yaml
GIT_AUTHOR_NAME="Bob Night" GIT_AUTHOR_EMAIL="bob@example.com" commit "hotfix: worker from latest" "2026-11-23T01:52:00Z"

mkdir -p clusters/prod/web
git mv -k clusters/prod/web.yaml clusters/prod/web/deployment.yaml
commit "prod: one folder per app" "2026-11-23T02:04:00Z"

echo "examples/make-repo.sh: wrote $(git rev-list --count HEAD) commits to $dest"
