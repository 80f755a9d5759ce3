// kustomize `images:` entries (issue 2 §3.2): the reference kustomize's image transformer
// produces (kubectl.docs.kubernetes.io/references/kustomize/kustomization/images/), reported at
// the entry, with the location key `kustomize/images/<name>`.
#include "extract_helpers.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace changetrail::extract;
using namespace changetrail::test;

namespace {

const std::string k_digest = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

} // namespace

TEST_CASE("kustomize: images entries give the reference kustomize produces", "[extract][kustomize]")
{
  const std::string content = text(R"(
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: postgres
    newName: my-registry/my-postgres
    newTag: v1
  - name: nginx
    newTag: 1.8.0
  - name: my-demo-app
    newName: my-app
  - name: alpine
    digest: )") + k_digest + "\n  - name: ghcr.io/acme/api\n    newTag: \"2.0.0\"\n    digest: " + k_digest + "\n";
  REQUIRE(classify("overlays/prod/kustomization.yaml") == FileKind::kustomization);
  const auto r = extract(content, "overlays/prod/kustomization.yaml");
  CHECK(r.checked);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 5);

  SECTION("newName and newTag replace name and tag")
  {
    // At the entry: the mapping `name: postgres` that starts on line 6, column 5.
    const auto& f = check_position(r, "kustomize/images/postgres", 6, 5);
    CHECK(f.format == "kustomize");
    CHECK(f.file == "overlays/prod/kustomization.yaml");
    CHECK(f.ref == "my-registry/my-postgres:v1");
    CHECK(f.image.valid);
    CHECK(f.image.registry == "docker.io");
    CHECK(f.image.repository == "my-registry/my-postgres");
    CHECK(f.image.tag == "v1");
    CHECK(f.tag_source == TagSource::written);
  }
  SECTION("newTag alone keeps the name")
  {
    const auto& f = require_location(r, "kustomize/images/nginx");
    CHECK(f.ref == "nginx:1.8.0");
    CHECK(f.image.repository == "library/nginx");
    CHECK(f.image.tag == "1.8.0");
    CHECK(f.tag_source == TagSource::written);
    CHECK(f.line == 9);
  }
  SECTION("newName alone: the base manifest's tag applies (inherited)")
  {
    const auto& f = require_location(r, "kustomize/images/my-demo-app");
    CHECK(f.ref == "my-app");
    CHECK(f.image.repository == "library/my-app");
    CHECK(f.image.tag.empty());
    CHECK(f.image.digest.empty());
    CHECK(f.tag_source == TagSource::inherited);
    CHECK(f.line == 11);
  }
  SECTION("digest replaces the tag")
  {
    const auto& f = require_location(r, "kustomize/images/alpine");
    CHECK(f.ref == "alpine@" + k_digest);
    CHECK(f.image.tag.empty());
    CHECK(f.image.digest == k_digest);
    CHECK(f.tag_source == TagSource::written);
    CHECK(f.line == 13);
  }
  SECTION("newTag and digest together keep both")
  {
    const auto& f = require_location(r, "kustomize/images/ghcr.io/acme/api");
    CHECK(f.ref == "ghcr.io/acme/api:2.0.0@" + k_digest);
    CHECK(f.image.registry == "ghcr.io");
    CHECK(f.image.tag == "2.0.0");
    CHECK(f.image.digest == k_digest);
    CHECK(f.tag_source == TagSource::written);
    CHECK(f.line == 15);
  }
}

TEST_CASE("kustomize: entries without newTag or digest are inherited, with or without newName", "[extract][kustomize]")
{
  const auto content = text(R"(
images:
- name: ghcr.io/acme/web
  newName: registry.example.com:5000/mirror/web
- name: redis
)");
  // kustomization.yml and Kustomization are the other names kustomize reads.
  for (const char* name : {"base/kustomization.yml", "base/Kustomization"}) {
    DYNAMIC_SECTION(name)
    {
      REQUIRE(classify(name) == FileKind::kustomization);
      const auto r = extract(content, name);
      REQUIRE(r.findings.size() == 2);
      const auto& web = check_position(r, "kustomize/images/ghcr.io/acme/web", 2, 3);
      CHECK(web.ref == "registry.example.com:5000/mirror/web");
      CHECK(web.image.registry == "registry.example.com:5000");
      CHECK(web.image.repository == "mirror/web");
      CHECK(web.tag_source == TagSource::inherited);
      const auto& redis = require_location(r, "kustomize/images/redis");
      CHECK(redis.ref == "redis");
      CHECK(redis.tag_source == TagSource::inherited);
      CHECK(redis.line == 4);
    }
  }
}

TEST_CASE("kustomize: a kind Kustomization document under another file name", "[extract][kustomize]")
{
  const auto content = text(R"(
# generated overlay
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
images:
  - name: ghcr.io/acme/web
    newTag: 3.2.1
)");
  REQUIRE(classify("clusters/prod/web-overlay.yaml") == FileKind::yaml);
  const auto r = extract(content, "clusters/prod/web-overlay.yaml");
  CHECK(r.problems.empty());
  const auto& f = only_finding(r);
  CHECK(f.format == "kustomize");
  CHECK(f.location == "kustomize/images/ghcr.io/acme/web");
  CHECK(f.ref == "ghcr.io/acme/web:3.2.1");
  CHECK(f.line == 6);
  CHECK(f.column == 5);
}

TEST_CASE("kustomize: a kustomization without images has no findings and no problems", "[extract][kustomize]")
{
  const auto content = text(R"(
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml, service.yaml]
patches:
  - path: replicas.yaml
)");
  const auto r = extract(content, "kustomization.yaml");
  CHECK(r.checked);
  CHECK(r.findings.empty());
  CHECK(r.problems.empty());
}

TEST_CASE("kustomize: flow-style entries and quoted values", "[extract][kustomize]")
{
  const auto content = text(R"(
images:
  - {name: nginx, newName: "ghcr.io/acme/nginx", newTag: "1.25.3"}
  - {name: busybox, newTag: '1.36'}
)");
  const auto r = extract(content, "kustomization.yaml");
  REQUIRE(r.findings.size() == 2);
  const auto& nginx = require_location(r, "kustomize/images/nginx");
  CHECK(nginx.ref == "ghcr.io/acme/nginx:1.25.3");
  CHECK(nginx.line == 2);
  const auto& busybox = require_location(r, "kustomize/images/busybox");
  CHECK(busybox.ref == "busybox:1.36");
  CHECK(busybox.image.tag == "1.36");
  CHECK(busybox.line == 3);
}
