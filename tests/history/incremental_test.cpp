// Incremental scans and rewritten history (issue 3 sections 1 and 3): a scan continues from the
// last scanned commit and ends with the same ledger as one scan of the whole history; a branch
// whose history was rewritten gets a `history-rewritten` marker, its old events are kept
// superseded, and the state follows the new history.

#include "history_support.hpp"

using namespace changetrail::test::hist;
using changetrail::test::RunResult;
using changetrail::test::TempDir;
namespace ledger = changetrail::ledger;

namespace {

std::vector<std::string> dump_lines_with(const std::string& dump, const std::string& needle)
{
  std::vector<std::string> out;
  for (const auto& l : lines_of(dump)) {
    if (l.find(needle) != std::string::npos) {
      out.push_back(l);
    }
  }
  return out;
}

} // namespace

TEST_CASE("history: incremental scan: only new events, and the same ledger as one scan of the whole history",
          "[history][incremental]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("clusters/prod/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
  repo.write("clusters/staging/web.yaml", deployment("staging", "web", {{"web", "ghcr.io/acme/web:1.1.0"}}));
  const auto c1 = repo.commit("initial", t(1));
  repo.write("clusters/staging/web.yaml", deployment("staging", "web", {{"web", "ghcr.io/acme/web:1.2.0"}}));
  const auto c2 = repo.commit("staging 1.2.0", t(2));

  const std::string inc = (tmp / "inc.db").string();
  const RunResult first = ct_scan(inc, repo.str());
  CHECK(first.err.find("2 commits, 3 events") != std::string::npos);

  // More history: a promotion, a new service, a move, a removal and a merge.
  repo.write("clusters/prod/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.2.0"}}));
  const auto c3 = repo.commit("promote 1.2.0 to prod", t(3));
  repo.git({"checkout", "-q", "-b", "side"});
  repo.write("clusters/prod/cache.yaml", deployment("prod", "cache", {{"redis", "redis:7.2.3"}}));
  repo.commit("cache (side)", t(4));
  repo.git({"checkout", "-q", "main"});
  fs::create_directories(repo.dir() / "clusters/staging/apps");
  repo.git({"mv", "clusters/staging/web.yaml", "clusters/staging/apps/web.yaml"});
  const auto c5 = repo.commit("staging layout", t(5));
  repo.git({"merge", "-q", "--no-ff", "--no-edit", "-m", "Merge side", "side"}, t(6));
  const auto m = repo.head();

  const RunResult second = ct_scan(inc, repo.str());
  CHECK(second.err.find("3 commits, 3 events") != std::string::npos);
  const json events = ct_timeline(inc, {}, rfc3339(t(3)));
  CHECK_SAME_LINES(
      describe_all(events),
      sorted({
          ev(t(3), c3, "changed", "clusters/prod/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.0.0",
             "ghcr.io/acme/web:1.2.0"),
          ev(t(5), c5, "moved", "clusters/staging/apps/web.yaml", loc("staging", "web", "web"),
             "ghcr.io/acme/web:1.2.0", "ghcr.io/acme/web:1.2.0", "clusters/staging/web.yaml"),
          ev(t(6), m, "added", "clusters/prod/cache.yaml", loc("prod", "cache", "redis"), "", "redis:7.2.3"),
      }));
  // Nothing recorded twice.
  const json all = ct_timeline(inc);
  CHECK(all.size() == 6);
  (void)c1;
  (void)c2;

  // One more commit, brought in by a query with --repo DIR (scans first, incrementally).
  repo.write("clusters/prod/cache.yaml", deployment("prod", "cache", {{"redis", "redis:7.2.4"}}));
  const auto c7 = repo.commit("cache 7.2.4", t(7));
  const json with_repo = ct_timeline(inc, {"--repo", repo.str()}, rfc3339(t(7)));
  CHECK(describe_all(with_repo) ==
        std::vector<std::string>{ev(t(7), c7, "changed", "clusters/prod/cache.yaml", loc("prod", "cache", "redis"),
                                    "redis:7.2.3", "redis:7.2.4")});

  // The whole history in one scan, into another ledger: the same dump, line for line.
  const std::string once = (tmp / "once.db").string();
  const RunResult single = ct_scan(once, repo.str());
  CHECK(single.err.find("6 commits, 7 events") != std::string::npos);
  const std::string dump_inc = ct_dump(inc);
  const std::string dump_once = ct_dump(once);
  CHECK(lines_of(dump_inc).size() == lines_of(dump_once).size());
  check_same_dump(dump_inc, dump_once);
  CHECK(ct_stats(inc).at("commits") == ct_stats(once).at("commits"));

  // And through the core API: the same timeline and the same state at every commit time.
  const auto a = core_timeline(inc);
  const auto b = core_timeline(once);
  CHECK(describe_all(a) == describe_all(b));
  for (int i = 1; i <= 7; ++i) {
    INFO("state at t(" << i << ")");
    CHECK(describe_state(core_state_at(inc, t(i))) == describe_state(core_state_at(once, t(i))));
  }
}

TEST_CASE("history: rewritten history: reset --hard + new commits gives a marker, old events superseded and kept",
          "[history][rewrite]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
  const auto c1 = repo.commit("initial", t(1));
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.1.0"}}));
  const auto c2 = repo.commit("web 1.1.0", t(2));
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.2.0-bad"}}));
  const auto c3 = repo.commit("web 1.2.0-bad", t(3));
  repo.write("deploy/api.yaml", deployment("prod", "api", {{"api", "ghcr.io/acme/api:5.0.0"}}));
  const auto c4 = repo.commit("api", t(4));

  const std::string l = (tmp / "l.db").string();
  ct_scan(l, repo.str());
  const std::string dump_before = ct_dump(l);

  // Force-push style rewrite: back to c2, then different commits.
  repo.git({"reset", "-q", "--hard", c2});
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.2.1"}}));
  const auto n3 = repo.commit("web 1.2.1", t(5));
  repo.write("deploy/worker.yaml", deployment("prod", "worker", {{"w", "ghcr.io/acme/worker:1.0.0"}}));
  const auto n4 = repo.commit("worker", t(6));

  const RunResult rescan = ct(l, {"scan", "--repo", repo.str()});
  INFO(show(rescan));
  REQUIRE(rescan.exit_code == 0);
  CHECK(rescan.err.find("history rewritten") != std::string::npos);
  // The warning names the commit that is gone.
  const auto warns = warnings_of(rescan);
  CHECK(std::any_of(warns.begin(), warns.end(), [&](const std::string& w) {
    return w.find("rewritten") != std::string::npos && w.find(c4.substr(0, 12)) != std::string::npos;
  }));

  const json events = ct_timeline(l);
  std::vector<std::string> normal;
  int markers = 0;
  for (const auto& e : events) {
    if (e.at("change") == "history-rewritten") {
      ++markers;
      CHECK(e.at("old_tip") == c4);
      CHECK(e.at("repo") == repo.str());
      continue;
    }
    normal.push_back(describe(e));
  }
  CHECK(markers == 1);
  CHECK_SAME_LINES(
      normal,
      sorted({
          ev(t(1), c1, "added", "deploy/web.yaml", loc("prod", "web", "web"), "", "ghcr.io/acme/web:1.0.0"),
          ev(t(2), c2, "changed", "deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.0.0",
             "ghcr.io/acme/web:1.1.0"),
          ev(t(5), n3, "changed", "deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.1.0",
             "ghcr.io/acme/web:1.2.1"),
          ev(t(6), n4, "added", "deploy/worker.yaml", loc("prod", "worker", "w"), "", "ghcr.io/acme/worker:1.0.0"),
      }));

  // The superseded events are kept: every line of the first dump is still in the ledger.
  const std::string dump_after = ct_dump(l);
  for (const auto& line : lines_of(dump_before)) {
    INFO(line);
    CHECK(dump_after.find(line) != std::string::npos);
  }
  CHECK(dump_lines_with(dump_after, c3).size() == 1);
  CHECK(dump_lines_with(dump_after, "ghcr.io/acme/api:5.0.0").size() == 1);

  // The state follows the new history; at t(3), c3 (superseded) no longer counts.
  const std::vector<std::string> now_state = sorted({
      st("deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.2.1"),
      st("deploy/worker.yaml", loc("prod", "worker", "w"), "ghcr.io/acme/worker:1.0.0"),
  });
  CHECK(describe_state(ct_at(l, rfc3339(t(6)))) == now_state);
  CHECK(describe_state(ct_at(l, rfc3339(t(4)))) ==
        std::vector<std::string>{st("deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.1.0")});

  // The same non-superseded content as a fresh scan of the new history (apart from the marker).
  const std::string fresh = (tmp / "fresh.db").string();
  ct_scan(fresh, repo.str());
  std::vector<std::string> fresh_events = describe_all(ct_timeline(fresh));
  CHECK_SAME_LINES(fresh_events, sorted(normal));
  CHECK(ct_stats(l).at("commits") == ct_stats(fresh).at("commits"));

  // A further commit scans incrementally, with no second marker.
  repo.write("deploy/worker.yaml", deployment("prod", "worker", {{"w", "ghcr.io/acme/worker:1.0.1"}}));
  const auto n5 = repo.commit("worker 1.0.1", t(7));
  const RunResult inc = ct_scan(l, repo.str());
  CHECK(inc.err.find("1 commits, 1 events") != std::string::npos);
  CHECK(inc.err.find("history rewritten") == std::string::npos);
  const json last = ct_timeline(l, {}, rfc3339(t(7)));
  CHECK(describe_all(last) ==
        std::vector<std::string>{ev(t(7), n5, "changed", "deploy/worker.yaml", loc("prod", "worker", "w"),
                                    "ghcr.io/acme/worker:1.0.0", "ghcr.io/acme/worker:1.0.1")});
}

TEST_CASE("history: rewritten history: an amended tip, and an amended root commit", "[history][rewrite]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  SECTION("amend of the tip")
  {
    repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
    const auto c1 = repo.commit("initial", t(1));
    repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.1.0-typo"}}));
    const auto c2 = repo.commit("web 1.1.0", t(2));
    const std::string l = (tmp / "l.db").string();
    core_scan(l, repo.str());
    repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.1.0"}}));
    repo.git({"add", "-A"}, t(3));
    repo.git({"commit", "-q", "--amend", "--no-edit"}, t(3));
    const auto c2b = repo.head();
    REQUIRE(c2b != c2);
    const auto scan = core_scan(l, repo.str());
    CHECK(scan.summary.rewritten);
    CHECK(scan.summary.commits == 1);
    std::vector<std::string> normal;
    int markers = 0;
    for (const auto& r : core_timeline(l)) {
      if (r.event.change == "history-rewritten") {
        ++markers;
        CHECK(r.event.from_ref == c2);
        continue;
      }
      normal.push_back(describe(r));
    }
    CHECK(markers == 1);
    CHECK_SAME_LINES(
        normal, sorted({
                    ev(t(1), c1, "added", "deploy/web.yaml", loc("prod", "web", "web"), "", "ghcr.io/acme/web:1.0.0"),
                    ev(t(3), c2b, "changed", "deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.0.0",
                       "ghcr.io/acme/web:1.1.0"),
                }));
    CHECK(describe_state(core_state_at(l, t(3))) ==
          std::vector<std::string>{st("deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.1.0")});
    // The superseded event is still in the dump.
    const auto led = ledger::Ledger::open(l, ledger::Ledger::Mode::read);
    const auto dump = led.dump();
    CHECK(std::count_if(dump.begin(), dump.end(), [&](const ledger::EventRow& r) {
            return r.commit == c2 && r.event.to_ref == "ghcr.io/acme/web:1.1.0-typo";
          }) == 1);
  }
  SECTION("amend of the only (root) commit: no merge base, everything rescanned")
  {
    repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
    repo.write("deploy/api.yaml", deployment("prod", "api", {{"api", "ghcr.io/acme/api:1.0.0"}}));
    const auto c1 = repo.commit("initial", t(1));
    const std::string l = (tmp / "l.db").string();
    core_scan(l, repo.str());
    repo.remove("deploy/api.yaml");
    repo.git({"commit", "-q", "--amend", "--no-edit"}, t(2));
    const auto c1b = repo.head();
    const auto scan = core_scan(l, repo.str());
    CHECK(scan.summary.rewritten);
    std::vector<std::string> normal;
    for (const auto& r : core_timeline(l)) {
      if (r.event.change != "history-rewritten") {
        normal.push_back(describe(r));
      }
    }
    CHECK(normal == std::vector<std::string>{ev(t(2), c1b, "added", "deploy/web.yaml", loc("prod", "web", "web"), "",
                                                "ghcr.io/acme/web:1.0.0")});
    CHECK(describe_state(core_state_at(l, t(5))) ==
          std::vector<std::string>{st("deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.0.0")});
    // Before the new root's time there is nothing (the old root is superseded).
    CHECK(core_state_at(l, t(1)).empty());
    (void)c1;
  }
}

TEST_CASE("history: rewritten history twice: both markers stay in the timeline", "[history][rewrite]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.0.0"}}));
  const auto c1 = repo.commit("initial", t(1));
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.1.0"}}));
  const auto c2 = repo.commit("1.1.0", t(2));
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.2.0"}}));
  const auto c3 = repo.commit("1.2.0", t(3));
  const std::string l = (tmp / "l.db").string();
  core_scan(l, repo.str());

  // First rewrite: back to c2.
  repo.git({"reset", "-q", "--hard", c2});
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:1.2.1"}}));
  const auto r1 = repo.commit("1.2.1", t(4));
  CHECK(core_scan(l, repo.str()).summary.rewritten);
  // Second rewrite: further back, to c1.
  repo.git({"reset", "-q", "--hard", c1});
  repo.write("deploy/web.yaml", deployment("prod", "web", {{"web", "ghcr.io/acme/web:2.0.0"}}));
  const auto r2 = repo.commit("2.0.0", t(5));
  CHECK(core_scan(l, repo.str()).summary.rewritten);

  std::vector<std::string> old_tips;
  std::vector<std::string> normal;
  for (const auto& r : core_timeline(l)) {
    if (r.event.change == "history-rewritten") {
      old_tips.push_back(r.event.from_ref);
    } else {
      normal.push_back(describe(r));
    }
  }
  // Both rewrites happened and are recorded; neither is silently dropped.
  CHECK(sorted(old_tips) == sorted({c3, r1}));
  CHECK_SAME_LINES(
      normal, sorted({
                  ev(t(1), c1, "added", "deploy/web.yaml", loc("prod", "web", "web"), "", "ghcr.io/acme/web:1.0.0"),
                  ev(t(5), r2, "changed", "deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:1.0.0",
                     "ghcr.io/acme/web:2.0.0"),
              }));
  CHECK(describe_state(core_state_at(l, t(5))) ==
        std::vector<std::string>{st("deploy/web.yaml", loc("prod", "web", "web"), "ghcr.io/acme/web:2.0.0")});
}
