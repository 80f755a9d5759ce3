// The events a scan records (issue 3 section 1, DESIGN.md "Identity of a location", "Events and
// time"): real repositories with fixed times, exact events through the core API and the binary.
// Every expectation below is written from the commits the test makes (what `git log -p` shows).

#include "history_support.hpp"

using namespace changetrail::test::hist;
using changetrail::test::RunResult;
using changetrail::test::TempDir;
namespace ledger = changetrail::ledger;

namespace {

const std::string k_web = "k8s/web.yaml";
const std::string k_compose = "compose/docker-compose.yml";
const std::string k_dockerfile = "docker/Dockerfile";
const std::string k_kustomize = "kustomize/kustomization.yaml";
const std::string k_values = "helm/values.yaml";

std::string dockerfile(const std::string& go)
{
  return "ARG GO=" + go +
         "\nFROM golang:${GO} AS build\nRUN true\nFROM gcr.io/distroless/static:nonroot\nCOPY --from=build /x /x\n";
}

std::string kustomization(const std::string& tag)
{
  return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../k8s\nimages:\n  - name: "
         "nginx\n    newTag: " +
         tag + "\n";
}

std::string values(const std::string& tag)
{
  return "replicaCount: 2\nimage:\n  registry: ghcr.io\n  repository: acme/api\n  tag: \"" + tag +
         "\"\n  pullPolicy: IfNotPresent\n";
}

const std::string k_compose_text =
    "services:\n  web:\n    image: ${REGISTRY}/web:${TAG}\n  db:\n    image: postgres:16.1\n";

struct Formats {
  TempDir tmp;
  GitRepo repo{tmp / "repo"};
  std::vector<std::string> c; // commit ids, c[1] .. c[6]
  std::vector<std::string> unrelated_blobs;

  Formats()
  {
    c.resize(7);
    repo.write(k_web,
               deployment("shop", "web", {{"app", "ghcr.io/acme/web:1.0.0"}, {"envoy", "envoyproxy/envoy:v1.28.0"}}));
    repo.write(k_compose, k_compose_text);
    repo.write("compose/.env", "REGISTRY=ghcr.io/acme\nTAG=2.0.0\n");
    repo.write(k_dockerfile, dockerfile("1.21"));
    repo.write(k_kustomize, kustomization("1.25.3"));
    repo.write(k_values, values("3.1.0"));
    // Not deployment files: never read (their objects are deleted below).
    repo.write("README.md", "image: nginx:latest\n```yaml\nimage: redis:7\n```\n");
    repo.write("config/settings.json", "{\"image\": \"nginx:1.0\", \"containers\": [{\"image\": \"redis:7\"}]}\n");
    c[1] = repo.commit("initial deployment", t(1));

    repo.write(k_web,
               deployment("shop", "web", {{"app", "ghcr.io/acme/web:1.1.0"}, {"envoy", "envoyproxy/envoy:v1.28.0"}}));
    repo.write(k_kustomize, kustomization("1.25.4"));
    c[2] = repo.commit("bump web and nginx", t(2));

    repo.write(k_web, deployment("shop", "web", {{"app", "ghcr.io/acme/web:1.1.0"}}));
    c[3] = repo.commit("drop the envoy sidecar", t(3));

    repo.write("compose/.env", "REGISTRY=ghcr.io/acme\nTAG=2.1.0\n");
    c[4] = repo.commit("compose: web 2.1.0 via .env", t(4));

    repo.write(k_dockerfile, dockerfile("1.22"));
    repo.write(k_values, values("3.2.0"));
    repo.write("README.md", "image: nginx:1.27\n");
    repo.write("config/settings.json", "{\"image\": \"nginx:2.0\"}\n");
    c[5] = repo.commit("go 1.22, api 3.2.0, docs", t(5));

    repo.remove(k_values);
    c[6] = repo.commit("remove the api chart values", t(6));

    for (int i : {1, 5}) {
      unrelated_blobs.push_back(repo.blob(c[i], "README.md"));
      unrelated_blobs.push_back(repo.blob(c[i], "config/settings.json"));
    }
  }

  std::vector<std::string> expected() const
  {
    return {
        ev(t(1), c[1], "added", k_compose, "services/db", "", "postgres:16.1"),
        ev(t(1), c[1], "added", k_compose, "services/web", "", "${REGISTRY}/web:${TAG}"),
        ev(t(1), c[1], "added", k_dockerfile, "stage/1", "", "gcr.io/distroless/static:nonroot"),
        ev(t(1), c[1], "added", k_dockerfile, "stage/build", "", "golang:${GO}"),
        ev(t(1), c[1], "added", k_values, ".image", "", "ghcr.io/acme/api:3.1.0"),
        ev(t(1), c[1], "added", k_web, loc("shop", "web", "app"), "", "ghcr.io/acme/web:1.0.0"),
        ev(t(1), c[1], "added", k_web, loc("shop", "web", "envoy"), "", "envoyproxy/envoy:v1.28.0"),
        ev(t(1), c[1], "added", k_kustomize, "kustomize/images/nginx", "", "nginx:1.25.3"),
        ev(t(2), c[2], "changed", k_web, loc("shop", "web", "app"), "ghcr.io/acme/web:1.0.0", "ghcr.io/acme/web:1.1.0"),
        ev(t(2), c[2], "changed", k_kustomize, "kustomize/images/nginx", "nginx:1.25.3", "nginx:1.25.4"),
        ev(t(3), c[3], "removed", k_web, loc("shop", "web", "envoy"), "envoyproxy/envoy:v1.28.0", ""),
        // Only .env changed: the compose file's web service now deploys ghcr.io/acme/web:2.1.0.
        ev(t(4), c[4], "changed", k_compose, "services/web", "${REGISTRY}/web:${TAG}", "${REGISTRY}/web:${TAG}"),
        ev(t(5), c[5], "changed", k_dockerfile, "stage/build", "golang:${GO}", "golang:${GO}"),
        ev(t(5), c[5], "changed", k_values, ".image", "ghcr.io/acme/api:3.1.0", "ghcr.io/acme/api:3.2.0"),
        ev(t(6), c[6], "removed", k_values, ".image", "ghcr.io/acme/api:3.2.0", ""),
    };
  }
};

} // namespace

TEST_CASE("history: scan (core): first commit adds the whole tree, then changed / removed per location, every format",
          "[history][scan]")
{
  Formats f;
  for (const auto& b : f.unrelated_blobs) {
    f.repo.delete_loose_object(b);
  }
  const std::string l = (f.tmp / "l.db").string();
  const auto scan = core_scan(l, f.repo.str());
  INFO("warnings:\n"
       << [&] {
            std::string s;
            for (const auto& w : scan.warnings) {
              s += w + "\n";
            }
            return s;
          }());
  // README.md and settings.json are not deployment files: their (deleted) blobs were never read.
  CHECK(scan.warnings.empty());
  CHECK(scan.summary.files_skipped == 0);
  CHECK(scan.summary.commits == 6);
  CHECK(scan.summary.tip == f.c[6]);
  CHECK_FALSE(scan.summary.boundary);
  CHECK_FALSE(scan.summary.rewritten);

  const auto rows = core_timeline(l);
  CHECK_SAME_LINES(describe_all(rows), sorted(f.expected()));
  CHECK(scan.summary.events == static_cast<std::int64_t>(f.expected().size()));

  // Time order; committer time as `time`, author time kept; author, summary, repo, branch.
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i - 1].time <= rows[i].time);
  }
  for (const auto& r : rows) {
    INFO(describe(r));
    CHECK(r.author_time == r.time - k_author_lag);
    CHECK(r.author == k_author);
    CHECK(r.branch == "main");
    CHECK(r.repo == f.repo.str());
  }

  // What was parsed, beside what was written: .env and global ARG substituted, split form joined.
  const auto find = [&](const std::string& commit, const std::string& location) -> const ledger::EventRow* {
    for (const auto& r : rows) {
      if (r.commit == commit && r.event.location == location) {
        return &r;
      }
    }
    return nullptr;
  };
  // (CHECK, not REQUIRE: one missing event must not hide the other checks.)
  const auto* compose = find(f.c[4], "services/web");
  CHECK(compose != nullptr);
  if (compose != nullptr) {
    CHECK(compose->event.from_input == "ghcr.io/acme/web:2.0.0");
    CHECK(compose->event.to_input == "ghcr.io/acme/web:2.1.0");
    CHECK(compose->event.format == "compose");
  }
  const auto* go = find(f.c[5], "stage/build");
  CHECK(go != nullptr);
  if (go != nullptr) {
    CHECK(go->event.from_input == "golang:1.21");
    CHECK(go->event.to_input == "golang:1.22");
  }
  const auto* added_compose = find(f.c[1], "services/web");
  CHECK(added_compose != nullptr);
  if (added_compose != nullptr) {
    CHECK(added_compose->event.to_input == "ghcr.io/acme/web:2.0.0");
  }
  const auto* app = find(f.c[2], loc("shop", "web", "app"));
  CHECK(app != nullptr);
  if (app != nullptr) {
    CHECK(app->event.workload == "Deployment/shop/web");
    CHECK(app->event.container == "app");
    CHECK(app->event.line == 11);
    CHECK(app->summary == "bump web and nginx");
  }
}

TEST_CASE("history: scan (binary): the same events as JSON, with the DESIGN.md fields", "[history][scan][cli]")
{
  Formats f;
  for (const auto& b : f.unrelated_blobs) {
    f.repo.delete_loose_object(b);
  }
  const std::string l = (f.tmp / "l.db").string();
  const RunResult s = ct_scan(l, f.repo.str());
  INFO(show(s));
  CHECK(warnings_of(s).empty());
  CHECK(s.err.find("6 commits") != std::string::npos);
  CHECK(s.err.find("files skipped") == std::string::npos); // said only when a blob was missing
  CHECK(s.out.empty());

  const json events = ct_timeline(l);
  CHECK_SAME_LINES(describe_all(events), sorted(f.expected()));
  for (const auto& e : events) {
    INFO(e.dump());
    for (const char* key :
         {"repo", "branch", "commit", "time", "author_time", "author", "summary", "path", "env", "format", "location",
          "workload", "container", "change", "from", "to", "pinned", "observed"}) {
      CHECK(e.contains(key));
    }
    CHECK(e.at("branch") == "main");
    CHECK(e.at("author") == k_author);
    CHECK(e.at("commit").get<std::string>().size() == 40);
  }
  // The time fields, exactly.
  for (const auto& e : events) {
    if (e.at("commit") == f.c[3]) {
      CHECK(e.at("time") == rfc3339(t(3)));
      CHECK(e.at("author_time") == rfc3339(t(3) - k_author_lag));
      CHECK(e.at("summary") == "drop the envoy sidecar");
      CHECK(e.at("to").is_null());
      CHECK(e.at("from").at("canonical") == "docker.io/envoyproxy/envoy:v1.28.0");
      CHECK(e.at("pinned") == false);
    }
    if (e.at("commit") == f.c[4]) {
      CHECK(e.at("from").at("canonical") == "ghcr.io/acme/web:2.0.0");
      CHECK(e.at("to").at("canonical") == "ghcr.io/acme/web:2.1.0");
    }
  }

  // `at` just after each commit: the state the commits built, read from the files by hand.
  const json at6 = ct_at(l, rfc3339(t(6)));
  CHECK(describe_state(at6) == sorted({
                                   st(k_compose, "services/db", "postgres:16.1"),
                                   st(k_compose, "services/web", "${REGISTRY}/web:${TAG}"),
                                   st(k_dockerfile, "stage/1", "gcr.io/distroless/static:nonroot"),
                                   st(k_dockerfile, "stage/build", "golang:${GO}"),
                                   st(k_web, loc("shop", "web", "app"), "ghcr.io/acme/web:1.1.0"),
                                   st(k_kustomize, "kustomize/images/nginx", "nginx:1.25.4"),
                               }));
  const json at1 = ct_at(l, rfc3339(t(1)));
  CHECK(at1.size() == 8);
  const json at_between = ct_at(l, rfc3339(t(3) - 1)); // after c2, before c3
  CHECK(describe_state(at_between) == sorted({
                                          st(k_compose, "services/db", "postgres:16.1"),
                                          st(k_compose, "services/web", "${REGISTRY}/web:${TAG}"),
                                          st(k_dockerfile, "stage/1", "gcr.io/distroless/static:nonroot"),
                                          st(k_dockerfile, "stage/build", "golang:${GO}"),
                                          st(k_values, ".image", "ghcr.io/acme/api:3.1.0"),
                                          st(k_web, loc("shop", "web", "app"), "ghcr.io/acme/web:1.1.0"),
                                          st(k_web, loc("shop", "web", "envoy"), "envoyproxy/envoy:v1.28.0"),
                                          st(k_kustomize, "kustomize/images/nginx", "nginx:1.25.4"),
                                      }));
  for (const auto& row : at_between) {
    if (row.at("location") == loc("shop", "web", "app")) {
      CHECK(row.at("since") == rfc3339(t(2)));
      CHECK(row.at("commit") == f.c[2]);
    }
  }
  // The compose service after the .env bump: the state carries the interpolated image.
  for (const auto& row : ct_at(l, rfc3339(t(4)))) {
    if (row.at("location") == "services/web") {
      CHECK(row.at("ref").at("canonical") == "ghcr.io/acme/web:2.1.0");
      CHECK(row.at("since") == rfc3339(t(4)));
    }
  }

  // A second scan of an unchanged branch records nothing.
  const std::string before = ct_dump(l);
  const RunResult again = ct_scan(l, f.repo.str());
  CHECK(again.err.find(" 0 commits, 0 events") != std::string::npos);
  CHECK(ct_dump(l) == before);
}

TEST_CASE("history: scan: renames and moves between directories are `moved`, not removed + added",
          "[history][scan][moves]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const std::string api1 = deployment("apps", "api", {{"api", "ghcr.io/acme/api:1.0.0"}});
  repo.write("apps/api.yaml", api1);
  repo.write("apps/worker.yaml", deployment("apps", "worker", {{"w", "ghcr.io/acme/worker:1.0.0"}}));
  repo.write("compose/docker-compose.yml", "services:\n  cache:\n    image: redis:7.2.3\n");
  const auto c1 = repo.commit("initial", t(1));
  // git mv to another directory, same name, same content.
  fs::create_directories(repo.dir() / "clusters/prod"); // git mv does not create directories
  repo.git({"mv", "apps/api.yaml", "clusters/prod/api.yaml"});
  const auto c2 = repo.commit("move api to the prod cluster", t(2));
  // A rename in place (new file name, same content).
  repo.git({"mv", "apps/worker.yaml", "apps/worker-deployment.yaml"});
  const auto c3 = repo.commit("rename worker", t(3));
  // A move of a whole directory with a compose file.
  repo.git({"mv", "compose", "stack"});
  const auto c4 = repo.commit("compose -> stack", t(4));
  // Moved to another directory under the same name AND bumped in the same commit.
  fs::create_directories(repo.dir() / "clusters/staging");
  repo.git({"mv", "clusters/prod/api.yaml", "clusters/staging/api.yaml"});
  repo.write("clusters/staging/api.yaml", deployment("apps", "api", {{"api", "ghcr.io/acme/api:1.1.0"}}));
  const auto c5 = repo.commit("api to staging, 1.1.0", t(5));

  const std::string l = (tmp / "l.db").string();
  const auto scan = core_scan(l, repo.str());
  CHECK(scan.warnings.empty());
  const std::string api_loc = loc("apps", "api", "api");
  const std::string worker_loc = loc("apps", "worker", "w");
  const std::vector<std::string> expected{
      ev(t(1), c1, "added", "apps/api.yaml", api_loc, "", "ghcr.io/acme/api:1.0.0"),
      ev(t(1), c1, "added", "apps/worker.yaml", worker_loc, "", "ghcr.io/acme/worker:1.0.0"),
      ev(t(1), c1, "added", "compose/docker-compose.yml", "services/cache", "", "redis:7.2.3"),
      ev(t(2), c2, "moved", "clusters/prod/api.yaml", api_loc, "ghcr.io/acme/api:1.0.0", "ghcr.io/acme/api:1.0.0",
         "apps/api.yaml"),
      ev(t(3), c3, "moved", "apps/worker-deployment.yaml", worker_loc, "ghcr.io/acme/worker:1.0.0",
         "ghcr.io/acme/worker:1.0.0", "apps/worker.yaml"),
      ev(t(4), c4, "moved", "stack/docker-compose.yml", "services/cache", "redis:7.2.3", "redis:7.2.3",
         "compose/docker-compose.yml"),
      ev(t(5), c5, "moved", "clusters/staging/api.yaml", api_loc, "ghcr.io/acme/api:1.0.0", "ghcr.io/acme/api:1.1.0",
         "clusters/prod/api.yaml"),
  };
  CHECK_SAME_LINES(describe_all(core_timeline(l)), sorted(expected));

  // The environment follows the path.
  for (const auto& r : core_timeline(l)) {
    if (r.commit == c2) {
      CHECK(r.event.env == "prod");
    }
    if (r.commit == c5) {
      CHECK(r.event.env == "staging");
    }
  }

  // `at` after each move: the location at its new path only.
  CHECK(describe_state(core_state_at(l, t(2))) == sorted({
                                                      st("apps/worker.yaml", worker_loc, "ghcr.io/acme/worker:1.0.0"),
                                                      st("clusters/prod/api.yaml", api_loc, "ghcr.io/acme/api:1.0.0"),
                                                      st("compose/docker-compose.yml", "services/cache", "redis:7.2.3"),
                                                  }));
  const std::vector<std::string> final_state = sorted({
      st("apps/worker-deployment.yaml", worker_loc, "ghcr.io/acme/worker:1.0.0"),
      st("clusters/staging/api.yaml", api_loc, "ghcr.io/acme/api:1.1.0"),
      st("stack/docker-compose.yml", "services/cache", "redis:7.2.3"),
  });
  CHECK(describe_state(core_state_at(l, t(5))) == final_state);

  // The binary: timeline shows `moved` with from_path; `at` the new paths only.
  const std::string l2 = (tmp / "l2.db").string();
  ct_scan(l2, repo.str());
  const json events = ct_timeline(l2);
  CHECK_SAME_LINES(describe_all(events), sorted(expected));
  for (const auto& e : events) {
    CHECK(e.at("change") != "moved-away");
    CHECK(e.at("change") != "removed");
  }
  CHECK(describe_state(ct_at(l2, rfc3339(t(5)))) == final_state);
  CHECK(describe_state(ct_at(l2, "2030-01-01")) == final_state);
  // Filtering `at` by the new path finds it; by the old path finds nothing.
  CHECK(ct_at(l2, rfc3339(t(5)), {"--path", "clusters/staging/**"}).size() == 1);
  CHECK(ct_at(l2, rfc3339(t(5)), {"--path", "clusters/prod/**"}).empty());
  CHECK(ct_at(l2, rfc3339(t(5)), {"--path", "compose/**"}).empty());
}

TEST_CASE("history: scan: a merge commit records what landed on the first-parent line - side commits are not scanned",
          "[history][scan][merge]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
  repo.write("deploy/api.yaml", deployment("prod", "api", {{"api", "ghcr.io/acme/api:1.0.0"}}));
  const auto c1 = repo.commit("initial", t(1));
  repo.git({"checkout", "-q", "-b", "feature"});
  // Side branch: two steps on web (1.0.1, then 1.0.2) and a new worker.
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.1"}}));
  const auto s1 = repo.commit("web 1.0.1 (side)", t(2));
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.2"}}));
  repo.write("deploy/worker.yaml", deployment("prod", "worker", {{"w", "ghcr.io/acme/worker:0.1.0"}}));
  const auto s2 = repo.commit("web 1.0.2 + worker (side)", t(3));
  repo.git({"checkout", "-q", "main"});
  // Meanwhile on main: api 1.1.0.
  repo.write("deploy/api.yaml", deployment("prod", "api", {{"api", "ghcr.io/acme/api:1.1.0"}}));
  const auto c2 = repo.commit("api 1.1.0", t(4));
  repo.git({"merge", "-q", "--no-ff", "--no-edit", "-m", "Merge feature", "feature"}, t(5));
  const auto m = repo.head();
  REQUIRE(repo.rev("HEAD^1") == c2);
  REQUIRE(repo.rev("HEAD^2") == s2);

  const std::string l = (tmp / "l.db").string();
  const auto scan = core_scan(l, repo.str());
  CHECK(scan.summary.commits == 3); // c1, c2, m
  const std::vector<std::string> expected{
      ev(t(1), c1, "added", "deploy/api.yaml", loc("prod", "api", "api"), "", "ghcr.io/acme/api:1.0.0"),
      ev(t(1), c1, "added", "deploy/web.yaml", loc("prod", "web", "web"), "", "ghcr.io/acme/web:1.0.0"),
      ev(t(4), c2, "changed", "deploy/api.yaml", loc("prod", "api", "api"), "ghcr.io/acme/api:1.0.0",
         "ghcr.io/acme/api:1.1.0"),
      // The merge, against its first parent: web jumps 1.0.0 -> 1.0.2 (1.0.1 never landed), worker added.
      ev(t(5), m, "changed", "deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.0.0",
         "ghcr.io/acme/web:1.0.2"),
      ev(t(5), m, "added", "deploy/worker.yaml", loc("prod", "worker", "w"), "", "ghcr.io/acme/worker:0.1.0"),
  };
  const auto rows = core_timeline(l);
  CHECK_SAME_LINES(describe_all(rows), sorted(expected));
  for (const auto& r : rows) {
    CHECK(r.commit != s1);
    CHECK(r.commit != s2);
  }
  const json stats = ct_stats(l);
  CHECK(stats.at("commits") == 3);
  CHECK(stats.at("events") == 5);

  // Incremental across a merge: one more commit on main after a second merge.
  repo.git({"checkout", "-q", "feature"});
  repo.write("deploy/worker.yaml", deployment("prod", "worker", {{"w", "ghcr.io/acme/worker:0.2.0"}}));
  const auto s3 = repo.commit("worker 0.2.0 (side)", t(6));
  repo.git({"checkout", "-q", "main"});
  repo.git({"merge", "-q", "--no-ff", "--no-edit", "-m", "Merge feature again", "feature"}, t(7));
  const auto m2 = repo.head();
  const auto again = core_scan(l, repo.str());
  CHECK(again.summary.commits == 1);
  CHECK(again.summary.events == 1);
  const auto rows2 = core_timeline(l);
  REQUIRE(rows2.size() == expected.size() + 1);
  CHECK(describe(rows2.back()) == ev(t(7), m2, "changed", "deploy/worker.yaml", loc("prod", "worker", "w"),
                                     "ghcr.io/acme/worker:0.1.0", "ghcr.io/acme/worker:0.2.0"));
  for (const auto& r : rows2) {
    CHECK(r.commit != s3);
  }
}

TEST_CASE("history: scan: a file that fails to parse in one commit and parses in the next gives no removed/added pair",
          "[history][scan][parse]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const std::string good1 = deployment("shop", "web", {{"app", "ghcr.io/acme/web:1.0.0"}});
  const std::string broken = good1 + "  broken: [unclosed\n    - : :\n";
  repo.write("k8s/web.yaml", good1);
  repo.write("k8s/db.yaml", deployment("shop", "db", {{"pg", "postgres:16.1"}}));
  const auto c1 = repo.commit("initial", t(1));
  repo.write("k8s/web.yaml", broken);
  const auto c2 = repo.commit("oops", t(2));
  repo.write("k8s/web.yaml", good1);
  const auto c3 = repo.commit("fix the yaml", t(3));
  // Broken again, and fixed with a bump at the same time: one `changed`.
  repo.write("k8s/web.yaml", broken);
  const auto c4 = repo.commit("oops again", t(4));
  repo.write("k8s/web.yaml", deployment("shop", "web", {{"app", "ghcr.io/acme/web:1.1.0"}}));
  const auto c5 = repo.commit("fix and bump", t(5));

  const std::vector<std::string> expected{
      ev(t(1), c1, "added", "k8s/db.yaml", loc("shop", "db", "pg"), "", "postgres:16.1"),
      ev(t(1), c1, "added", "k8s/web.yaml", loc("shop", "web", "app"), "", "ghcr.io/acme/web:1.0.0"),
      ev(t(5), c5, "changed", "k8s/web.yaml", loc("shop", "web", "app"), "ghcr.io/acme/web:1.0.0",
         "ghcr.io/acme/web:1.1.0"),
  };
  const std::string l = (tmp / "l.db").string();
  const auto scan = core_scan(l, repo.str());
  CHECK(scan.summary.files_unparsable >= 1);
  CHECK_SAME_LINES(describe_all(core_timeline(l)), sorted(expected));
  // While the file was broken, what it deployed is still the last known reference.
  CHECK(describe_state(core_state_at(l, t(2))) ==
        sorted({
            st("k8s/db.yaml", loc("shop", "db", "pg"), "postgres:16.1"),
            st("k8s/web.yaml", loc("shop", "web", "app"), "ghcr.io/acme/web:1.0.0"),
        }));
  (void)c2;
  (void)c3;
  (void)c4;

  SECTION("also when a scan stops while the file is broken and the next scan sees it fixed")
  {
    // Same history, scanned in two runs: the first ends at c2 (broken), the second starts at c3.
    const std::string l2 = (tmp / "l2.db").string();
    repo.git({"branch", "upto-c2", c2});
    core_scan(l2, repo.str(), "upto-c2", "the-repo");
    core_scan(l2, repo.str(), "main", "the-repo");
    std::vector<std::string> got = describe_all(core_timeline(l2));
    CHECK_SAME_LINES(got, sorted(expected));
  }
}

TEST_CASE("history: scan: symlinks are not followed, submodules give no events", "[history][scan][symlink][submodule]")
{
  TempDir tmp;
  // The submodule's own repository has deployment files: they must not show up.
  GitRepo sub(tmp / "sub");
  sub.write("deploy.yaml", deployment("x", "inner", {{"c", "ghcr.io/acme/inner:9.9.9"}}));
  sub.commit("sub initial", t(1));

  GitRepo repo(tmp / "repo");
  repo.write("apps/web.yaml", deployment("shop", "web", {{"app", "ghcr.io/acme/web:1.0.0"}}));
  fs::create_symlink("web.yaml", repo.dir() / "apps/link.yaml");
  fs::create_symlink("/etc/passwd", repo.dir() / "apps/passwd.yaml");
  fs::create_symlink("../outside.yaml", repo.dir() / "apps/dangling.yaml");
  fs::create_symlink("loop.yaml", repo.dir() / "apps/loop.yaml");
  const auto c1 = repo.commit("web and links", t(2));
  repo.git({"-c", "protocol.file.allow=always", "submodule", "add", "-q", (tmp / "sub").string(), "vendor/sub"}, t(3));
  const auto c2 = repo.commit("add a submodule", t(3));
  REQUIRE(repo.git({"ls-tree", "HEAD", "vendor/sub"}).out.starts_with("160000 commit"));
  // A symlink replaced by a regular file: that file is read.
  fs::remove(repo.dir() / "apps/link.yaml");
  repo.write("apps/link.yaml", deployment("shop", "link", {{"l", "ghcr.io/acme/link:1.0.0"}}));
  const auto c3 = repo.commit("link becomes a file", t(4));
  // And a regular file replaced by a symlink: its location is removed.
  fs::remove(repo.dir() / "apps/link.yaml");
  fs::create_symlink("web.yaml", repo.dir() / "apps/link.yaml");
  const auto c4 = repo.commit("file becomes a link again", t(5));

  const std::string l = (tmp / "l.db").string();
  const RunResult r = ct_scan(l, repo.str());
  INFO(show(r));
  const std::vector<std::string> expected{
      ev(t(2), c1, "added", "apps/web.yaml", loc("shop", "web", "app"), "", "ghcr.io/acme/web:1.0.0"),
      ev(t(4), c3, "added", "apps/link.yaml", loc("shop", "link", "l"), "", "ghcr.io/acme/link:1.0.0"),
      ev(t(5), c4, "removed", "apps/link.yaml", loc("shop", "link", "l"), "ghcr.io/acme/link:1.0.0", ""),
  };
  CHECK_SAME_LINES(describe_all(ct_timeline(l)), sorted(expected));
  (void)c2;
  CHECK(r.err.find("4 commits") != std::string::npos);
}

TEST_CASE("history: scan: a bare repository, a worktree, and a directory inside a repository", "[history][scan]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
  const auto c1 = repo.commit("initial", t(1));
  const std::string e1 =
      ev(t(1), c1, "added", "deploy/web.yaml", loc("prod", "web", "web"), "", "ghcr.io/acme/web:1.0.0");

  SECTION("a directory inside the work tree: the repository containing it, named by its root")
  {
    const std::string l = (tmp / "l.db").string();
    ct_scan(l, (repo.dir() / "deploy").string());
    const json events = ct_timeline(l);
    CHECK(describe_all(events) == std::vector<std::string>{e1});
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("repo") == repo.str());
    // Without --repo: the repository containing the working directory.
    const std::string l2 = (tmp / "l2.db").string();
    const RunResult r = ct(l2, {"scan"}, (repo.dir() / "deploy").string());
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(describe_all(ct_timeline(l2)) == std::vector<std::string>{e1});
  }
  SECTION("a bare clone")
  {
    const fs::path bare = tmp / "bare.git";
    git_in(tmp.path(), {"clone", "-q", "--bare", repo.str(), bare.string()});
    const std::string l = (tmp / "l.db").string();
    ct_scan(l, bare.string(), {"--name", "bare"});
    const json events = ct_timeline(l);
    CHECK(describe_all(events) == std::vector<std::string>{e1});
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("branch") == "main");
  }
  SECTION("a worktree follows its own checked-out branch")
  {
    const fs::path wt = tmp / "wt";
    repo.git({"worktree", "add", "-q", "-b", "feature", wt.string()});
    const GitRepo view(wt, GitRepo::Existing{});
    view.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:2.0.0-rc1"}}));
    const auto f1 = view.commit("rc1 on feature", t(2));
    const std::string l = (tmp / "l.db").string();
    ct_scan(l, wt.string());
    const json events = ct_timeline(l);
    CHECK(describe_all(events) ==
          std::vector<std::string>{e1, ev(t(2), f1, "changed", "deploy/web.yaml", loc("prod", "web", "web"),
                                          "ghcr.io/acme/web:1.0.0", "ghcr.io/acme/web:2.0.0-rc1")});
    for (const auto& e : events) {
      CHECK(e.at("branch") == "feature");
    }
  }
}

TEST_CASE("history: scan: a commit with 5,000 changed files", "[history][scan][large]")
{
  // Built with git fast-import (one pack): `git add` of 5,000 loose files is slow on some disks.
  TempDir tmp;
  const fs::path dir = tmp / "repo";
  fs::create_directories(dir);
  git_in(dir, {"-c", "init.defaultBranch=main", "init", "-q"});
  constexpr int k_files = 5000;
  const auto path_of = [](int i) {
    const std::string n = std::to_string(i);
    return "svc/s" + std::string(4 - n.size(), '0') + n + ".yaml";
  };
  std::string stream;
  const auto data = [&](const std::string& content) {
    stream += "data " + std::to_string(content.size()) + "\n" + content + "\n";
  };
  const auto commit = [&](int n, const std::string& message) {
    stream += "commit refs/heads/main\nmark :" + std::to_string(n) + "\n";
    stream += "author Alice Author <alice@example.com> " + std::to_string(t(n) - k_author_lag) + " +0000\n";
    stream += "committer Carl Committer <carl@example.com> " + std::to_string(t(n)) + " +0000\n";
    data(message);
    if (n > 1) {
      stream += "from :" + std::to_string(n - 1) + "\n";
    }
  };
  commit(1, "initial");
  stream += "M 100644 inline base.yaml\n";
  data(deployment("ns", "base", {{"c", "ghcr.io/acme/base:1.0.0"}}));
  for (const auto& [n, tag] : std::vector<std::pair<int, std::string>>{{2, "1.0.0"}, {3, "1.0.1"}}) {
    commit(n, n == 2 ? "5000 services" : "bump all 5000");
    for (int i = 0; i < k_files; ++i) {
      stream += "M 100644 inline " + path_of(i) + "\n";
      data("image: ghcr.io/acme/svc" + std::to_string(i) + ":" + tag + "\n");
    }
  }
  stream += "done\n";
  git_in(dir, {"fast-import", "--quiet", "--done"}, k_t0, false, stream);
  const GitRepo repo_view(dir, GitRepo::Existing{});
  const auto c2 = repo_view.rev("main~1");
  const auto c3 = repo_view.rev("main");
  REQUIRE(lines_of(repo_view.git({"diff", "--name-only", c2, c3}).out).size() == k_files);
  REQUIRE(lines_of(repo_view.git({"ls-tree", "-r", "--name-only", c2}).out).size() == k_files + 1);

  const std::string l = (tmp / "l.db").string();
  const RunResult r = ct_scan(l, dir.string());
  CHECK(r.err.find("3 commits, 10001 events") != std::string::npos);
  const json stats = ct_stats(l);
  CHECK(stats.at("events") == 1 + 2 * k_files);
  const auto rows = core_timeline(l);
  REQUIRE(rows.size() == 1 + 2 * k_files);
  std::size_t added = 0;
  std::size_t changed = 0;
  for (const auto& row : rows) {
    if (row.commit == c2 && row.event.change == "added") {
      ++added;
    }
    if (row.commit == c3 && row.event.change == "changed") {
      ++changed;
      // svc/s0042.yaml: ghcr.io/acme/svc42:1.0.0 -> 1.0.1
      if (row.event.path == "svc/s0042.yaml") {
        CHECK(row.event.location == ".image");
        CHECK(row.event.from_ref == "ghcr.io/acme/svc42:1.0.0");
        CHECK(row.event.to_ref == "ghcr.io/acme/svc42:1.0.1");
        CHECK(row.time == t(3));
      }
    }
  }
  CHECK(added == k_files);
  CHECK(changed == k_files);
  CHECK(core_state_at(l, t(3)).size() == 1 + k_files);
}
