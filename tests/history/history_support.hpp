#pragma once

// Helpers shared by the history-ledger tests (issue 3): real git repositories with fixed
// signatures and times, scans through the core API and through the binary, and one-line
// descriptions of events so that expectations read like `git log -p`.

#include "support/support.hpp"

#include <changetrail/ledger/ledger.hpp>
#include <changetrail/ledger/scan.hpp>
#include <changetrail/policy/config.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace changetrail::test::hist {

namespace fs = std::filesystem;
using nlohmann::json;

// 2024-01-01T00:00:00Z; commit n of a test lands at t(n) = k_t0 + n hours.
inline constexpr std::int64_t k_t0 = 1704067200;
inline constexpr std::int64_t t(int n)
{
  return k_t0 + static_cast<std::int64_t>(n) * 3600;
}
// Authors wrote their change 10 minutes before it landed.
inline constexpr std::int64_t k_author_lag = 600;

// A UTC calendar time from the C library (independent of the code under test).
inline std::tm utc_tm(std::int64_t secs)
{
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

// RFC 3339 UTC.
inline std::string rfc3339(std::int64_t secs)
{
  const std::tm tm = utc_tm(secs);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "YYYY-MM-DD HH:MM:SS" (the command line's UTC form).
inline std::string cli_time(std::int64_t secs)
{
  const std::tm tm = utc_tm(secs);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

inline std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

inline std::size_t count_lines_starting(const std::string& text, const std::string& prefix)
{
  const auto ls = lines_of(text);
  return static_cast<std::size_t>(
      std::count_if(ls.begin(), ls.end(), [&](const std::string& l) { return l.starts_with(prefix); }));
}

inline std::string show(const RunResult& r)
{
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout (first 4 KiB)\n" + r.out.substr(0, 4096) +
         "\n--- stderr (first 4 KiB)\n" + r.err.substr(0, 4096);
}

// The environment every git invocation gets: no user or system configuration, fixed names.
inline std::vector<std::string> git_env(std::int64_t commit_time)
{
  return {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=Alice Author",
          "GIT_AUTHOR_EMAIL=alice@example.com",
          "GIT_AUTHOR_DATE=@" + std::to_string(commit_time - k_author_lag) + " +0000",
          "GIT_COMMITTER_NAME=Carl Committer", "GIT_COMMITTER_EMAIL=carl@example.com",
          "GIT_COMMITTER_DATE=@" + std::to_string(commit_time) + " +0000", "GIT_TERMINAL_PROMPT=0",
          // git fast-import with glibc's default trim threshold spends seconds in brk() on
          // this machine; a larger pad makes it instant (no effect on what git writes).
          "MALLOC_TOP_PAD_=268435456", "MALLOC_TRIM_THRESHOLD_=268435456", "LC_ALL=C"};
}

inline const std::string k_author = "Alice Author <alice@example.com>";

// Runs git (REQUIRE success unless `may_fail`).
inline RunResult git_in(const fs::path& dir, const std::vector<std::string>& args, std::int64_t time = k_t0,
                        bool may_fail = false, const std::string& input = {})
{
  std::vector<std::string> argv{"git",
                                "-c",
                                "gc.auto=0",
                                "-c",
                                "core.autocrlf=false",
                                "-c",
                                "commit.gpgsign=false",
                                "-c",
                                "maintenance.auto=false"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run(argv, dir.string(), input, git_env(time));
  if (!may_fail) {
    INFO("git " <<
         [&] {
           std::string s;
           for (const auto& a : args) {
             s += a + " ";
           }
           return s;
         }() << "in "
                << dir << "\n"
                << show(r));
    REQUIRE(r.exit_code == 0);
  }
  return r;
}

// A work-tree repository with branch main.
class GitRepo {
public:
  explicit GitRepo(fs::path dir) : m_dir(std::move(dir))
  {
    fs::create_directories(m_dir);
    git({"-c", "init.defaultBranch=main", "init", "-q"});
  }

  // An existing repository or worktree (no `git init`).
  struct Existing {};
  GitRepo(fs::path dir, Existing) : m_dir(std::move(dir)) {}

  [[nodiscard]] const fs::path& dir() const { return m_dir; }
  [[nodiscard]] std::string str() const { return m_dir.string(); }

  RunResult git(const std::vector<std::string>& args, std::int64_t time = k_t0, bool may_fail = false) const
  {
    return git_in(m_dir, args, time, may_fail);
  }

  void write(const std::string& rel, const std::string& content) const
  {
    const fs::path p = m_dir / rel;
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    REQUIRE(out.good());
  }

  void remove(const std::string& rel) const { git({"rm", "-q", "-r", "--", rel}); }

  // Stages everything and commits at `time` (committer time; author time 10 minutes earlier).
  std::string commit(const std::string& message, std::int64_t time) const
  {
    git({"add", "-A", "."}, time);
    git({"commit", "-q", "--allow-empty", "--no-verify", "-m", message}, time);
    return head();
  }

  [[nodiscard]] std::string rev(const std::string& revision) const
  {
    auto r = git({"rev-parse", "--verify", revision + "^{commit}"});
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) {
      r.out.pop_back();
    }
    return r.out;
  }

  [[nodiscard]] std::string head() const { return rev("HEAD"); }

  // The blob id of `path` in `commit` (git rev-parse commit:path).
  [[nodiscard]] std::string blob(const std::string& commit, const std::string& path) const
  {
    auto r = git({"rev-parse", commit + ":" + path});
    r.out.erase(r.out.find_last_not_of("\r\n") + 1);
    return r.out;
  }

  // Removes a loose object from .git/objects (it must be loose).
  void delete_loose_object(const std::string& id) const
  {
    const fs::path p = m_dir / ".git" / "objects" / id.substr(0, 2) / id.substr(2);
    INFO("loose object " << p);
    REQUIRE(fs::exists(p));
    fs::permissions(p, fs::perms::owner_all, fs::perm_options::add);
    REQUIRE(fs::remove(p));
    // git itself agrees that it is gone.
    REQUIRE(git({"cat-file", "-e", id}, k_t0, true).exit_code != 0);
  }

private:
  fs::path m_dir;
};

// --- core API ---------------------------------------------------------------------------------

struct CoreScan {
  ledger::ScanSummary summary;
  std::vector<std::string> warnings;
};

inline history::ScanOptions default_options()
{
  history::ScanOptions o;
  const policy::Config config{};
  o.environment = [config](std::string_view rel) { return config.environment_for(rel); };
  return o;
}

inline CoreScan core_scan(const std::string& ledger_path, const std::string& repo_dir, const std::string& branch = {},
                          const std::string& name = {})
{
  CoreScan out;
  auto led = ledger::Ledger::open(ledger_path, ledger::Ledger::Mode::write);
  ledger::ScanRequest req;
  req.repo_dir = repo_dir;
  req.branch = branch;
  req.name = name;
  req.options = default_options();
  req.warn = [&out](const std::string& w) { out.warnings.push_back(w); };
  out.summary = ledger::scan(led, req);
  return out;
}

inline std::vector<ledger::EventRow> core_timeline(const std::string& ledger_path, ledger::Filter f = {})
{
  const auto led = ledger::Ledger::open(ledger_path, ledger::Ledger::Mode::read);
  std::vector<changetrail::ledger::EventRow> out;
  led.each_event(f, [&](const changetrail::ledger::EventRow& row) { out.push_back(row); });
  return out;
}

inline std::vector<ledger::StateRow> core_state_at(const std::string& ledger_path, std::int64_t time,
                                                   ledger::Filter f = {})
{
  const auto led = ledger::Ledger::open(ledger_path, ledger::Ledger::Mode::read);
  return led.state_at(time, f);
}

// --- one-line descriptions ----------------------------------------------------------------------

// "<time> <commit 12> <change> <path>[ (from <from_path>)] <location> <from> -> <to>", references as
// written in the file ("-" for none).
inline std::string ev(std::int64_t time, const std::string& commit, const std::string& change, const std::string& path,
                      const std::string& location, const std::string& from, const std::string& to,
                      const std::string& from_path = {})
{
  return rfc3339(time) + " " + commit.substr(0, 12) + " " + change + " " + path +
         (from_path.empty() ? std::string{} : " (from " + from_path + ")") + " " + location + " " +
         (from.empty() ? "-" : from) + " -> " + (to.empty() ? "-" : to);
}

inline std::string describe(const ledger::EventRow& r)
{
  const auto& e = r.event;
  if (e.change == "history-rewritten") {
    return rfc3339(r.time) + " " + r.commit.substr(0, 12) + " history-rewritten old=" + e.from_ref.substr(0, 12);
  }
  return ev(r.time, r.commit, e.change, e.path, e.location, e.from_ref, e.to_ref, e.from_path);
}

inline std::string ref_input(const json& ref)
{
  if (ref.is_null()) {
    return {};
  }
  return ref.at("input").get<std::string>();
}

inline std::string describe(const json& j)
{
  const std::string change = j.at("change").get<std::string>();
  const std::string time = j.at("time").get<std::string>();
  const std::string commit = j.at("commit").get<std::string>().substr(0, 12);
  if (change == "history-rewritten") {
    return time + " " + commit + " history-rewritten old=" + j.value("old_tip", std::string{}).substr(0, 12);
  }
  const std::string from_path = j.value("from_path", std::string{});
  const std::string from = ref_input(j.at("from"));
  const std::string to = ref_input(j.at("to"));
  return time + " " + commit + " " + change + " " + j.at("path").get<std::string>() +
         (from_path.empty() ? std::string{} : " (from " + from_path + ")") + " " + j.at("location").get<std::string>() +
         " " + (from.empty() ? "-" : from) + " -> " + (to.empty() ? "-" : to);
}

inline std::vector<std::string> describe_all(const std::vector<ledger::EventRow>& rows)
{
  std::vector<std::string> out;
  for (const auto& r : rows) {
    out.push_back(describe(r));
  }
  return out;
}

inline std::vector<std::string> describe_all(const json& arr)
{
  std::vector<std::string> out;
  for (const auto& j : arr) {
    out.push_back(describe(j));
  }
  return out;
}

inline std::vector<std::string> sorted(std::vector<std::string> v)
{
  std::sort(v.begin(), v.end());
  return v;
}

// Lines one list has and the other lacks (as multisets).
struct LineDiff {
  std::vector<std::string> missing;    // expected, not there
  std::vector<std::string> unexpected; // there, not expected
};

inline LineDiff line_diff(std::vector<std::string> got, std::vector<std::string> expected)
{
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  LineDiff d;
  std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(), std::back_inserter(d.missing));
  std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(), std::back_inserter(d.unexpected));
  return d;
}

// The same lines in any order; a failure lists only the lines that differ.
#define CHECK_SAME_LINES(got, expected)                                                                                \
  do {                                                                                                                 \
    const auto diff_ = ::changetrail::test::hist::line_diff((got), (expected));                                        \
    const auto& missing_lines = diff_.missing;                                                                         \
    const auto& unexpected_lines = diff_.unexpected;                                                                   \
    CHECK(missing_lines == std::vector<std::string>{});                                                                \
    CHECK(unexpected_lines == std::vector<std::string>{});                                                             \
  } while (false)

// "path location ref" per state row (ref as written).
inline std::string st(const std::string& path, const std::string& location, const std::string& ref)
{
  return path + " " + location + " " + ref;
}

inline std::vector<std::string> describe_state(const std::vector<ledger::StateRow>& rows)
{
  std::vector<std::string> out;
  for (const auto& r : rows) {
    out.push_back(st(r.path, r.location, r.ref));
  }
  return sorted(out);
}

inline std::vector<std::string> describe_state(const json& arr)
{
  std::vector<std::string> out;
  for (const auto& j : arr) {
    out.push_back(st(j.at("path").get<std::string>(), j.at("location").get<std::string>(), ref_input(j.at("ref"))));
  }
  return sorted(out);
}

// --- the binary -------------------------------------------------------------------------------

inline const std::string k_now = "2030-01-01T00:00:00Z";

// Runs the binary with --ledger; its environment has a fixed "now" (relative times and the
// default --until are reproducible) and no user git configuration (HOME points nowhere), so
// libgit2 sees the same configuration on every machine. `env` adds or overrides variables.
inline RunResult ct(const std::string& ledger_path, std::vector<std::string> args, const std::string& cwd = {},
                    const std::vector<std::string>& env = {})
{
  std::vector<std::string> argv{"--color", "never", "--ledger", ledger_path};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> full_env{"CHANGETRAIL_NOW=" + k_now, "HOME=/nonexistent", "XDG_CONFIG_HOME=/nonexistent",
                                    "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"};
  full_env.insert(full_env.end(), env.begin(), env.end());
  return run_changetrail(argv, cwd, full_env);
}

// `scan --repo DIR`, REQUIRE exit 0.
inline RunResult ct_scan(const std::string& ledger_path, const std::string& repo, std::vector<std::string> extra = {})
{
  std::vector<std::string> args{"scan", "--repo", repo};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult r = ct(ledger_path, args);
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
  return r;
}

inline json parse_json(const std::string& text)
{
  json j;
  INFO(text.substr(0, 4096));
  REQUIRE_NOTHROW(j = json::parse(text));
  return j;
}

// `timeline --since SINCE --format json [extra]`, parsed.
inline json ct_timeline(const std::string& ledger_path, std::vector<std::string> extra = {},
                        const std::string& since = "2000-01-01")
{
  std::vector<std::string> args{"timeline", "--since", since, "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = ct(ledger_path, args);
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
  json j = parse_json(r.out);
  REQUIRE(j.is_array());
  return j;
}

inline json ct_at(const std::string& ledger_path, const std::string& when, std::vector<std::string> extra = {})
{
  std::vector<std::string> args{"at", when, "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = ct(ledger_path, args);
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
  json j = parse_json(r.out);
  REQUIRE(j.is_array());
  return j;
}

inline std::string ct_dump(const std::string& ledger_path)
{
  const RunResult r = ct(ledger_path, {"ledger", "dump"});
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
  return r.out;
}

inline json ct_stats(const std::string& ledger_path)
{
  const RunResult r = ct(ledger_path, {"ledger", "stats", "--format", "json"});
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
  return parse_json(r.out);
}

// Two `ledger dump` outputs are identical; on failure, shows the first lines only one of them has
// instead of both dumps whole.
inline void check_same_dump(const std::string& got, const std::string& expected)
{
  if (got == expected) {
    SUCCEED("same dump");
    return;
  }
  const auto a = lines_of(got);
  const auto b = lines_of(expected);
  std::string only_got;
  std::string only_expected;
  int shown = 0;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()) && shown < 3; ++i) {
    const std::string x = i < a.size() ? a[i] : "<none>";
    const std::string y = i < b.size() ? b[i] : "<none>";
    if (x != y) {
      only_got += "line " + std::to_string(i + 1) + ": " + x.substr(0, 600) + "\n";
      only_expected += "line " + std::to_string(i + 1) + ": " + y.substr(0, 600) + "\n";
      ++shown;
    }
  }
  INFO("dump has " << a.size() << " lines, expected " << b.size() << "\nfirst differences, got:\n"
                   << only_got << "expected:\n"
                   << only_expected);
  FAIL_CHECK("the dumps differ");
}

// The `changetrail: warning:` lines of stderr.
inline std::vector<std::string> warnings_of(const RunResult& r)
{
  std::vector<std::string> out;
  for (const auto& l : lines_of(r.err)) {
    if (l.starts_with("changetrail: warning:")) {
      out.push_back(l);
    }
  }
  return out;
}

// Exactly one error line, with exit code `code`; returns the line.
inline std::string one_error(const RunResult& r, int code)
{
  INFO(show(r));
  CHECK(r.exit_code == code);
  CHECK(count_lines_starting(r.err, "changetrail: error:") == 1);
  for (const auto& l : lines_of(r.err)) {
    if (l.starts_with("changetrail: error:")) {
      return l;
    }
  }
  return {};
}

// --- manifests --------------------------------------------------------------------------------

// A Deployment `name` in `ns` with containers (name, image); image lines are at 11, 13, ...
inline std::string deployment(const std::string& ns, const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& containers)
{
  std::string out = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
                    "\nspec:\n  template:\n    spec:\n      containers:\n";
  for (const auto& [c, image] : containers) {
    out += "        - name: " + c + "\n          image: " + image + "\n";
  }
  return out;
}

inline std::string loc(const std::string& ns, const std::string& name, const std::string& container)
{
  return "Deployment/" + ns + "/" + name + "/containers/" + container;
}

} // namespace changetrail::test::hist
