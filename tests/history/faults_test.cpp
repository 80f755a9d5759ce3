// Bad input and faults (issue 3 sections 1, 2 and 4; DESIGN.md "Command line" exit codes):
// missing objects, shallow clones, not a repository, an empty repository, an unknown branch,
// corrupt, truncated and future-schema ledgers, read-only ledger locations. Each ends with the
// documented exit code and one `changetrail: error:` line naming what and where.

#include "history_support.hpp"

#include <sqlite3.h>

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace changetrail::test::hist;
using changetrail::test::RunResult;
using changetrail::test::TempDir;
namespace ledger = changetrail::ledger;

namespace {

// A small repository with two services and three commits; returns the commit ids.
std::vector<std::string> small_history(const GitRepo& repo)
{
  std::vector<std::string> c;
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
  repo.write("deploy/api.yaml", deployment("prod", "api", {{"api", "ghcr.io/acme/api:1.0.0"}}));
  c.push_back(repo.commit("initial", t(1)));
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.1.0"}}));
  c.push_back(repo.commit("web 1.1.0", t(2)));
  repo.write("deploy/api.yaml", deployment("prod", "api", {{"api", "ghcr.io/acme/api:1.1.0"}}));
  c.push_back(repo.commit("api 1.1.0", t(3)));
  return c;
}

void sql(const std::string& path, const std::string& statement)
{
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
  INFO((err != nullptr ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

const std::vector<std::string> k_nobody = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};

RunResult ct_as_nobody(const std::string& ledger_path, const std::vector<std::string>& args)
{
  std::vector<std::string> argv = k_nobody;
  for (const char* a : {CHANGETRAIL_BINARY, "--color", "never", "--ledger"}) {
    argv.emplace_back(a);
  }
  argv.push_back(ledger_path);
  argv.insert(argv.end(), args.begin(), args.end());
  return changetrail::test::run(argv, "/", {}, {"CHANGETRAIL_NOW=" + k_now, "HOME=/nonexistent"});
}

void chown_tree(const fs::path& p, uid_t uid, gid_t gid)
{
  REQUIRE(::lchown(p.c_str(), uid, gid) == 0);
  if (fs::is_directory(fs::symlink_status(p))) {
    for (const auto& e : fs::recursive_directory_iterator(p)) {
      REQUIRE(::lchown(e.path().c_str(), uid, gid) == 0);
    }
  }
}

} // namespace

TEST_CASE("history: missing object: one warning naming commit and path, counted, scan goes on (exit 0)",
          "[history][faults]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
  const auto c1 = repo.commit("initial", t(1));
  repo.write("deploy/cache.yaml", deployment("prod", "cache", {{"redis", "redis:7.2.3"}}));
  const auto c2 = repo.commit("cache", t(2));
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.1.0"}}));
  const auto c3 = repo.commit("web 1.1.0", t(3));
  // The cache manifest's blob, written loose by `git add`, is removed from the object store.
  repo.delete_loose_object(repo.blob(c2, "deploy/cache.yaml"));

  const std::string l = (tmp / "l.db").string();
  const RunResult r = ct(l, {"scan", "--repo", repo.str()});
  INFO(show(r));
  CHECK(r.exit_code == 0);
  const auto warns = warnings_of(r);
  REQUIRE(warns.size() == 1);
  CHECK(warns[0].find(c2.substr(0, 12)) != std::string::npos);
  CHECK(warns[0].find("deploy/cache.yaml") != std::string::npos);
  CHECK(r.err.find("3 commits") != std::string::npos);
  CHECK(r.err.find("1 files skipped") != std::string::npos);
  CHECK(count_lines_starting(r.err, "changetrail: error:") == 0);

  // The other files of every commit, including the later ones, are recorded.
  CHECK_SAME_LINES(
      describe_all(ct_timeline(l)),
      sorted({
          ev(t(1), c1, "added", "deploy/web.yaml", loc("prod", "web", "web"), "", "ghcr.io/acme/web:1.0.0"),
          ev(t(3), c3, "changed", "deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.0.0",
             "ghcr.io/acme/web:1.1.0"),
      }));

  // Core API: the same count in the summary.
  const auto core = core_scan((tmp / "core.db").string(), repo.str());
  CHECK(core.summary.files_skipped == 1);
  CHECK(core.warnings.size() == 1);
}

TEST_CASE("history: missing object: a later readable version of the same file is recorded", "[history][faults]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("deploy/cache.yaml", deployment("prod", "cache", {{"redis", "redis:7.0.0"}}));
  const auto c1 = repo.commit("initial", t(1));
  repo.write("deploy/cache.yaml", deployment("prod", "cache", {{"redis", "redis:7.1.0"}}));
  const auto c2 = repo.commit("7.1.0", t(2));
  repo.write("deploy/cache.yaml", deployment("prod", "cache", {{"redis", "redis:7.2.0"}}));
  const auto c3 = repo.commit("7.2.0", t(3));
  // Only the middle version is missing.
  repo.delete_loose_object(repo.blob(c2, "deploy/cache.yaml"));

  const std::string l = (tmp / "l.db").string();
  const auto scan = core_scan(l, repo.str());
  CHECK(scan.summary.commits == 3);
  CHECK(scan.summary.files_skipped >= 1);
  for (const auto& w : scan.warnings) {
    CHECK(w.find("deploy/cache.yaml") != std::string::npos);
  }
  // c3's version is in the object store: after c3, redis:7.2.0 is what is deployed, not 7.0.0.
  CHECK(describe_state(core_state_at(l, t(3))) ==
        std::vector<std::string>{st("deploy/cache.yaml", loc("prod", "cache", "redis"), "redis:7.2.0")});
  const auto rows = core_timeline(l);
  CHECK(std::any_of(rows.begin(), rows.end(),
                    [&](const ledger::EventRow& r) { return r.commit == c3 && r.event.to_ref == "redis:7.2.0"; }));
  (void)c1;
}

TEST_CASE("history: shallow clone: scans what is there and marks the boundary", "[history][faults][shallow]")
{
  TempDir tmp;
  GitRepo src(tmp / "src");
  std::vector<std::string> c(6);
  src.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
  c[1] = src.commit("c1", t(1));
  src.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.1.0"}}));
  src.write("deploy/api.yaml", deployment("prod", "api", {{"api", "ghcr.io/acme/api:1.0.0"}}));
  c[2] = src.commit("c2", t(2));
  src.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.2.0"}}));
  c[3] = src.commit("c3", t(3));
  src.write("deploy/api.yaml", deployment("prod", "api", {{"api", "ghcr.io/acme/api:1.1.0"}}));
  c[4] = src.commit("c4", t(4));
  src.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.3.0"}}));
  c[5] = src.commit("c5", t(5));

  const fs::path clone = tmp / "clone";
  git_in(tmp.path(), {"clone", "-q", "--depth", "3", "file://" + src.str(), clone.string()});
  REQUIRE(fs::exists(clone / ".git" / "shallow"));
  REQUIRE(git_in(clone, {"rev-list", "--count", "HEAD"}).out == "3\n");

  const std::string l = (tmp / "l.db").string();
  const RunResult r = ct(l, {"scan", "--repo", clone.string()});
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("3 commits") != std::string::npos);
  CHECK(r.err.find("shallow") != std::string::npos);
  // c3 is the oldest commit there: its whole tree is added; then c4 and c5 as usual.
  const std::vector<std::string> expected{
      ev(t(3), c[3], "added", "deploy/api.yaml", loc("prod", "api", "api"), "", "ghcr.io/acme/api:1.0.0"),
      ev(t(3), c[3], "added", "deploy/web.yaml", loc("prod", "web", "web"), "", "ghcr.io/acme/web:1.2.0"),
      ev(t(4), c[4], "changed", "deploy/api.yaml", loc("prod", "api", "api"), "ghcr.io/acme/api:1.0.0",
         "ghcr.io/acme/api:1.1.0"),
      ev(t(5), c[5], "changed", "deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.2.0",
         "ghcr.io/acme/web:1.3.0"),
  };
  const json events = ct_timeline(l);
  CHECK_SAME_LINES(describe_all(events), sorted(expected));
  // The repository is named after its origin.
  for (const auto& e : events) {
    CHECK(e.at("repo") == "file://" + src.str());
  }
  // The boundary is recorded in the ledger.
  const auto led = ledger::Ledger::open(l, ledger::Ledger::Mode::read);
  const auto row = led.find_repo("file://" + src.str());
  REQUIRE(row.has_value());
  CHECK(row->shallow_boundary);
  CHECK(row->last_commit == c[5]);
  // Core API summary.
  const auto core = core_scan((tmp / "core.db").string(), clone.string());
  CHECK(core.summary.boundary);
  CHECK(core.summary.commits == 3);
}

TEST_CASE("history: bad input: not a git repository (exit 2)", "[history][faults][bad-input]")
{
  TempDir tmp;
  const fs::path dir = tmp / "plain";
  fs::create_directories(dir);
  {
    std::ofstream(dir / "web.yaml") << "image: nginx:1.25\n";
  }
  const RunResult r = ct((tmp / "l.db").string(), {"scan", "--repo", dir.string()});
  const std::string e = one_error(r, 2);
  CHECK(e.find("not a git repository") != std::string::npos);
  CHECK(e.find(dir.string()) != std::string::npos);
  // A directory that does not exist at all.
  const RunResult missing = ct((tmp / "l.db").string(), {"scan", "--repo", (tmp / "nowhere").string()});
  const std::string e2 = one_error(missing, 2);
  CHECK(e2.find((tmp / "nowhere").string()) != std::string::npos);
}

TEST_CASE("history: bad input: an empty repository (no commits) is exit 0 with a warning",
          "[history][faults][bad-input]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const std::string l = (tmp / "l.db").string();
  const RunResult r = ct(l, {"scan", "--repo", repo.str()});
  INFO(show(r));
  CHECK(r.exit_code == 0);
  CHECK(count_lines_starting(r.err, "changetrail: error:") == 0);
  const auto warns = warnings_of(r);
  REQUIRE(warns.size() == 1);
  CHECK(warns[0].find("no commits") != std::string::npos);
  CHECK(ct_timeline(l).empty());
  // Once it has a commit, the next scan records it.
  repo.write("web.yaml", deployment("a", "web", {{"web", "nginx:1.25.3"}}));
  const auto c1 = repo.commit("first", t(1));
  ct_scan(l, repo.str());
  CHECK(describe_all(ct_timeline(l)) ==
        std::vector<std::string>{ev(t(1), c1, "added", "web.yaml", loc("a", "web", "web"), "", "nginx:1.25.3")});
}

TEST_CASE("history: bad input: a branch that does not exist (exit 2) - a remote-tracking branch works",
          "[history][faults][bad-input]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const auto c = small_history(repo);
  const std::string l = (tmp / "l.db").string();
  const RunResult r = ct(l, {"scan", "--repo", repo.str(), "--branch", "no-such-branch"});
  const std::string e = one_error(r, 2);
  CHECK(e.find("no-such-branch") != std::string::npos);

  // origin/main in a clone.
  const fs::path clone = tmp / "clone";
  git_in(tmp.path(), {"clone", "-q", repo.str(), clone.string()});
  const std::string l2 = (tmp / "l2.db").string();
  const RunResult ok = ct(l2, {"scan", "--repo", clone.string(), "--branch", "origin/main", "--name", "deploy"});
  INFO(show(ok));
  CHECK(ok.exit_code == 0);
  const json events = ct_timeline(l2);
  CHECK(events.size() == 4);
  for (const auto& ev_json : events) {
    CHECK(ev_json.at("repo") == "deploy");
    CHECK(ev_json.at("branch") == "origin/main");
  }
  CHECK(events.back().at("commit") == c[2]);
}

TEST_CASE("history: bad input: corrupt and truncated ledger files (exit 2, naming the file)",
          "[history][faults][ledger]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  small_history(repo);
  // Enough events for a ledger of several pages.
  for (int i = 0; i < 60; ++i) {
    repo.write("many/svc" + std::to_string(i) + ".yaml", "image: ghcr.io/acme/svc" + std::to_string(i) + ":1.0.0\n");
  }
  repo.commit("many services", t(4));

  const auto check_refused = [&](const std::string& l, const std::string& what) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"scan", "--repo", repo.str()},
                                                                  {"timeline", "--since", "2000-01-01"},
                                                                  {"at", "2024-06-01"},
                                                                  {"ledger", "stats"},
                                                                  {"ledger", "dump"}}) {
      INFO(what << ": changetrail " << args[0] << (args.size() > 1 ? " " + args[1] : std::string{}));
      const RunResult r = ct(l, args);
      const std::string e = one_error(r, 2);
      CHECK(e.find(l) != std::string::npos);
      CHECK(r.out.empty());
    }
  };

  SECTION("garbage")
  {
    const std::string l = (tmp / "garbage.db").string();
    std::string junk;
    for (int i = 0; i < 400; ++i) {
      junk += "this is not an SQLite database, just text. ";
    }
    std::ofstream(l, std::ios::binary) << junk;
    check_refused(l, "garbage");
    // Not overwritten by the attempts.
    CHECK(changetrail::test::read_file(l) == junk);
  }
  SECTION("a real ledger truncated to half its size")
  {
    const std::string l = (tmp / "half.db").string();
    ct_scan(l, repo.str());
    REQUIRE_FALSE(fs::exists(l + "-wal")); // checkpointed when the scanner closed it
    const auto size = fs::file_size(l);
    REQUIRE(size >= 4 * 4096);
    fs::resize_file(l, size / 2);
    check_refused(l, "half");
  }
  SECTION("a real ledger truncated inside its header")
  {
    const std::string l = (tmp / "header.db").string();
    ct_scan(l, repo.str());
    fs::resize_file(l, 50);
    check_refused(l, "header");
  }
  SECTION("a damaged page in a real ledger")
  {
    const std::string l = (tmp / "damaged.db").string();
    ct_scan(l, repo.str());
    const auto size = fs::file_size(l);
    {
      std::fstream f(l, std::ios::in | std::ios::out | std::ios::binary);
      // Overwrite every page but the first with garbage (their b-tree headers become invalid).
      for (std::uintmax_t off = 4096; off + 64 <= size; off += 4096) {
        f.seekp(static_cast<std::streamoff>(off));
        f << std::string(64, '\xA5');
      }
    }
    check_refused(l, "damaged");
  }
}

TEST_CASE("history: bad input: a ledger from a future schema is refused (exit 2, says newer)",
          "[history][faults][ledger]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  small_history(repo);
  const std::string l = (tmp / "l.db").string();
  ct_scan(l, repo.str());
  sql(l, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  for (const auto& args : std::vector<std::vector<std::string>>{{"scan", "--repo", repo.str()},
                                                                {"timeline", "--since", "2000-01-01"},
                                                                {"diff", "2024-01-01", "2024-02-01"},
                                                                {"ledger", "stats"}}) {
    INFO("changetrail " << args[0]);
    const RunResult r = ct(l, args);
    const std::string e = one_error(r, 2);
    CHECK(e.find("newer") != std::string::npos);
    CHECK(e.find("99") != std::string::npos);
    CHECK(e.find(l) != std::string::npos);
  }
  // The file was not touched: still version 99.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(l.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) == "99");
  sqlite3_finalize(s);
  sqlite3_close(db);
  // Also through the core API: open refuses with the same message.
  try {
    (void)ledger::Ledger::open(l, ledger::Ledger::Mode::read);
    FAIL("opened a ledger of schema 99");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("newer") != std::string::npos);
  }
}

TEST_CASE("history: a ledger of schema 1 is refused by queries and upgraded by scan, keeping every event",
          "[history][ledger][migration]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  small_history(repo);
  const std::string l = (tmp / "l.db").string();
  ct_scan(l, repo.str());
  const std::string dump = ct_dump(l);
  const RunResult diff_before = ct(l, {"diff", "2000-01-01", "2100-01-01", "--format", "json"});
  REQUIRE(diff_before.exit_code == 0);
  // What schema 1 was: the state index without `superseded`, no registry observations.
  sql(l, "DROP INDEX events_by_location_state; CREATE INDEX events_by_location ON events(location_id, seq); "
         "DROP TABLE observations; DROP TABLE images; ALTER TABLE repos DROP COLUMN notes_commit; UPDATE meta SET value = '1' WHERE key = 'schema_version'");

  const RunResult q = ct(l, {"timeline", "--since", "2000-01-01"});
  const std::string e = one_error(q, 2);
  CHECK(e.find("schema version 1") != std::string::npos);
  CHECK(e.find("changetrail scan") != std::string::npos);

  const RunResult up = ct_scan(l, repo.str());
  CHECK(up.exit_code == 0);
  CHECK(ct_dump(l) == dump);
  const RunResult diff_after = ct(l, {"diff", "2000-01-01", "2100-01-01", "--format", "json"});
  REQUIRE(diff_after.exit_code == 0);
  CHECK(diff_after.out == diff_before.out);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(l.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  const auto scalar = [db](const char* query) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, query, -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  };
  CHECK(scalar("SELECT value FROM meta WHERE key = 'schema_version'") == std::to_string(ledger::k_schema_version));
  CHECK(scalar("SELECT count(*) FROM sqlite_master WHERE name IN ('observations', 'images')") == "2");
  CHECK(scalar("SELECT count(*) FROM sqlite_master WHERE name = 'events_by_location_state'") == "1");
  CHECK(scalar("SELECT count(*) FROM sqlite_master WHERE name = 'events_by_location'") == "0");
  sqlite3_close(db);
}

TEST_CASE("history: bad input: CHANGETRAIL_SCAN_BATCH that is not a number of commits (exit 2, nothing written)",
          "[history][faults][bad-input]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  small_history(repo);
  const std::string l = (tmp / "l.db").string();
  for (const std::string bad : {"0", "-5", "12abc", "many", "99999999999999999999", "2000000"}) {
    INFO("CHANGETRAIL_SCAN_BATCH=" << bad);
    const RunResult r = ct(l, {"scan", "--repo", repo.str()}, {}, {"CHANGETRAIL_SCAN_BATCH=" + bad});
    const std::string e = one_error(r, 2);
    CHECK(e.find("CHANGETRAIL_SCAN_BATCH=" + bad) != std::string::npos);
  }
  // Nothing was recorded; a valid size scans (one commit per transaction here).
  const RunResult stats = ct(l, {"ledger", "stats", "--format", "json"});
  REQUIRE(stats.exit_code == 0);
  CHECK(json::parse(stats.out).at("commits") == 0);
  const RunResult ok = ct(l, {"scan", "--repo", repo.str()}, {}, {"CHANGETRAIL_SCAN_BATCH=1"});
  INFO(show(ok));
  CHECK(ok.exit_code == 0);
  CHECK(ok.err.find("3 commits, 4 events") != std::string::npos);
}

TEST_CASE("history: bad input: an SQLite database that is not a ledger (exit 2)", "[history][faults][ledger]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  small_history(repo);
  const std::string l = (tmp / "other.db").string();
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(l.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('keep me');", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  const RunResult r = ct(l, {"scan", "--repo", repo.str()});
  const std::string e = one_error(r, 2);
  CHECK(e.find(l) != std::string::npos);
  CHECK(e.find("not a changetrail ledger") != std::string::npos);
}

TEST_CASE("history: bad input: a read-only ledger location (exit 3)", "[history][faults][ledger]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  small_history(repo);

  SECTION("the ledger's directory would be inside a regular file")
  {
    {
      std::ofstream(tmp / "file") << "a file, not a directory\n";
    }
    const std::string l = (tmp / "file" / "l.db").string();
    const RunResult r = ct(l, {"scan", "--repo", repo.str()});
    const std::string e = one_error(r, 3);
    CHECK(e.find((tmp / "file").string()) != std::string::npos);
  }
  SECTION("a directory the user cannot write (as nobody)")
  {
    fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
    // The repository belongs to nobody (libgit2 refuses repositories of other owners).
    chown_tree(repo.dir(), 65534, 65534);
    const fs::path ro = tmp / "ro";
    fs::create_directories(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
    const RunResult probe = ct_as_nobody((ro / "probe.db").string(), {"--version"});
    if (probe.exit_code != 0) {
      WARN("cannot run the binary as nobody; skipped: " + probe.err);
      return;
    }
    const std::string l = (ro / "l.db").string();
    const RunResult r = ct_as_nobody(l, {"scan", "--repo", repo.str()});
    const std::string e = one_error(r, 3);
    CHECK(e.find(l) != std::string::npos);
    CHECK_FALSE(fs::exists(l));
  }
  SECTION("an existing ledger in a read-only directory: scan fails (exit 3), queries still read it")
  {
    const fs::path ro = tmp / "ro";
    fs::create_directories(ro);
    const std::string l = (ro / "l.db").string();
    ct_scan(l, repo.str());
    REQUIRE_FALSE(fs::exists(l + "-wal"));
    const std::string dump_before = ct_dump(l);
    // A new commit to record (made before the repository changes owner): the scan must fail.
    repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:9.9.9"}}));
    repo.commit("web 9.9.9", t(9));
    fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
    chown_tree(repo.dir(), 65534, 65534);
    fs::permissions(l, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
    const RunResult probe = ct_as_nobody(l, {"--version"});
    if (probe.exit_code != 0) {
      WARN("cannot run the binary as nobody; skipped: " + probe.err);
      return;
    }
    const RunResult r = ct_as_nobody(l, {"scan", "--repo", repo.str()});
    const std::string e = one_error(r, 3);
    CHECK(e.find(l) != std::string::npos);
    // Reading does not need to write.
    const RunResult q = ct_as_nobody(l, {"timeline", "--since", "2000-01-01", "--format", "json"});
    INFO(show(q));
    CHECK(q.exit_code == 0);
    if (q.exit_code == 0) {
      CHECK(parse_json(q.out).size() == 4);
    }
    CHECK(ct_dump(l) == dump_before);
  }
}

TEST_CASE("history: ledger location: --ledger, CHANGETRAIL_LEDGER, XDG_DATA_HOME, directories created",
          "[history][ledger]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  small_history(repo);
  const auto scan_with = [&](std::vector<std::string> args, const std::vector<std::string>& env) {
    args.insert(args.end(), {"scan", "--repo", repo.str()});
    std::vector<std::string> full_env{"HOME=" + (tmp / "home").string(), "CHANGETRAIL_NOW=" + k_now};
    full_env.insert(full_env.end(), env.begin(), env.end());
    const RunResult r = changetrail::test::run_changetrail(args, {}, full_env);
    INFO(show(r));
    CHECK(r.exit_code == 0);
  };
  // --ledger, in directories that do not exist yet.
  const fs::path explicit_path = tmp / "a" / "b" / "c" / "l.db";
  scan_with({"--ledger", explicit_path.string()}, {"CHANGETRAIL_LEDGER=", "XDG_DATA_HOME="});
  CHECK(fs::is_regular_file(explicit_path));
  // $CHANGETRAIL_LEDGER.
  const fs::path env_path = tmp / "env" / "dir" / "ledger.sqlite";
  scan_with({}, {"CHANGETRAIL_LEDGER=" + env_path.string(), "XDG_DATA_HOME=" + (tmp / "xdg").string()});
  CHECK(fs::is_regular_file(env_path));
  CHECK_FALSE(fs::exists(tmp / "xdg"));
  // ${XDG_DATA_HOME}/changetrail/ledger.db.
  scan_with({}, {"CHANGETRAIL_LEDGER=", "XDG_DATA_HOME=" + (tmp / "xdg").string()});
  CHECK(fs::is_regular_file(tmp / "xdg" / "changetrail" / "ledger.db"));
  // ~/.local/share/changetrail/ledger.db.
  scan_with({}, {"CHANGETRAIL_LEDGER=", "XDG_DATA_HOME="});
  CHECK(fs::is_regular_file(tmp / "home" / ".local" / "share" / "changetrail" / "ledger.db"));
  // All four hold the same events.
  const std::string expected = ct_dump(explicit_path.string());
  CHECK(lines_of(expected).size() == 4);
  CHECK(ct_dump(env_path.string()) == expected);
  CHECK(ct_dump((tmp / "xdg" / "changetrail" / "ledger.db").string()) == expected);
  CHECK(ct_dump((tmp / "home" / ".local" / "share" / "changetrail" / "ledger.db").string()) == expected);
}
