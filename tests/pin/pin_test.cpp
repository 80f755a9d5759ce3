// `changetrail pin` core (issue 4): rewriting unpinned references to tag@digest with every other
// byte kept, the reasons for what is left alone, the self-check, `diff -u` output and the
// atomic write.
#include "extract/extract_helpers.hpp"
#include "support/support.hpp"

#include <changetrail/pin/pin.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/strings.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

using namespace changetrail;
using namespace changetrail::test;

namespace fs = std::filesystem;

namespace {

const std::string k_digest = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";
const std::string k_other = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// `<D>` in an expected text stands for k_digest.
std::string with_digest(std::string s)
{
  for (auto at = s.find("<D>"); at != std::string::npos; at = s.find("<D>", at + k_digest.size())) {
    s.replace(at, 3, k_digest);
  }
  return s;
}

// `s` with each (from, to) replaced, in order; each `from` must be there.
std::string edited(std::string s, const std::vector<std::pair<std::string, std::string>>& replacements)
{
  for (const auto& [from, to] : replacements) {
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
  }
  return s;
}

// An Argo CD Application whose spec.source is `source` (indented by four spaces).
std::string application(std::string_view source)
{
  return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: app, namespace: argocd}\nspec:\n"
         "  source:\n" +
         std::string(source);
}

std::string crlf(std::string_view s)
{
  std::string out;
  for (const char c : s) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

// Every reference gets k_digest.
pin::DigestAnswer every(const reference::Reference&)
{
  return {k_digest, {}};
}

extract::FileInput input_for(std::string_view content, std::string_view rel)
{
  extract::FileInput in;
  in.file = rel;
  in.rel = rel;
  in.content = content;
  in.kind = extract::classify(rel);
  return in;
}

std::string describe(const pin::PinResult& r)
{
  std::string out;
  for (const auto& c : r.changes) {
    out += "change " + std::to_string(c.line) + ":" + std::to_string(c.column) + " " + c.location + " " + c.from +
           " -> " + c.to + "\n";
  }
  for (const auto& s : r.skipped) {
    out += "skip " + std::to_string(s.line) + ":" + std::to_string(s.column) + " " + s.location + " " + s.ref + ": " +
           s.reason + "\n";
  }
  return out;
}

// Extracts `content` as the file `rel` and pins it. Every finding without a digest must come
// back either changed or skipped.
pin::PinResult pin_text(std::string_view content, std::string_view rel, const pin::DigestLookup& lookup = every)
{
  const auto in = input_for(content, rel);
  const auto result = extract::extract_file(in);
  auto out = pin::pin_file(in, result, lookup);
  std::size_t unpinned = 0;
  for (const auto& f : result.findings) {
    unpinned += f.image.has_digest() ? 0 : 1;
  }
  INFO(describe(out));
  CHECK(out.changes.size() + out.skipped.size() == unpinned);
  return out;
}

struct Case {
  std::string name;
  std::string rel;
  std::string before;
  std::string after; // <D> for the digest
  std::size_t changes = 0;
};

void run_cases(const std::vector<Case>& cases)
{
  for (const auto& c : cases) {
    INFO(c.name);
    const auto r = pin_text(c.before, c.rel);
    INFO(describe(r));
    CHECK(r.text == with_digest(c.after));
    CHECK(r.changes.size() == c.changes);
    CHECK(r.skipped.empty());
  }
}

// The one skip of a pin run, which must have no change.
const pin::Skip& only_skip(const pin::PinResult& r)
{
  INFO(describe(r));
  REQUIRE(r.changes.empty());
  REQUIRE(r.skipped.size() == 1);
  return r.skipped.front();
}

const std::string k_deployment = text(R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25 # web
        - name: side
          image: 'busybox:1.36'
      initContainers:
        - name: init
          image:   "alpine:3.19"
)");

} // namespace

TEST_CASE("pin: image scalars in every YAML format", "[pin]")
{
  const std::string deployment_pinned = edited(
      k_deployment,
      {{"nginx:1.25", "nginx:1.25@<D>"}, {"busybox:1.36", "busybox:1.36@<D>"}, {"alpine:3.19", "alpine:3.19@<D>"}});
  const std::string compose = text(R"(
services:
  web:
    image: nginx:1.25
  db:
    image: "postgres:16"   # db
    environment: {A: b}
)");
  const std::string helmrelease = text(R"(
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: plex
  namespace: media
spec:
  values:
    image: ghcr.io/acme/plex:1.40.0
)");
  const std::string documents = text(R"(
kind: Pod
metadata: {name: a}
spec:
  containers: [{name: a, image: nginx:1.25}]
---
# second
kind: Pod
metadata: {name: b}
spec:
  containers:
  - name: b
    image: redis:7
)");
  const std::string argocd = application(text(R"(
    kustomize:
      images:
        - nginx=ghcr.io/acme/nginx:1.25
        - "redis:7"
)"));
  const std::vector<Case> cases = {
      {"Kubernetes: plain, single- and double-quoted, comment on the line", "deploy.yaml", k_deployment,
       deployment_pinned, 3},
      {"CRLF line endings", "deploy.yaml", crlf(k_deployment), crlf(deployment_pinned), 3},
      {"no newline at the end", "values.yaml", "image: nginx:1.25", "image: nginx:1.25@<D>", 1},
      {"UTF-8 BOM", "values.yaml", "\xEF\xBB\xBFimage: nginx:1.25\n", "\xEF\xBB\xBFimage: nginx:1.25@<D>\n", 1},
      {"no tag: only the digest is added", "values.yaml", "image: nginx\n", "image: nginx@<D>\n", 1},
      {"compose", "docker-compose.yml", compose,
       edited(compose, {{"nginx:1.25\n", "nginx:1.25@<D>\n"}, {"\"postgres:16\"", "\"postgres:16@<D>\""}}), 2},
      {"HelmRelease values", "apps/plex.yaml", helmrelease, edited(helmrelease, {{"1.40.0", "1.40.0@<D>"}}), 1},
      {"generic YAML (a CI file)", "ci/pipeline.yaml", "build:\n  image: node:20   # node\n  script: [make]\n",
       "build:\n  image: node:20@<D>   # node\n  script: [make]\n", 1},
      {"flow mappings", "values.yaml", "sidecars: [{name: a, image: nginx:1.25}, {name: b, image: \"redis:7\"}]\n",
       "sidecars: [{name: a, image: nginx:1.25@<D>}, {name: b, image: \"redis:7@<D>\"}]\n", 2},
      {"code points before the reference", "values.yaml",
       "labels: {\xC3\xA4: \"\xC3\xB6\xE2\x82\xAC\", image: nginx:1.25}\n",
       "labels: {\xC3\xA4: \"\xC3\xB6\xE2\x82\xAC\", image: nginx:1.25@<D>}\n", 1},
      {"block scalar", "values.yaml", "image: |-\n  nginx:1.25\nother: 1\n", "image: |-\n  nginx:1.25@<D>\nother: 1\n",
       1},
      {"the same reference twice", "values.yaml", "a:\n  image: nginx:1.25\nb:\n  image: nginx:1.25\n",
       "a:\n  image: nginx:1.25@<D>\nb:\n  image: nginx:1.25@<D>\n", 2},
      {"multi-document file", "deploy.yaml", documents,
       edited(documents, {{"nginx:1.25", "nginx:1.25@<D>"}, {"redis:7", "redis:7@<D>"}}), 2},
      {"Argo CD kustomize images (old=new)", "apps/app.yaml", argocd,
       edited(argocd, {{"nginx:1.25", "nginx:1.25@<D>"}, {"redis:7", "redis:7@<D>"}}), 2},
  };
  run_cases(cases);
}

TEST_CASE("pin: what a change says", "[pin]")
{
  const auto r = pin_text(k_deployment, "deploy.yaml");
  REQUIRE(r.changes.size() == 3);
  const auto& c = r.changes.front();
  CHECK(c.line == 10);
  CHECK(c.column == 18);
  CHECK(c.location == "Deployment/_/web/containers/web");
  CHECK(c.from == "nginx:1.25");
  CHECK(c.to == "nginx:1.25@" + k_digest);
  CHECK(r.changed());
}

TEST_CASE("pin: changes and skips are listed in file order", "[pin]")
{
  const std::string pod = text(R"(
kind: Pod
metadata: {name: p}
spec:
  initContainers:
    - {name: init, image: "busybox:${V}"}
    - {name: setup, image: alpine:3.19}
  containers:
    - {name: app, image: "nginx:${V}"}
    - {name: web, image: nginx:1.25}
)");
  const auto r = pin_text(pod, "pod.yaml");
  REQUIRE(r.changes.size() == 2);
  CHECK(r.changes[0].from == "alpine:3.19");
  CHECK(r.changes[1].from == "nginx:1.25");
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0].ref == "busybox:${V}");
  CHECK(r.skipped[1].ref == "nginx:${V}");
}

TEST_CASE("pin: Helm split form", "[pin][helm]")
{
  const auto values = [](std::string_view body) {
    return "image:\n  registry: ghcr.io\n  repository: acme/web\n" + std::string(body);
  };
  const std::string helmrelease = text(R"(
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  values:
    worker:
      image:
        tag: v2.0.1 # tag before repository
        repository: ghcr.io/acme/worker
)");
  const std::vector<Case> cases = {
      {"plain tag", "values.yaml", values("  tag: 1.4.2\n  pullPolicy: IfNotPresent\n"),
       values("  tag: 1.4.2@<D>\n  pullPolicy: IfNotPresent\n"), 1},
      {"double-quoted tag", "values.yaml", values("  tag: \"1.4.2\" # app\n"), values("  tag: \"1.4.2@<D>\" # app\n"),
       1},
      {"single-quoted tag", "values.yaml", values("  tag: '1.4.2'\n"), values("  tag: '1.4.2@<D>'\n"), 1},
      {"a number-looking tag keeps its bytes", "values.yaml", values("  tag: 1.10\n"), values("  tag: 1.10@<D>\n"), 1},
      {"empty digest key", "values.yaml", values("  tag: 1.4.2\n  digest:\n  pullPolicy: Always\n"),
       values("  tag: 1.4.2\n  digest: <D>\n  pullPolicy: Always\n"), 1},
      {"empty digest key with a comment", "values.yaml", values("  tag: 1.4.2\n  digest:   # set by pin\n"),
       values("  tag: 1.4.2\n  digest: <D>   # set by pin\n"), 1},
      {"empty digest key at the end without a newline", "values.yaml", values("  tag: 1.4.2\n  digest:"),
       values("  tag: 1.4.2\n  digest: <D>"), 1},
      {"quoted empty digest", "values.yaml", values("  tag: 1.4.2\n  digest: \"\"\n"),
       values("  tag: 1.4.2\n  digest: \"<D>\"\n"), 1},
      {"single-quoted empty digest", "values.yaml", values("  digest: ''\n  tag: 1.4.2\n"),
       values("  digest: '<D>'\n  tag: 1.4.2\n"), 1},
      {"null digest", "values.yaml", values("  tag: 1.4.2\n  digest: ~\n"), values("  tag: 1.4.2\n  digest: <D>\n"), 1},
      {"CRLF", "values.yaml", crlf(values("  tag: 1.4.2\n  digest: null\n")),
       crlf(values("  tag: 1.4.2\n  digest: <D>\n")), 1},
      {"flow mapping", "values.yaml", "image: {repository: acme/web, tag: 1.4.2}\n",
       "image: {repository: acme/web, tag: 1.4.2@<D>}\n", 1},
      {"flow mapping with an empty digest", "values.yaml",
       "image: {repository: acme/web, tag: \"1.4.2\", digest: \"\"}\n",
       "image: {repository: acme/web, tag: \"1.4.2\", digest: \"<D>\"}\n", 1},
      {"HelmRelease values", "apps/web.yaml", helmrelease, edited(helmrelease, {{"v2.0.1", "v2.0.1@<D>"}}), 1},
  };
  run_cases(cases);
}

TEST_CASE("pin: kustomize images entries get a digest key", "[pin][kustomize]")
{
  const std::string head = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n";
  const std::string entries = head + text(R"(
  - name: nginx
    newTag: "1.25.3"  # web
  - name: redis
    newName: ghcr.io/acme/redis
    newTag: '7.2'
    # end
)");
  const std::vector<Case> cases = {
      {"plain newTag", "kustomization.yaml", head + "  - name: nginx\n    newTag: 1.25.3\n",
       head + "  - name: nginx\n    newTag: 1.25.3\n    digest: <D>\n", 1},
      {"quoted newTag, a comment, newName, the next entry", "kustomization.yaml", entries,
       edited(entries, {{"# web\n", "# web\n    digest: \"<D>\"\n"}, {"'7.2'\n", "'7.2'\n    digest: '<D>'\n"}}), 2},
      {"newTag first in the entry", "kustomization.yaml", head + "- newTag: \"1.25\"\n  name: nginx\n",
       head + "- newTag: \"1.25\"\n  digest: \"<D>\"\n  name: nginx\n", 1},
      {"aligned values and quoted keys", "kustomization.yaml",
       head + "  - \"name\":   nginx\n    \"newTag\": \"1.25\"\n",
       head + "  - \"name\":   nginx\n    \"newTag\": \"1.25\"\n    \"digest\": \"<D>\"\n", 1},
      {"empty digest key", "kustomization.yaml", head + "  - name: nginx\n    digest:\n    newTag: \"1.25\"\n",
       head + "  - name: nginx\n    digest: <D>\n    newTag: \"1.25\"\n", 1},
      {"flow entry", "kustomization.yaml", head + "  - {name: redis, newTag: \"7\"}\n",
       head + "  - {name: redis, newTag: \"7\", digest: \"<D>\"}\n", 1},
      {"no newline at the end", "kustomization.yaml", head + "  - name: nginx\n    newTag: 1.25.3",
       head + "  - name: nginx\n    newTag: 1.25.3\n    digest: <D>", 1},
      {"CRLF", "kustomization.yaml",
       crlf(head + "  - name: nginx\n    newTag: 1.25.3\n  - name: redis\n    newTag: \"7\""),
       crlf(head + "  - name: nginx\n    newTag: 1.25.3\n    digest: <D>\n  - name: redis\n    newTag: \"7\"\n    "
                   "digest: \"<D>\""),
       2},
  };
  run_cases(cases);
}

TEST_CASE("pin: Dockerfile FROM and COPY --from", "[pin][dockerfile]")
{
  const std::string stages = text(R"(
# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
RUN go build -o /app .
FROM gcr.io/distroless/static:nonroot
COPY --from=build /app /app
)");
  const std::string multi = text(R"(
FROM alpine:3.19 AS base
FROM base AS test
FROM scratch
COPY --from=busybox:1.36 /bin/sh /sh
COPY --from=base /etc/passwd /etc/passwd
)");
  const std::vector<Case> cases = {
      {"FROM", "Dockerfile", "FROM nginx:1.25\nRUN true\n", "FROM nginx:1.25@<D>\nRUN true\n", 1},
      {"--platform and AS, a stage used later", "Dockerfile", stages,
       edited(stages, {{"golang:1.22", "golang:1.22@<D>"}, {"nonroot", "nonroot@<D>"}}), 2},
      {"multi-stage: stage names and scratch are not images", "Dockerfile", multi,
       edited(multi, {{"alpine:3.19", "alpine:3.19@<D>"}, {"busybox:1.36", "busybox:1.36@<D>"}}), 2},
      {"no tag", "Dockerfile", "FROM ubuntu\n", "FROM ubuntu@<D>\n", 1},
      {"lower case and a continuation line", "Dockerfile", "from \\\n  nginx:1.25 \\\n  as web\n",
       "from \\\n  nginx:1.25@<D> \\\n  as web\n", 1},
      {"CRLF", "Dockerfile", "FROM nginx:1.25 AS web\r\nFROM web\r\n", "FROM nginx:1.25@<D> AS web\r\nFROM web\r\n", 1},
      {"no newline at the end", "Dockerfile", "FROM nginx:1.25", "FROM nginx:1.25@<D>", 1},
      {"BOM", "Dockerfile",
       "\xEF\xBB\xBF"
       "FROM nginx:1.25\n",
       "\xEF\xBB\xBF"
       "FROM nginx:1.25@<D>\n",
       1},
  };
  run_cases(cases);
}

TEST_CASE("pin: what is left alone, and why", "[pin]")
{
  struct SkipCase {
    std::string name;
    std::string rel;
    std::string content;
    std::string reason;
  };
  const std::vector<SkipCase> cases = {
      {"templated compose image", "compose.yaml", "services:\n  app:\n    image: ghcr.io/acme/app:${TAG}\n",
       "templated (${TAG})"},
      {"ARG-templated FROM", "Dockerfile", "ARG BASE=alpine:3.19\nFROM ${BASE}\n", "templated (${BASE})"},
      {"ARG in the tag", "Dockerfile", "ARG V=3.19\nFROM alpine:$V\n", "templated (${V})"},
      {"Helm split form without a tag", "values.yaml", "image:\n  repository: acme/web\n  pullPolicy: Always\n",
       "the tag comes from the chart's appVersion"},
      {"kustomize entry without newTag", "kustomization.yaml",
       "images:\n  - name: nginx\n    newName: ghcr.io/acme/nginx\n",
       "the tag comes from the base manifest (kustomize images entry without newTag)"},
      {"escape sequences", "values.yaml", "image: \"nginx:1.2\\x35\"\n",
       "written with escape sequences or over several lines at 1:9; not rewritten"},
      {"escaped line break", "values.yaml", "image: \"nginx:\\\n  1.25\"\n",
       "written with escape sequences or over several lines at 1:9; not rewritten"},
      {"invalid reference", "values.yaml", "image: Nginx:1.25\n", "invalid reference: "},
      {"OCI artifact", "flux/source.yaml", text(R"(
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
  ref: {tag: 6.5.0}
)"),
       "OCI artifact (Flux OCIRepository or HelmRelease chart): not rewritten"},
      {"split across Argo CD helm parameters", "apps/app.yaml", application(text(R"(
    helm:
      parameters:
        - name: image.repository
          value: ghcr.io/acme/app
        - name: image.tag
          value: "1.2.3"
)")),
       "split across Argo CD helm parameters; not rewritten"},
      {"Argo CD values in an embedded YAML string", "apps/app.yaml", application(text(R"(
    helm:
      values: |
        image: nginx:1.25
)")),
       "no YAML value starts at 8:16 (inside an embedded YAML string?); not rewritten"},
      {"YAML syntax error later in the file", "values.yaml", "image: nginx:1.25\n---\nbroken: [\n",
       "the file has a YAML syntax error; not rewritten"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const auto r = pin_text(c.content, c.rel);
    CHECK(r.text == c.content);
    const auto& s = only_skip(r);
    INFO(s.reason);
    CHECK(s.reason.starts_with(c.reason));
  }
}

TEST_CASE("pin: references that are already pinned are not touched nor reported", "[pin]")
{
  const std::string content = "a:\n  image: nginx:1.25@" + k_other + "\nb:\n  image: redis:7\n";
  const auto r = pin_text(content, "values.yaml");
  INFO(describe(r));
  CHECK(r.text == "a:\n  image: nginx:1.25@" + k_other + "\nb:\n  image: redis:7@" + k_digest + "\n");
  CHECK(r.changes.size() == 1);
  CHECK(r.skipped.empty());

  const std::string pinned = "FROM nginx@" + k_other + "\n";
  const auto d = pin_text(pinned, "Dockerfile");
  CHECK(d.text == pinned);
  CHECK(d.changes.empty());
  CHECK(d.skipped.empty());
}

TEST_CASE("pin: the lookup's answers", "[pin]")
{
  const std::string content =
      "a:\n  image: nginx:1.25\nb:\n  image: redis:7\nc:\n  image: alpine:3.19\nd:\n  image: nginx:1.25\n";
  std::map<std::string, int> calls;
  const auto lookup = [&](const reference::Reference& ref) -> pin::DigestAnswer {
    ++calls[ref.canonical()];
    if (ref.repository == "library/redis") {
      return {{}, "tag not found"};
    }
    if (ref.repository == "library/alpine") {
      return {};
    }
    return {k_digest, {}};
  };
  const auto r = pin_text(content, "values.yaml", lookup);
  INFO(describe(r));
  CHECK(r.text == with_digest("a:\n  image: nginx:1.25@<D>\nb:\n  image: redis:7\nc:\n  image: alpine:3.19\nd:\n  "
                              "image: nginx:1.25@<D>\n"));
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0].ref == "redis:7");
  CHECK(r.skipped[0].reason == "tag not found");
  CHECK(r.skipped[0].location == ".b.image");
  CHECK(r.skipped[0].line == 4);
  CHECK(r.skipped[1].reason == "no digest known");
  // One lookup per reference, however often the file names it.
  CHECK(calls == std::map<std::string, int>{{"docker.io/library/alpine:3.19", 1},
                                            {"docker.io/library/nginx:1.25", 1},
                                            {"docker.io/library/redis:7", 1}});

  const auto bad =
      pin_text("image: nginx:1.25\n", "values.yaml",
               [](const reference::Reference&) -> pin::DigestAnswer { return {"sha256:abc", {}}; });
  CHECK(bad.text == "image: nginx:1.25\n");
  CHECK(only_skip(bad).reason.starts_with("the lookup gave an invalid digest: "));
}

TEST_CASE("pin: wanted lists each reference to look up once", "[pin]")
{
  const std::string content = "services:\n"
                              "  a: {image: nginx:1.25}\n"
                              "  b: {image: \"nginx:1.25\"}\n"
                              "  c: {image: \"ghcr.io/acme/app:${TAG}\"}\n"
                              "  d: {image: redis:7@" +
                              k_other +
                              "}\n"
                              "  e: {image: alpine}\n";
  const auto r = extract::extract_file(input_for(content, "compose.yaml"));
  REQUIRE(r.findings.size() == 5);
  const auto refs = pin::wanted(r);
  std::vector<std::string> canonical;
  for (const auto& ref : refs) {
    canonical.push_back(ref.canonical());
  }
  CHECK(canonical == std::vector<std::string>{"docker.io/library/nginx:1.25", "docker.io/library/alpine"});
  // A file that does not parse is not rewritten: nothing to look up.
  const auto broken = extract::extract_file(input_for("image: nginx:1.25\n---\nbroken: [\n", "values.yaml"));
  CHECK(broken.parse_failed);
  CHECK(pin::wanted(broken).empty());
  CHECK(pin::not_pinnable(r.findings[3]) == std::optional<std::string>("already pinned"));
}

TEST_CASE("pin: a kustomize base image is pinned in the kustomization", "[pin][kustomize]")
{
  const std::string base = text(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - {name: web, image: nginx}
)");
  const std::string kustomization = "images:\n  - name: nginx\n    newTag: \"1.25\"\n";
  const auto base_in = input_for(base, "base/deploy.yaml");
  const auto kust_in = input_for(kustomization, "overlays/prod/kustomization.yaml");
  std::vector<extract::FileResult> results = {extract::extract_file(base_in), extract::extract_file(kust_in)};
  extract::apply_kustomize_overrides(results);

  const auto b = pin::pin_file(base_in, results[0], every);
  CHECK(b.text == base);
  const auto& s = only_skip(b);
  CHECK(s.reason == "kustomize base image: pin the kustomization's images: entry (overlays/prod/kustomization.yaml)");
  CHECK(pin::wanted(results[0]).empty());

  const auto k = pin::pin_file(kust_in, results[1], every);
  CHECK(k.text == with_digest("images:\n  - name: nginx\n    newTag: \"1.25\"\n    digest: \"<D>\"\n"));
}

TEST_CASE("pin: YAML aliases", "[pin]")
{
  SECTION("an alias of a rewritten anchor is pinned with it")
  {
    const auto r = pin_text("a:\n  image: &img nginx:1.25\nb:\n  image: *img\n", "values.yaml");
    CHECK(r.text == with_digest("a:\n  image: &img nginx:1.25@<D>\nb:\n  image: *img\n"));
    REQUIRE(r.changes.size() == 2);
    CHECK(r.changes[1].location == ".b.image");
    CHECK(r.changes[1].to == "nginx:1.25@" + k_digest);
  }
  SECTION("an alias whose anchor is not rewritten is a skip")
  {
    const auto r = pin_text("defaults: &img nginx:1.25\nb:\n  image: *img\n", "values.yaml");
    CHECK(r.text == "defaults: &img nginx:1.25\nb:\n  image: *img\n");
    CHECK(only_skip(r).reason ==
          "reached through the YAML alias *img; the anchored value is pinned where it is written");
  }
}

TEST_CASE("pin: the self-check refuses an edit that pins another reference too", "[pin]")
{
  // The tag anchored in .image is also .other.image's tag: writing the digest there would pin
  // acme/other to acme/web's digest. .sidecar is independent and is kept.
  const std::string content = text(R"(
image:
  repository: acme/web
  tag: &t 1.2.3
other:
  image:
    repository: acme/other
    tag: *t
sidecar:
  image: busybox:1.36
)");
  const auto r = pin_text(content, "values.yaml");
  INFO(describe(r));
  CHECK(r.text == with_digest(edited(content, {{"busybox:1.36", "busybox:1.36@<D>"}})));
  REQUIRE(r.changes.size() == 1);
  CHECK(r.changes[0].location == ".sidecar.image");
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0].location == ".image");
  CHECK(r.skipped[0].reason == "the reference at .other.image reads differently after the rewrite; not rewritten");
  CHECK(r.skipped[1].location == ".other.image");
  CHECK(r.skipped[1].reason.starts_with("a key of the mapping at 6:17 is a YAML alias"));

  // Alone in the file, the same edit leaves the file unchanged.
  const std::string alone = content.substr(0, content.find("sidecar:"));
  const auto a = pin_text(alone, "values.yaml");
  CHECK(a.text == alone);
  REQUIRE(a.skipped.size() == 2);
  CHECK(a.skipped[0].reason ==
        "the reference at .other.image reads differently after the rewrite; file left unchanged");
}

TEST_CASE("pin: findings that do not match the text are skipped", "[pin]")
{
  // The findings of an older version of the file: the position no longer holds the reference.
  const std::string old_text = "image: nginx:1.25\n";
  const std::string new_text = "image:  nginx:1.25\n";
  const auto result = extract::extract_file(input_for(old_text, "values.yaml"));
  const auto r = pin::pin_file(input_for(new_text, "values.yaml"), result, every);
  CHECK(r.text == new_text);
  CHECK(only_skip(r).reason == "no YAML value starts at 1:8 (inside an embedded YAML string?); not rewritten");

  const std::string other_ref = "image: nginx:1.26\n";
  const auto d = pin::pin_file(input_for(other_ref, "values.yaml"), result, every);
  CHECK(d.text == other_ref);
  CHECK(only_skip(d).reason == "the text at 1:8 is not \"nginx:1.25\" as read; not rewritten");

  const auto docker = extract::extract_file(input_for("FROM nginx:1.25\n", "Dockerfile"));
  const auto e = pin::pin_file(input_for("FROM nginx:1.26\n", "Dockerfile"), docker, every);
  CHECK(e.text == "FROM nginx:1.26\n");
  CHECK(only_skip(e).reason == "the text at 1:6 is not \"nginx:1.25\" as read; not rewritten");
}

// --- unified_diff --------------------------------------------------------------------------------

namespace {

// What GNU diff prints for the two texts, with our header lines.
std::string gnu_diff(const TempDir& dir, std::string_view before, std::string_view after)
{
  const auto a = dir.write("before", std::string(before));
  const auto b = dir.write("after", std::string(after));
  const auto r = run({"diff", "-u", "--label", "a/f.yaml", "--label", "b/f.yaml", a.string(), b.string()});
  INFO(r.err);
  CHECK(r.exit_code == (before == after ? 0 : 1));
  return r.out;
}

std::string numbered(int from, int to, std::string_view suffix = "\n")
{
  std::string out;
  for (int i = from; i <= to; ++i) {
    out += "line " + std::to_string(i) + std::string(suffix);
  }
  return out;
}

} // namespace

TEST_CASE("pin::unified_diff", "[pin][diff]")
{
  CHECK(pin::unified_diff("f.yaml", "a\n", "a\n").empty());
  CHECK(pin::unified_diff("k/f.yaml", "a\nb\nc\n", "a\nB\nc\n") ==
        "--- a/k/f.yaml\n+++ b/k/f.yaml\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
  CHECK(pin::unified_diff("f", "a", "b") ==
        "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n");
  CHECK(pin::unified_diff("f", "", "a\n") == "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+a\n");
}

TEST_CASE("pin::unified_diff gives the hunks of diff -u", "[pin][diff]")
{
  const TempDir dir;
  const std::string twenty = numbered(1, 20);
  const auto replace = [&](std::string s, const std::string& from, const std::string& to) {
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  struct DiffCase {
    std::string name;
    std::string before;
    std::string after;
  };
  const std::vector<DiffCase> cases = {
      {"one line in the middle", twenty, replace(twenty, "line 10\n", "line ten\n")},
      {"two changes six lines apart: one hunk", twenty,
       replace(replace(twenty, "line 3\n", "x\n"), "line 10\n", "y\n")},
      {"two changes seven lines apart: two hunks", twenty,
       replace(replace(twenty, "line 3\n", "x\n"), "line 11\n", "y\n")},
      {"an inserted line", twenty, replace(twenty, "line 5\n", "line 5\n    digest: sha256:abc\n")},
      {"first and last lines", twenty, replace(replace(twenty, "line 1\n", "first\n"), "line 20\n", "last\n")},
      {"deleted lines", twenty, replace(twenty, "line 7\nline 8\n", "")},
      {"a final newline added", "a\nb\nc", "a\nb\nc\n"},
      {"a final newline removed", "a\nb\nc\n", "a\nb\nc"},
      {"last line changed without final newline", "a\nb\nc", "a\nb\nC"},
      {"unchanged last line without final newline", numbered(1, 9) + "end",
       replace(numbered(1, 9), "line 8\n", "8\n") + "end"},
      {"CRLF", numbered(1, 12, "\r\n"), replace(numbered(1, 12, "\r\n"), "line 6\r\n", "line six\r\n")},
      {"line endings changed", "a\nb\n", "a\r\nb\r\n"},
      {"everything removed", "a\nb\n", ""},
      {"everything different", "a\nb\nc\n", "x\ny\n"},
      {"more differences than the search follows", numbered(1, 2100), numbered(1, 2100, " changed\n")},
      {"a kustomization pinned", "images:\n  - name: nginx\n    newTag: \"1.25\"\n  - name: redis\n    newTag: \"7\"\n",
       with_digest("images:\n  - name: nginx\n    newTag: \"1.25\"\n    digest: \"<D>\"\n  - name: redis\n    newTag: "
                   "\"7\"\n    digest: \"<D>\"\n")},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(pin::unified_diff("f.yaml", c.before, c.after) == gnu_diff(dir, c.before, c.after));
  }
}

TEST_CASE("pin::unified_diff is a minimal diff that patch applies", "[pin][diff]")
{
  // Random texts over a few distinct lines have many equally short diffs, so GNU diff may pick
  // another one: check instead that the diff is as short as possible (the longest common
  // subsequence) and that patch(1) turns the first text into the second with it.
  const TempDir dir;
  std::mt19937 random(20240611);
  const std::vector<std::string> alphabet = {"a\n", "b\n", "c\n", "d\n"};
  const auto make = [&] {
    std::vector<std::string> lines(random() % 12);
    for (auto& l : lines) {
      l = alphabet[random() % alphabet.size()];
    }
    if (!lines.empty() && random() % 4 == 0) {
      lines.back().pop_back(); // no final newline
    }
    return lines;
  };
  const auto join = [](const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
      out += l;
    }
    return out;
  };
  for (int round = 0; round < 60; ++round) {
    const auto a = make();
    const auto b = make();
    const std::string before = join(a);
    const std::string after = join(b);
    INFO("before:\n" << before << "\nafter:\n" << after);
    const std::string diff = pin::unified_diff("f", before, after);
    std::vector<std::vector<std::size_t>> lcs(a.size() + 1, std::vector<std::size_t>(b.size() + 1, 0));
    for (std::size_t i = a.size(); i-- > 0;) {
      for (std::size_t j = b.size(); j-- > 0;) {
        lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    std::size_t edits = 0;
    for (const auto line : util::split(diff, '\n')) {
      edits +=
          (line.starts_with("-") && !line.starts_with("---")) || (line.starts_with("+") && !line.starts_with("+++"))
              ? 1
              : 0;
    }
    CHECK(edits == a.size() + b.size() - 2 * lcs[0][0]);
    if (diff.empty()) {
      CHECK(before == after);
      continue;
    }
    const auto in = dir.write("in", before);
    const auto patch = dir.write("p.diff", diff);
    const auto out = dir / "out";
    const auto r = run({"patch", "-s", "-o", out.string(), in.string(), patch.string()});
    INFO(diff << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(read_file(out) == after);
  }
}

// --- write_atomically --------------------------------------------------------------------------

namespace {

std::vector<std::string> names_in(const fs::path& dir)
{
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("pin::write_atomically", "[pin][write]")
{
  const TempDir dir;
  SECTION("replaces the content, keeps the mode, leaves no temporary file")
  {
    const auto p = dir.write("deploy.yaml", "old\n");
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    pin::write_atomically(p.string(), "new\r\ncontent");
    CHECK(read_file(p) == "new\r\ncontent");
    CHECK(fs::status(p).permissions() == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
    CHECK(names_in(dir.path()) == std::vector<std::string>{"deploy.yaml"});
  }
  SECTION("an executable keeps its x bit")
  {
    const auto p = dir.write("run.sh", "#!/bin/sh\n");
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
    pin::write_atomically(p.string(), "#!/bin/sh\ntrue\n");
    CHECK(fs::status(p).permissions() == (fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec));
  }
  SECTION("a symbolic link stays a link to the rewritten file")
  {
    const auto target = dir.write("real/values.yaml", "old\n");
    const auto link = dir / "values.yaml";
    fs::create_symlink("real/values.yaml", link);
    pin::write_atomically(link.string(), "new\n");
    CHECK(fs::is_symlink(link));
    CHECK(read_file(target) == "new\n");
    CHECK(names_in(dir / "real") == std::vector<std::string>{"values.yaml"});
  }
  SECTION("a new file is created")
  {
    const auto p = dir / "fresh.yaml";
    pin::write_atomically(p.string(), "x\n");
    CHECK(read_file(p) == "x\n");
  }
  SECTION("fails cleanly when the directory cannot hold the file")
  {
    // Tests run as root, for whom a read-only directory is writable: a parent that is a
    // regular file makes the temporary file impossible instead.
    dir.write("file", "x\n");
    const auto p = (dir / "file" / "deploy.yaml").string();
    try {
      pin::write_atomically(p, "new\n");
      FAIL("no exception");
    } catch (const util::Fatal& e) {
      CHECK(std::string(e.what()) == p + ": cannot write: Not a directory");
    }
    CHECK(names_in(dir.path()) == std::vector<std::string>{"file"});
    CHECK(read_file(dir / "file") == "x\n");
  }
  SECTION("a directory is not replaced")
  {
    fs::create_directory(dir / "sub");
    CHECK_THROWS_AS(pin::write_atomically((dir / "sub").string(), "x"), util::Fatal);
    CHECK(fs::is_directory(dir / "sub"));
  }
  SECTION("a read-only directory (when not running as root)")
  {
    if (::geteuid() == 0) {
      WARN("running as root: a read-only directory does not stop root; checked with a file as parent instead");
    } else {
      const auto p = dir.write("ro/deploy.yaml", "old\n");
      fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
      CHECK_THROWS_AS(pin::write_atomically(p.string(), "new\n"), util::Fatal);
      CHECK(read_file(p) == "old\n");
      CHECK(names_in(dir / "ro") == std::vector<std::string>{"deploy.yaml"});
    }
  }
}
