// check --staged and check --range (issue 5, section 1): only what a change adds or alters is
// reported, read from git (the index or the commits), never from the work tree.

#include "history/history_support.hpp"

using namespace changetrail::test;
using namespace changetrail::test::hist;

namespace {

std::string pod(const std::vector<std::pair<std::string, std::string>>& containers)
{
  std::string y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n";
  for (const auto& [name, image] : containers) {
    y += "    - name: " + name + "\n      image: " + image + "\n";
  }
  return y;
}

RunResult check_in(const GitRepo& repo, const std::vector<std::string>& args)
{
  std::vector<std::string> all{"check"};
  all.insert(all.end(), args.begin(), args.end());
  all.push_back(repo.str());
  return run_changetrail(all);
}

std::vector<std::string> refs_reported(const RunResult& r)
{
  INFO(show(r));
  const json doc = json::parse(r.out);
  std::vector<std::string> out;
  for (const auto& f : doc.at("findings")) {
    out.push_back(f.at("ref").get<std::string>() + " " + f.at("rule").get<std::string>());
  }
  return out;
}

} // namespace

TEST_CASE("check --staged: only what the staged change adds or alters", "[cli][check][git]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("clusters/prod/web.yaml", pod({{"old", "redis:latest"}, {"db", "postgres:16"}}));
  repo.commit("first", t(1));

  SECTION("an untouched old unpinned reference does not block; the added one does (exit 1)")
  {
    repo.write("clusters/prod/web.yaml", pod({{"old", "redis:latest"}, {"db", "postgres:16"}, {"new", "nginx:latest"}}));
    repo.git({"add", "-A"});
    const RunResult r = check_in(repo, {"--staged", "--format", "json"});
    CHECK(r.exit_code == 1);
    CHECK(refs_reported(r) == std::vector<std::string>{"nginx:latest latest-tag"});
    // --all-findings: everything of the changed file.
    const RunResult all = check_in(repo, {"--staged", "--all-findings", "--format", "json"});
    CHECK(refs_reported(all) == std::vector<std::string>{"redis:latest latest-tag", "postgres:16 unpinned",
                                                         "nginx:latest latest-tag"});
  }
  SECTION("a reference whose tag the change alters is reported")
  {
    repo.write("clusters/prod/web.yaml", pod({{"old", "redis:latest"}, {"db", "postgres:17"}}));
    repo.git({"add", "-A"});
    CHECK(refs_reported(check_in(repo, {"--staged", "--format", "json"})) ==
          std::vector<std::string>{"postgres:17 unpinned"});
  }
  SECTION("a pinned addition and a suppressed one pass (exit 0)")
  {
    repo.write("clusters/prod/api.yaml",
               pod({{"api", "ghcr.io/acme/api:1.0@sha256:" + std::string(64, 'a')}}) +
                 "# changetrail:ignore latest-tag local cache, never deployed\n");
    repo.write("clusters/dev/cache.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: c\nspec:\n  containers:\n"
                                          "    - name: c\n      # changetrail:ignore latest-tag scratch pod\n"
                                          "      image: memcached:latest\n");
    repo.git({"add", "-A"});
    const RunResult r = check_in(repo, {"--staged", "--format", "json"});
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(json::parse(r.out).at("summary").at("suppressed") == 1);
  }
  SECTION("the work tree is not read: an unstaged change is not checked")
  {
    repo.write("clusters/prod/web.yaml", pod({{"old", "redis:latest"}, {"db", "postgres:16"}, {"new", "nginx:latest"}}));
    const RunResult r = check_in(repo, {"--staged"});
    CHECK(r.exit_code == 0);
  }
  SECTION("a deleted file adds nothing")
  {
    repo.remove("clusters/prod/web.yaml");
    CHECK(check_in(repo, {"--staged"}).exit_code == 0);
  }
}

TEST_CASE("check --range: A..B between two commits, A...B from their merge base", "[cli][check][git]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("clusters/prod/base.yaml", pod({{"base", "redis:7"}}));
  repo.commit("base", t(1));
  repo.git({"checkout", "-q", "-b", "feature"});
  repo.write("clusters/prod/feature.yaml", pod({{"f", "nginx:latest"}}));
  repo.commit("feature adds nginx:latest", t(2));
  repo.git({"checkout", "-q", "main"});
  repo.write("clusters/prod/main.yaml", pod({{"m", "busybox"}}));
  repo.commit("main adds busybox", t(3));

  CHECK(refs_reported(check_in(repo, {"--range", "main...feature", "--format", "json"})) ==
        std::vector<std::string>{"nginx:latest latest-tag"});
  CHECK(refs_reported(check_in(repo, {"--range", "feature...main", "--format", "json"})) ==
        std::vector<std::string>{"busybox missing-tag"});
  // A..B compares the two trees: main's file is absent from feature (a deletion adds nothing).
  CHECK(refs_reported(check_in(repo, {"--range", "main..feature", "--format", "json"})) ==
        std::vector<std::string>{"nginx:latest latest-tag"});
  // git's empty tree as A: everything in B is new (a first push).
  CHECK(refs_reported(check_in(repo, {"--range", "4b825dc642cb6eb9a060e54bf8d69288fbee4904..feature", "--format",
                                      "json"})) ==
        std::vector<std::string>{"redis:7 unpinned", "nginx:latest latest-tag"});
  const RunResult exit_code = check_in(repo, {"--range", "main...feature"});
  CHECK(exit_code.exit_code == 1);
  CHECK(exit_code.out.find("clusters/prod/feature.yaml:8:14: error[latest-tag]") != std::string::npos);
}

TEST_CASE("check --staged / --range: bad input exits 2 with one line", "[cli][check][git][bad-input]")
{
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  repo.write("a.yaml", pod({{"a", "redis:7"}}));
  repo.commit("first", t(1));
  const auto one_error = [](const RunResult& r) {
    INFO(show(r));
    CHECK(r.exit_code == 2);
    CHECK(count_lines_starting(r.err, "changetrail: error:") == 1);
    return r.err;
  };
  CHECK(one_error(check_in(repo, {"--staged", "--range", "HEAD..HEAD"})).find("exclude each other") != std::string::npos);
  CHECK(one_error(check_in(repo, {"--all-findings"})).find("--staged or --range") != std::string::npos);
  CHECK(one_error(check_in(repo, {"--range", "nope..HEAD"})).find("\"nope\" is not a commit") != std::string::npos);
  CHECK(one_error(check_in(repo, {"--range", "HEAD"})).find("expected A..B") != std::string::npos);
  (void)tmp.write("plain/x.yaml", "a: 1\n");
  const RunResult not_repo = run_changetrail({"check", "--staged", (tmp / "plain").string()});
  CHECK(one_error(not_repo).find("not a git repository") != std::string::npos);
}
