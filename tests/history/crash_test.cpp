// Crash safety and concurrency of the ledger (issue 3 section 2): `kill -9` at several moments of
// a scan of a ~2,000-commit repository, then a scan to completion, gives exactly the ledger of an
// uninterrupted scan; two scans of one repository into one ledger at the same time never corrupt
// it and end with the same content; readers are not blocked by a writer.

#include "history_support.hpp"

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <iostream>
#include <signal.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace changetrail::test::hist;
using changetrail::test::RunResult;
using changetrail::test::TempDir;
namespace ledger = changetrail::ledger;

namespace {

constexpr int k_commits = 2000;
constexpr int k_services = 20;
const std::vector<std::string> k_envs{"prod", "staging", "dev"};

std::string svc_path(const std::string& env, int s)
{
  return "clusters/" + env + "/svc" + std::to_string(s) + ".yaml";
}

std::string svc_file(const std::string& env, int s, const std::string& tag)
{
  return deployment(env, "svc" + std::to_string(s), {{"app", "ghcr.io/acme/svc" + std::to_string(s) + ":" + tag}});
}

void data(std::string& out, const std::string& content)
{
  out += "data " + std::to_string(content.size()) + "\n" + content + "\n";
}

// A fast-import stream: commit 1 creates every service in every environment; commit i bumps one
// service in one environment, every 7th also a second one, every 97th moves a file to another
// directory, every 131st deletes one (a later bump of it re-creates it).
std::string fast_import_stream()
{
  std::string out;
  for (int i = 1; i <= k_commits; ++i) {
    const std::int64_t when = t(0) + i * 60;
    out += "commit refs/heads/main\nmark :" + std::to_string(i) + "\n";
    out += "author Alice Author <alice@example.com> " + std::to_string(when - k_author_lag) + " +0000\n";
    out += "committer Carl Committer <carl@example.com> " + std::to_string(when) + " +0000\n";
    data(out, "commit " + std::to_string(i) + "\n");
    if (i > 1) {
      out += "from :" + std::to_string(i - 1) + "\n";
    }
    if (i == 1) {
      for (const auto& env : k_envs) {
        for (int s = 0; s < k_services; ++s) {
          out += "M 100644 inline " + svc_path(env, s) + "\n";
          data(out, svc_file(env, s, "1.0.0"));
        }
      }
      continue;
    }
    const auto& env = k_envs[static_cast<std::size_t>(i) % k_envs.size()];
    const int s = i % k_services;
    if (i % 97 == 0) {
      // A move into a subdirectory under the same file name, with a new tag (a `moved` event);
      // later bumps of the service write the old path again (an `added` event).
      const std::string from = svc_path(env, s);
      out += "D " + from + "\n";
      out += "M 100644 inline clusters/" + env + "/moved/svc" + std::to_string(s) + ".yaml\n";
      data(out, svc_file(env, s, "moved." + std::to_string(i)));
      continue;
    }
    if (i % 131 == 0) {
      out += "D " + svc_path(env, s) + "\n";
      continue;
    }
    out += "M 100644 inline " + svc_path(env, s) + "\n";
    data(out, svc_file(env, s, "1." + std::to_string(i) + ".0"));
    if (i % 7 == 0) {
      const int s2 = (s + 3) % k_services;
      out += "M 100644 inline " + svc_path(env, s2) + "\n";
      data(out, svc_file(env, s2, "2." + std::to_string(i) + ".0"));
    }
  }
  out += "done\n";
  return out;
}

// The 2,000-commit repository, built once per test executable.
const fs::path& big_repo()
{
  static TempDir dir;
  static const fs::path repo = [] {
    const fs::path p = dir / "big";
    fs::create_directories(p);
    git_in(p, {"-c", "init.defaultBranch=main", "init", "-q"});
    git_in(p, {"fast-import", "--quiet", "--done"}, k_t0, false, fast_import_stream());
    REQUIRE(git_in(p, {"rev-list", "--count", "--first-parent", "main"}).out == std::to_string(k_commits) + "\n");
    // The same history with main at commit 1000 (to scan the first half under the same name).
    const fs::path half = dir / "big-half";
    fs::create_directories(half);
    // A bare repository: scans work on those too.
    git_in(half, {"-c", "init.defaultBranch=main", "init", "-q", "--bare"});
    git_in(p, {"branch", "-f", "half", "main~1000"});
    git_in(half, {"fetch", "-q", p.string(), "refs/heads/half:refs/heads/main"});
    return p;
  }();
  return repo;
}

const fs::path big_half()
{
  return big_repo().parent_path() / "big-half";
}

// A scan of the big repository into a fresh ledger, once: the reference dump.
struct Reference {
  std::string dump;
  double seconds = 0;
};

const Reference& reference_scan()
{
  static TempDir dir;
  static const Reference ref = [] {
    Reference r;
    const std::string l = (dir / "ref.db").string();
    const auto start = std::chrono::steady_clock::now();
    const RunResult s = ct(l, {"scan", "--repo", big_repo().string(), "--name", "big"});
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(show(s));
    REQUIRE(s.exit_code == 0);
    REQUIRE(s.err.find(std::to_string(k_commits) + " commits") != std::string::npos);
    r.dump = ct_dump(l);
    REQUIRE(lines_of(r.dump).size() > static_cast<std::size_t>(k_commits));
    return r;
  }();
  return ref;
}

// Starts `changetrail --ledger L scan --repo big --name big` in the background.
pid_t spawn_scan(const std::string& ledger_path, const std::string& err_file, const std::string& branch = {})
{
  std::vector<std::string> args{CHANGETRAIL_BINARY, "--color",           "never",  "--ledger", ledger_path, "scan",
                                "--repo",           big_repo().string(), "--name", "big"};
  if (!branch.empty()) {
    args.push_back("--branch");
    args.push_back(branch);
  }
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDWR);
    const int err_fd = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(err_fd >= 0 ? err_fd : null_fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for a child; returns its exit code, or 128 + signal.
int wait_child(pid_t pid)
{
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Commits recorded in a ledger (ledger stats), or -1 when it cannot be read yet.
std::int64_t recorded_commits(const std::string& l)
{
  std::error_code ec;
  if (!fs::exists(l, ec)) {
    return -1;
  }
  const RunResult r = ct(l, {"ledger", "stats", "--format", "json"});
  if (r.exit_code != 0) {
    return -1;
  }
  return json::parse(r.out).at("commits").get<std::int64_t>();
}

// Commits in a ledger through the core API (in-process, cheap enough to poll), or -1 when it
// cannot be opened yet (not created, or its schema not yet committed).
std::int64_t core_commits(const std::string& l)
{
  std::error_code ec;
  if (!fs::exists(l, ec)) {
    return -1;
  }
  try {
    const auto led = ledger::Ledger::open(l, ledger::Ledger::Mode::read);
    return led.stats().commits;
  } catch (const std::exception&) {
    return -1;
  }
}

// SIGKILL after `delay_ms`; returns the exit code (128 + 9 when the kill hit a running scan).
int kill_after(pid_t pid, int delay_ms)
{
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  kill(pid, SIGKILL);
  return wait_child(pid);
}

// SIGKILL `extra_ms` after the ledger first holds at least `threshold` commits (or when the
// scan ends first: then its exit code).
int kill_at(pid_t pid, const std::string& l, std::int64_t threshold, int extra_ms)
{
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (core_commits(l) >= threshold) {
      return kill_after(pid, extra_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return kill_after(pid, 0);
}

} // namespace

TEST_CASE("history: kill -9 during scan: the next scan completes to exactly the uninterrupted ledger",
          "[history][crash]")
{
  // Batches of 200 commits: a 2,000-commit scan commits ten times, so kills land between them.
  setenv("CHANGETRAIL_SCAN_BATCH", "200", 1);
  const Reference& ref = reference_scan();
  TempDir tmp;
  // Two kinds of kill: after a fixed delay (wherever that lands), and as soon as the ledger holds
  // at least N commits, plus a few milliseconds (inside the next batch's work or transaction).
  // The second kind lands mid-scan however fast or slow this machine is.
  struct Kill {
    int delay_ms;
    std::int64_t after_commits; // -1: fixed delay only
  };
  const std::vector<Kill> kills{{50, -1}, {200, -1}, {0, 1}, {3, 800}, {11, 1600}};
  int interrupted = 0;
  int n = 0;
  for (const auto& k : kills) {
    ++n;
    const std::string l = (tmp / ("k" + std::to_string(n) + ".db")).string();
    const pid_t pid = spawn_scan(l, (tmp / ("k" + std::to_string(n) + ".err")).string());
    const int code = k.after_commits < 0 ? kill_after(pid, k.delay_ms) : kill_at(pid, l, k.after_commits, k.delay_ms);
    const std::int64_t after_kill = recorded_commits(l);
    INFO("kill " << n << " (" << k.delay_ms << " ms, at " << k.after_commits << " commits): exit " << code
                 << ", commits recorded after the kill: " << after_kill);
    if (code == 128 + SIGKILL && after_kill > 0 && after_kill < k_commits) {
      ++interrupted;
    }
    if (std::getenv("CHANGETRAIL_TEST_VERBOSE") != nullptr) {
      std::cerr << "kill " << n << " (" << k.delay_ms << " ms, at " << k.after_commits << " commits): exit " << code
                << ", " << after_kill << " of " << k_commits << " commits recorded\n";
    }
    // Resume.
    const RunResult resumed = ct(l, {"scan", "--repo", big_repo().string(), "--name", "big"});
    INFO(show(resumed));
    REQUIRE(resumed.exit_code == 0);
    CHECK(recorded_commits(l) == k_commits);
    check_same_dump(ct_dump(l), ref.dump);
  }
  // Kills landed in the middle of a scan (some batches committed, not all); otherwise this test
  // proved nothing.
  CHECK(interrupted >= 2);

  SECTION("killed again and again on the same ledger, then completed")
  {
    const std::string l = (tmp / "chain.db").string();
    std::int64_t previous = -1;
    int mid = 0;
    for (const auto& [threshold, extra_ms] : std::vector<std::pair<std::int64_t, int>>{{1, 5}, {700, 0}, {1300, 9}}) {
      const pid_t pid = spawn_scan(l, (tmp / "chain.err").string());
      const int code = kill_at(pid, l, threshold, extra_ms);
      const std::int64_t now = recorded_commits(l);
      INFO("kill at " << threshold << " commits: exit " << code << ", " << now << " commits recorded");
      CHECK(now >= previous); // nothing committed is ever lost
      if (code == 128 + SIGKILL && now > 0 && now < k_commits) {
        ++mid;
      }
      previous = now;
    }
    const RunResult fin = ct(l, {"scan", "--repo", big_repo().string(), "--name", "big"});
    INFO(show(fin));
    CHECK(fin.exit_code == 0);
    check_same_dump(ct_dump(l), ref.dump);
    CHECK(mid >= 2);
  }
}

TEST_CASE("history: two concurrent scans of one repository into one ledger", "[history][concurrency]")
{
  // Batches of 200 commits: the two scans' transactions interleave.
  setenv("CHANGETRAIL_SCAN_BATCH", "200", 1);
  const Reference& ref = reference_scan();
  TempDir tmp;
  for (int round = 0; round < 2; ++round) {
    INFO("round " << round);
    const std::string l = (tmp / ("c" + std::to_string(round) + ".db")).string();
    const std::string e1 = (tmp / ("c" + std::to_string(round) + "-1.err")).string();
    const std::string e2 = (tmp / ("c" + std::to_string(round) + "-2.err")).string();
    if (round == 1) {
      // Second round: the ledger already has the first half (both scans continue it).
      ct(l, {"scan", "--repo", big_half().string(), "--name", "big"});
      REQUIRE(recorded_commits(l) == 1000);
    }
    const pid_t a = spawn_scan(l, e1);
    const pid_t b = spawn_scan(l, e2);
    const int ca = wait_child(a);
    const int cb = wait_child(b);
    const std::string err_a = changetrail::test::read_file(e1);
    const std::string err_b = changetrail::test::read_file(e2);
    INFO("scan 1: exit " << ca << "\n" << err_a << "\nscan 2: exit " << cb << "\n" << err_b);
    // Both succeed, or one stops with one clear error line (exit 3, the ledger is busy).
    const auto acceptable = [](int code, const std::string& err) {
      if (code == 0) {
        return count_lines_starting(err, "changetrail: error:") == 0;
      }
      return code == 3 && count_lines_starting(err, "changetrail: error:") == 1 &&
             err.find("locked") != std::string::npos;
    };
    CHECK(acceptable(ca, err_a));
    CHECK(acceptable(cb, err_b));
    CHECK((ca == 0 || cb == 0));
    // Whatever happened, one more scan and the ledger is the uninterrupted one.
    const RunResult fin = ct(l, {"scan", "--repo", big_repo().string(), "--name", "big"});
    INFO(show(fin));
    CHECK(fin.exit_code == 0);
    if (ca == 0 && cb == 0) {
      CHECK(fin.err.find(" 0 commits, 0 events") != std::string::npos);
    }
    check_same_dump(ct_dump(l), ref.dump);
    CHECK(recorded_commits(l) == k_commits);
  }
}

TEST_CASE("history: readers are not blocked by a writer and see a consistent ledger", "[history][concurrency]")
{
  // Batches of 200 commits: readers see the ledger between many transactions.
  setenv("CHANGETRAIL_SCAN_BATCH", "200", 1);
  const Reference& ref = reference_scan();
  TempDir tmp;
  const std::string l = (tmp / "l.db").string();
  ct(l, {"scan", "--repo", big_half().string(), "--name", "big"});
  REQUIRE(recorded_commits(l) == 1000);
  const pid_t writer = spawn_scan(l, (tmp / "w.err").string());
  std::vector<std::int64_t> seen;
  int reads = 0;
  for (;;) {
    const RunResult r = ct(l, {"ledger", "stats", "--format", "json"});
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    seen.push_back(json::parse(r.out).at("commits").get<std::int64_t>());
    ++reads;
    int status = 0;
    if (waitpid(writer, &status, WNOHANG) == writer) {
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
      break;
    }
  }
  CHECK(reads >= 1);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    INFO("read " << i << ": " << seen[i]);
    CHECK(seen[i] >= 1000);
    CHECK(seen[i] <= k_commits);
    if (i > 0) {
      CHECK(seen[i] >= seen[i - 1]);
    }
  }
  check_same_dump(ct_dump(l), ref.dump);
}
