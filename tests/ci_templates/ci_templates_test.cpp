// CI templates and the codequality format (issue 5, sections 3 and 4): the GitHub Actions and GitLab CI
// templates are valid YAML (read with the project's own parser), have what their jobs need (permissions,
// report artifacts, the ledger cache), and every `changetrail ...` command line in them is run against a
// fixture repository (a main branch pushed to a bare origin, a feature branch with a new unpinned
// reference) with the CI variables replaced by real values: each must exit 0 or 1, never 2 (a usage
// error: a subcommand or flag that does not exist). ci/changetrail-step.sh runs in both modes.

#include "history/history_support.hpp"

#include <changetrail/policy/policy.hpp>
#include <changetrail/report/report.hpp>
#include <changetrail/yaml/yaml.hpp>

#include <set>

using namespace changetrail::test;
using namespace changetrail::test::hist;
namespace report = changetrail::report;
namespace yaml = changetrail::yaml;
using changetrail::policy::Severity;
using changetrail::policy::Violation;

namespace {

// --- codequality -------------------------------------------------------------------------------

Violation violation(const std::string& rule, Severity sev, std::uint32_t line, const std::string& ref)
{
  Violation v;
  v.rule = rule;
  v.severity = sev;
  v.file = "/abs/clusters/prod/web.yaml";
  v.rel = "clusters/prod/web.yaml";
  v.line = line;
  v.column = 14;
  v.location = "Deployment/prod/web/containers/" + ref.substr(0, ref.find(':'));
  v.ref = ref;
  v.env = "prod";
  v.message = "image \"" + ref + "\" is not pinned";
  return v;
}

json codequality(const report::CheckReport& rep)
{
  std::ostringstream os;
  report::write_check(os, report::CheckFormat::codequality, rep, report::Style{});
  return parse_json(os.str());
}

} // namespace

TEST_CASE("check --format codequality: GitLab Code Quality issues", "[ci][codequality]")
{
  report::CheckReport rep;
  rep.violations = {violation("latest-tag", Severity::error, 11, "nginx:latest"),
                    violation("unpinned", Severity::warning, 13, "redis:7"),
                    violation("unresolved-reference", Severity::info, 15, "web:${TAG}")};
  Violation suppressed = violation("missing-tag", Severity::error, 17, "memcached");
  suppressed.suppressed = true;
  suppressed.suppression_reason = "scratch";
  rep.violations.push_back(suppressed);
  rep.tool_version = "0.1.0";

  const json issues = codequality(rep);
  REQUIRE(issues.is_array());
  REQUIRE(issues.size() == 3); // the suppressed finding is left out
  std::vector<std::string> severities;
  std::set<std::string> fingerprints;
  for (const auto& i : issues) {
    CHECK(i.at("description").is_string());
    CHECK(i.at("check_name").is_string());
    CHECK(i.at("location").at("path") == "clusters/prod/web.yaml");
    CHECK(i.at("location").at("lines").at("begin").is_number_unsigned());
    const auto fp = i.at("fingerprint").get<std::string>();
    CHECK(fp.size() == 64);
    fingerprints.insert(fp);
    severities.push_back(i.at("severity").get<std::string>());
  }
  CHECK(fingerprints.size() == 3);
  CHECK(severities == std::vector<std::string>{"major", "minor", "info"});
  CHECK(issues[0].at("check_name") == "latest-tag");
  CHECK(issues[0].at("location").at("lines").at("begin") == 11);
  CHECK(issues[0].at("description").get<std::string>().find("nginx:latest") != std::string::npos);

  SECTION("the fingerprint does not depend on the line; it does on the reference, and matches SARIF's")
  {
    report::CheckReport moved = rep;
    moved.violations[0].line = 40;
    moved.violations[0].column = 3;
    CHECK(codequality(moved)[0].at("fingerprint") == issues[0].at("fingerprint"));
    report::CheckReport other = rep;
    other.violations[0].ref = "nginx:1.27";
    CHECK(codequality(other)[0].at("fingerprint") != issues[0].at("fingerprint"));

    std::ostringstream os;
    report::write_check(os, report::CheckFormat::sarif, rep, report::Style{});
    const json sarif = parse_json(os.str());
    CHECK(sarif.at("runs")[0].at("results")[0].at("partialFingerprints").at("changetrail/v1") ==
          issues[0].at("fingerprint"));
  }
  SECTION("no findings: an empty array")
  {
    CHECK(codequality(report::CheckReport{}) == json::array());
  }
}

namespace {

// --- the templates -----------------------------------------------------------------------------

const std::filesystem::path k_source = CHANGETRAIL_SOURCE_DIR;

// Converts a parsed YAML value to JSON (scalars as strings; aliases are not used by the templates).
json to_json(const yaml::Value& v)
{
  if (v.is_mapping()) {
    json out = json::object();
    for (const auto& [k, val] : v.pairs()) {
      out[std::string(k.text())] = to_json(val);
    }
    return out;
  }
  if (v.is_sequence()) {
    json out = json::array();
    for (const auto& item : v.items()) {
      out.push_back(to_json(item));
    }
    return out;
  }
  return std::string(v.text());
}

json load_template(const std::string& rel)
{
  const std::string text = read_file(k_source / rel);
  std::vector<json> docs;
  std::size_t warnings = 0;
  const auto err = yaml::parse_stream(text, [&](const yaml::Document& d) {
    warnings += d.warnings().size(); // duplicate keys
    docs.push_back(to_json(d.root()));
  });
  INFO(rel << ": " << (err ? err->message + " at line " + std::to_string(err->mark.line) : std::string("ok")));
  REQUIRE_FALSE(err.has_value());
  REQUIRE(docs.size() == 1);
  CHECK(warnings == 0);
  REQUIRE(docs[0].is_object());
  return docs[0];
}

// The `changetrail ...` lines of a shell script (one command per line; a `||` or `&&` ends it).
std::vector<std::string> changetrail_lines(const std::string& script)
{
  std::vector<std::string> out;
  for (auto line : lines_of(script)) {
    line.erase(0, line.find_first_not_of(" \t"));
    if (line.starts_with("changetrail ")) {
      for (const char* op : {"||", "&&", ";"}) {
        if (const auto p = line.find(op); p != std::string::npos) {
          line.erase(p);
        }
      }
      out.push_back(line);
    }
  }
  return out;
}

void replace_all(std::string& s, const std::string& from, const std::string& to)
{
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) {
    s.replace(p, from.size(), to);
  }
}

// Whitespace-separated words, double quotes removed (the templates quote whole words only).
std::vector<std::string> words(const std::string& line)
{
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) {
    std::erase(w, '"');
    out.push_back(w);
  }
  return out;
}

// main: a prod Deployment whose one image is on an unreachable registry (resolve cannot answer:
// exit 3, no network needed); feature: adds nginx:latest (a finding: exit 1). origin is a bare
// repository holding main, fetched, so origin/main exists as in a CI checkout.
struct Fixture {
  TempDir tmp;
  GitRepo repo{tmp / "repo"};
  std::string base;
  std::string ledger = (tmp / "ledger" / "ledger.db").string();

  Fixture()
  {
    git_in(tmp.path(), {"init", "-q", "--bare", "origin.git"});
    repo.write("clusters/prod/web.yaml",
               deployment("prod", "web", {{"web", "127.0.0.1:1/acme/web:1.0@sha256:" + std::string(64, 'a')}}));
    base = repo.commit("first", t(1));
    repo.git({"remote", "add", "origin", (tmp / "origin.git").string()});
    repo.git({"push", "-q", "origin", "main"});
    repo.git({"fetch", "-q", "origin"});
    repo.git({"checkout", "-q", "-b", "feature"});
    repo.write("clusters/prod/web.yaml",
               deployment("prod", "web",
                          {{"web", "127.0.0.1:1/acme/web:1.0@sha256:" + std::string(64, 'a')}, {"proxy", "nginx:latest"}}));
    repo.commit("add a proxy", t(2));
    std::filesystem::create_directories(tmp / "ledger");
  }

  // The record jobs run on the deploy branch: its only image is on the unreachable registry, so
  // resolve never asks a real one (the feature branch's nginx:latest would go to Docker Hub).
  void on_main() const { repo.git({"checkout", "-q", "main"}); }

  [[nodiscard]] std::vector<std::string> env() const
  {
    return {"CHANGETRAIL_LEDGER=" + ledger, "CHANGETRAIL_NOW=" + k_now, "HOME=/nonexistent",
            "XDG_CONFIG_HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
            "DOCKER_CONFIG=/nonexistent"};
  }

  // Runs one template command line (after substitution) in the repository.
  RunResult run_line(const std::string& line) const
  {
    auto argv = words(line);
    REQUIRE(!argv.empty());
    REQUIRE(argv.front() == "changetrail");
    argv.erase(argv.begin());
    std::vector<std::string> args{"--color", "never"};
    args.insert(args.end(), argv.begin(), argv.end());
    return run_changetrail(args, repo.str(), env());
  }
};

void check_exit(const std::string& line, const RunResult& r, bool resolve)
{
  INFO(line << "\n" << show(r));
  if (resolve) {
    // The fixture's registry does not answer: 3 (runtime failure), documented in the README.
    CHECK((r.exit_code == 0 || r.exit_code == 3));
  } else {
    CHECK((r.exit_code == 0 || r.exit_code == 1));
  }
  CHECK(r.err.find("not expected") == std::string::npos); // CLI11's word for an unknown argument
}

} // namespace

TEST_CASE("the GitHub Actions template: valid, permissions, and its commands run", "[ci][github]")
{
  const json wf = load_template("ci/templates/github-actions.yml");
  REQUIRE(wf.contains("on"));
  CHECK(wf.at("on").contains("pull_request"));
  CHECK(wf.at("on").at("push").contains("branches"));
  CHECK(wf.at("env").contains("CHANGETRAIL_LEDGER"));
  const json& jobs = wf.at("jobs");
  CHECK(jobs.at("check").at("permissions").at("security-events") == "write");
  CHECK(jobs.at("record").at("permissions").at("contents") == "write");

  std::set<std::string> uses;
  std::vector<std::pair<std::string, std::string>> lines; // job, command line
  for (const auto& [job, body] : jobs.items()) {
    bool full_history = false;
    for (const auto& step : body.at("steps")) {
      if (step.contains("uses")) {
        const auto u = step.at("uses").get<std::string>();
        uses.insert(u.substr(0, u.find('@')));
        if (u.starts_with("actions/checkout@") && step.contains("with")) {
          full_history = step.at("with").value("fetch-depth", std::string()) == "0";
        }
      }
      if (step.contains("run")) {
        for (const auto& l : changetrail_lines(step.at("run").get<std::string>())) {
          lines.emplace_back(job, l);
        }
      }
    }
    CHECK(full_history);
  }
  CHECK(uses.count("github/codeql-action/upload-sarif") == 1);
  CHECK(uses.count("actions/cache") == 1);
  const std::string record_script = jobs.at("record").dump();
  CHECK(record_script.find("git push origin refs/notes/changetrail") != std::string::npos);

  Fixture fx;
  std::set<std::string> subcommands;
  for (auto [job, line] : lines) {
    replace_all(line, "${{ github.base_ref }}", "main");
    INFO(job << ": " << line);
    REQUIRE(line.find("${{") == std::string::npos);
    const std::string sub = words(line).at(1);
    if (job == "record") {
      fx.on_main();
    }
    const RunResult r = fx.run_line(line);
    subcommands.insert(sub + (line.find("--format sarif") != std::string::npos     ? " sarif"
                              : line.find("--format github") != std::string::npos ? " github"
                                                                                   : ""));
    check_exit(line, r, sub == "resolve");
    if (sub == "check") {
      CHECK(r.exit_code == 1); // the feature branch adds nginx:latest
    }
  }
  CHECK(subcommands == std::set<std::string>{"check sarif", "check github", "scan", "resolve"});
  const json sarif = parse_json(read_file(fx.repo.dir() / "changetrail.sarif"));
  CHECK(sarif.at("runs")[0].at("results").size() == 1);
}

TEST_CASE("the GitLab CI template: valid, reports, cache, and its commands run", "[ci][gitlab]")
{
  const json ci = load_template("ci/templates/gitlab-ci.yml");
  CHECK(ci.at("variables").at("GIT_DEPTH") == "0");
  CHECK(ci.at("variables").contains("CHANGETRAIL_LEDGER"));
  const json& check = ci.at("changetrail-check");
  CHECK(check.at("artifacts").at("reports").at("junit") == "changetrail-junit.xml");
  CHECK(check.at("artifacts").at("reports").at("codequality") == "gl-code-quality-report.json");
  const json& record = ci.at("changetrail-record");
  CHECK(record.at("cache").at("paths")[0] == ".changetrail-ledger/");
  CHECK(record.dump().find("refs/notes/changetrail") != std::string::npos);
  CHECK(record.dump().find("CHANGETRAIL_PUSH_TOKEN") != std::string::npos);

  Fixture fx;
  std::vector<std::string> lines;
  for (const auto& [name, job] : ci.items()) {
    if (!job.is_object()) {
      continue;
    }
    for (const char* key : {"before_script", "script"}) {
      if (job.contains(key)) {
        for (const auto& item : job.at(key)) {
          for (const auto& l : changetrail_lines(item.get<std::string>())) {
            lines.push_back(l);
          }
        }
      }
    }
  }
  std::set<std::string> subcommands;
  for (auto line : lines) {
    replace_all(line, "${CI_MERGE_REQUEST_DIFF_BASE_SHA}", fx.base);
    INFO(line);
    REQUIRE(line.find('$') == std::string::npos);
    const std::string sub = words(line).at(1);
    if (sub != "check") {
      fx.on_main();
    }
    const RunResult r = fx.run_line(line);
    subcommands.insert(sub);
    check_exit(line, r, sub == "resolve");
    if (sub == "check") {
      CHECK(r.exit_code == 1);
    }
  }
  CHECK(subcommands == std::set<std::string>{"check", "scan", "resolve"});
  CHECK(lines.size() == 4);
  const json cq = parse_json(read_file(fx.repo.dir() / "gl-code-quality-report.json"));
  REQUIRE(cq.size() == 1);
  CHECK(cq[0].at("check_name") == "latest-tag");
  CHECK(cq[0].at("severity") == "major");
  CHECK(read_file(fx.repo.dir() / "changetrail-junit.xml").find("<failure type=\"latest-tag\"") != std::string::npos);
}

TEST_CASE("ci/changetrail-step.sh: check and record modes, exit codes passed through", "[ci][step]")
{
  Fixture fx;
  const std::string script = (k_source / "ci" / "changetrail-step.sh").string();
  auto env = fx.env();
  env.push_back("CHANGETRAIL_BIN=" CHANGETRAIL_BINARY);
  env.push_back("CHANGETRAIL_REPO=" + fx.repo.str());
  const auto step = [&](std::vector<std::string> extra) {
    auto e = env;
    e.insert(e.end(), extra.begin(), extra.end());
    return run({"bash", script}, fx.tmp.path().string(), "", e);
  };

  SECTION("check: a range with a new finding exits 1 and writes the report")
  {
    const std::string out = (fx.tmp / "cq.json").string();
    const RunResult r = step({"CHANGETRAIL_RANGE=origin/main...HEAD", "CHANGETRAIL_FORMAT=codequality",
                              "CHANGETRAIL_OUTPUT=" + out});
    INFO(show(r));
    CHECK(r.exit_code == 1);
    CHECK(parse_json(read_file(out)).size() == 1);
  }
  SECTION("check: nothing new since main exits 0")
  {
    const RunResult r = step({"CHANGETRAIL_RANGE=HEAD...HEAD", "CHANGETRAIL_FORMAT=json"});
    INFO(show(r));
    CHECK(r.exit_code == 0);
  }
  SECTION("check: a bad format is a usage error, passed through (2)")
  {
    const RunResult r = step({"CHANGETRAIL_FORMAT=yaml"});
    INFO(show(r));
    CHECK(r.exit_code == 2);
  }
  SECTION("record without the registry: scan, then the notes push is skipped (no notes yet)")
  {
    fx.on_main();
    const RunResult r = step({"CHANGETRAIL_MODE=record", "CHANGETRAIL_SKIP_RESOLVE=1", "CHANGETRAIL_PUSH_NOTES=1"});
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("no refs/notes/changetrail to push") != std::string::npos);
    CHECK(std::filesystem::exists(fx.ledger));
  }
  SECTION("record with notes present: they are pushed to origin")
  {
    fx.repo.git({"notes", "--ref=changetrail", "add", "-m", "observed", "HEAD"});
    fx.on_main();
    const RunResult r = step({"CHANGETRAIL_MODE=record", "CHANGETRAIL_SKIP_RESOLVE=1", "CHANGETRAIL_PUSH_NOTES=1"});
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(git_in(fx.tmp / "origin.git", {"show-ref", "refs/notes/changetrail"}).exit_code == 0);
  }
  SECTION("record with an unreachable registry: resolve's 3 is the step's exit code")
  {
    fx.on_main();
    const RunResult r = step({"CHANGETRAIL_MODE=record"});
    INFO(show(r));
    CHECK(r.exit_code == 3);
  }
  SECTION("an unknown mode: 2")
  {
    const RunResult r = step({"CHANGETRAIL_MODE=deploy"});
    CHECK(r.exit_code == 2);
  }
}
