// Queries over the ledger (issue 3 section 3): timeline windows and filters, `at`, `diff` with
// times and with revisions, every output format, several repositories in one ledger, `ledger
// stats`. The repository is small and every expectation is read off its commits.

#include "history_support.hpp"

#include <map>

using namespace changetrail::test::hist;
using changetrail::test::RunResult;
using changetrail::test::TempDir;
namespace ledger = changetrail::ledger;

namespace {

const std::string k_digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string k_prod_web = "clusters/prod/web.yaml";
const std::string k_prod_db = "clusters/prod/db.yaml";
const std::string k_staging_web = "clusters/staging/web.yaml";
const std::string k_staging_worker = "clusters/staging/worker.yaml";

struct Fixture {
  TempDir tmp;
  GitRepo repo{tmp / "repo"};
  std::string l = (tmp / "l.db").string();
  std::vector<std::string> c = std::vector<std::string>(6);

  Fixture()
  {
    repo.write(k_prod_web, deployment("prod", "web", {{"app", "ghcr.io/acme/web:1.0.0"}}));
    repo.write(k_staging_web, deployment("staging", "web", {{"app", "ghcr.io/acme/web:1.0.0"}}));
    repo.write(k_prod_db, deployment("prod", "db", {{"pg", "postgres:16.1"}}));
    c[1] = repo.commit("initial", t(1));
    repo.write(k_staging_web, deployment("staging", "web", {{"app", "ghcr.io/acme/web:1.1.0"}}));
    c[2] = repo.commit("staging web 1.1.0", t(2));
    repo.write(k_prod_web, deployment("prod", "web", {{"app", "ghcr.io/acme/web:1.1.0"}}));
    repo.write(k_prod_db, deployment("prod", "db", {{"pg", "postgres:16.1@" + k_digest}}));
    c[3] = repo.commit("prod web 1.1.0, pin db", t(3));
    repo.write(k_staging_worker, deployment("staging", "worker", {{"w", "ghcr.io/acme/worker:0.1.0"}}));
    repo.remove(k_prod_db);
    c[4] = repo.commit("worker in staging, db out of prod", t(4));
    repo.write(k_staging_web, deployment("staging", "web", {{"app", "ghcr.io/acme/web:1.2.0"}}));
    c[5] = repo.commit("staging web 1.2.0", t(5));
    ct_scan(l, repo.str());
  }

  // Every event, as written from the commits above.
  std::vector<std::string> all() const
  {
    return {
        ev(t(1), c[1], "added", k_prod_db, loc("prod", "db", "pg"), "", "postgres:16.1"),
        ev(t(1), c[1], "added", k_prod_web, loc("prod", "web", "app"), "", "ghcr.io/acme/web:1.0.0"),
        ev(t(1), c[1], "added", k_staging_web, loc("staging", "web", "app"), "", "ghcr.io/acme/web:1.0.0"),
        ev(t(2), c[2], "changed", k_staging_web, loc("staging", "web", "app"), "ghcr.io/acme/web:1.0.0",
           "ghcr.io/acme/web:1.1.0"),
        ev(t(3), c[3], "changed", k_prod_db, loc("prod", "db", "pg"), "postgres:16.1", "postgres:16.1@" + k_digest),
        ev(t(3), c[3], "changed", k_prod_web, loc("prod", "web", "app"), "ghcr.io/acme/web:1.0.0",
           "ghcr.io/acme/web:1.1.0"),
        ev(t(4), c[4], "removed", k_prod_db, loc("prod", "db", "pg"), "postgres:16.1@" + k_digest, ""),
        ev(t(4), c[4], "added", k_staging_worker, loc("staging", "worker", "w"), "", "ghcr.io/acme/worker:0.1.0"),
        ev(t(5), c[5], "changed", k_staging_web, loc("staging", "web", "app"), "ghcr.io/acme/web:1.1.0",
           "ghcr.io/acme/web:1.2.0"),
    };
  }

  std::vector<std::string> where(const std::function<bool(const std::string&)>& keep) const
  {
    std::vector<std::string> out;
    for (const auto& e : all()) {
      if (keep(e)) {
        out.push_back(e);
      }
    }
    return sorted(out);
  }

  json timeline(const std::string& since, const std::string& until, std::vector<std::string> extra = {}) const
  {
    extra.push_back("--until");
    extra.push_back(until);
    return ct_timeline(l, extra, since);
  }
};

bool has(const std::string& s, const std::string& part)
{
  return s.find(part) != std::string::npos;
}

// `diff` JSON as "change path location from -> to" lines.
std::vector<std::string> describe_diff(const json& arr)
{
  std::vector<std::string> out;
  for (const auto& d : arr) {
    const json& any = d.at("to").is_null() ? d.at("from") : d.at("to");
    const std::string from = d.at("from").is_null() ? "-" : ref_input(d.at("from").at("ref"));
    const std::string to = d.at("to").is_null() ? "-" : ref_input(d.at("to").at("ref"));
    out.push_back(d.at("change").get<std::string>() + " " + any.at("path").get<std::string>() + " " +
                  any.at("location").get<std::string>() + " " + from + " -> " + to);
  }
  return sorted(out);
}

json ct_diff(const std::string& l, const std::string& a, const std::string& b, std::vector<std::string> extra = {})
{
  std::vector<std::string> args{"diff", a, b, "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = ct(l, args);
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
  json j = parse_json(r.out);
  REQUIRE(j.is_array());
  return j;
}

} // namespace

// Runs a query in jsonl, csv, markdown and table form and checks that each holds `rows` items
// (csv: with this header; markdown: header and separator lines). Returns the table.
std::string check_list_formats(const std::string& l, std::vector<std::string> args, const std::string& csv_header,
                               std::size_t rows)
{
  const auto fmt = [&](const std::string& format) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--format", format});
    const RunResult r = ct(l, a);
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  const auto jsonl = lines_of(fmt("jsonl"));
  CHECK(jsonl.size() == rows);
  for (const auto& line : jsonl) {
    CHECK(parse_json(line).is_object());
  }
  const auto csv = lines_of(fmt("csv"));
  REQUIRE(csv.size() == rows + 1);
  CHECK(csv[0] == csv_header);
  const auto md = lines_of(fmt("markdown"));
  REQUIRE(md.size() == rows + 2);
  CHECK(md[1].starts_with("| --- |"));
  return fmt("table");
}

TEST_CASE("history: timeline: window boundaries are inclusive", "[history][query][timeline]")
{
  Fixture f;
  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01")), sorted(f.all()));
  // [t2, t3]: c2 and c3, both ends included.
  CHECK_SAME_LINES(describe_all(f.timeline(rfc3339(t(2)), rfc3339(t(3)))), f.where([&](const std::string& e) {
    return has(e, f.c[2].substr(0, 12)) || has(e, f.c[3].substr(0, 12));
  }));
  // One second inside on both ends: nothing.
  CHECK(f.timeline(rfc3339(t(2) + 1), rfc3339(t(3) - 1)).empty());
  // A window of one instant.
  CHECK_SAME_LINES(describe_all(f.timeline(rfc3339(t(3)), rfc3339(t(3)))),
                   f.where([&](const std::string& e) { return has(e, f.c[3].substr(0, 12)); }));
  // The other input forms of the same instants.
  CHECK_SAME_LINES(describe_all(f.timeline(cli_time(t(3)), cli_time(t(3)))),
                   f.where([&](const std::string& e) { return has(e, f.c[3].substr(0, 12)); }));
  CHECK_SAME_LINES(describe_all(f.timeline("2024-01-01T04:00:00+01:00", "2024-01-01T04:00:00+01:00")),
                   f.where([&](const std::string& e) { return has(e, f.c[3].substr(0, 12)); }));
  // Time order.
  const json all = f.timeline("2000-01-01", "2030-01-01");
  for (std::size_t i = 1; i < all.size(); ++i) {
    CHECK(all[i - 1].at("time").get<std::string>() <= all[i].at("time").get<std::string>());
  }
  // Relative to CHANGETRAIL_NOW (2030): 1w ago is after everything.
  CHECK(ct_timeline(f.l, {}, "1w").empty());
  // --since after --until is a usage error.
  const RunResult bad = ct(f.l, {"timeline", "--since", rfc3339(t(3)), "--until", rfc3339(t(2))});
  one_error(bad, 2);
  const RunResult garbage = ct(f.l, {"timeline", "--since", "yesterday-ish"});
  const std::string e = one_error(garbage, 2);
  CHECK(has(e, "yesterday-ish"));
}

TEST_CASE("history: timeline: --env, --path, --image, --workload, --repo filters", "[history][query][timeline]")
{
  Fixture f;
  const auto env_prod = f.where([](const std::string& e) { return has(e, "clusters/prod/"); });
  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--env", "prod"})), env_prod);
  for (const auto& e : f.timeline("2000-01-01", "2030-01-01", {"--env", "staging"})) {
    CHECK(e.at("env") == "staging");
  }
  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--env", "staging"})),
                   f.where([](const std::string& e) { return has(e, "clusters/staging/"); }));
  CHECK(f.timeline("2000-01-01", "2030-01-01", {"--env", "qa"}).empty());

  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--path", "clusters/*/web.yaml"})),
                   f.where([](const std::string& e) { return has(e, "/web.yaml "); }));
  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--path", "clusters/staging/**"})),
                   f.where([](const std::string& e) { return has(e, "clusters/staging/"); }));

  // --image matches the reference before or after: the removal of postgres counts.
  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--image", "postgres"})),
                   f.where([](const std::string& e) { return has(e, "postgres"); }));
  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--image", "worker"})),
                   f.where([](const std::string& e) { return has(e, "acme/worker"); }));

  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--workload", "db"})),
                   f.where([](const std::string& e) { return has(e, "Deployment/prod/db/"); }));
  // Filters combine.
  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--workload", "web", "--env", "prod"})),
                   f.where([](const std::string& e) { return has(e, "Deployment/prod/web/"); }));

  // A second repository in the same ledger: spans both by default, --repo selects one.
  GitRepo other(f.tmp / "other");
  other.write("apps/ui.yaml", deployment("prod", "ui", {{"ui", "ghcr.io/acme/ui:3.0.0"}}));
  const auto o1 = other.commit("ui", t(2) + 30);
  ct_scan(f.l, other.str(), {"--name", "other"});
  const std::string ui =
      ev(t(2) + 30, o1, "added", "apps/ui.yaml", loc("prod", "ui", "ui"), "", "ghcr.io/acme/ui:3.0.0");
  std::vector<std::string> both = f.all();
  both.push_back(ui);
  const json spanning = f.timeline("2000-01-01", "2030-01-01");
  CHECK_SAME_LINES(describe_all(spanning), sorted(both));
  CHECK(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--repo", "other"})) == std::vector<std::string>{ui});
  CHECK_SAME_LINES(describe_all(f.timeline("2000-01-01", "2030-01-01", {"--repo", f.repo.str()})), sorted(f.all()));
  // Interleaved by time across repositories.
  CHECK(spanning.size() == both.size());
  for (std::size_t i = 1; i < spanning.size(); ++i) {
    CHECK(spanning[i - 1].at("time").get<std::string>() <= spanning[i].at("time").get<std::string>());
  }
  // The table names the repository on each commit line only when the window spans several.
  const auto timeline_table = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"timeline", "--since", "2000-01-01", "--until", "2030-01-01"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = ct(f.l, args);
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  const std::string mixed = timeline_table({});
  CHECK(has(mixed, o1.substr(0, 12) + "  "));
  CHECK(has(mixed, "  ui  [other]\n"));
  CHECK(count_lines_starting(mixed, "    ") == both.size());
  int tagged = 0;
  for (const auto& line : lines_of(mixed)) {
    if (!line.starts_with("    ")) {
      ++tagged;
      CHECK((line.ends_with("  [other]") || line.ends_with("  [" + f.repo.str() + "]")));
    }
  }
  CHECK(tagged == 6);
  const std::string alone = timeline_table({"--repo", "other"});
  CHECK(!has(alone, "[other]"));
  CHECK(has(alone, "  ui\n"));
  const json stats = ct_stats(f.l);
  CHECK(stats.at("repos") == 2);
  CHECK(stats.at("commits") == 6);
  CHECK(stats.at("events") == 10);
  REQUIRE(stats.at("repositories").size() == 2);
  for (const auto& r : stats.at("repositories")) {
    if (r.at("name") == "other") {
      CHECK(r.at("last_commit") == o1);
      CHECK(r.at("branch") == "main");
    } else {
      CHECK(r.at("name") == f.repo.str());
      CHECK(r.at("last_commit") == f.c[5]);
    }
  }
  const RunResult table = ct(f.l, {"ledger", "stats"});
  CHECK(table.exit_code == 0);
  CHECK(has(table.out, "repos    2"));
  CHECK(has(table.out, "events   10"));
  CHECK(has(table.out, f.c[5].substr(0, 12)));
}

TEST_CASE("history: timeline: every --format is parseable and carries the same events", "[history][query][formats]")
{
  Fixture f;
  const std::vector<std::string> base{"timeline", "--since", "2000-01-01", "--until", "2030-01-01"};
  const auto run_format = [&](const std::string& format) {
    std::vector<std::string> args = base;
    args.push_back("--format");
    args.push_back(format);
    const RunResult r = ct(f.l, args);
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  const json arr = parse_json(run_format("json"));
  REQUIRE(arr.size() == f.all().size());

  const auto jsonl = lines_of(run_format("jsonl"));
  REQUIRE(jsonl.size() == arr.size());
  for (std::size_t i = 0; i < jsonl.size(); ++i) {
    CHECK(parse_json(jsonl[i]) == arr[i]);
  }

  const auto csv = lines_of(run_format("csv"));
  REQUIRE(csv.size() == arr.size() + 1);
  CHECK(csv[0] == "time,repo,commit,author,env,path,location,change,from,to,pinned,summary");
  // The pinned db row: change, from, to, pinned.
  int pinned_rows = 0;
  for (std::size_t i = 1; i < csv.size(); ++i) {
    if (has(csv[i], f.c[3].substr(0, 12)) && has(csv[i], k_prod_db)) {
      ++pinned_rows;
      CHECK(has(csv[i], ",changed,postgres:16.1,postgres:16.1@" + k_digest + ",yes,"));
    }
  }
  CHECK(pinned_rows == 1);

  const auto md = lines_of(run_format("markdown"));
  REQUIRE(md.size() == arr.size() + 2);
  CHECK(md[0].starts_with("| time | repo | commit |"));
  CHECK(md[1].starts_with("| --- |"));
  for (const auto& line : md) {
    CHECK(line.starts_with("|"));
    CHECK(line.ends_with("|"));
  }

  const std::string table = run_format("table");
  // Grouped by commit: one header line per commit (5 commits), one line per location.
  for (int i = 1; i <= 5; ++i) {
    CHECK(count_lines_starting(table, cli_time(t(i)) + "Z  " + f.c[static_cast<std::size_t>(i)].substr(0, 12)) == 1);
  }
  CHECK(has(table, "ghcr.io/acme/web:1.1.0 -> ghcr.io/acme/web:1.2.0 (unpinned)"));
  CHECK(has(table, "postgres:16.1 -> postgres:16.1@" + k_digest + "\n"));
  CHECK(lines_of(table).size() == 5 + f.all().size());

  // An unknown format is a usage error.
  const RunResult bad = ct(f.l, {"timeline", "--since", "2000-01-01", "--format", "xml"});
  one_error(bad, 2);
}

TEST_CASE("history: at: state at a time or revision, empty before the first commit, every format",
          "[history][query][at]")
{
  Fixture f;
  CHECK(ct_at(f.l, rfc3339(t(1) - 1)).empty());
  CHECK(ct_at(f.l, "2000-01-01").empty());
  const RunResult table_empty = ct(f.l, {"at", rfc3339(t(1) - 1)});
  CHECK(table_empty.exit_code == 0);

  const std::vector<std::string> at1{
      st(k_prod_db, loc("prod", "db", "pg"), "postgres:16.1"),
      st(k_prod_web, loc("prod", "web", "app"), "ghcr.io/acme/web:1.0.0"),
      st(k_staging_web, loc("staging", "web", "app"), "ghcr.io/acme/web:1.0.0"),
  };
  CHECK(describe_state(ct_at(f.l, rfc3339(t(1)))) == sorted(at1));
  CHECK(describe_state(ct_at(f.l, rfc3339(t(2) - 1))) == sorted(at1));
  const std::vector<std::string> at4{
      st(k_prod_web, loc("prod", "web", "app"), "ghcr.io/acme/web:1.1.0"),
      st(k_staging_web, loc("staging", "web", "app"), "ghcr.io/acme/web:1.1.0"),
      st(k_staging_worker, loc("staging", "worker", "w"), "ghcr.io/acme/worker:0.1.0"),
  };
  CHECK(describe_state(ct_at(f.l, rfc3339(t(4)))) == sorted(at4));
  // A revision of the scanned branch: HEAD~1 is c4.
  CHECK(describe_state(ct_at(f.l, "HEAD~1", {"--repo", f.repo.str()})) == sorted(at4));
  CHECK(describe_state(ct_at(f.l, f.c[4].substr(0, 10), {"--repo", f.repo.str()})) == sorted(at4));
  // Filters apply.
  CHECK(describe_state(ct_at(f.l, rfc3339(t(4)), {"--env", "staging"})) ==
        sorted({st(k_staging_web, loc("staging", "web", "app"), "ghcr.io/acme/web:1.1.0"),
                st(k_staging_worker, loc("staging", "worker", "w"), "ghcr.io/acme/worker:0.1.0")}));
  // The state fields.
  for (const auto& s : ct_at(f.l, rfc3339(t(3)))) {
    for (const char* key :
         {"repo", "env", "path", "location", "workload", "container", "ref", "since", "commit", "observed"}) {
      CHECK(s.contains(key));
    }
    if (s.at("path") == k_prod_db) {
      CHECK(s.at("since") == rfc3339(t(3)));
      CHECK(s.at("commit") == f.c[3]);
      CHECK(s.at("ref").at("digest") == k_digest);
      CHECK(s.at("env") == "prod");
      CHECK(s.at("workload") == "Deployment/prod/db");
      CHECK(s.at("container") == "pg");
    }
    if (s.at("path") == k_staging_web) {
      CHECK(s.at("since") == rfc3339(t(2)));
      CHECK(s.at("commit") == f.c[2]);
    }
  }
  // Formats.
  const std::string table = check_list_formats(f.l, {"at", rfc3339(t(4))}, "repo,env,path,location,ref,since,commit", 3);
  CHECK(has(table, "ghcr.io/acme/worker:0.1.0 (unpinned)"));
  // A revision that is not a scanned commit of the branch, and text that is neither.
  f.repo.git({"checkout", "-q", "-b", "elsewhere"});
  f.repo.write("x.yaml", "image: nginx:1\n");
  const auto side = f.repo.commit("not on main", t(6));
  const RunResult not_scanned = ct(f.l, {"at", side});
  CHECK(has(one_error(not_scanned, 2), side.substr(0, 12)));
  const RunResult nonsense = ct(f.l, {"at", "not-a-time-nor-a-rev"});
  CHECK(has(one_error(nonsense, 2), "not-a-time-nor-a-rev"));
}

TEST_CASE("history: diff: between two times and between two revisions, per location", "[history][query][diff]")
{
  Fixture f;
  const std::vector<std::string> t1_t5{
      "changed " + k_prod_web + " " + loc("prod", "web", "app") + " ghcr.io/acme/web:1.0.0 -> ghcr.io/acme/web:1.1.0",
      "changed " + k_staging_web + " " + loc("staging", "web", "app") +
          " ghcr.io/acme/web:1.0.0 -> ghcr.io/acme/web:1.2.0",
      "removed " + k_prod_db + " " + loc("prod", "db", "pg") + " postgres:16.1 -> -",
      "added " + k_staging_worker + " " + loc("staging", "worker", "w") + " - -> ghcr.io/acme/worker:0.1.0",
  };
  CHECK(describe_diff(ct_diff(f.l, rfc3339(t(1)), rfc3339(t(5)))) == sorted(t1_t5));
  CHECK(describe_diff(ct_diff(f.l, cli_time(t(1)), "2030-01-01")) == sorted(t1_t5));
  // Before anything: everything is added.
  CHECK(ct_diff(f.l, "2000-01-01", rfc3339(t(1))).size() == 3);
  for (const auto& d : ct_diff(f.l, "2000-01-01", rfc3339(t(1)))) {
    CHECK(d.at("change") == "added");
    CHECK(d.at("from").is_null());
  }
  // The same instant twice: no differences.
  CHECK(ct_diff(f.l, rfc3339(t(3)), rfc3339(t(3))).empty());

  // Revisions: HEAD~2 is c3, HEAD is c5.
  const std::vector<std::string> c3_c5{
      "changed " + k_staging_web + " " + loc("staging", "web", "app") +
          " ghcr.io/acme/web:1.1.0 -> ghcr.io/acme/web:1.2.0",
      "removed " + k_prod_db + " " + loc("prod", "db", "pg") + " postgres:16.1@" + k_digest + " -> -",
      "added " + k_staging_worker + " " + loc("staging", "worker", "w") + " - -> ghcr.io/acme/worker:0.1.0",
  };
  CHECK(describe_diff(ct_diff(f.l, "HEAD~2", "HEAD", {"--repo", f.repo.str()})) == sorted(c3_c5));
  CHECK(describe_diff(ct_diff(f.l, f.c[3], f.c[5])) == sorted(c3_c5));
  // A revision against a time.
  CHECK(describe_diff(ct_diff(f.l, f.c[3], rfc3339(t(5)))) == sorted(c3_c5));
  // Filters.
  CHECK(describe_diff(ct_diff(f.l, "HEAD~2", "HEAD", {"--repo", f.repo.str(), "--env", "prod"})) ==
        std::vector<std::string>{c3_c5[1]});
  // The JSON shape: {"change","from":<state|null>,"to":<state|null>}.
  for (const auto& d : ct_diff(f.l, f.c[3], f.c[5])) {
    if (d.at("change") == "changed") {
      CHECK(d.at("from").at("commit") == f.c[2]);
      CHECK(d.at("to").at("commit") == f.c[5]);
      CHECK(d.at("to").at("since") == rfc3339(t(5)));
    }
    if (d.at("change") == "removed") {
      CHECK(d.at("to").is_null());
    }
  }
  // Formats.
  const std::string table = check_list_formats(f.l, {"diff", f.c[3], f.c[5]}, "change,repo,env,path,location,from,to", 3);
  CHECK(count_lines_starting(table, "changed ") == 1);
  CHECK(count_lines_starting(table, "removed ") == 1);
  CHECK(count_lines_starting(table, "added ") == 1);
  const RunResult none = ct(f.l, {"diff", rfc3339(t(3)), rfc3339(t(3))});
  CHECK(none.out == "no differences\n");
  // Missing argument.
  one_error(ct(f.l, {"diff", rfc3339(t(3))}), 2);
}

TEST_CASE("history: diff equals the difference of the two `at` states, for every pair of moments",
          "[history][query][diff]")
{
  Fixture f;
  const auto at = [&](const std::string& when) {
    const RunResult r = ct(f.l, {"at", when, "--format", "json"});
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    std::map<std::string, json> out;
    for (const auto& s : parse_json(r.out)) {
      out[s.at("repo").get<std::string>() + "|" + s.at("path").get<std::string>() + "|" +
          s.at("location").get<std::string>()] = s;
    }
    return out;
  };
  std::vector<std::string> moments{"2000-01-01"};
  for (int k = 1; k <= 5; ++k) {
    moments.push_back(rfc3339(t(k)));
  }
  moments.push_back("2100-01-01");
  for (const auto& a : moments) {
    for (const auto& b : moments) {
      INFO("diff " << a << " " << b);
      const auto sa = at(a);
      const auto sb = at(b);
      std::vector<std::string> expected;
      for (const auto& [key, s] : sa) {
        const auto it = sb.find(key);
        if (it == sb.end()) {
          expected.push_back("removed " + s.dump());
        } else if (it->second.at("ref").at("input") != s.at("ref").at("input")) {
          expected.push_back("changed " + s.dump() + " " + it->second.dump());
        }
      }
      for (const auto& [key, s] : sb) {
        if (!sa.contains(key)) {
          expected.push_back("added " + s.dump());
        }
      }
      std::vector<std::string> got;
      for (const auto& d : ct_diff(f.l, a, b)) {
        const std::string change = d.at("change");
        if (change == "moved") { // a move is a removal plus an addition of the same location key
          got.push_back("removed " + d.at("from").dump());
          got.push_back("added " + d.at("to").dump());
        } else if (change == "changed") {
          got.push_back("changed " + d.at("from").dump() + " " + d.at("to").dump());
        } else {
          got.push_back(change + " " + (change == "added" ? d.at("to") : d.at("from")).dump());
        }
      }
      CHECK(sorted(got) == sorted(expected));
    }
  }
}

TEST_CASE("history: timeline: the default window (24h) and relative times count back from now",
          "[history][query][timeline]")
{
  Fixture f;
  // now = 30 minutes after the last commit.
  const std::vector<std::string> now{"CHANGETRAIL_NOW=" + rfc3339(t(5) + 1800)};
  const auto timeline = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "timeline");
    args.push_back("--format");
    args.push_back("json");
    const RunResult r = ct(f.l, args, {}, now);
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    return parse_json(r.out);
  };
  // No --since: the last 24 hours, up to now: everything here.
  CHECK_SAME_LINES(describe_all(timeline({})), sorted(f.all()));
  // 90m before now is exactly t(4): c4 is included (inclusive), c3 is not.
  const auto c4_c5 =
      f.where([&](const std::string& e) { return has(e, f.c[4].substr(0, 12)) || has(e, f.c[5].substr(0, 12)); });
  CHECK_SAME_LINES(describe_all(timeline({"--since", "90m"})), c4_c5);
  CHECK_SAME_LINES(describe_all(timeline({"--since", "1h30m ago"})), c4_c5);
  CHECK_SAME_LINES(describe_all(timeline({"--since", "2h", "--until", "1h"})),
                   f.where([&](const std::string& e) { return has(e, f.c[4].substr(0, 12)); }));
  // `at now` is the state after the last commit.
  const RunResult at_now = ct(f.l, {"at", "now", "--format", "json"}, {}, now);
  INFO(show(at_now));
  REQUIRE(at_now.exit_code == 0);
  CHECK(parse_json(at_now.out).size() == 3);
}
