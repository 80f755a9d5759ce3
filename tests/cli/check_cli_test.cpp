// Black-box tests of `changetrail check [PATH...]` (issue 2 section 4, DESIGN.md "check" JSON,
// "Command line" exit codes, config example): every rule id, suppressions, configuration errors,
// every output format, `-o FILE`, and color.

#include "support/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using changetrail::test::read_file;
using changetrail::test::run;
using changetrail::test::run_changetrail;
using changetrail::test::RunResult;
using changetrail::test::TempDir;
using nlohmann::json;

namespace {

const std::string k_digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

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

int count_lines(const std::string& s)
{
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// A Pod whose container i (named c0, c1, ...) has its image at line 8 + 2i, column 14.
std::string pod(const std::vector<std::string>& images)
{
  std::string out = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ns\nspec:\n  containers:\n";
  for (std::size_t i = 0; i < images.size(); ++i) {
    out += "    - image: " + images[i] + "\n      name: c" + std::to_string(i) + "\n";
  }
  return out;
}

// The line of the image of container i in pod().
int pod_line(int i)
{
  return 8 + 2 * i;
}
constexpr int k_pod_column = 14;

// A directory that is a repository root whatever lies above it.
void make_repo(const TempDir& dir)
{
  dir.write(".git/HEAD", "ref: refs/heads/main\n");
}

struct Check {
  RunResult run;
  json report;
};

// `check --format json ARGS...` in `dir`.
Check check_json(const TempDir& dir, std::vector<std::string> args = {}, const std::vector<std::string>& global = {})
{
  std::vector<std::string> argv = global;
  argv.insert(argv.end(), {"check", "--format", "json"});
  argv.insert(argv.end(), args.begin(), args.end());
  Check c;
  c.run = run_changetrail(argv, dir.path().string());
  INFO(c.run.err);
  c.report = parse_json(c.run.out);
  REQUIRE(c.report.contains("findings"));
  REQUIRE(c.report.contains("summary"));
  return c;
}

// "line:rule:severity" of every finding of one file, in report order.
std::vector<std::string> summary_of(const json& report, const std::string& file)
{
  std::vector<std::string> out;
  for (const auto& f : report["findings"]) {
    if (f["file"] == file) {
      out.push_back(std::to_string(f["line"].get<int>()) + ":" + f["rule"].get<std::string>() + ":"
                    + f["severity"].get<std::string>());
    }
  }
  return out;
}

std::string rule_at(const json& report, const std::string& file, int line)
{
  std::string out;
  for (const auto& f : report["findings"]) {
    if (f["file"] == file && f["line"] == line) {
      out += (out.empty() ? "" : ",") + f["rule"].get<std::string>() + ":" + f["severity"].get<std::string>();
    }
  }
  return out;
}

// Runs the binary on a pseudo-terminal (Python's pty module) so that color "auto" can be seen.
RunResult run_on_terminal(const TempDir& dir, const std::vector<std::string>& args, const std::vector<std::string>& env)
{
  const std::string script = R"(import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b''
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
)";
  std::vector<std::string> argv{"python3", "-c", script, CHANGETRAIL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, dir.path().string(), {}, env);
}

} // namespace

// --- exit codes ------------------------------------------------------------------------------

TEST_CASE("cli::check exit codes", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  SECTION("0 when every reference is pinned")
  {
    dir.write("apps/web.yaml", pod({"nginx:1.27.3@" + k_digest, "ghcr.io/acme/app@" + k_digest}));
    const auto r = run_changetrail({"check"}, dir.path().string());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 0);
    CHECK(c.report["findings"].empty());
    CHECK(c.report["summary"]["errors"] == 0);
    CHECK(c.report["summary"]["warnings"] == 0);
    CHECK(c.report["summary"]["files"] == 1);
  }
  SECTION("0 with warnings only")
  {
    dir.write("apps/web.yaml", pod({"nginx:1.27.3"}));
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 0);
    CHECK(c.report["summary"]["warnings"] == 1);
  }
  SECTION("1 with a finding at error severity")
  {
    dir.write("apps/web.yaml", pod({"nginx:1.27.3@" + k_digest, "nginx:latest"}));
    const auto r = run_changetrail({"check", "apps"}, dir.path().string());
    CHECK(r.exit_code == 1);
    CHECK(r.err.empty());
  }
  SECTION("2 on a path that does not exist, even with error findings elsewhere")
  {
    dir.write("apps/web.yaml", pod({"nginx:latest"}));
    const auto r = run_changetrail({"check", "apps", "no-such-dir"}, dir.path().string());
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.err.find("no-such-dir") != std::string::npos);
  }
  SECTION("2 on a bad option")
  {
    const auto r = run_changetrail({"check", "--format", "html", "."}, dir.path().string());
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(count_lines(r.err) == 1);
  }
}

// --- rules ---------------------------------------------------------------------------------

TEST_CASE("cli::check rules latest-tag, missing-tag, unpinned, mutable-tag, invalid-reference", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  dir.write("apps/web.yaml", pod({"nginx:latest", "nginx", "nginx:1.27.3", "nginx:main", "Nginx:1.0",
                                  "nginx:1.27.3@" + k_digest, "nginx:latest@" + k_digest}));
  const auto c = check_json(dir);
  CHECK(c.run.exit_code == 1);
  CHECK(summary_of(c.report, "apps/web.yaml")
        == std::vector<std::string>{"8:latest-tag:error", "10:missing-tag:error", "12:unpinned:warning", "14:mutable-tag:warning",
                                    "16:invalid-reference:error"});
  for (const auto& f : c.report["findings"]) {
    for (const char* key : {"rule", "severity", "file", "line", "column", "location", "ref", "message"}) {
      INFO(key);
      CHECK(f.contains(key));
    }
    CHECK(f["column"] == k_pod_column);
    CHECK_FALSE(f["message"].get<std::string>().empty());
  }
  CHECK(c.report["findings"][0]["ref"] == "nginx:latest");
  CHECK(c.report["findings"][4]["ref"] == "Nginx:1.0");
  CHECK(c.report["summary"]["errors"] == 3);
  CHECK(c.report["summary"]["warnings"] == 2);
  CHECK(c.report["summary"]["files"] == 1);
}

TEST_CASE("cli::check mutable-tag default list and configured list", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  const std::vector<std::string> tags{"main", "master", "stable", "edge", "dev", "nightly", "rolling", "1.2.3"};
  std::vector<std::string> images;
  for (const auto& t : tags) {
    images.push_back("nginx:" + t);
  }
  dir.write("apps/web.yaml", pod(images));
  SECTION("default")
  {
    const auto c = check_json(dir);
    for (std::size_t i = 0; i < tags.size(); ++i) {
      INFO(tags[i]);
      CHECK(rule_at(c.report, "apps/web.yaml", pod_line(static_cast<int>(i)))
            == (i < 6 ? "mutable-tag:warning" : "unpinned:warning"));
    }
    CHECK(c.run.exit_code == 0);
  }
  SECTION("policy.mutable_tags replaces the list")
  {
    dir.write(".changetrail.yaml", "policy:\n  mutable_tags: [rolling]\n");
    const auto c = check_json(dir);
    for (std::size_t i = 0; i < tags.size(); ++i) {
      INFO(tags[i]);
      CHECK(rule_at(c.report, "apps/web.yaml", pod_line(static_cast<int>(i)))
            == (tags[i] == "rolling" ? "mutable-tag:warning" : "unpinned:warning"));
    }
  }
}

TEST_CASE("cli::check unpinned is an error in prod* environments", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  for (const char* env : {"prod", "production-eu", "preprod", "staging"}) {
    dir.write(std::string("clusters/") + env + "/app.yaml", pod({"nginx:1.27.3"}));
  }
  SECTION("by default")
  {
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 1);
    CHECK(rule_at(c.report, "clusters/prod/app.yaml", 8) == "unpinned:error");
    CHECK(rule_at(c.report, "clusters/production-eu/app.yaml", 8) == "unpinned:error");
    CHECK(rule_at(c.report, "clusters/preprod/app.yaml", 8) == "unpinned:warning");
    CHECK(rule_at(c.report, "clusters/staging/app.yaml", 8) == "unpinned:warning");
    CHECK(c.report["summary"]["errors"] == 2);
    CHECK(c.report["summary"]["warnings"] == 2);
  }
  SECTION("overridden per environment, exact and glob keys")
  {
    dir.write(".changetrail.yaml", "policy:\n  environments:\n    prod: {unpinned: warning}\n    \"production*\": {unpinned: info}\n");
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 0);
    CHECK(rule_at(c.report, "clusters/prod/app.yaml", 8) == "unpinned:warning");
    CHECK(rule_at(c.report, "clusters/production-eu/app.yaml", 8) == "unpinned:info");
    CHECK(c.report["summary"]["errors"] == 0);
  }
  SECTION("policy.severity for every environment")
  {
    dir.write(".changetrail.yaml", "policy:\n  severity: {unpinned: error}\n");
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 1);
    CHECK(rule_at(c.report, "clusters/staging/app.yaml", 8) == "unpinned:error");
    CHECK(c.report["summary"]["errors"] == 4);
  }
  SECTION("off removes the rule")
  {
    dir.write(".changetrail.yaml", "policy:\n  severity: {unpinned: off}\n");
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 0);
    CHECK(c.report["findings"].empty());
  }
  SECTION("environments named by the config")
  {
    dir.write(".changetrail.yaml", "environments:\n  - {name: prod, paths: [\"clusters/staging/**\"]}\n");
    const auto c = check_json(dir);
    CHECK(rule_at(c.report, "clusters/staging/app.yaml", 8) == "unpinned:error");
  }
}

TEST_CASE("cli::check disallowed-registry with policy.allowed_registries", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  dir.write("apps/web.yaml", pod({"ghcr.io/acme/app@" + k_digest, "registry.k8s.io/pause:3.9@" + k_digest,
                                  "ghcr.io/other/app@" + k_digest, "nginx@" + k_digest, "ghcr.io/acme-evil/app@" + k_digest}));
  SECTION("without the key every registry is allowed")
  {
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 0);
    CHECK(c.report["findings"].empty());
  }
  SECTION("with it")
  {
    dir.write(".changetrail.yaml", "policy:\n  allowed_registries: [\"ghcr.io/acme/*\", \"registry.k8s.io/*\"]\n");
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 1);
    CHECK(summary_of(c.report, "apps/web.yaml")
          == std::vector<std::string>{"12:disallowed-registry:error", "14:disallowed-registry:error",
                                      "16:disallowed-registry:error"});
  }
}

TEST_CASE("cli::check unresolved-reference names the variable", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  dir.write("svc/compose.yaml", "services:\n  web:\n    image: ghcr.io/acme/web:${WEB_TAG}\n");
  SECTION("no .env")
  {
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 0);
    REQUIRE(c.report["findings"].size() == 1);
    const auto& f = c.report["findings"][0];
    CHECK(f["rule"] == "unresolved-reference");
    CHECK(f["severity"] == "warning");
    CHECK(f["line"] == 3);
    CHECK(f["column"] == 12);
    CHECK(f["message"].get<std::string>().find("WEB_TAG") != std::string::npos);
  }
  SECTION("the .env beside the file resolves it")
  {
    dir.write("svc/.env", "WEB_TAG=2.0.1\n");
    const auto c = check_json(dir);
    REQUIRE(c.report["findings"].size() == 1);
    CHECK(c.report["findings"][0]["rule"] == "unpinned");
  }
}

TEST_CASE("cli::check parse-error is a warning and the other files are still checked", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  dir.write("apps/broken.yaml", "image: nginx:1.0\n- item\n"); // a sequence entry inside a mapping, line 2
  SECTION("alone: a warning, exit 0")
  {
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 0);
    CHECK(rule_at(c.report, "apps/broken.yaml", 2) == "parse-error:warning");
  }
  SECTION("beside a file with errors")
  {
    dir.write("apps/good.yaml", pod({"nginx:latest"}));
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 1);
    CHECK(rule_at(c.report, "apps/broken.yaml", 2) == "parse-error:warning");
    CHECK(rule_at(c.report, "apps/good.yaml", 8) == "latest-tag:error");
    CHECK(c.report["summary"]["files"] == 2);
  }
}

// --- suppressions --------------------------------------------------------------------------

TEST_CASE("cli::check suppression comments", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  dir.write("a.yaml", R"(containers:
  - name: a
    image: nginx:latest # changetrail:ignore latest-tag vendor chart pins it
  - name: b
    # changetrail:ignore latest-tag reason on the line above
    image: redis:latest
  - name: c
    # changetrail:ignore latest-tag
    image: busybox:latest
  - name: d
    # changetrail:ignore no-such-rule because
    image: alpine:latest
  - name: e
    # changetrail:ignore latest-tag,no-such-rule because
    image: debian:latest
  - name: f
    # changetrail:ignore latest-tag two lines above

    image: ubuntu:latest
  - name: g
    # changetrail:ignore unpinned another rule
    image: fedora:latest
)");
  const auto c = check_json(dir);
  CHECK(c.run.exit_code == 1);
  const auto& findings = c.report["findings"];
  std::map<int, std::string> rule_by_line;
  for (const auto& f : findings) {
    rule_by_line[f["line"].get<int>()] += f["rule"].get<std::string>();
  }
  // Suppressed: on the line, and on the line above.
  CHECK(rule_by_line.count(3) == 0);
  CHECK(rule_by_line.count(6) == 0);
  // Without a reason: the finding stays and the comment is reported.
  CHECK(rule_by_line[9] == "latest-tag");
  CHECK(rule_by_line.count(8) == 1);
  // An unknown rule: the finding stays and the comment is reported.
  CHECK(rule_by_line[12] == "latest-tag");
  CHECK(rule_by_line.count(11) == 1);
  // A list with an unknown rule is a comment with an unknown rule: it suppresses nothing.
  CHECK(rule_by_line[15] == "latest-tag");
  CHECK(rule_by_line.count(14) == 1);
  // Two lines above, or another rule: not suppressed, and the comment is fine.
  CHECK(rule_by_line[19] == "latest-tag");
  CHECK(rule_by_line.count(17) == 0);
  CHECK(rule_by_line[22] == "latest-tag");
  CHECK(rule_by_line.count(21) == 0);
  for (const auto& f : findings) {
    const int line = f["line"].get<int>();
    if (line == 8 || line == 11 || line == 14) {
      INFO(f.dump());
      CHECK(f["message"].get<std::string>().find("ignore") != std::string::npos);
    }
  }
  CHECK(c.report["summary"]["errors"] == 5);
}

// --- configuration errors ------------------------------------------------------------------

TEST_CASE("cli::check configuration errors exit 2 naming file and line", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  dir.write("apps/web.yaml", pod({"nginx:latest"}));
  struct Case {
    const char* what;
    const char* text;
    const char* where;
  };
  const Case cases[] = {
    {"unknown key", "policy: {}\nignore: []\npolcy: {}\n", ".changetrail.yaml:3"},
    {"bad severity", "policy:\n  severity:\n    unpinned: fatal\n", ".changetrail.yaml:3"},
    {"unknown rule", "# rules\npolicy:\n  severity:\n    latest-tag: warning\n    no-such-rule: error\n", ".changetrail.yaml:5"},
    {"unknown rule in an environment", "policy:\n  environments:\n    prod:\n      pinned: error\n", ".changetrail.yaml:4"},
  };
  for (const auto& k : cases) {
    INFO(k.what);
    dir.write(".changetrail.yaml", k.text);
    for (const auto& format : {"text", "json", "sarif"}) {
      const auto r = run_changetrail({"check", "--format", format}, dir.path().string());
      CHECK(r.exit_code == 2);
      CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
      CHECK(count_lines(r.err) == 1);
      CHECK(r.err.find(k.where) != std::string::npos);
      CHECK(r.out.empty());
    }
  }
  SECTION("--config names the file in the error")
  {
    dir.write(".changetrail.yaml", "{}\n");
    dir.write("conf/strict.yaml", "policy:\n  mutable_tag: [x]\n");
    const auto r = run_changetrail({"--config", "conf/strict.yaml", "check"}, dir.path().string());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("conf/strict.yaml:2") != std::string::npos);
    CHECK(count_lines(r.err) == 1);
  }
  SECTION("--config of a missing file")
  {
    const auto r = run_changetrail({"--config", "conf/none.yaml", "check"}, dir.path().string());
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(r.err.find("conf/none.yaml") != std::string::npos);
  }
}

// --- formats -------------------------------------------------------------------------------

namespace {

// Two files with findings and a clean one.
void write_mixed(const TempDir& dir)
{
  make_repo(dir);
  dir.write("apps/a.yaml", pod({"nginx:latest", "nginx:1.27.3", "a<b>&c"}));
  dir.write("apps/b.yaml", pod({"redis"}));
  dir.write("apps/c.yaml", pod({"nginx:1.27.3@" + k_digest}));
}

} // namespace

TEST_CASE("cli::check text format is file:line:col: severity[rule]: message", "[cli][check]")
{
  TempDir dir;
  write_mixed(dir);
  const auto c = check_json(dir);
  const auto r = run_changetrail({"check"}, dir.path().string());
  CHECK(r.exit_code == 1);
  const auto lines = lines_of(r.out);
  const auto& findings = c.report["findings"];
  REQUIRE(findings.size() == 4);
  REQUIRE(lines.size() == findings.size() + 1);
  const std::regex line_re(R"(^([^:]+):(\d+):(\d+): (error|warning|info|note)\[([a-z-]+)\]: (.+)$)");
  for (std::size_t i = 0; i < findings.size(); ++i) {
    INFO(lines[i]);
    std::smatch m;
    REQUIRE(std::regex_match(lines[i], m, line_re));
    const auto& f = findings[i];
    CHECK(m[1].str() == f["file"].get<std::string>());
    CHECK(std::stoi(m[2].str()) == f["line"].get<int>());
    CHECK(std::stoi(m[3].str()) == f["column"].get<int>());
    CHECK(m[4].str() == f["severity"].get<std::string>());
    CHECK(m[5].str() == f["rule"].get<std::string>());
    CHECK(m[6].str().find(f["message"].get<std::string>()) == 0);
  }
  CHECK(lines[0].rfind("apps/a.yaml:8:14: error[latest-tag]: ", 0) == 0);
  // The summary line counts what was listed.
  CHECK(lines.back().find("3 errors") != std::string::npos);
  CHECK(lines.back().find("1 warning") != std::string::npos);
  CHECK(lines.back().find("3 files") != std::string::npos);
}

TEST_CASE("cli::check json format", "[cli][check]")
{
  TempDir dir;
  write_mixed(dir);
  const auto c = check_json(dir);
  CHECK(c.run.exit_code == 1);
  const auto& findings = c.report["findings"];
  REQUIRE(findings.size() == 4);
  std::size_t errors = 0;
  std::size_t warnings = 0;
  for (const auto& f : findings) {
    for (const char* key : {"rule", "severity", "file", "line", "column", "location", "ref", "message"}) {
      INFO(key);
      CHECK(f.contains(key));
    }
    CHECK(f["line"].is_number_integer());
    CHECK(f["column"].is_number_integer());
    errors += f["severity"] == "error" ? 1 : 0;
    warnings += f["severity"] == "warning" ? 1 : 0;
  }
  CHECK(c.report["summary"]["errors"] == errors);
  CHECK(c.report["summary"]["warnings"] == warnings);
  CHECK(c.report["summary"]["files"] == 3);
  CHECK(findings[2]["rule"] == "invalid-reference");
  CHECK(findings[2]["ref"] == "a<b>&c");
  CHECK(findings[3]["file"] == "apps/b.yaml");
  CHECK(findings[3]["rule"] == "missing-tag");
}

TEST_CASE("cli::check sarif format", "[cli][check]")
{
  TempDir dir;
  write_mixed(dir);
  const auto r = run_changetrail({"check", "--format", "sarif"}, dir.path().string());
  CHECK(r.exit_code == 1);
  const auto sarif = parse_json(r.out);
  CHECK(sarif["version"] == "2.1.0");
  REQUIRE(sarif["runs"].is_array());
  REQUIRE(sarif["runs"].size() == 1);
  const auto& run0 = sarif["runs"][0];
  const auto& driver = run0["tool"]["driver"];
  CHECK(driver["name"] == "changetrail");
  std::set<std::string> rule_ids;
  for (const auto& rule : driver["rules"]) {
    INFO(rule.dump());
    rule_ids.insert(rule["id"].get<std::string>());
    REQUIRE(rule.contains("help"));
    CHECK_FALSE(rule["help"]["text"].get<std::string>().empty());
  }
  for (const char* id : {"latest-tag", "missing-tag", "unpinned", "mutable-tag", "disallowed-registry", "invalid-reference",
                         "unresolved-reference", "parse-error"}) {
    INFO(id);
    CHECK(rule_ids.count(id) == 1);
  }
  const auto& results = run0["results"];
  REQUIRE(results.size() == 4);
  std::set<std::string> fingerprints;
  for (const auto& res : results) {
    INFO(res.dump());
    CHECK(rule_ids.count(res["ruleId"].get<std::string>()) == 1);
    const auto level = res["level"].get<std::string>();
    CHECK((level == "error" || level == "warning" || level == "note"));
    CHECK_FALSE(res["message"]["text"].get<std::string>().empty());
    const auto& phys = res["locations"][0]["physicalLocation"];
    CHECK(phys["artifactLocation"]["uri"].is_string());
    CHECK(phys["region"]["startLine"].is_number_integer());
    CHECK(phys["region"]["startColumn"] == k_pod_column);
    REQUIRE(res["partialFingerprints"].is_object());
    REQUIRE_FALSE(res["partialFingerprints"].empty());
    fingerprints.insert(res["partialFingerprints"].dump());
  }
  CHECK(fingerprints.size() == results.size()); // one per result
  CHECK(results[0]["ruleId"] == "latest-tag");
  CHECK(results[0]["level"] == "error");
  CHECK(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "apps/a.yaml");
  CHECK(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 8);
  CHECK(results[1]["ruleId"] == "unpinned");
  CHECK(results[1]["level"] == "warning");

  SECTION("partialFingerprints are stable when a line is inserted above the finding")
  {
    std::string text = read_file(dir / "apps/a.yaml");
    dir.write("apps/a.yaml", "# a comment added above\n" + text);
    const auto again = parse_json(run_changetrail({"check", "--format", "sarif"}, dir.path().string()).out);
    const auto& moved = again["runs"][0]["results"];
    REQUIRE(moved.size() == results.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
      INFO(results[i].dump());
      const auto& before = results[i]["locations"][0]["physicalLocation"];
      const auto& after = moved[i]["locations"][0]["physicalLocation"];
      CHECK(moved[i]["ruleId"] == results[i]["ruleId"]);
      CHECK(moved[i]["partialFingerprints"] == results[i]["partialFingerprints"]);
      const int shift = before["artifactLocation"]["uri"] == "apps/a.yaml" ? 1 : 0;
      CHECK(after["region"]["startLine"].get<int>() == before["region"]["startLine"].get<int>() + shift);
    }
  }
}

TEST_CASE("cli::check junit format is well-formed XML, one testsuite per file", "[cli][check]")
{
  TempDir dir;
  write_mixed(dir);
  const auto r = run_changetrail({"check", "--format", "junit"}, dir.path().string());
  CHECK(r.exit_code == 1);
  const std::string script = R"(import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
suites = root.findall('testsuite') if root.tag == 'testsuites' else ([root] if root.tag == 'testsuite' else [])
out = []
for s in suites:
    cases = s.findall('testcase')
    failing = [c for c in cases if c.find('failure') is not None]
    out.append({'name': s.get('name'), 'cases': len(cases), 'failing': len(failing),
                'messages': [(c.find('failure').get('message') or '') + ' ' + (c.find('failure').text or '') for c in failing]})
print(json.dumps({'root': root.tag, 'suites': out}))
)";
  const auto parsed = run({"python3", "-c", script}, {}, r.out);
  INFO(r.out);
  INFO(parsed.err);
  REQUIRE(parsed.exit_code == 0);
  const auto j = parse_json(parsed.out);
  CHECK(j["root"] == "testsuites");
  std::map<std::string, json> by_name;
  for (const auto& s : j["suites"]) {
    const auto name = s["name"].get<std::string>();
    CHECK(by_name.count(name) == 0); // one testsuite per file
    by_name[name] = s;
  }
  REQUIRE(by_name.count("apps/a.yaml") == 1);
  REQUIRE(by_name.count("apps/b.yaml") == 1);
  CHECK(by_name["apps/a.yaml"]["failing"] == 3);
  CHECK(by_name["apps/a.yaml"]["cases"] == 3);
  CHECK(by_name["apps/b.yaml"]["failing"] == 1);
  if (by_name.count("apps/c.yaml") != 0) {
    CHECK(by_name["apps/c.yaml"]["failing"] == 0);
  }
  bool escaped_text_survives = false;
  for (const auto& m : by_name["apps/a.yaml"]["messages"]) {
    escaped_text_survives = escaped_text_survives || m.get<std::string>().find("a<b>&c") != std::string::npos;
  }
  CHECK(escaped_text_survives);
}

TEST_CASE("cli::check github format", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  dir.write("odd,name.yaml", pod({"nginx:latest"}));
  dir.write("col:on.yaml", pod({"nginx:100%", "nginx:1.27.3"}));
  const auto r = run_changetrail({"check", "--format", "github"}, dir.path().string());
  CHECK(r.exit_code == 1);
  std::vector<std::string> commands;
  for (const auto& l : lines_of(r.out)) {
    if (l.rfind("::", 0) == 0) {
      commands.push_back(l);
    }
  }
  REQUIRE(commands.size() == 3);
  // Sorted by file name: "col:on.yaml" before "odd,name.yaml".
  const std::regex re(R"(^::(error|warning) file=([^,:]*),line=(\d+),col=(\d+),title=([^,:]*)::(.*)$)");
  std::smatch m;
  REQUIRE(std::regex_match(commands[0], m, re));
  CHECK(m[1].str() == "error");
  CHECK(m[2].str() == "col%3Aon.yaml");
  CHECK(m[3].str() == "8");
  CHECK(m[4].str() == "14");
  CHECK(m[5].str().find("invalid-reference") != std::string::npos);
  CHECK(m[6].str().find("nginx:100%25") != std::string::npos);
  CHECK(m[6].str().find("100%\"") == std::string::npos);

  REQUIRE(std::regex_match(commands[1], m, re));
  CHECK(m[1].str() == "warning");
  CHECK(m[2].str() == "col%3Aon.yaml");
  CHECK(m[3].str() == "10");
  CHECK(m[5].str().find("unpinned") != std::string::npos);

  REQUIRE(std::regex_match(commands[2], m, re));
  CHECK(m[1].str() == "error");
  CHECK(m[2].str() == "odd%2Cname.yaml");
  CHECK(m[3].str() == "8");
  CHECK(m[4].str() == "14");
  CHECK(m[5].str().find("latest-tag") != std::string::npos);
}

TEST_CASE("cli::check -o writes the report to a file atomically", "[cli][check]")
{
  TempDir dir;
  write_mixed(dir);
  const std::string target = "out/report.sarif";
  dir.write(target, std::string(100000, 'x')); // an older, longer report
  struct stat before{};
  REQUIRE(::stat((dir / target).c_str(), &before) == 0);

  const auto r = run_changetrail({"check", "--format", "sarif", "-o", target}, dir.path().string());
  CHECK(r.exit_code == 1); // the exit code is the gate's, wherever the report goes
  CHECK(r.out.empty());
  const auto sarif = parse_json(read_file(dir / target));
  CHECK(sarif["version"] == "2.1.0");
  CHECK(sarif["runs"][0]["results"].size() == 4);
  // Written beside and renamed over the old file, never truncated in place.
  struct stat after{};
  REQUIRE(::stat((dir / target).c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir / "out")) {
    names.push_back(e.path().filename().string());
  }
  CHECK(names == std::vector<std::string>{"report.sarif"});

  SECTION("text report to a file has no color")
  {
    const auto t = run_changetrail({"check", "-o", "out/report.txt"}, dir.path().string());
    CHECK(t.exit_code == 1);
    const auto text = read_file(dir / "out/report.txt");
    CHECK(text.find("apps/a.yaml:8:14: error[latest-tag]: ") == 0);
    CHECK(text.find('\033') == std::string::npos);
  }
  SECTION("a directory that does not exist")
  {
    const auto t = run_changetrail({"check", "-o", "no/such/dir/report.txt"}, dir.path().string());
    CHECK((t.exit_code == 2 || t.exit_code == 3));
    CHECK(t.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(count_lines(t.err) == 1);
    CHECK(t.err.find("no/such/dir/report.txt") != std::string::npos);
  }
}

TEST_CASE("cli::check color", "[cli][check]")
{
  TempDir dir;
  write_mixed(dir);
  const std::vector<std::string> no_env{"NO_COLOR=", "TERM=xterm"};
  SECTION("not on a pipe by default")
  {
    const auto r = run_changetrail({"check"}, dir.path().string(), no_env);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find('\033') == std::string::npos);
  }
  SECTION("--color always")
  {
    const auto r = run_changetrail({"--color", "always", "check"}, dir.path().string(), no_env);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("\033[") != std::string::npos);
    CHECK(r.out.find("apps/a.yaml:8:14: ") == 0);
  }
  SECTION("on a terminal")
  {
    const auto r = run_on_terminal(dir, {"check"}, no_env);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("\033[") != std::string::npos);
  }
  SECTION("never when NO_COLOR is set, even on a terminal")
  {
    const auto r = run_on_terminal(dir, {"check"}, {"NO_COLOR=1", "TERM=xterm"});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("error[latest-tag]") != std::string::npos);
    CHECK(r.out.find('\033') == std::string::npos);
  }
  SECTION("--color never on a terminal")
  {
    const auto r = run_on_terminal(dir, {"--color", "never", "check"}, no_env);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("error[latest-tag]") != std::string::npos);
    CHECK(r.out.find('\033') == std::string::npos);
  }
  SECTION("machine formats never")
  {
    for (const char* format : {"json", "sarif", "junit", "github"}) {
      const auto r = run_changetrail({"--color", "always", "check", "--format", format}, dir.path().string(), no_env);
      INFO(format);
      CHECK(r.out.find('\033') == std::string::npos);
    }
  }
}

TEST_CASE("cli::check output stays valid UTF-8 when paths are not", "[cli][check]")
{
  TempDir dir;
  make_repo(dir);
  // An environment name taken from a directory name with a byte that is not UTF-8.
  dir.write("clusters/eu\xff/app.yaml", pod({"nginx:latest"}));
  dir.write("apps/we\xfe.yaml", pod({"nginx:1.27.3"}));
  SECTION("json")
  {
    const auto c = check_json(dir);
    CHECK(c.run.exit_code == 1);
    CHECK(c.run.err.empty());
    CHECK(c.report["findings"].size() == 2);
    CHECK(c.report["summary"]["errors"] == 1);
  }
  SECTION("sarif")
  {
    const auto r = run_changetrail({"check", "--format", "sarif"}, dir.path().string());
    CHECK(r.exit_code == 1);
    CHECK(parse_json(r.out)["runs"][0]["results"].size() == 2);
  }
  SECTION("text")
  {
    const auto r = run_changetrail({"check"}, dir.path().string());
    CHECK(r.exit_code == 1);
    const auto decoded = run({"python3", "-c", "import sys; sys.stdin.buffer.read().decode('utf-8')"}, {}, r.out);
    INFO(r.out);
    CHECK(decoded.exit_code == 0);
  }
}
