// Kubernetes workloads (issue 2 §3.1, DESIGN.md "Identity of a location"): every pod-spec
// container group of every workload kind, List items, multi-document files, exact positions.
#include "extract_helpers.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace changetrail::extract;
using namespace changetrail::test;

namespace {

// The file every manifest below is read as.
constexpr std::string_view k_manifest = "deploy/app.yaml";

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
  const auto r = extract(content, k_manifest);
  CHECK(r.checked);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 4);

  const auto& migrate = check_position(r, "Deployment/shop/web/initContainers/migrate", 12, 18);
  CHECK(migrate.file == "deploy/app.yaml");
  CHECK(migrate.format == "kubernetes");
  CHECK(migrate.workload == "Deployment/shop/web");
  CHECK(migrate.container == "migrate");
  CHECK(migrate.ref == "ghcr.io/acme/migrate:1.0.0");
  CHECK(migrate.image.valid);
  CHECK(migrate.image.registry == "ghcr.io");
  CHECK(migrate.image.repository == "acme/migrate");
  CHECK(migrate.image.tag == "1.0.0");
  CHECK(migrate.tag_source == TagSource::written);

  // Quoted: the column is the reference's first character, after the opening quote.
  const auto& app = check_position(r, "Deployment/shop/web/containers/app", 15, 19);
  CHECK(app.ref == "ghcr.io/acme/web:2.3.1");
  CHECK(app.container == "app");

  const auto& sidecar = check_position(r, "Deployment/shop/web/containers/sidecar", 17, 19);
  CHECK(sidecar.ref == "envoyproxy/envoy:v1.29.1");
  CHECK(sidecar.image.registry == "docker.io");
  CHECK(sidecar.image.repository == "envoyproxy/envoy");

  const auto& debug = check_position(r, "Deployment/shop/web/ephemeralContainers/debug", 20, 18);
  CHECK(debug.ref == "busybox");
  CHECK(debug.image.valid);
  CHECK(debug.image.repository == "library/busybox");
  CHECK(debug.image.tag.empty()); // implicit latest stays a missing tag
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
      const auto r = extract(content, k_manifest);
      CHECK(r.problems.empty());
      const auto& f = only_finding(r);
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
  const auto r = extract(content, k_manifest);
  const auto& f = only_finding(r);
  // A missing namespace is "_".
  CHECK(f.location == "CronJob/_/nightly/containers/report");
  CHECK(f.workload == "CronJob/_/nightly");
  CHECK(f.line == 13);
  CHECK(f.column == 22);
}

TEST_CASE("kubernetes: any apiVersion of a workload kind", "[extract][kubernetes]")
{
  for (const std::string api : {"extensions/v1beta1", "apps/v1beta2", "apps/v2alpha9", "example.com/v1"}) {
    DYNAMIC_SECTION(api)
    {
      const std::string content = "apiVersion: " + api
                                  + "\nkind: Deployment\nmetadata:\n  name: old\nspec:\n  template:\n    spec:\n"
                                  + pod_spec(6, "redis:7.2.4");
      const auto r = extract(content, k_manifest);
      const auto& f = only_finding(r);
      CHECK(f.location == "Deployment/_/old/containers/app");
      CHECK(f.format == "kubernetes");
      CHECK(f.ref == "redis:7.2.4");
    }
  }
  SECTION("CronJob batch/v1beta1")
  {
    const std::string content = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: c\n  namespace: ops\n"
                                "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
                                + pod_spec(10, "redis:7.2.4");
    const auto r = extract(content, k_manifest);
    const auto& f = only_finding(r);
    CHECK(f.location == "CronJob/ops/c/containers/app");
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
  const auto r = extract(content, k_manifest);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 2);
  check_position(r, "Deployment/ns1/a/containers/app", 12, 22);
  const auto& p = check_position(r, "Pod/_/p/containers/c", 23, 29);
  CHECK(p.ref == "redis:7.2");
  CHECK(p.format == "kubernetes");
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
  const auto r = extract(content, k_manifest);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 2);
  check_position(r, "StatefulSet/data/db/containers/postgres", 20, 18);
  const auto& agent = check_position(r, "DaemonSet/kube-system/agent/containers/agent", 34, 18);
  CHECK(agent.image.digest == "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  CHECK(agent.image.tag.empty());
}

TEST_CASE("kubernetes: the same workload name in two namespaces gives two locations", "[extract][kubernetes]")
{
  std::string content;
  for (const char* ns : {"staging", "prod"}) {
    content += std::string("---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: ") + ns
               + "\nspec:\n  template:\n    spec:\n" + pod_spec(6, "ghcr.io/acme/api:1.0.0");
  }
  const auto r = extract(content, k_manifest);
  REQUIRE(r.findings.size() == 2);
  const auto [line1, col1] = position_of(content, "ghcr.io/acme/api:1.0.0", 0);
  const auto [line2, col2] = position_of(content, "ghcr.io/acme/api:1.0.0", 1);
  check_position(r, "Deployment/staging/api/containers/app", line1, col1);
  check_position(r, "Deployment/prod/api/containers/app", line2, col2);
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
  const auto r = extract(content, k_manifest);
  REQUIRE(r.findings.size() == 2);
  const auto& app = check_position(r, "Rollout/prod/canary/containers/app", 17, 18);
  CHECK(app.format == "kubernetes");
  CHECK(app.workload == "Rollout/prod/canary");
  CHECK(app.container == "app");
  const auto& init = require_location(r, "Rollout/prod/canary/initContainers/init");
  CHECK(init.ref == "busybox:1.36");
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
  const auto r = extract(content, k_manifest);
  const auto& f = only_finding(r);
  CHECK(f.location == "Pod/_/café/containers/résumé-ünïcode");
  CHECK(f.line == 7);
  // `    - {name: "résumé-ünïcode", image: ` is 38 characters (42 bytes).
  CHECK(f.column == 39);
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
  const auto r = extract(content, k_manifest);
  CHECK(r.problems.empty());
  const auto& f = only_finding(r);
  CHECK(f.location == "Pod/n/p/containers/c");
  CHECK(f.ref == "nginx:1.25.3");
  CHECK(f.line == 9);
  CHECK(f.column == 15);
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
  const auto r = extract(content, k_manifest);
  const auto& f = only_finding(r);
  CHECK(f.ref == "Ghcr.io/Acme/App:1.0");
  CHECK_FALSE(f.image.valid);
  CHECK_FALSE(f.image.error.empty());
  CHECK(f.line == 7);
  CHECK(f.column == 14);
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
  const auto r = extract(content, k_manifest);
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
  const auto r = extract(content, k_manifest);
  const auto& f = only_finding(r);
  CHECK(f.location == "Pod/_/ok/containers/c");
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
  const auto r = extract(content, k_manifest);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 2);
  check_position(r, "Deployment/shop/web/containers/app", 14, 19);
  check_position(r, "Deployment/shop/web/containers/sidecar", 17, 18);
}
