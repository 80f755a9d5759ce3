// Helm-style values (issue 2 §3.3, DESIGN.md "Identity of a location"): values files, Flux
// HelmRelease spec.values, Argo CD Application / ApplicationSet helm values (string, object,
// parameters) and kustomize images, chart templates, and YAML anchors / aliases / merge keys.
#include "extract_helpers.hpp"

#include "support/support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <utility>

using namespace changetrail::extract;
using namespace changetrail::test;

namespace {

const std::string k_digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

} // namespace

TEST_CASE("helm: values file image scalars and the split form", "[extract][helm]")
{
  const std::string content = text(R"(
replicaCount: 2
image:
  registry: ghcr.io
  repository: acme/web
  tag: 1.4.2
  pullPolicy: IfNotPresent
sidecar:
  image: docker.io/envoyproxy/envoy:v1.29.1
worker:
  image:
    repository: ghcr.io/acme/worker
    tag: "2.0.0@)") + k_digest + text(R"("
cron:
  image:
    repository: ghcr.io/acme/cron
pinned:
  image:
    repository: ghcr.io/acme/pinned
    digest: )") + k_digest + "\n";
  REQUIRE(classify("charts/web/values.yaml") == FileKind::yaml);
  const auto r = extract(content, "charts/web/values.yaml");
  INFO(describe(r));
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 5);

  SECTION("split form with registry")
  {
    const auto& f = require_location(r, ".image");
    CHECK(f.format == "helm-values");
    CHECK(f.ref == "ghcr.io/acme/web:1.4.2");
    CHECK(f.image.valid);
    CHECK(f.image.registry == "ghcr.io");
    CHECK(f.image.repository == "acme/web");
    CHECK(f.image.tag == "1.4.2");
    CHECK(f.tag_source == TagSource::written);
    CHECK(f.line >= 2);
    CHECK(f.line <= 5);
  }
  SECTION("image scalar")
  {
    const auto& f = check_position(r, ".sidecar.image", 8, 10);
    CHECK(f.format == "helm-values");
    CHECK(f.ref == "docker.io/envoyproxy/envoy:v1.29.1");
  }
  SECTION("tag carrying a digest")
  {
    // No registry: the reference starts with the repository.
    const auto& f = check_position(r, ".worker.image", 11, 17);
    CHECK(f.image.valid);
    CHECK(f.image.repository == "acme/worker");
    CHECK(f.image.tag == "2.0.0");
    CHECK(f.image.digest == k_digest);
    CHECK(f.tag_source == TagSource::written);
  }
  SECTION("no tag: the chart's appVersion applies")
  {
    const auto& f = check_position(r, ".cron.image", 15, 17);
    CHECK(f.ref == "ghcr.io/acme/cron");
    CHECK(f.image.tag.empty());
    CHECK(f.tag_source == TagSource::chart);
  }
  SECTION("digest key")
  {
    const auto& f = require_location(r, ".pinned.image");
    CHECK(f.ref == "ghcr.io/acme/pinned@" + k_digest);
    CHECK(f.image.digest == k_digest);
    CHECK(f.tag_source == TagSource::written);
  }
}

TEST_CASE("helm: values path through nested maps (app-template controllers)", "[extract][helm]")
{
  const auto content = text(R"(
controllers:
  main:
    containers:
      app:
        image:
          repository: ghcr.io/acme/app
          tag: 1.0.0
      exporter:
        image:
          repository: quay.io/prometheus/node-exporter
          tag: v1.8.0
)");
  const auto r = extract(content, "apps/web/values-prod.yaml");
  INFO(describe(r));
  REQUIRE(r.findings.size() == 2);
  const auto& app = check_position(r, ".controllers.main.containers.app.image", 6, 23);
  CHECK(app.ref == "ghcr.io/acme/app:1.0.0");
  const auto& exporter = require_location(r, ".controllers.main.containers.exporter.image");
  CHECK(exporter.image.registry == "quay.io");
  CHECK(exporter.image.tag == "v1.8.0");
}

TEST_CASE("helm: Flux HelmRelease spec.values", "[extract][helm]")
{
  const auto content = text(R"(
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: app-template
      version: 3.5.1
      sourceRef:
        kind: HelmRepository
        name: bjw-s
        namespace: flux-system
  values:
    controllers:
      main:
        containers:
          app:
            image:
              repository: ghcr.io/acme/web
              tag: 2.1.0
    sidecars:
      - name: proxy
        image: envoyproxy/envoy:v1.29.1
      - name: metrics
        image:
          repository: prom/statsd-exporter
          tag: v0.26.0
)");
  const auto r = extract(content, "clusters/prod/apps/web.yaml");
  INFO(describe(r));
  CHECK(r.problems.empty());
  // The chart itself comes from a HelmRepository that is not OCI here (or not known): not a finding.
  REQUIRE(r.findings.size() == 3);

  const auto [line, column] = position_of(content, "ghcr.io/acme/web");
  const auto& app = check_position(r, "HelmRelease/apps/web:.spec.values.controllers.main.containers.app.image", line, column);
  CHECK(app.format == "helmrelease");
  CHECK(app.workload == "HelmRelease/apps/web");
  CHECK(app.ref == "ghcr.io/acme/web:2.1.0");

  SECTION("sequence items are keyed by their name")
  {
    const auto& proxy = check_position(r, "HelmRelease/apps/web:.spec.values.sidecars[proxy].image", 26, 16);
    CHECK(proxy.ref == "envoyproxy/envoy:v1.29.1");
    const auto& metrics = require_location(r, "HelmRelease/apps/web:.spec.values.sidecars[metrics].image");
    CHECK(metrics.ref == "prom/statsd-exporter:v0.26.0");
  }
}

TEST_CASE("helm: a HelmRelease without a namespace", "[extract][helm]")
{
  const auto content = text(R"(
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata:
  name: cache
spec:
  values:
    image: redis:7.2.4
)");
  const auto r = extract(content, "apps/cache/release.yaml");
  const auto& f = only_finding(r);
  CHECK(f.location == "HelmRelease/_/cache:.spec.values.image");
  CHECK(f.format == "helmrelease");
  CHECK(f.line == 7);
  CHECK(f.column == 12);
}

TEST_CASE("helm: Argo CD helm.values literal block is parsed and positions mapped back", "[extract][helm][argocd]")
{
  const auto content = text(R"(
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://charts.example.com
    chart: web
    targetRevision: 1.0.0
    helm:
      values: |
        replicaCount: 2
        image:
          repository: ghcr.io/acme/web
          tag: "2.0.1"

        # a comment inside the block
        sidecar:
          image: "docker.io/envoyproxy/envoy:v1.29.1"
  destination:
    server: https://kubernetes.default.svc
    namespace: web
)");
  const auto r = extract(content, "apps/web.yaml");
  INFO(describe(r));
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 2);

  const auto& image = check_position(r, "Application/argocd/web:.spec.source.helm.values.image", 16, 23);
  CHECK(image.format == "argocd");
  CHECK(image.workload == "Application/argocd/web");
  CHECK(image.ref == "ghcr.io/acme/web:2.0.1");

  const auto& sidecar = check_position(r, "Application/argocd/web:.spec.source.helm.values.sidecar.image", 21, 19);
  CHECK(sidecar.ref == "docker.io/envoyproxy/envoy:v1.29.1");
}

TEST_CASE("helm: Argo CD helm.values block with a chomping indicator in spec.sources", "[extract][helm][argocd]")
{
  const auto content = text(R"(
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: multi, namespace: argocd}
spec:
  sources:
    - repoURL: https://git.example.com/acme/config.git
      targetRevision: main
      ref: values
    - repoURL: https://charts.example.com
      chart: api
      helm:
        values: |-
          api:
            image: ghcr.io/acme/api:5.0.0
)");
  const auto r = extract(content, "apps/multi.yaml");
  INFO(describe(r));
  const auto& f = only_finding(r);
  CHECK(f.location == "Application/argocd/multi:.spec.sources[1].helm.values.api.image");
  CHECK(f.ref == "ghcr.io/acme/api:5.0.0");
  CHECK(f.line == 14);
  CHECK(f.column == 20);
}

TEST_CASE("helm: Argo CD valuesObject, sources[i], parameters, kustomize images", "[extract][helm][argocd]")
{
  const std::string content = text(R"(
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
  namespace: argocd
spec:
  sources:
    - repoURL: https://charts.example.com
      chart: api
      targetRevision: 1.2.0
      helm:
        valuesObject:
          image:
            repository: ghcr.io/acme/api
            tag: 1.0.0
    - repoURL: https://charts.example.com
      chart: worker
      helm:
        parameters:
          - name: image.repository
            value: ghcr.io/acme/worker
          - name: replicaCount
            value: "3"
          - name: image.tag
            value: "0.3.0"
          - name: cron.image.repository
            value: ghcr.io/acme/cron
          - name: cron.image.digest
            value: )") + k_digest + std::string(R"(
    - repoURL: https://git.example.com/acme/deploy.git
      path: overlays/prod
      kustomize:
        images:
          - ghcr.io/acme/web:2.0.0
          - nginx=ghcr.io/acme/nginx:1.25.3
)");
  const auto r = extract(content, "apps/shop.yaml");
  INFO(describe(r));
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 5);
  for (const auto& f : r.findings) {
    CHECK(f.format == "argocd");
    CHECK(f.workload == "Application/argocd/shop");
    CHECK(f.location.starts_with("Application/argocd/shop:.spec.sources["));
  }
  // The two findings of `source`: the one whose reference contains `needle`, then the other.
  const auto pair_of = [&r](std::string_view source, std::string_view needle) {
    const Finding* with = nullptr;
    const Finding* without = nullptr;
    for (const auto& f : r.findings) {
      if (f.location.starts_with(source)) {
        (f.ref.find(needle) != std::string::npos ? with : without) = &f;
      }
    }
    REQUIRE(with != nullptr);
    REQUIRE(without != nullptr);
    return std::pair<const Finding&, const Finding&>(*with, *without);
  };

  SECTION("valuesObject")
  {
    const auto& f = check_position(r, "Application/argocd/shop:.spec.sources[0].helm.valuesObject.image", 14, 25);
    CHECK(f.ref == "ghcr.io/acme/api:1.0.0");
  }
  SECTION("parameters: repository and tag pairs, grouped by prefix")
  {
    const auto [worker, cron] = pair_of("Application/argocd/shop:.spec.sources[1].", "worker");
    CHECK(worker.location != cron.location);
    CHECK(worker.ref == "ghcr.io/acme/worker:0.3.0");
    CHECK(worker.image.tag == "0.3.0");
    CHECK(worker.tag_source == TagSource::written);
    CHECK(worker.line == 21);
    CHECK(cron.image.repository == "acme/cron");
    CHECK(cron.image.digest == k_digest);
    CHECK(cron.tag_source == TagSource::written);
    CHECK(cron.line == 27);
  }
  SECTION("kustomize.images strings: [old=]new[:tag][@digest]")
  {
    const auto [nginx, web] = pair_of("Application/argocd/shop:.spec.sources[2].", "nginx");
    CHECK(web.location != nginx.location);
    CHECK(web.ref == "ghcr.io/acme/web:2.0.0");
    CHECK(web.line == 34);
    CHECK(web.column == 13);
    // The reference is what follows `nginx=`.
    CHECK(nginx.ref == "ghcr.io/acme/nginx:1.25.3");
    CHECK(nginx.image.registry == "ghcr.io");
    CHECK(nginx.line == 35);
    CHECK(nginx.column == 19);
  }
}

TEST_CASE("helm: Argo CD ApplicationSet template", "[extract][helm][argocd]")
{
  const auto content = text(R"(
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: apps
  namespace: argocd
spec:
  generators:
    - list:
        elements: [{cluster: prod}]
  template:
    metadata:
      name: '{{cluster}}-web'
    spec:
      project: default
      source:
        repoURL: https://charts.example.com
        chart: web
        helm:
          valuesObject:
            image:
              repository: ghcr.io/acme/web
              tag: 4.0.0
      destination:
        name: '{{cluster}}'
)");
  const auto r = extract(content, "appsets/web.yaml");
  INFO(describe(r));
  const auto& f = only_finding(r);
  CHECK(f.location == "ApplicationSet/argocd/apps:.spec.template.spec.source.helm.valuesObject.image");
  CHECK(f.format == "argocd");
  CHECK(f.ref == "ghcr.io/acme/web:4.0.0");
  CHECK(f.line == 21);
  CHECK(f.column == 27);
}

TEST_CASE("helm: chart templates are skipped without errors", "[extract][helm]")
{
  const auto content = text(R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          {{- with .Values.resources }}
          resources: {{- toYaml . | nindent 12 }}
          {{- end }}
)");
  for (const char* rel : {"charts/web/templates/deployment.yaml", "templates/deployment.yaml"}) {
    DYNAMIC_SECTION(rel)
    {
      REQUIRE(is_helm_template(rel, content));
      const auto r = extract(content, rel);
      CHECK_FALSE(r.checked);
      CHECK(r.findings.empty());
      CHECK(r.problems.empty());
    }
  }
  SECTION("a YAML file in templates/ without {{ is read normally")
  {
    const auto plain = text(R"(
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: "nginx:1.25.3"}]
)");
    CHECK_FALSE(is_helm_template("charts/web/templates/pod.yaml", plain));
    const auto r = extract(plain, "charts/web/templates/pod.yaml");
    CHECK(r.checked);
    CHECK(r.findings.size() == 1);
  }
  SECTION("{{ outside a templates/ directory is not a chart template")
  {
    CHECK_FALSE(is_helm_template("apps/deployment.yaml", content));
    CHECK_FALSE(is_helm_template("my-templates/deployment.yaml", content));
  }
}

TEST_CASE("helm: anchors and aliases resolve to the anchored value", "[extract][helm][anchors]")
{
  SECTION("tag: *app-version")
  {
    const auto content = text(R"(
appVersion: &app-version "1.4.2"
image:
  repository: ghcr.io/acme/app
  tag: *app-version
)");
    const auto r = extract(content, "values.yaml");
    INFO(describe(r));
    const auto& f = only_finding(r);
    CHECK(f.location == ".image");
    CHECK(f.ref == "ghcr.io/acme/app:1.4.2");
    CHECK(f.image.tag == "1.4.2");
    CHECK(f.line == 3);
    CHECK(f.column == 15);
  }
  SECTION("image: *alias is reported at the anchor and again at the alias")
  {
    const auto content = text(R"(
api:
  image: &shared ghcr.io/acme/shared:2.0.0
worker:
  image: *shared
)");
    const auto r = extract(content, "values.yaml");
    INFO(describe(r));
    REQUIRE(r.findings.size() == 2);
    // The reference's first character, after the anchor.
    const auto& api = check_position(r, ".api.image", 2, 18);
    CHECK(api.ref == "ghcr.io/acme/shared:2.0.0");
    const auto& worker = check_position(r, ".worker.image", 4, 10);
    CHECK(worker.ref == "ghcr.io/acme/shared:2.0.0");
  }
  SECTION("merge keys: <<: *base, the merged reference is at the alias")
  {
    const auto content = text(R"(
defaults: &base
  image: ghcr.io/acme/base:1.0.0
  pullPolicy: IfNotPresent
worker:
  <<: *base
  replicas: 2
cron:
  <<: *base
  image: ghcr.io/acme/cron:3.0.0
)");
    const auto r = extract(content, "values.yaml");
    INFO(describe(r));
    REQUIRE(r.findings.size() == 3);
    check_position(r, ".defaults.image", 2, 10);
    const auto& worker = check_position(r, ".worker.image", 5, 7);
    CHECK(worker.ref == "ghcr.io/acme/base:1.0.0");
    // Own keys win over merged ones.
    const auto& cron = check_position(r, ".cron.image", 9, 10);
    CHECK(cron.ref == "ghcr.io/acme/cron:3.0.0");
  }
  SECTION("merge keys in a HelmRelease")
  {
    const auto content = text(R"(
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: r, namespace: apps}
spec:
  values:
    common: &common
      image:
        repository: ghcr.io/acme/r
        tag: 1.0.0
    canary:
      <<: *common
)");
    const auto r = extract(content, "apps/r.yaml");
    INFO(describe(r));
    REQUIRE(r.findings.size() == 2);
    const auto& common = require_location(r, "HelmRelease/apps/r:.spec.values.common.image");
    CHECK(common.line == 8);
    const auto& canary = check_position(r, "HelmRelease/apps/r:.spec.values.canary.image", 11, 11);
    CHECK(canary.ref == "ghcr.io/acme/r:1.0.0");
  }
}

TEST_CASE("helm: values that are not references are not findings", "[extract][helm]")
{
  const auto content = text(R"(
image:
  pullPolicy: IfNotPresent
  pullSecrets: []
service:
  repository: "the service repository is documented at https://example.com"
docs:
  image: https://example.com/diagram.png
description: image to deploy
enabled: true
)");
  const auto r = extract(content, "values.yaml");
  INFO(describe(r));
  CHECK(r.checked);
  CHECK(r.problems.empty());
  CHECK(r.findings.empty());
}

TEST_CASE("helm: a chart directory: values read, templates skipped without problems", "[extract][helm]")
{
  changetrail::test::TempDir dir;
  dir.write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\nappVersion: \"2.0.0\"\n");
  dir.write("charts/web/values.yaml", "image:\n  repository: ghcr.io/acme/web\n  tag: \"\"\n");
  dir.write("charts/web/templates/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n"
            "    spec:\n      containers:\n        - name: web\n"
            "          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n"
            "{{- if .Values.extra }}\n  extra: {{ .Values.extra | toYaml }}\n{{- end }}\n");
  dir.write("charts/web/templates/_helpers.tpl", "{{- define \"web.fullname\" -}}{{ .Release.Name }}{{- end }}\n");
  const auto result = extract_tree(dir.path(), 1);
  CHECK(result.errors.empty());
  std::size_t findings = 0;
  for (const auto& file : result.files) {
    INFO(file.file);
    CHECK(file.problems.empty());
    CHECK(file.file.find("templates/") == std::string::npos);
    for (const auto& f : file.findings) {
      ++findings;
      CHECK(f.location == ".image");
      CHECK(f.ref == "ghcr.io/acme/web");
      // An empty tag: the chart's appVersion applies.
      CHECK(f.tag_source == TagSource::chart);
      CHECK(f.line == 2);
      CHECK(f.column == 15);
    }
  }
  CHECK(findings == 1);
}
