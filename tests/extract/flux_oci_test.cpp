// Flux OCI artifacts (issue 2 §3.4): OCIRepository spec.url oci:// with spec.ref, and HelmRelease
// charts served by a HelmRepository of type oci, reported with format `oci-artifact`.
// Flux's OCIRepository API: "digest ... takes precedence over semver", "semver ... takes
// precedence over tag", tag "defaults to latest".
#include "extract_helpers.hpp"

#include "support/support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace changetrail::extract;
using namespace changetrail::test;

namespace {

const std::string k_digest = "sha256:6ca1d018a562caa81bfee3c56c41d255b085bbdb30da79e09849559680df8675";

std::string oci_repository(std::string_view name, std::string_view url_line, std::string_view ref_block)
{
  return "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\nmetadata:\n  name: " + std::string(name)
         + "\n  namespace: flux-system\nspec:\n  interval: 5m\n" + std::string(url_line) + "\n" + std::string(ref_block);
}

} // namespace

TEST_CASE("flux: OCIRepository url and ref", "[extract][flux]")
{
  const std::string url_line = "  url: oci://ghcr.io/stefanprodan/manifests/podinfo";
  // The findings of the OCIRepository podinfo at url_line with `ref_block`, read as `rel`.
  const auto podinfo = [&url_line](const std::string& ref_block, std::string_view rel = "podinfo.yaml") {
    return extract(oci_repository("podinfo", url_line, ref_block), rel);
  };

  SECTION("ref.tag")
  {
    const auto r = podinfo("  ref:\n    tag: 6.6.2\n", "clusters/prod/flux-system/podinfo.yaml");
    CHECK(r.problems.empty());
    const auto& f = only_finding(r);
    CHECK(f.format == "oci-artifact");
    CHECK(f.location.starts_with("OCIRepository/flux-system/podinfo"));
    CHECK(f.ref == "ghcr.io/stefanprodan/manifests/podinfo:6.6.2");
    CHECK(f.image.valid);
    CHECK(f.image.registry == "ghcr.io");
    CHECK(f.image.repository == "stefanprodan/manifests/podinfo");
    CHECK(f.image.tag == "6.6.2");
    CHECK(f.tag_source == TagSource::written);
    // The reference starts after the oci:// scheme.
    CHECK(f.line == 8);
    CHECK(f.column == 14);
  }
  SECTION("ref.digest")
  {
    const auto r = podinfo("  ref:\n    digest: " + k_digest + "\n");
    const auto& f = only_finding(r);
    CHECK(f.format == "oci-artifact");
    CHECK(f.image.valid);
    CHECK(f.image.digest == k_digest);
    CHECK(f.image.tag.empty());
    CHECK(f.tag_source == TagSource::written);
  }
  SECTION("ref.semver is a range")
  {
    const auto r = podinfo("  ref:\n    semver: \">=6.0.0 <7.0.0\"\n");
    const auto& f = only_finding(r);
    CHECK(f.format == "oci-artifact");
    CHECK(f.image.valid);
    CHECK(f.image.repository == "stefanprodan/manifests/podinfo");
    CHECK(f.image.tag.empty());
    CHECK(f.tag_source == TagSource::range);
    CHECK(f.tag_note == ">=6.0.0 <7.0.0");
  }
  SECTION("no ref: Flux pulls latest (an implicit tag)")
  {
    const auto r = podinfo("");
    const auto& f = only_finding(r);
    CHECK(f.ref == "ghcr.io/stefanprodan/manifests/podinfo");
    CHECK(f.image.valid);
    CHECK(f.image.tag.empty());
    CHECK(f.image.digest.empty());
    CHECK(f.tag_source == TagSource::written);
  }
  SECTION("semver takes precedence over tag")
  {
    const auto r = podinfo("  ref:\n    tag: latest\n    semver: 6.x\n");
    const auto& f = only_finding(r);
    CHECK(f.tag_source == TagSource::range);
    CHECK(f.tag_note == "6.x");
    CHECK(f.image.tag != "latest");
  }
  SECTION("digest takes precedence over semver")
  {
    const auto r = podinfo("  ref:\n    semver: 6.x\n    digest: " + k_digest + "\n");
    const auto& f = only_finding(r);
    CHECK(f.image.digest == k_digest);
    CHECK(f.tag_source == TagSource::written);
  }
  SECTION("a quoted url: the column is after the quote and the scheme")
  {
    const auto content = oci_repository("podinfo", "  url: \"oci://ghcr.io/stefanprodan/manifests/podinfo\"",
                                        "  ref: {tag: 6.6.2}\n");
    const auto r = extract(content, "podinfo.yaml");
    const auto& f = only_finding(r);
    CHECK(f.line == 8);
    CHECK(f.column == 15);
    CHECK(f.image.tag == "6.6.2");
  }
  SECTION("source.toolkit.fluxcd.io/v1 and a registry with a port")
  {
    const auto content = text(R"(
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: manifests
  namespace: apps
spec:
  url: oci://registry.example.com:5000/acme/manifests
  ref:
    tag: v1.2.3
)");
    const auto r = extract(content, "sources.yaml");
    const auto& f = only_finding(r);
    CHECK(f.location.starts_with("OCIRepository/apps/manifests"));
    CHECK(f.image.registry == "registry.example.com:5000");
    CHECK(f.image.repository == "acme/manifests");
    CHECK(f.image.tag == "v1.2.3");
    CHECK(f.line == 7);
    CHECK(f.column == 14);
  }
}

TEST_CASE("flux: two OCIRepositories in one file have their own locations", "[extract][flux]")
{
  const std::string content = "---\n" + oci_repository("a", "  url: oci://ghcr.io/acme/a", "  ref: {tag: 1.0.0}\n") + "---\n"
                              + oci_repository("b", "  url: oci://ghcr.io/acme/b", "  ref: {tag: 2.0.0}\n");
  const auto r = extract(content, "sources.yaml");
  REQUIRE(r.findings.size() == 2);
  CHECK(r.findings[0].location != r.findings[1].location);
  CHECK(r.findings[0].format == "oci-artifact");
  CHECK(r.findings[1].format == "oci-artifact");
}

TEST_CASE("flux: a GitRepository is not an OCI artifact", "[extract][flux]")
{
  const auto content = text(R"(
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  url: https://github.com/stefanprodan/podinfo
  ref:
    tag: 6.6.2
)");
  const auto r = extract(content, "git.yaml");
  CHECK(with_format(r, "oci-artifact").empty());
}

namespace {

const std::string k_repositories = text(R"(
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  type: oci
  interval: 5m
  url: oci://ghcr.io/stefanprodan/charts
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: bitnami
  namespace: flux-system
spec:
  interval: 1h
  url: https://charts.bitnami.com/bitnami
)");

std::string helm_release(std::string_view name, std::string_view chart, std::string_view version_line,
                         std::string_view repository)
{
  return "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: " + std::string(name)
         + "\n  namespace: apps\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: " + std::string(chart) + "\n"
         + std::string(version_line) + "      sourceRef:\n        kind: HelmRepository\n        name: " + std::string(repository)
         + "\n        namespace: flux-system\n";
}

} // namespace

TEST_CASE("flux: HelmRelease charts from an OCI HelmRepository in another file", "[extract][flux]")
{
  const std::string releases = "---\n" + helm_release("exact", "podinfo", "      version: 6.5.4\n", "podinfo") + "---\n"
                               + helm_release("range", "podinfo", "      version: \">=1.0.0\"\n", "podinfo") + "---\n"
                               + helm_release("wildcard", "podinfo", "      version: 1.x\n", "podinfo") + "---\n"
                               + helm_release("latest", "podinfo", "", "podinfo") + "---\n"
                               + helm_release("redis", "redis", "      version: 18.1.0\n", "bitnami");
  std::vector<FileResult> results;
  results.push_back(extract(k_repositories, "infrastructure/sources.yaml"));
  results.push_back(extract(releases, "apps/releases.yaml"));
  CHECK(results[0].problems.empty());
  CHECK(results[1].problems.empty());
  // Unresolved until every file has been read.
  CHECK(with_format(results[1], "oci-artifact").empty());

  resolve_charts(results);
  INFO(describe(results));
  CHECK(with_format(results[0], "oci-artifact").empty());
  const auto artifacts = with_format(results[1], "oci-artifact");
  REQUIRE(artifacts.size() == 4);

  SECTION("an exact version is a tag")
  {
    const auto* f = by_ref(results, "ghcr.io/stefanprodan/charts/podinfo:6.5.4");
    REQUIRE(f != nullptr);
    CHECK(f->format == "oci-artifact");
    CHECK(f->file == "apps/releases.yaml");
    CHECK(f->workload == "HelmRelease/apps/exact");
    CHECK(f->image.valid);
    CHECK(f->image.registry == "ghcr.io");
    CHECK(f->image.repository == "stefanprodan/charts/podinfo");
    CHECK(f->image.tag == "6.5.4");
    CHECK(f->tag_source == TagSource::written);
    CHECK(f->line == 11); // the chart: line of the first document
  }
  SECTION("ranges and a missing version follow new pushes")
  {
    int ranges = 0;
    for (const auto* f : artifacts) {
      if (f->workload == "HelmRelease/apps/exact") {
        continue;
      }
      ++ranges;
      CHECK(f->tag_source == TagSource::range);
      CHECK(f->image.valid);
      CHECK(f->image.repository == "stefanprodan/charts/podinfo");
      CHECK(f->image.tag.empty());
      if (f->workload == "HelmRelease/apps/range") {
        CHECK(f->tag_note == ">=1.0.0");
      } else if (f->workload == "HelmRelease/apps/wildcard") {
        CHECK(f->tag_note == "1.x");
      } else {
        CHECK(f->workload == "HelmRelease/apps/latest");
        // Flux's HelmChart version defaults to "*".
        CHECK(f->tag_note == "*");
      }
    }
    CHECK(ranges == 3);
  }
  SECTION("each release has its own location")
  {
    for (std::size_t i = 0; i < artifacts.size(); ++i) {
      for (std::size_t j = i + 1; j < artifacts.size(); ++j) {
        CHECK(artifacts[i]->location != artifacts[j]->location);
      }
    }
  }
}

TEST_CASE("flux: a HelmRelease chart without a known OCI HelmRepository is nothing", "[extract][flux]")
{
  std::vector<FileResult> results;
  results.push_back(extract(helm_release("redis", "redis", "      version: 18.1.0\n", "bitnami"), "apps/redis.yaml"));
  SECTION("repository not among the files")
  {
    resolve_charts(results);
    CHECK(results[0].findings.empty());
  }
  SECTION("repository of type default (https)")
  {
    results.push_back(extract(k_repositories, "sources.yaml"));
    resolve_charts(results);
    CHECK(results[0].findings.empty());
    CHECK(results[1].findings.empty());
  }
}

TEST_CASE("flux: sourceRef without a namespace means the HelmRelease's namespace", "[extract][flux]")
{
  const auto release = text(R"(
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: apps
spec:
  chart:
    spec:
      chart: web
      version: 2.0.0
      sourceRef:
        kind: HelmRepository
        name: charts
)");
  const auto repository = [](std::string_view ns) {
    return "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: "
           + std::string(ns) + "\nspec:\n  type: oci\n  url: oci://ghcr.io/acme/charts\n";
  };
  SECTION("same namespace")
  {
    std::vector<FileResult> results;
    results.push_back(extract(repository("apps"), "repo.yaml"));
    results.push_back(extract(release, "release.yaml"));
    resolve_charts(results);
    INFO(describe(results));
    const auto& f = only_finding(results[1]);
    CHECK(f.ref == "ghcr.io/acme/charts/web:2.0.0");
    CHECK(f.format == "oci-artifact");
  }
  SECTION("another namespace")
  {
    std::vector<FileResult> results;
    results.push_back(extract(repository("elsewhere"), "repo.yaml"));
    results.push_back(extract(release, "release.yaml"));
    resolve_charts(results);
    INFO(describe(results));
    CHECK(results[1].findings.empty());
  }
}

TEST_CASE("flux: extract_paths resolves charts across the files of a directory", "[extract][flux]")
{
  changetrail::test::TempDir dir;
  dir.write("infrastructure/sources.yaml", k_repositories);
  dir.write("apps/podinfo.yaml", helm_release("podinfo", "podinfo", "      version: 6.5.4\n", "podinfo"));
  const auto result = extract_tree(dir.path(), 2);
  CHECK(result.errors.empty());
  INFO(describe(result.files));
  const auto* f = by_ref(result.files, "ghcr.io/stefanprodan/charts/podinfo:6.5.4");
  REQUIRE(f != nullptr);
  CHECK(f->format == "oci-artifact");
  CHECK(f->file.ends_with("apps/podinfo.yaml"));
  CHECK(f->line == 10);
}
