// Black-box tests of `changetrail extract PATH...` (issue 2 section 3, DESIGN.md "finding" JSON
// fields, "Config" environments and ignore globs, exit codes): every output format, the walk
// of directories, environments, and exit 2 on a path that does not exist.

#include "support/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using changetrail::test::run;
using changetrail::test::run_changetrail;
using changetrail::test::TempDir;
using nlohmann::json;

namespace {

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

json parse_json(const std::string& text)
{
  json j;
  INFO(text);
  REQUIRE_NOTHROW(j = json::parse(text));
  return j;
}

json csv_rows(const std::string& text)
{
  const auto r = run({"python3", "-c", "import csv,json,sys; print(json.dumps(list(csv.reader(sys.stdin))))"}, {}, text);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return parse_json(r.out);
}

int count_lines(const std::string& s)
{
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// `extract --format json ARGS...` run in `dir`; the exit code must be `expected_exit`.
json extract_json(const TempDir& dir, std::vector<std::string> args, int expected_exit = 0)
{
  args.insert(args.begin(), {"extract", "--format", "json"});
  const auto r = run_changetrail(args, dir.path().string());
  INFO(r.err);
  CHECK(r.exit_code == expected_exit);
  auto j = parse_json(r.out);
  REQUIRE(j.is_array());
  return j;
}

// file -> env (null as "-") of every finding.
std::map<std::string, std::string> env_by_file(const json& findings)
{
  std::map<std::string, std::string> out;
  for (const auto& f : findings) {
    out[f["file"].get<std::string>()] = f["env"].is_null() ? "-" : f["env"].get<std::string>();
  }
  return out;
}

std::set<std::string> files_of(const json& findings)
{
  std::set<std::string> out;
  for (const auto& f : findings) {
    out.insert(f["file"].get<std::string>());
  }
  return out;
}

const char* const k_deployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox:1.36
      containers:
        - name: app
          image: nginx:1.25
        - name: side
          image: "ghcr.io/acme/side:1.0"
)";

} // namespace

TEST_CASE("cli::extract json has the DESIGN.md finding fields", "[cli][extract]")
{
  TempDir dir;
  dir.write("apps/web.yaml", k_deployment);
  const auto j = extract_json(dir, {"apps"});
  REQUIRE(j.size() == 3);
  for (const auto& f : j) {
    for (const char* key : {"file", "line", "column", "format", "location", "workload", "container", "env", "ref", "image"}) {
      INFO(key);
      CHECK(f.contains(key));
    }
    CHECK(f["file"] == "apps/web.yaml");
    CHECK(f["format"] == "kubernetes");
    CHECK(f["workload"] == "Deployment/shop/web");
    CHECK(f["env"].is_null());
    CHECK(f["image"]["valid"] == true);
  }
  // Sorted by position; line and column (1-based) of the reference's first character.
  CHECK(j[0]["line"] == 11);
  CHECK(j[0]["column"] == 18);
  CHECK(j[0]["container"] == "init");
  CHECK(j[0]["ref"] == "busybox:1.36");
  const auto loc0 = j[0]["location"].get<std::string>();
  CHECK(loc0.rfind("Deployment/shop/web", 0) == 0);
  CHECK(loc0.size() > 20);
  CHECK(loc0.substr(loc0.size() - 19) == "initContainers/init");

  CHECK(j[1]["line"] == 14);
  CHECK(j[1]["column"] == 18);
  CHECK(j[1]["container"] == "app");
  CHECK(j[1]["ref"] == "nginx:1.25");
  const auto loc1 = j[1]["location"].get<std::string>();
  CHECK(loc1.rfind("Deployment/shop/web", 0) == 0);
  CHECK(loc1.substr(loc1.size() - 15) == "/containers/app");
  const auto& image = j[1]["image"];
  CHECK(image["input"] == "nginx:1.25");
  CHECK(image["registry"] == "docker.io");
  CHECK(image["repository"] == "library/nginx");
  CHECK(image["tag"] == "1.25");
  CHECK(image["canonical"] == "docker.io/library/nginx:1.25");
}

TEST_CASE("cli::extract column of a quoted reference is its first character", "[cli][extract]")
{
  TempDir dir;
  dir.write("apps/web.yaml", k_deployment);
  dir.write("apps/values.yaml", "x: 1\nimage: \"nginx:1.0\"\nb:\n  image: 'redis:7'\n");
  const auto j = extract_json(dir, {"apps"});
  std::map<std::string, std::pair<int, int>> at;
  for (const auto& f : j) {
    at[f["ref"].get<std::string>()] = {f["line"].get<int>(), f["column"].get<int>()};
  }
  // `          image: "ghcr.io/...`: the quote is column 18, the reference starts at 19.
  CHECK(at["ghcr.io/acme/side:1.0"] == std::pair{16, 19});
  CHECK(at["nginx:1.0"] == std::pair{2, 9});
  CHECK(at["redis:7"] == std::pair{4, 11});
}

TEST_CASE("cli::extract table", "[cli][extract]")
{
  TempDir dir;
  dir.write("apps/web.yaml", k_deployment);
  dir.write("clusters/prod/db.yaml", "image: postgres:16.2\n");
  const auto r = run_changetrail({"extract"}, dir.path().string());
  INFO(r.err);
  CHECK(r.exit_code == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 5);
  const auto ref_col = lines[0].find("REFERENCE");
  REQUIRE(ref_col != std::string::npos);
  CHECK(lines[0].rfind("FILE", 0) == 0);
  CHECK(lines[1].rfind("apps/web.yaml:11:18 ", 0) == 0);
  CHECK(lines[1].find("busybox:1.36") == ref_col);
  CHECK(lines[2].rfind("apps/web.yaml:14:18 ", 0) == 0);
  CHECK(lines[2].find("nginx:1.25") == ref_col);
  CHECK(lines[3].find("ghcr.io/acme/side:1.0") == ref_col);
  CHECK(lines[4].rfind("clusters/prod/db.yaml:1:8 ", 0) == 0);
  CHECK(lines[4].find("postgres:16.2") == ref_col);
  CHECK(lines[4].find(" prod ") != std::string::npos);
}

TEST_CASE("cli::extract jsonl and csv hold the same findings as json", "[cli][extract]")
{
  TempDir dir;
  dir.write("apps/web.yaml", k_deployment);
  dir.write("svc/compose.yaml", "services:\n  web:\n    image: app:${TAG}\n  db:\n    image: postgres:16\n");
  dir.write("svc/.env", "TAG=2.1\n");
  dir.write("svc/a,b.yaml", "image: redis:7\n"); // a comma to quote in CSV
  const auto j = extract_json(dir, {"."});
  REQUIRE(j.size() == 6);

  SECTION("jsonl: one object per line")
  {
    const auto r = run_changetrail({"extract", "--format", "jsonl", "."}, dir.path().string());
    CHECK(r.exit_code == 0);
    const auto lines = lines_of(r.out);
    REQUIRE(lines.size() == j.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      INFO(lines[i]);
      CHECK(parse_json(lines[i]) == j[i]);
    }
  }
  SECTION("csv: a header and one row per finding")
  {
    const auto r = run_changetrail({"extract", "--format", "csv", "."}, dir.path().string());
    CHECK(r.exit_code == 0);
    const auto rows = csv_rows(r.out);
    REQUIRE(rows.size() == j.size() + 1);
    const std::vector<std::string> fields{"file", "line", "column", "format", "location", "workload", "container", "env", "ref"};
    REQUIRE(rows[0].size() >= fields.size());
    for (std::size_t k = 0; k < fields.size(); ++k) {
      CHECK(rows[0][k] == fields[k]);
    }
    for (std::size_t i = 0; i < j.size(); ++i) {
      const auto& row = rows[i + 1];
      const auto& f = j[i];
      INFO(f.dump());
      REQUIRE(row.size() == rows[0].size());
      CHECK(row[0] == f["file"]);
      CHECK(row[1] == std::to_string(f["line"].get<int>()));
      CHECK(row[2] == std::to_string(f["column"].get<int>()));
      CHECK(row[3] == f["format"]);
      CHECK(row[4] == f["location"]);
      CHECK(row[8] == f["ref"]);
    }
    CHECK(files_of(j).count("svc/a,b.yaml") == 1);
  }
}

TEST_CASE("cli::extract a missing path exits 2 with one error line", "[cli][extract]")
{
  TempDir dir;
  dir.write("apps/web.yaml", k_deployment);
  SECTION("beside a path that exists: its findings are still listed")
  {
    const auto r = run_changetrail({"extract", "--format", "json", "apps", "no-such-dir"}, dir.path().string());
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("no-such-dir") != std::string::npos);
    CHECK(parse_json(r.out).size() == 3);
  }
  SECTION("alone")
  {
    const auto r = run_changetrail({"extract", "missing.yaml"}, dir.path().string());
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("missing.yaml") != std::string::npos);
  }
  SECTION("bad --format")
  {
    const auto r = run_changetrail({"extract", "--format", "sarif", "apps"}, dir.path().string());
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
  }
}

TEST_CASE("cli::extract an empty directory is clean", "[cli][extract]")
{
  TempDir dir;
  dir.write("README.md", "image: nginx:latest\n"); // not a deployment file
  const auto j = extract_json(dir, {"."});
  CHECK(j.empty());
}

TEST_CASE("cli::extract walks directories recursively and skips .git", "[cli][extract]")
{
  TempDir dir;
  dir.write("a/b/c/d/deep.yaml", "image: nginx:1.1\n");
  dir.write("top.yaml", "image: nginx:1.2\n");
  dir.write("a/Dockerfile", "FROM golang:1.22 AS build\nFROM scratch\nCOPY --from=build /app /app\n");
  dir.write("a/b/kustomization.yaml", "images:\n  - name: nginx\n    newTag: 1.27.0\n");
  dir.write("a/b/compose.yaml", "services:\n  web:\n    image: redis:7\n");
  dir.write(".git/config.yaml", "image: nginx:9.9\n");
  dir.write(".git/refs/x.yaml", "image: nginx:9.9\n");
  dir.write("a/sub/.git/y.yaml", "image: nginx:9.9\n");
  const auto j = extract_json(dir, {"."});
  CHECK(files_of(j) == std::set<std::string>{"a/Dockerfile", "a/b/c/d/deep.yaml", "a/b/compose.yaml", "a/b/kustomization.yaml",
                                              "top.yaml"});
  std::map<std::string, std::string> format;
  for (const auto& f : j) {
    CHECK(f["ref"] != "nginx:9.9");
    format[f["file"].get<std::string>()] = f["format"].get<std::string>();
  }
  CHECK(format["a/Dockerfile"] == "dockerfile");
  CHECK(format["a/b/compose.yaml"] == "compose");
  CHECK(format["a/b/kustomization.yaml"] == "kustomize");
  CHECK(j.size() == 5);

  SECTION("a directory named by a relative path keeps that prefix")
  {
    const auto sub = extract_json(dir, {"a/b"});
    CHECK(files_of(sub) == std::set<std::string>{"a/b/c/d/deep.yaml", "a/b/compose.yaml", "a/b/kustomization.yaml"});
  }
}

TEST_CASE("cli::extract honours the ignore globs of .changetrail.yaml", "[cli][extract]")
{
  TempDir dir;
  dir.write("apps/web.yaml", "image: nginx:1.1\n");
  dir.write("tests/fixture.yaml", "image: nginx:1.2\n");
  dir.write("tests/deep/fixture.yaml", "image: nginx:1.3\n");
  dir.write("charts/web/templates/deploy.yaml", "image: nginx:1.4\n");
  dir.write("apps/tests.yaml", "image: nginx:1.5\n");
  const std::set<std::string> all{"apps/tests.yaml", "apps/web.yaml", "charts/web/templates/deploy.yaml",
                                  "tests/deep/fixture.yaml", "tests/fixture.yaml"};
  CHECK(files_of(extract_json(dir, {"."})) == all);

  dir.write(".changetrail.yaml", "ignore: [\"tests/**\", \"**/templates/**\"]\n");
  const std::set<std::string> kept{"apps/tests.yaml", "apps/web.yaml"};
  SECTION("from the repository root")
  {
    CHECK(files_of(extract_json(dir, {"."})) == kept);
    CHECK(files_of(extract_json(dir, {})) == kept);
  }
  SECTION("from a subdirectory: the config of the repository root applies")
  {
    const auto j = extract_json(dir, {"tests"});
    CHECK(j.empty());
  }
}

TEST_CASE("cli::extract environments from the default heuristics", "[cli][extract]")
{
  TempDir dir;
  dir.write(".git/HEAD", "ref: refs/heads/main\n"); // the repository root, whatever lies above it
  const std::map<std::string, std::string> expected{
    {"clusters/alpha/apps/v.yaml", "alpha"},
    {"overlays/beta/v.yaml", "beta"},
    {"envs/gamma/v.yaml", "gamma"},
    {"deploy/prod/v.yaml", "prod"},
    {"deploy/production/v.yaml", "production"},
    {"deploy/staging/v.yaml", "staging"},
    {"deploy/stage/v.yaml", "stage"},
    {"deploy/dev/v.yaml", "dev"},
    {"deploy/qa/v.yaml", "qa"},
    {"deploy/test/v.yaml", "test"},
    {"deploy/uat/v.yaml", "uat"},
    {"deploy/other/v.yaml", "-"},
    {"deploy/myprod/v.yaml", "-"},
    {"v.yaml", "-"},
  };
  for (const auto& [path, env] : expected) {
    dir.write(path, "image: nginx:1.25\n");
  }
  CHECK(env_by_file(extract_json(dir, {"."})) == expected);
}

TEST_CASE("cli::extract environments from the config come first", "[cli][extract]")
{
  TempDir dir;
  dir.write(".changetrail.yaml", R"(environments:
  - {name: live, paths: ["deploy/eu/**"]}
  - {name: shadow, paths: ["deploy/**", "clusters/prod/**"]}
)");
  for (const char* path : {"deploy/eu/v.yaml", "deploy/us/v.yaml", "clusters/prod/v.yaml", "clusters/staging/v.yaml", "apps/v.yaml"}) {
    dir.write(path, "image: nginx:1.25\n");
  }
  const std::map<std::string, std::string> expected{
    {"deploy/eu/v.yaml", "live"},          // first match wins
    {"deploy/us/v.yaml", "shadow"},
    {"clusters/prod/v.yaml", "shadow"},    // the config before the defaults
    {"clusters/staging/v.yaml", "staging"}, // no rule: the defaults
    {"apps/v.yaml", "-"},
  };
  CHECK(env_by_file(extract_json(dir, {"."})) == expected);

  SECTION("--config names the file")
  {
    dir.write("other/conf.yaml", "environments:\n  - {name: elsewhere, paths: [\"apps/**\"]}\n");
    const auto r = run_changetrail({"--config", "other/conf.yaml", "extract", "--format", "json", "."}, dir.path().string());
    INFO(r.err);
    CHECK(r.exit_code == 0);
    const auto envs = env_by_file(parse_json(r.out));
    CHECK(envs.at("apps/v.yaml") == "elsewhere");
  }
}
