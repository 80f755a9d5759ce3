// Any other YAML `image:` key (issue 2 §3.7), suppression comments (§4), and file
// classification by name (§3: compose*.y*ml, docker-compose*.y*ml, Dockerfile, Containerfile,
// *.Dockerfile, kustomization.yaml, any YAML).
#include "extract_helpers.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace changetrail::extract;
using namespace changetrail::test;

TEST_CASE("generic: image keys in custom resources", "[extract][generic]")
{
  const auto content = text(R"(
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: tools
spec:
  image: ghcr.io/acme/widget:1.2.3
  description: "builds an image"
  runner:
    image: "docker.io/library/python:3.12-slim"
  steps:
    - name: build
      image: golang:1.22
)");
  const auto r = extract(content, "crs/widget.yaml");
  INFO(describe(r));
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 3);

  const auto* widget = by_ref(r, "ghcr.io/acme/widget:1.2.3");
  REQUIRE(widget != nullptr);
  CHECK(widget->format == "yaml");
  CHECK(widget->line == 7);
  CHECK(widget->column == 10);
  CHECK(widget->image.valid);

  const auto* runner = by_ref(r, "docker.io/library/python:3.12-slim");
  REQUIRE(runner != nullptr);
  CHECK(runner->line == 10);
  CHECK(runner->column == 13);
  CHECK(runner->image.repository == "library/python");

  const auto* step = by_ref(r, "golang:1.22");
  REQUIRE(step != nullptr);
  CHECK(step->line == 13);
  CHECK(step->column == 14);

  // Each has a location of its own, stable under the object's identity.
  CHECK(widget->location != runner->location);
  CHECK(widget->location != step->location);
  CHECK(runner->location != step->location);
  for (const auto& f : r.findings) {
    CHECK(f.location.find("Widget/tools/w") != std::string::npos);
  }
}

TEST_CASE("generic: values that do not parse as references are ignored", "[extract][generic]")
{
  const auto content = text(R"(
apiVersion: example.com/v1
kind: Gallery
metadata:
  name: g
spec:
  flags:
    image: true
  disabled:
    image: false
  unset:
    image: null
  tilde:
    image: ~
  empty:
    image: ""
  notes:
    image: Build the image from source first
  docs:
    image: https://example.com/images/widget.png
  count:
    image: 42
  nested:
    image:
      width: 100
      height: 200
)");
  const auto r = extract(content, "crs/gallery.yaml");
  INFO(describe(r));
  CHECK(r.checked);
  CHECK(r.problems.empty());
  CHECK(r.findings.empty());
}

TEST_CASE("generic: YAML without kind (CI configs and the like)", "[extract][generic]")
{
  const auto content = text(R"(
stages: [build]
build:
  stage: build
  image: node:20.11-alpine
  script:
    - npm ci
)");
  const auto r = extract(content, ".gitlab-ci.yml");
  INFO(describe(r));
  const auto& f = only_finding(r);
  CHECK(f.ref == "node:20.11-alpine");
  CHECK(f.format == "yaml");
  CHECK(f.line == 4);
  CHECK(f.column == 10);
  CHECK(f.file == ".gitlab-ci.yml");
}

TEST_CASE("generic: YAML that cannot hold a reference, and binary content", "[extract][generic]")
{
  SECTION("no image key")
  {
    const auto r = extract("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n", "ns.yaml");
    CHECK(r.checked);
    CHECK(r.findings.empty());
    CHECK(r.problems.empty());
  }
  SECTION("binary content named .yaml is a problem, not a crash")
  {
    const std::string content("image: x\0\x01\x02\xff", 12);
    const auto r = extract(content, "blob.yaml");
    CHECK(r.findings.empty());
    CHECK(r.problems.size() == 1);
  }
  SECTION("a file kind none is not read")
  {
    REQUIRE(classify("README.md") == FileKind::none);
    const auto r = extract("image: nginx:1.25.3\n", "README.md");
    CHECK_FALSE(r.checked);
    CHECK(r.findings.empty());
  }
}

TEST_CASE("suppressions: find_suppressions", "[extract][suppressions]")
{
  // Files with one suppression each: where it is, the rules it names and the reason.
  struct Single {
    const char* what;
    const char* content;
    std::uint32_t line;
    std::vector<std::string> rules;
    std::string reason;
  };
  const std::vector<Single> singles = {
    {"one rule with a reason", "image: nginx:latest # changetrail:ignore latest-tag pinned by the upstream chart\n", 1,
     {"latest-tag"}, "pinned by the upstream chart"},
    {"several rules, on the line above, Dockerfile comment",
     "FROM scratch\n# changetrail:ignore unpinned,mutable-tag vendored base\nFROM alpine:edge\n", 2,
     {"unpinned", "mutable-tag"}, "vendored base"},
    {"all, without a reason", "a: 1\nb: 2\n  # changetrail:ignore all\n", 3, {"all"}, ""},
    {"CRLF", "x: 1\r\n# changetrail:ignore latest-tag old image\r\ny: 2\r\n", 2, {"latest-tag"}, "old image"},
  };
  for (const auto& c : singles) {
    DYNAMIC_SECTION(c.what)
    {
      const auto s = find_suppressions(c.content);
      REQUIRE(s.size() == 1);
      CHECK(s[0].line == c.line);
      CHECK(s[0].rules == c.rules);
      CHECK(s[0].reason == c.reason);
    }
  }
  SECTION("several in one file")
  {
    const auto s = find_suppressions("# changetrail:ignore latest-tag a\nx: 1\ny: 2 # changetrail:ignore unpinned b\n");
    REQUIRE(s.size() == 2);
    CHECK(s[0].line == 1);
    CHECK(s[1].line == 3);
    CHECK(s[1].rules == std::vector<std::string>{"unpinned"});
    CHECK(s[1].reason == "b");
  }
  SECTION("the marker outside a comment is no suppression")
  {
    CHECK(find_suppressions("description: changetrail:ignore latest-tag\n").empty());
    CHECK(find_suppressions("no marker here # just a comment\n").empty());
  }
}

TEST_CASE("suppressions: extract_file collects them", "[extract][suppressions]")
{
  const auto content = text(R"(
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    # changetrail:ignore latest-tag debug pod
    - {name: c, image: "busybox:latest"}
)");
  const auto r = extract(content, "pod.yaml");
  const auto& f = only_finding(r);
  REQUIRE(r.suppressions.size() == 1);
  CHECK(r.suppressions[0].line == 6);
  CHECK(r.suppressions[0].rules == std::vector<std::string>{"latest-tag"});
  CHECK(f.line == 7);
}

TEST_CASE("classify: file kinds from names", "[extract][classify]")
{
  struct Case {
    const char* path;
    FileKind kind;
  };
  const std::vector<Case> cases = {
    {"Dockerfile", FileKind::dockerfile},
    {"app/Dockerfile", FileKind::dockerfile},
    {"Containerfile", FileKind::dockerfile},
    {"Dockerfile.prod", FileKind::dockerfile},
    {"build/Dockerfile.dev", FileKind::dockerfile},
    {"api.Dockerfile", FileKind::dockerfile},
    {"compose.yaml", FileKind::compose},
    {"compose.yml", FileKind::compose},
    {"compose.override.yaml", FileKind::compose},
    {"compose-prod.yml", FileKind::compose},
    {"docker-compose.yml", FileKind::compose},
    {"docker-compose.yaml", FileKind::compose},
    {"docker-compose.prod.yml", FileKind::compose},
    {"deploy/docker-compose.override.yaml", FileKind::compose},
    {"kustomization.yaml", FileKind::kustomization},
    {"kustomization.yml", FileKind::kustomization},
    {"Kustomization", FileKind::kustomization},
    {"overlays/prod/kustomization.yaml", FileKind::kustomization},
    {"deployment.yaml", FileKind::yaml},
    {"values.yml", FileKind::yaml},
    {"clusters/prod/apps/web.yaml", FileKind::yaml},
    {"my-compose.yaml", FileKind::yaml},
    {"compose/web.yaml", FileKind::yaml},
    {"README.md", FileKind::none},
    {"Makefile", FileKind::none},
    {"values.json", FileKind::none},
    {"deployment.yaml.bak", FileKind::none},
    {"compose.yaml.orig", FileKind::none},
    {"Dockerfile/notes.txt", FileKind::none},
    {"src/main.cpp", FileKind::none},
  };
  for (const auto& c : cases) {
    INFO(c.path);
    CHECK(classify(c.path) == c.kind);
  }
}
