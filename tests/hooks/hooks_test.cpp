// The git hooks (issue 5, sections 2 and 4): `changetrail hook install`, then real `git commit` and
// `git push` through the git binary, with the built changetrail first on PATH.

#include "history/history_support.hpp"

#include <cstdlib>
#include <map>

using namespace changetrail::test;
using namespace changetrail::test::hist;

namespace {

const std::string k_digest = "sha256:" + std::string(64, 'a');

std::string pod(const std::string& name, const std::string& image, const std::string& comment = {})
{
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  containers:\n    - name: " + name +
         "\n" + (comment.empty() ? std::string{} : "      # " + comment + "\n") + "      image: " + image + "\n";
}

// git's environment plus the directory of the built binary first on PATH (the hooks find it there).
std::vector<std::string> hook_env(const std::vector<std::string>& extra = {})
{
  std::vector<std::string> env = git_env(t(5));
  const std::string bin_dir = fs::path(CHANGETRAIL_BINARY).parent_path().string();
  const char* path = std::getenv("PATH");
  env.push_back("PATH=" + bin_dir + ":" + (path != nullptr ? path : "/usr/bin:/bin"));
  env.emplace_back("HOME=/nonexistent");
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// git with the hooks active (no --no-verify); never REQUIREs success.
RunResult git_hooked(const GitRepo& repo, const std::vector<std::string>& args,
                     const std::vector<std::string>& extra_env = {})
{
  std::vector<std::string> argv{"git", "-c", "gc.auto=0", "-c", "commit.gpgsign=false", "-c", "maintenance.auto=false"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, repo.str(), {}, hook_env(extra_env));
}

RunResult commit_hooked(const GitRepo& repo, const std::string& message, const std::vector<std::string>& extra_env = {})
{
  repo.git({"add", "-A", "."});
  return git_hooked(repo, {"commit", "-q", "-m", message}, extra_env);
}

RunResult hook_cmd(const std::vector<std::string>& args)
{
  std::vector<std::string> all{"hook"};
  all.insert(all.end(), args.begin(), args.end());
  return run_changetrail(all, {}, {"HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"});
}

void install(const GitRepo& repo, const std::vector<std::string>& flags = {})
{
  std::vector<std::string> args{"install", "--repo", repo.str()};
  args.insert(args.end(), flags.begin(), flags.end());
  const RunResult r = hook_cmd(args);
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
}

// Every file of a directory with its content and whether it is executable.
std::map<std::string, std::string> snapshot(const fs::path& dir)
{
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const bool exec = (fs::status(e.path()).permissions() & fs::perms::owner_exec) != fs::perms::none;
    out[e.path().filename().string()] = (exec ? "x " : "- ") + read_file(e.path());
  }
  return out;
}

bool contains(const RunResult& r, const std::string& text)
{
  return r.out.find(text) != std::string::npos || r.err.find(text) != std::string::npos;
}

// A repository with one commit holding an old unpinned reference (redis:latest), pushed to a bare
// remote; origin/main is known locally.
struct Fixture {
  TempDir tmp;
  GitRepo remote{tmp / "remote.git", GitRepo::Existing{}};
  GitRepo repo{tmp / "repo"};

  Fixture()
  {
    fs::create_directories(remote.dir());
    remote.git({"-c", "init.defaultBranch=main", "init", "-q", "--bare"});
    repo.write("clusters/prod/web.yaml", pod("web", "redis:latest"));
    repo.commit("old unpinned reference", t(1));
    repo.git({"remote", "add", "origin", remote.str()});
    repo.git({"push", "-q", "--no-verify", "origin", "main"});
    repo.git({"fetch", "-q", "origin"});
  }

  [[nodiscard]] bool remote_has(const std::string& ref) const
  {
    return remote.git({"rev-parse", "-q", "--verify", ref}, k_t0, true).exit_code == 0;
  }
};

} // namespace

TEST_CASE("hooks: the installed hooks are the shipped files", "[hooks]")
{
  Fixture f;
  install(f.repo);
  const fs::path hooks = f.repo.dir() / ".git" / "hooks";
  for (const char* name : {"pre-commit", "pre-push"}) {
    INFO(name);
    CHECK(read_file(hooks / name) == read_file(fs::path(CHANGETRAIL_SOURCE_DIR) / "hooks" / name));
    CHECK((fs::status(hooks / name).permissions() & fs::perms::owner_exec) != fs::perms::none);
  }
  SECTION("one hook only")
  {
    TempDir other;
    GitRepo repo(other / "r");
    install(repo, {"--pre-push"});
    CHECK(fs::exists(repo.dir() / ".git/hooks/pre-push"));
    CHECK_FALSE(fs::exists(repo.dir() / ".git/hooks/pre-commit"));
  }
}

TEST_CASE("hooks: pre-commit refuses what the staged change adds", "[hooks][pre-commit]")
{
  Fixture f;
  install(f.repo);
  const std::string before = f.repo.head();

  SECTION("a commit adding image: nginx:latest is refused with what to do")
  {
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:latest"));
    const RunResult r = commit_hooked(f.repo, "add nginx");
    INFO(show(r));
    CHECK(r.exit_code != 0);
    CHECK(contains(r, "nginx:latest"));
    CHECK(contains(r, "changetrail pin --write"));
    CHECK(contains(r, "# changetrail:ignore <rule> <reason>"));
    CHECK(contains(r, "git commit --no-verify"));
    CHECK(f.repo.head() == before);
  }
  SECTION("git commit -a and git commit PATH: the temporary index git hands the hook is checked")
  {
    // The tracked file is edited, nothing is staged: git builds the commit in GIT_INDEX_FILE.
    f.repo.write("clusters/prod/web.yaml", pod("web", "redis:latest") + "---\n" + pod("api", "nginx:latest"));
    const RunResult all = git_hooked(f.repo, {"commit", "-q", "-a", "-m", "edit with -a"});
    INFO(show(all));
    CHECK(all.exit_code != 0);
    CHECK(contains(all, "nginx:latest"));
    const RunResult path = git_hooked(f.repo, {"commit", "-q", "-m", "edit by path", "clusters/prod/web.yaml"});
    INFO(show(path));
    CHECK(path.exit_code != 0);
    CHECK(contains(path, "nginx:latest"));
    CHECK(f.repo.head() == before);
  }
  SECTION("a pinned reference passes")
  {
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:1.27@" + k_digest));
    const RunResult r = commit_hooked(f.repo, "add pinned nginx");
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(f.repo.head() != before);
  }
  SECTION("a suppressed reference passes")
  {
    f.repo.write("clusters/dev/cache.yaml",
                 pod("cache", "memcached:latest", "changetrail:ignore latest-tag scratch pod"));
    const RunResult r = commit_hooked(f.repo, "add suppressed cache");
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(f.repo.head() != before);
  }
  SECTION("an untouched old unpinned reference does not block an unrelated commit")
  {
    f.repo.write("README.md", "docs\n");
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:1.27@" + k_digest));
    const RunResult r = commit_hooked(f.repo, "unrelated");
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(f.repo.head() != before);
  }
  SECTION("a missing binary does not block, unless CHANGETRAIL_HOOK_STRICT=1")
  {
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:latest"));
    const RunResult strict =
        commit_hooked(f.repo, "strict", {"CHANGETRAIL=changetrail-not-installed", "CHANGETRAIL_HOOK_STRICT=1"});
    INFO(show(strict));
    CHECK(strict.exit_code != 0);
    CHECK(f.repo.head() == before);
    const RunResult r = commit_hooked(f.repo, "emergency", {"CHANGETRAIL=changetrail-not-installed"});
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(count_lines_starting(r.err, "changetrail hook: changetrail-not-installed not found on PATH (not blocking; "
                                      "CHANGETRAIL_HOOK_STRICT=1 makes this fatal)") == 1);
    CHECK(f.repo.head() != before);
  }
  SECTION("an internal error (unreadable config) does not block")
  {
    f.repo.write(".changetrail.yaml", "rules: [unclosed\n");
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:latest"));
    const RunResult r = commit_hooked(f.repo, "bad config");
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(count_lines_starting(r.err, "changetrail hook: check --staged failed with exit code 2 (not blocking") == 1);
  }
}

TEST_CASE("hooks: pre-push checks what each pushed ref introduces", "[hooks][pre-push]")
{
  Fixture f;
  install(f.repo);
  const auto push = [&f](const std::vector<std::string>& refs, const std::vector<std::string>& env = {}) {
    std::vector<std::string> args{"push", "-q", "origin"};
    args.insert(args.end(), refs.begin(), refs.end());
    return git_hooked(f.repo, args, env);
  };
  const auto branch_with = [&f](const std::string& branch, const std::string& file, const std::string& image, int n) {
    f.repo.git({"checkout", "-q", "-b", branch, "main"});
    f.repo.write(file, pod("p" + std::to_string(n), image));
    f.repo.commit(branch, t(n));
    f.repo.git({"checkout", "-q", "main"});
  };

  SECTION("existing branch: a new unpinned reference is refused, a pinned one passes")
  {
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:latest"));
    f.repo.commit("bad", t(2));
    const RunResult bad = push({"main"});
    INFO(show(bad));
    CHECK(bad.exit_code != 0);
    CHECK(contains(bad, "nginx:latest"));
    CHECK(contains(bad, "changetrail pin --write"));
    CHECK(f.remote.rev("main") != f.repo.head());
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:1.27@" + k_digest));
    f.repo.commit("fixed", t(3));
    const RunResult good = push({"main"});
    INFO(show(good));
    CHECK(good.exit_code == 0);
    CHECK(f.remote.rev("main") == f.repo.head());
  }
  SECTION("force push: compared with the merge base of the old and new tips")
  {
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:1.27@" + k_digest));
    f.repo.commit("pinned", t(2));
    REQUIRE(push({"main"}).exit_code == 0);
    f.repo.git({"reset", "-q", "--hard", "HEAD~1"});
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:latest"));
    f.repo.commit("rewritten", t(3));
    CHECK(push({"--force", "main"}).exit_code != 0);
    f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:1.28@" + k_digest));
    f.repo.commit("rewritten, pinned", t(4));
    const RunResult r = push({"--force", "main"});
    INFO(show(r));
    CHECK(r.exit_code == 0);
  }
  SECTION("new branch: compared with its merge base with origin/main (the old reference does not block)")
  {
    branch_with("good", "clusters/prod/good.yaml", "nginx:1.27@" + k_digest, 2);
    branch_with("bad", "clusters/prod/bad.yaml", "nginx:latest", 3);
    const RunResult good = push({"good"});
    INFO(show(good));
    CHECK(good.exit_code == 0);
    CHECK(f.remote_has("refs/heads/good"));
    const RunResult bad = push({"bad"});
    INFO(show(bad));
    CHECK(bad.exit_code != 0);
    CHECK(contains(bad, "nginx:latest"));
    CHECK_FALSE(f.remote_has("refs/heads/bad"));
  }
  SECTION("new branch with no common base: the whole tree is checked")
  {
    f.repo.git({"checkout", "-q", "--orphan", "lonely"});
    f.repo.write("clusters/prod/other.yaml", pod("other", "nginx:1.27@" + k_digest));
    f.repo.commit("orphan still holding redis:latest", t(2));
    const RunResult r = push({"lonely"});
    INFO(show(r));
    CHECK(r.exit_code != 0);
    CHECK(contains(r, "redis:latest"));
    CHECK(contains(r, "4b825dc642cb6eb9a060e54bf8d69288fbee4904.."));
  }
  SECTION("deleting a branch is not checked")
  {
    branch_with("bad", "clusters/prod/bad.yaml", "nginx:latest", 2);
    f.repo.git({"push", "-q", "--no-verify", "origin", "bad"});
    REQUIRE(f.remote_has("refs/heads/bad"));
    const RunResult r = push({":bad"});
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK_FALSE(f.remote_has("refs/heads/bad"));
  }
  SECTION("tags: the same rules")
  {
    branch_with("bad", "clusters/prod/bad.yaml", "nginx:latest", 2);
    branch_with("good", "clusters/prod/good.yaml", "nginx:1.27@" + k_digest, 3);
    f.repo.git({"tag", "-a", "-m", "bad release", "v1-bad", "bad"}, t(4));
    f.repo.git({"tag", "v1-good", "good"});
    const RunResult bad = push({"refs/tags/v1-bad"});
    INFO(show(bad));
    CHECK(bad.exit_code != 0);
    CHECK_FALSE(f.remote_has("refs/tags/v1-bad"));
    const RunResult good = push({"refs/tags/v1-good"});
    INFO(show(good));
    CHECK(good.exit_code == 0);
    CHECK(f.remote_has("refs/tags/v1-good"));
  }
  SECTION("several refs: each is checked, one failure refuses the push")
  {
    branch_with("good1", "clusters/prod/g1.yaml", "nginx:1.27@" + k_digest, 2);
    branch_with("good2", "clusters/prod/g2.yaml", "redis:7.2@" + k_digest, 3);
    branch_with("bad", "clusters/prod/bad.yaml", "nginx:latest", 4);
    const RunResult mixed = push({"good1", "bad"});
    INFO(show(mixed));
    CHECK(mixed.exit_code != 0);
    CHECK_FALSE(f.remote_has("refs/heads/good1"));
    CHECK_FALSE(f.remote_has("refs/heads/bad"));
    const RunResult both = push({"good1", "good2"});
    INFO(show(both));
    CHECK(both.exit_code == 0);
    CHECK(count_lines_starting(both.err, "changetrail: checking refs/heads/good") == 2);
    CHECK(f.remote_has("refs/heads/good1"));
    CHECK(f.remote_has("refs/heads/good2"));
  }
  SECTION("a missing binary does not block, unless CHANGETRAIL_HOOK_STRICT=1")
  {
    branch_with("bad", "clusters/prod/bad.yaml", "nginx:latest", 2);
    CHECK(push({"bad"}, {"CHANGETRAIL=changetrail-not-installed", "CHANGETRAIL_HOOK_STRICT=1"}).exit_code != 0);
    const RunResult r = push({"bad"}, {"CHANGETRAIL=changetrail-not-installed"});
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(contains(r, "(not blocking; CHANGETRAIL_HOOK_STRICT=1 makes this fatal)"));
  }
}

TEST_CASE("hooks: an existing hook is chained, install is idempotent, uninstall restores", "[hooks][install]")
{
  Fixture f;
  const fs::path hooks = f.repo.dir() / ".git" / "hooks";
  // Someone else's hooks: they leave a trace, and fail when asked to.
  const std::string theirs_commit = "#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/theirs-pre-commit.log\"\n"
                                    "[ -z \"${THEIRS_FAIL:-}\" ]\n";
  const std::string theirs_push = "#!/bin/sh\ncat >> \"$(git rev-parse --git-dir)/theirs-pre-push.log\"\n"
                                  "[ -z \"${THEIRS_FAIL:-}\" ]\n";
  fs::create_directories(hooks);
  for (const auto& [name, text] : {std::pair{"pre-commit", theirs_commit}, std::pair{"pre-push", theirs_push}}) {
    std::ofstream(hooks / name, std::ios::binary) << text;
    fs::permissions(hooks / name, fs::perms::owner_all, fs::perm_options::add);
  }
  const auto before = snapshot(hooks);

  install(f.repo);
  CHECK(read_file(hooks / "pre-commit.changetrail-chained") == theirs_commit);
  CHECK(read_file(hooks / "pre-push.changetrail-chained") == theirs_push);
  const auto installed = snapshot(hooks);
  install(f.repo);
  CHECK(snapshot(hooks) == installed);

  // Theirs runs first; its failure blocks; ours still refuses what it refuses.
  f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:1.27@" + k_digest));
  const RunResult refused = commit_hooked(f.repo, "theirs fails", {"THEIRS_FAIL=1"});
  INFO(show(refused));
  CHECK(refused.exit_code != 0);
  const RunResult ok = commit_hooked(f.repo, "both pass");
  INFO(show(ok));
  CHECK(ok.exit_code == 0);
  CHECK(read_file(f.repo.dir() / ".git/theirs-pre-commit.log") == "ran\nran\n");
  f.repo.write("clusters/prod/bad.yaml", pod("bad", "nginx:latest"));
  CHECK(commit_hooked(f.repo, "ours refuses").exit_code != 0);

  // pre-push: theirs reads the same standard input as ours.
  const RunResult pushed = git_hooked(f.repo, {"push", "-q", "origin", "main"});
  INFO(show(pushed));
  CHECK(pushed.exit_code == 0);
  const std::string log = read_file(f.repo.dir() / ".git/theirs-pre-push.log");
  CHECK(log == "refs/heads/main " + f.repo.head() + " refs/heads/main " + f.remote.rev("main~1") + "\n");
  CHECK(git_hooked(f.repo, {"push", "-q", "origin", "main:other"}, {"THEIRS_FAIL=1"}).exit_code != 0);
  CHECK_FALSE(f.remote_has("refs/heads/other"));

  const RunResult un = hook_cmd({"uninstall", "--repo", f.repo.str()});
  INFO(show(un));
  CHECK(un.exit_code == 0);
  CHECK(snapshot(hooks) == before);
  // Uninstalling again changes nothing.
  CHECK(hook_cmd({"uninstall", "--repo", f.repo.str()}).exit_code == 0);
  CHECK(snapshot(hooks) == before);
}

TEST_CASE("hooks: uninstall removes ours when nothing was chained", "[hooks][install]")
{
  Fixture f;
  const fs::path hooks = f.repo.dir() / ".git" / "hooks";
  install(f.repo);
  REQUIRE(fs::exists(hooks / "pre-commit"));
  CHECK(hook_cmd({"uninstall", "--pre-commit", "--repo", f.repo.str()}).exit_code == 0);
  CHECK_FALSE(fs::exists(hooks / "pre-commit"));
  CHECK(fs::exists(hooks / "pre-push"));
  CHECK(hook_cmd({"uninstall", "--repo", f.repo.str()}).exit_code == 0);
  CHECK_FALSE(fs::exists(hooks / "pre-push"));
}

TEST_CASE("hooks: core.hooksPath is honoured", "[hooks][install]")
{
  Fixture f;
  f.repo.git({"config", "core.hooksPath", ".githooks"});
  install(f.repo);
  CHECK(fs::exists(f.repo.dir() / ".githooks/pre-commit"));
  CHECK(fs::exists(f.repo.dir() / ".githooks/pre-push"));
  CHECK_FALSE(fs::exists(f.repo.dir() / ".git/hooks/pre-commit"));
  f.repo.write("clusters/prod/api.yaml", pod("api", "nginx:latest"));
  const RunResult r = commit_hooked(f.repo, "refused through core.hooksPath");
  INFO(show(r));
  CHECK(r.exit_code != 0);
  CHECK(contains(r, "changetrail pin --write"));
}

TEST_CASE("hooks: hook install exit codes", "[hooks][install][bad-input]")
{
  TempDir tmp;
  (void)tmp.write("plain/x.yaml", "a: 1\n");
  const RunResult not_repo = hook_cmd({"install", "--repo", (tmp / "plain").string()});
  CHECK(one_error(not_repo, 2).find("not a git repository") != std::string::npos);
  CHECK(hook_cmd({"frobnicate"}).exit_code == 2);

  // The hooks directory cannot be created (a file is in the way): exit 3.
  GitRepo repo(tmp / "repo");
  repo.write("blocker", "a file\n");
  repo.git({"config", "core.hooksPath", "blocker/hooks"});
  const RunResult cannot = hook_cmd({"install", "--repo", repo.str()});
  CHECK(one_error(cannot, 3).find("blocker") != std::string::npos);
}
