// Kubernetes workloads (issue 2 §3.1, DESIGN.md "Identity of a location"): every pod-spec
// container group of every workload kind, List items, multi-document files, exact positions.
#include <changetrail/extract/extract.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace changetrail::extract;

namespace {

// Raw string literals start with a newline for readability; line 1 is the line after it.
std::string text(std::string_view s)
{
  if (!s.empty() && s.front() == '\n') {
    s.remove_prefix(1);
  }
  return std::string(s);
}

FileResult extract(const std::string& content, std::string_view rel = "deploy/app.yaml")
{
  FileInput in;
  in.file = rel;
  in.rel = rel;
  in.content = content;
  in.kind = classify(rel);
  return extract_file(in);
}

// 1-based line and column (in characters) of the n-th occurrence of `needle`: where a finding
// for the reference spelled `needle` must point.
std::pair<std::uint32_t, std::uint32_t> position_of(std::string_view content, std::string_view needle, int nth = 0)
{
  std::size_t at = content.find(needle);
  for (int i = 0; i < nth && at != std::string_view::npos; ++i) {
    at = content.find(needle, at + 1);
  }
  REQUIRE(at != std::string_view::npos);
  std::uint32_t line = 1;
  std::uint32_t column = 1;
  for (std::size_t i = 0; i < at; ++i) {
    const auto c = static_cast<unsigned char>(content[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++column;
    }
  }
  return {line, column};
}

const Finding* by_location(const FileResult& r, std::string_view location)
{
  for (const auto& f : r.findings) {
    if (f.location == location) {
      return &f;
    }
  }
  return nullptr;
}

std::vector<std::string> locations(const FileResult& r)
{
  std::vector<std::string> out;
  for (const auto& f : r.findings) {
    out.push_back(f.location);
  }
  return out;
}

// A pod spec holding one container `app` with `image`, indented by `indent` spaces.
std::string pod_spec(int indent, std::string_view image)
{
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  return pad + "containers:\n" + pad + "  - name: app\n" + pad + "    image: " + std::string(image) + "\n";
}

} // namespace

TEST_CASE("kubernetes: Deployment container groups with exact positions", "[extract][kubernetes]")
{
  const auto content = text(R"(
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
          image: ghcr.io/acme/migrate:1.0.0
      containers:
        - name: app
          image: "ghcr.io/acme/web:2.3.1"
        - name: sidecar
          image: 'envoyproxy/envoy:v1.29.1'
      ephemeralContainers:
        - name: debug
          image: busybox
)");
  const auto r = extract(content);
  CHECK(r.checked);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 4);

  const auto* migrate = by_location(r, "Deployment/shop/web/initContainers/migrate");
  REQUIRE(migrate != nullptr);
  CHECK(migrate->file == "deploy/app.yaml");
  CHECK(migrate->format == "kubernetes");
  CHECK(migrate->workload == "Deployment/shop/web");
  CHECK(migrate->container == "migrate");
  CHECK(migrate->ref == "ghcr.io/acme/migrate:1.0.0");
  CHECK(migrate->line == 12);
  CHECK(migrate->column == 18);
  CHECK(migrate->image.valid);
  CHECK(migrate->image.registry == "ghcr.io");
  CHECK(migrate->image.repository == "acme/migrate");
  CHECK(migrate->image.tag == "1.0.0");
  CHECK(migrate->tag_source == TagSource::written);

  // Quoted: the column is the reference's first character, after the opening quote.
  const auto* app = by_location(r, "Deployment/shop/web/containers/app");
  REQUIRE(app != nullptr);
  CHECK(app->ref == "ghcr.io/acme/web:2.3.1");
  CHECK(app->line == 15);
  CHECK(app->column == 19);
  CHECK(app->container == "app");

  const auto* sidecar = by_location(r, "Deployment/shop/web/containers/sidecar");
  REQUIRE(sidecar != nullptr);
  CHECK(sidecar->ref == "envoyproxy/envoy:v1.29.1");
  CHECK(sidecar->line == 17);
  CHECK(sidecar->column == 19);
  CHECK(sidecar->image.registry == "docker.io");
  CHECK(sidecar->image.repository == "envoyproxy/envoy");

  const auto* debug = by_location(r, "Deployment/shop/web/ephemeralContainers/debug");
  REQUIRE(debug != nullptr);
  CHECK(debug->ref == "busybox");
  CHECK(debug->line == 20);
  CHECK(debug->column == 18);
  CHECK(debug->image.valid);
  CHECK(debug->image.repository == "library/busybox");
  CHECK(debug->image.tag.empty()); // implicit latest stays a missing tag
}

TEST_CASE("kubernetes: every workload kind, with its own pod-spec path", "[extract][kubernetes]")
{
  struct Case {
    std::string kind;
    std::string api;
    std::string body; // everything after metadata
  };
  const std::vector<Case> cases = {
    {"Pod", "v1", "spec:\n" + pod_spec(2, "nginx:1.25.3")},
    {"Deployment", "apps/v1", "spec:\n  template:\n    spec:\n" + pod_spec(6, "nginx:1.25.3")},
    {"StatefulSet", "apps/v1", "spec:\n  serviceName: x\n  template:\n    spec:\n" + pod_spec(6, "nginx:1.25.3")},
    {"DaemonSet", "apps/v1", "spec:\n  template:\n    spec:\n" + pod_spec(6, "nginx:1.25.3")},
    {"ReplicaSet", "apps/v1", "spec:\n  template:\n    spec:\n" + pod_spec(6, "nginx:1.25.3")},
    {"ReplicationController", "v1", "spec:\n  template:\n    spec:\n" + pod_spec(6, "nginx:1.25.3")},
    {"Job", "batch/v1", "spec:\n  backoffLimit: 1\n  template:\n    spec:\n" + pod_spec(6, "nginx:1.25.3")},
    {"CronJob", "batch/v1",
     "spec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n" + pod_spec(10, "nginx:1.25.3")},
    {"PodTemplate", "v1", "template:\n  metadata:\n    labels: {app: x}\n  spec:\n" + pod_spec(4, "nginx:1.25.3")},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.kind)
    {
      const std::string content = "apiVersion: " + c.api + "\nkind: " + c.kind + "\nmetadata:\n  name: w\n  namespace: ns\n" + c.body;
      const auto r = extract(content);
      CHECK(r.problems.empty());
      REQUIRE(r.findings.size() == 1);
      const auto& f = r.findings.front();
      CHECK(f.format == "kubernetes");
      CHECK(f.location == c.kind + "/ns/w/containers/app");
      CHECK(f.workload == c.kind + "/ns/w");
      CHECK(f.container == "app");
      CHECK(f.ref == "nginx:1.25.3");
      const auto [line, column] = position_of(content, "nginx:1.25.3");
      CHECK(f.line == line);
      CHECK(f.column == column);
    }
  }
}

TEST_CASE("kubernetes: CronJob pod spec under jobTemplate, missing namespace", "[extract][kubernetes]")
{
  const auto content = text(R"(
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: ghcr.io/acme/report:0.9.0
)");
  const auto r = extract(content);
  REQUIRE(r.findings.size() == 1);
  // A missing namespace is "_".
  CHECK(r.findings[0].location == "CronJob/_/nightly/containers/report");
  CHECK(r.findings[0].workload == "CronJob/_/nightly");
  CHECK(r.findings[0].line == 13);
  CHECK(r.findings[0].column == 22);
}

TEST_CASE("kubernetes: any apiVersion of a workload kind", "[extract][kubernetes]")
{
  for (const std::string api : {"extensions/v1beta1", "apps/v1beta2", "apps/v2alpha9", "example.com/v1"}) {
    DYNAMIC_SECTION(api)
    {
      const std::string content = "apiVersion: " + api
                                  + "\nkind: Deployment\nmetadata:\n  name: old\nspec:\n  template:\n    spec:\n"
                                  + pod_spec(6, "redis:7.2.4");
      const auto r = extract(content);
      REQUIRE(r.findings.size() == 1);
      CHECK(r.findings[0].location == "Deployment/_/old/containers/app");
      CHECK(r.findings[0].format == "kubernetes");
      CHECK(r.findings[0].ref == "redis:7.2.4");
    }
  }
  SECTION("CronJob batch/v1beta1")
  {
    const std::string content = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: c\n  namespace: ops\n"
                                "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
                                + pod_spec(10, "redis:7.2.4");
    const auto r = extract(content);
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].location == "CronJob/ops/c/containers/app");
  }
}

TEST_CASE("kubernetes: kind List items are read one by one", "[extract][kubernetes]")
{
  const auto content = text(R"(
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: a, namespace: ns1}
    spec:
      template:
        spec:
          containers:
            - name: app
              image: nginx:1.25.3
  - apiVersion: v1
    kind: Service
    metadata: {name: a, namespace: ns1}
    spec:
      ports: [{port: 80}]
  - apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
        - {name: c, image: "redis:7.2"}
)");
  const auto r = extract(content);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 2);
  const auto* a = by_location(r, "Deployment/ns1/a/containers/app");
  REQUIRE(a != nullptr);
  CHECK(a->line == 12);
  CHECK(a->column == 22);
  const auto* p = by_location(r, "Pod/_/p/containers/c");
  REQUIRE(p != nullptr);
  CHECK(p->ref == "redis:7.2");
  CHECK(p->line == 23);
  CHECK(p->column == 29);
  CHECK(p->format == "kubernetes");
}

TEST_CASE("kubernetes: multi-document files", "[extract][kubernetes]")
{
  const auto content = text(R"(
# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  key: value
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: data
spec:
  template:
    spec:
      containers:
        - name: postgres
          image: postgres:16.2
---
# only a comment in this one
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: kube-system
spec:
  template:
    spec:
      containers:
        - name: agent
          image: ghcr.io/acme/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
...
)");
  const auto r = extract(content);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 2);
  const auto* db = by_location(r, "StatefulSet/data/db/containers/postgres");
  REQUIRE(db != nullptr);
  CHECK(db->line == 20);
  CHECK(db->column == 18);
  const auto* agent = by_location(r, "DaemonSet/kube-system/agent/containers/agent");
  REQUIRE(agent != nullptr);
  CHECK(agent->line == 34);
  CHECK(agent->column == 18);
  CHECK(agent->image.digest == "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  CHECK(agent->image.tag.empty());
}

TEST_CASE("kubernetes: the same workload name in two namespaces gives two locations", "[extract][kubernetes]")
{
  std::string content;
  for (const char* ns : {"staging", "prod"}) {
    content += std::string("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: ") + ns
               + "\nspec:\n  template:\n    spec:\n" + pod_spec(6, "ghcr.io/acme/api:1.0.0");
  }
  const auto r = extract(content);
  REQUIRE(r.findings.size() == 2);
  CHECK(by_location(r, "Deployment/staging/api/containers/app") != nullptr);
  CHECK(by_location(r, "Deployment/prod/api/containers/app") != nullptr);
  const auto [line1, col1] = position_of(content, "ghcr.io/acme/api:1.0.0", 0);
  const auto [line2, col2] = position_of(content, "ghcr.io/acme/api:1.0.0", 1);
  CHECK(by_location(r, "Deployment/staging/api/containers/app")->line == line1);
  CHECK(by_location(r, "Deployment/prod/api/containers/app")->line == line2);
  CHECK(col1 == col2);
}

TEST_CASE("kubernetes: kinds with a pod template are workloads (Argo Rollout)", "[extract][kubernetes]")
{
  const auto content = text(R"(
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: canary
  namespace: prod
spec:
  strategy:
    canary:
      steps: [{setWeight: 20}, {pause: {}}]
  template:
    spec:
      initContainers:
        - name: init
          image: busybox:1.36
      containers:
        - name: app
          image: ghcr.io/acme/app:3.1.0
)");
  const auto r = extract(content);
  REQUIRE(r.findings.size() == 2);
  const auto* app = by_location(r, "Rollout/prod/canary/containers/app");
  REQUIRE(app != nullptr);
  CHECK(app->format == "kubernetes");
  CHECK(app->workload == "Rollout/prod/canary");
  CHECK(app->container == "app");
  CHECK(app->line == 17);
  CHECK(app->column == 18);
  const auto* init = by_location(r, "Rollout/prod/canary/initContainers/init");
  REQUIRE(init != nullptr);
  CHECK(init->ref == "busybox:1.36");
}

TEST_CASE("kubernetes: columns count characters, not bytes", "[extract][kubernetes]")
{
  const auto content = text(R"(
apiVersion: v1
kind: Pod
metadata:
  name: café
spec:
  containers:
    - {name: "résumé-ünïcode", image: ghcr.io/acme/app:1.0}
)");
  const auto r = extract(content);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].location == "Pod/_/café/containers/résumé-ünïcode");
  CHECK(r.findings[0].line == 7);
  // `    - {name: "résumé-ünïcode", image: ` is 38 characters (42 bytes).
  CHECK(r.findings[0].column == 39);
}

TEST_CASE("kubernetes: CRLF line endings and a byte-order mark keep positions", "[extract][kubernetes]")
{
  const std::string content = "\xEF\xBB\xBF"
                              "apiVersion: v1\r\n"
                              "kind: Pod\r\n"
                              "metadata:\r\n"
                              "  name: p\r\n"
                              "  namespace: n\r\n"
                              "spec:\r\n"
                              "  containers:\r\n"
                              "    - name: c\r\n"
                              "      image: \"nginx:1.25.3\"\r\n";
  const auto r = extract(content);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].location == "Pod/n/p/containers/c");
  CHECK(r.findings[0].ref == "nginx:1.25.3");
  CHECK(r.findings[0].line == 9);
  CHECK(r.findings[0].column == 15);
}

TEST_CASE("kubernetes: an invalid reference in a workload is still reported", "[extract][kubernetes]")
{
  // A container image is an image reference by definition: a broken one must reach the
  // invalid-reference rule, not vanish.
  const auto content = text(R"(
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: n}
spec:
  containers:
    - name: c
      image: Ghcr.io/Acme/App:1.0
)");
  const auto r = extract(content);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].ref == "Ghcr.io/Acme/App:1.0");
  CHECK_FALSE(r.findings[0].image.valid);
  CHECK_FALSE(r.findings[0].image.error.empty());
  CHECK(r.findings[0].line == 7);
  CHECK(r.findings[0].column == 14);
}

TEST_CASE("kubernetes: objects without containers give no findings and no problems", "[extract][kubernetes]")
{
  const auto content = text(R"(
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  readme: "set the repository name in values"
)");
  const auto r = extract(content);
  CHECK(r.checked);
  CHECK(r.problems.empty());
  CHECK(locations(r).empty());
}

TEST_CASE("kubernetes: a malformed document is a problem with its line; documents before it are read", "[extract][kubernetes]")
{
  const auto content = text(R"(
apiVersion: v1
kind: Pod
metadata: {name: ok}
spec:
  containers:
    - {name: c, image: "nginx:1.25.3"}
---
apiVersion: v1
kind: Pod
metadata: {name: broken
spec:
)");
  const auto r = extract(content);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].location == "Pod/_/ok/containers/c");
  REQUIRE_FALSE(r.problems.empty());
  CHECK(r.problems[0].line >= 10);
}

TEST_CASE("kubernetes: positions are the same in documents that use anchors", "[extract][kubernetes]")
{
  // Anchors and block scalars take the full YAML parser path: marks must not depend on it.
  const auto content = text(R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    note: |
      a block scalar
spec:
  template:
    spec:
      containers:
        - name: app
          image: "ghcr.io/acme/web:2.3.1"
          env: &env [{name: A, value: "1"}]
        - name: sidecar
          image: ghcr.io/acme/sidecar:1.0.0
          env: *env
)");
  const auto r = extract(content);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 2);
  const auto* app = by_location(r, "Deployment/shop/web/containers/app");
  REQUIRE(app != nullptr);
  CHECK(app->line == 14);
  CHECK(app->column == 19);
  const auto* sidecar = by_location(r, "Deployment/shop/web/containers/sidecar");
  REQUIRE(sidecar != nullptr);
  CHECK(sidecar->line == 17);
  CHECK(sidecar->column == 18);
}
