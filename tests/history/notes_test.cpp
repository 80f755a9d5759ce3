// Registry observations carried by git notes (refs/notes/changetrail): read back by scan, bad
// notes skipped with a warning, notes of other tools never overwritten (issue 4).

#include "history_support.hpp"

#include <changetrail/ledger/notes.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/time.hpp>

using namespace changetrail;
using namespace changetrail::test;
using namespace changetrail::test::hist;

namespace {

const std::string k_digest = "sha256:" + std::string(64, 'b');

std::string note_for(const std::string& reference, const std::string& observed_at)
{
  ledger::NoteContent c;
  ledger::Observation o;
  o.reference = reference;
  o.registry = "ghcr.io";
  o.tag = "1.0";
  o.digest = k_digest;
  o.observed_at = util::parse_time(observed_at, 0);
  c.observations.push_back(o);
  auto m = std::make_shared<registry::ImageMetadata>();
  m->digest = k_digest;
  m->revision = "0123456789abcdef0123456789abcdef01234567";
  m->source = "https://github.com/acme/web";
  c.images.push_back(m);
  return ledger::note_text(c);
}

} // namespace

TEST_CASE("history: scan reads observations from git notes once; a bad note is skipped with a warning",
          "[history][notes]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("clusters/prod/web.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n"
                                       "    - name: web\n      image: ghcr.io/acme/web:1.0\n");
  const std::string c1 = repo.commit("deploy web 1.0", t(1));
  repo.write("clusters/prod/other.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: o\nspec:\n  containers:\n"
                                         "    - name: o\n      image: ghcr.io/acme/other:2.0\n");
  const std::string c2 = repo.commit("deploy other", t(2));
  // A note of ours on c1 (observed an hour after the deployment), garbage on c2.
  git_in(repo.dir(), {"notes", "--ref", "changetrail", "add", "-F", "-", c1}, t(3), false,
         note_for("ghcr.io/acme/web:1.0", rfc3339(t(2))));
  git_in(repo.dir(), {"notes", "--ref", "changetrail", "add", "-m", "not json at all", c2}, t(3));

  const std::string l = (tmp / "l.db").string();
  const RunResult scan = run_changetrail({"--ledger", l, "scan", "--repo", repo.str()});
  INFO(show(scan));
  REQUIRE(scan.exit_code == 0);
  CHECK(scan.err.find("changetrail: warning: note of commit " + c2.substr(0, 12)) != std::string::npos);
  CHECK(scan.err.find("1 registry observations read from git notes") != std::string::npos);

  const RunResult tl = run_changetrail({"--ledger", l, "timeline", "--since", "2000-01-01", "--format", "json"});
  REQUIRE(tl.exit_code == 0);
  const json events = json::parse(tl.out);
  REQUIRE(events.size() == 2);
  CHECK(events[0].at("observed").at("digest") == k_digest);
  CHECK(events[0].at("observed").at("observed_at") == rfc3339(t(2)));
  CHECK(events[0].at("observed").at("revision") == "0123456789abcdef0123456789abcdef01234567");
  CHECK(events[1].at("observed").is_null()); // nothing observed for other:2.0

  // at: the same observation for the location's state.
  const RunResult at = run_changetrail({"--ledger", l, "at", rfc3339(t(5)), "--format", "json"});
  REQUIRE(at.exit_code == 0);
  const json state = json::parse(at.out);
  REQUIRE(state.size() == 2);
  std::size_t observed = 0;
  for (const auto& s : state) {
    observed += s.at("observed").is_null() ? 0 : 1;
  }
  CHECK(observed == 1);

  // The tables say it too: the digest and the image's source revision, "?" when nothing was observed.
  const RunResult table = run_changetrail({"--ledger", l, "timeline", "--since", "2000-01-01"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("+ ghcr.io/acme/web:1.0 (unpinned)  (sha256:bbbbbbbbbbbb rev 0123456789ab)") != std::string::npos);
  CHECK(table.out.find("+ ghcr.io/acme/other:2.0 (unpinned)  (?)") != std::string::npos);
  const RunResult at_csv = run_changetrail({"--ledger", l, "at", rfc3339(t(5)), "--format", "csv"});
  REQUIRE(at_csv.exit_code == 0);
  CHECK(lines_of(at_csv.out).at(0) == "repo,env,path,location,ref,since,commit,observed");
  CHECK(at_csv.out.find(",sha256:bbbbbbbbbbbb rev 0123456789ab\n") != std::string::npos);

  // The notes ref has not moved: the next scan does not read the notes again (no warning either).
  const RunResult again = run_changetrail({"--ledger", l, "scan", "--repo", repo.str()});
  CHECK(again.exit_code == 0);
  CHECK(again.err.find("note of commit") == std::string::npos);
  CHECK(again.err.find("read from git notes") == std::string::npos);

  // An observation made before the deployment is not evidence of it.
  const std::string l2 = (tmp / "l2.db").string();
  git_in(repo.dir(), {"notes", "--ref", "changetrail", "add", "-f", "-F", "-", c1}, t(4), false,
         note_for("ghcr.io/acme/web:1.0", rfc3339(t(0))));
  REQUIRE(run_changetrail({"--ledger", l2, "scan", "--repo", repo.str()}).exit_code == 0);
  const RunResult early = run_changetrail({"--ledger", l2, "timeline", "--since", "2000-01-01", "--format", "json"});
  CHECK(json::parse(early.out)[0].at("observed").is_null());
}

TEST_CASE("history: merge_note keeps what the note holds, adds each observation once, refuses a foreign note",
          "[history][notes]")
{
  std::string error;
  const std::string one = note_for("ghcr.io/acme/web:1.0", "2026-01-01T00:00:00Z");
  const auto parsed = ledger::parse_note(one, error);
  REQUIRE(parsed);
  const std::string same = ledger::merge_note(one, *parsed);
  CHECK(same == one); // merging what is there changes nothing, byte for byte

  const auto later = ledger::parse_note(note_for("ghcr.io/acme/web:1.0", "2026-01-02T00:00:00Z"), error);
  REQUIRE(later);
  const auto merged = ledger::parse_note(ledger::merge_note(one, *later), error);
  REQUIRE(merged);
  CHECK(merged->observations.size() == 2);
  CHECK(merged->images.size() == 1); // the same digest is written once

  CHECK_THROWS_AS(ledger::merge_note(std::string("someone else's note\n"), *parsed), util::Fatal);
  CHECK_FALSE(ledger::parse_note("{\"observations\":[]}", error));
  CHECK(error.find("not a changetrail note") != std::string::npos);
}

TEST_CASE("history: a remote URL with credentials names the repository without them", "[history][bad-input]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("a.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n"
                       "    - name: a\n      image: redis:7\n");
  repo.commit("first", t(1));
  repo.git({"remote", "add", "origin", "https://gitlab-ci-token:glcbt-s3cr3t-t0ken@gitlab.example.com/acme/deploy.git"});
  const std::string l = (tmp / "l.db").string();
  const RunResult scan = run_changetrail({"--ledger", l, "scan", "--repo", repo.str()});
  INFO(show(scan));
  REQUIRE(scan.exit_code == 0);
  CHECK(scan.err.find("scanned https://gitlab.example.com/acme/deploy.git main") != std::string::npos);
  CHECK(scan.err.find("s3cr3t") == std::string::npos);
  const RunResult stats = run_changetrail({"--ledger", l, "ledger", "stats"});
  CHECK(stats.out.find("s3cr3t") == std::string::npos);
  std::string bytes = read_file(l);
  if (fs::exists(l + "-wal")) {
    bytes += read_file(l + "-wal");
  }
  CHECK(bytes.find("s3cr3t") == std::string::npos);
}
