// resolve, drift, check --verify-registry and git notes against real registries (issue 4,
// section 3): Debian's docker-registry started by the `registry` fixture, images pushed by skopeo.
// Each test writes a real git repository whose manifests name the fixture's images, runs the
// built binary, and compares what it recorded with what skopeo (an independent client) reads.

#include "history/history_support.hpp"
#include "support/registry_fixture.hpp"

#include <sqlite3.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>

#include <atomic>
#include <random>
#include <unistd.h>

using namespace changetrail::test;
using namespace changetrail::test::hist;

namespace {

// A repository name no other test (nor another run of this one) uses: tests push and delete.
std::string unique_repository(const std::string& stem)
{
  static std::atomic<int> counter{0};
  std::random_device device;
  return "resolve-test/" + stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(device() % 100000);
}

// sha256 of what skopeo reads for `reference`: the digest any client must agree with.
std::string skopeo_digest(const TestRegistry& r, const std::string& reference)
{
  std::vector<std::string> argv{skopeo_program(), "inspect", "--raw", "--tls-verify=false"};
  if (!r.username.empty()) {
    argv.push_back("--creds");
    argv.push_back(r.username + ":" + r.password);
  }
  argv.push_back("docker://" + reference);
  const RunResult res = run(argv);
  INFO(res.err);
  REQUIRE(res.exit_code == 0);
  return sha256_digest(res.out);
}

// A deployment repository with one Deployment per reference (container i), committed at t(1).
void deploy(const GitRepo& repo, const std::vector<std::string>& refs, std::int64_t time = t(1))
{
  std::string yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n"
                     "  template:\n    spec:\n      containers:\n";
  for (std::size_t i = 0; i < refs.size(); ++i) {
    yaml += "        - name: c" + std::to_string(i) + "\n          image: " + refs[i] + "\n";
  }
  repo.write("clusters/prod/web.yaml", yaml);
  repo.commit("deploy", time);
}

// Runs the binary with a docker config directory of its own (no credentials unless written).
RunResult ct(const TempDir& tmp, const std::vector<std::string>& args, const std::vector<std::string>& env = {},
             const std::string& input = {})
{
  std::vector<std::string> argv{CHANGETRAIL_BINARY, "--ledger", (tmp / "ledger.db").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> e{"DOCKER_CONFIG=" + (tmp / "docker").string(), "HOME=" + tmp.path().string()};
  e.insert(e.end(), env.begin(), env.end());
  return run(argv, {}, input, e);
}

json resolve_json(const TempDir& tmp, const GitRepo& repo, const std::string& host, int expected_exit = 0,
                  const std::vector<std::string>& extra = {})
{
  std::vector<std::string> args{"resolve", "--repo", repo.str(), "--insecure-registry", host, "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = ct(tmp, args);
  INFO(show(r));
  REQUIRE(r.exit_code == expected_exit);
  return json::parse(r.out);
}

const json& by_reference(const json& list, const std::string& reference)
{
  for (const auto& o : list) {
    if (o.at("reference") == reference) {
      return o;
    }
  }
  FAIL("no observation of " << reference << " in " << list.dump(1));
  throw std::logic_error("unreachable");
}

void write_docker_config(const TempDir& tmp, const std::string& content)
{
  (void)tmp.write("docker/config.json", content);
}

std::string base64(const std::string& s)
{
  const RunResult r = run({"base64", "-w0"}, {}, s);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// Every byte of the ledger files, for "no secret stored" checks.
std::string ledger_bytes(const TempDir& tmp)
{
  std::string all;
  for (const char* suffix : {"", "-wal"}) {
    const fs::path p = tmp / ("ledger.db" + std::string(suffix));
    if (fs::exists(p)) {
      all += read_file(p);
    }
  }
  return all;
}

} // namespace

TEST_CASE("registry: resolve records what skopeo reads, for every media type", "[registry_server][resolve]")
{
  const RegistryFixture& f = registry_fixture();
  const TestRegistry& reg = f.open;
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const std::string h = reg.host;
  deploy(repo, {h + "/fixture/app:v1", h + "/fixture/docker:v1", h + "/fixture/multi:v1", h + "/fixture/annotated:v1",
                h + "/fixture/dockerlist:v1", h + "/fixture/app:no-such-tag"});
  const json out = resolve_json(tmp, repo, h);
  REQUIRE(out.size() == 6);

  for (const char* name : {"app", "docker", "multi", "annotated", "dockerlist"}) {
    const std::string reference = h + "/fixture/" + name + ":v1";
    const json& o = by_reference(out, reference);
    INFO(o.dump(1));
    CHECK(o.at("status") == "ok");
    CHECK(o.at("tag") == "v1");
    CHECK(o.at("digest") == skopeo_digest(reg, reference));
    CHECK(o.at("digest") == f.image(std::string("open/fixture/") + name + ":v1").digest);
  }
  // Labels from the config blob; annotations only: from the manifest.
  const json& app = by_reference(out, h + "/fixture/app:v1");
  CHECK(app.at("source") == "https://github.com/acme/app");
  CHECK(app.at("revision").get<std::string>().size() == 40);
  CHECK(app.at("version") == "1.0.0");
  CHECK(app.at("created") == "2026-11-20T10:00:00Z");
  CHECK(app.at("labels").at("org.opencontainers.image.version") == "1.0.0");
  const json& annotated = by_reference(out, h + "/fixture/annotated:v1");
  {
    // No config labels: the values are the manifest's annotations, as skopeo reads them.
    std::vector<std::string> argv{skopeo_program(), "inspect", "--raw", "--tls-verify=false",
                                  "docker://" + h + "/fixture/annotated:v1"};
    const RunResult raw = run(argv);
    REQUIRE(raw.exit_code == 0);
    const json annotations = json::parse(raw.out).at("annotations");
    CHECK(annotated.at("source") == annotations.at("org.opencontainers.image.source"));
    CHECK(annotated.at("revision") == annotations.at("org.opencontainers.image.revision"));
    CHECK(annotated.at("version") == annotations.at("org.opencontainers.image.version"));
    CHECK(annotated.at("annotations") == annotations);
    CHECK(annotated.at("labels").empty());
  }
  // An index: its two platforms with their digests, the attestation left out.
  const json& multi = by_reference(out, h + "/fixture/multi:v1");
  const PushedImage& pushed = f.image("open/fixture/multi:v1");
  REQUIRE(multi.at("platforms").size() == 2);
  REQUIRE(pushed.platforms.size() == 2);
  for (const auto& [platform, digest] : pushed.platforms) {
    bool listed = false;
    for (const auto& p : multi.at("platforms")) {
      listed = listed || (p.at("platform") == platform && p.at("digest") == digest);
    }
    CHECK(listed);
  }
  CHECK_FALSE(by_reference(out, h + "/fixture/dockerlist:v1").at("platforms").empty());
  // A tag that does not exist is an answer, not a failure.
  const json& missing = by_reference(out, h + "/fixture/app:no-such-tag");
  CHECK(missing.at("status") == "not-found");
  CHECK(missing.at("digest") == "");

  // Recorded in the ledger: a second run asks again (a new observation), metadata is not refetched.
  const RunResult again = ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", h});
  INFO(show(again));
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("fixture/app:v1") != std::string::npos);
  CHECK(again.err.find("1 not found") != std::string::npos);
}

TEST_CASE("registry: a registry that serves plain http is a TLS failure unless named insecure (exit 3)",
          "[registry_server][resolve][bad-input]")
{
  const RegistryFixture& f = registry_fixture();
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  deploy(repo, {f.open.host + "/fixture/app:v1"});
  const RunResult r = ct(tmp, {"resolve", "--repo", repo.str()});
  INFO(show(r));
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("changetrail: error: registry " + f.open.host) != std::string::npos);
  CHECK(r.err.find("--insecure-registry " + f.open.host) != std::string::npos);
  CHECK(r.err.find("[tls]") != std::string::npos);
}

TEST_CASE("registry: Basic auth with credentials from config.json, and wrong ones fail after one try",
          "[registry_server][resolve][auth]")
{
  const RegistryFixture& f = registry_fixture();
  const TestRegistry& reg = f.basic;
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const std::string reference = reg.host + "/fixture/app:v1";
  deploy(repo, {reference});

  SECTION("no credentials: unauthorized, exit 3, says where credentials are looked for")
  {
    const RunResult r = ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host});
    INFO(show(r));
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("[unauthorized]") != std::string::npos);
    CHECK(r.err.find("no credentials for " + reg.host) != std::string::npos);
  }
  SECTION("auths in config.json")
  {
    write_docker_config(tmp, R"({"auths":{")" + reg.host + R"(":{"auth":")" +
                                 base64(reg.username + ":" + reg.password) + R"("}}})");
    const json out = resolve_json(tmp, repo, reg.host);
    CHECK(by_reference(out, reference).at("digest") == skopeo_digest(reg, reference));
  }
  SECTION("wrong password: one request to the registry with it, then unauthorized; the password is nowhere")
  {
    const std::string wrong = "wrong-" + reg.password + "-s3cr3t";
    write_docker_config(tmp, R"({"auths":{")" + reg.host + R"(":{"auth":")" + base64(reg.username + ":" + wrong) +
                                 R"("}}})");
    const RunResult r = ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host});
    INFO(show(r));
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("[unauthorized]") != std::string::npos);
    // GET /v2/ (the challenge) and one HEAD with the credentials: no retry of a 401.
    CHECK(r.err.find("; 2 requests in") != std::string::npos);
    CHECK(r.out.find(wrong) == std::string::npos);
    CHECK(r.err.find(wrong) == std::string::npos);
    CHECK(ledger_bytes(tmp).find(wrong) == std::string::npos);
    CHECK(ledger_bytes(tmp).find(base64(reg.username + ":" + wrong)) == std::string::npos);
  }
  SECTION("--username with --password-stdin")
  {
    const RunResult r = ct(tmp,
                           {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host, "--username",
                            reg.username, "--password-stdin", "--format", "json"},
                           {}, reg.password + "\n");
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    CHECK(by_reference(json::parse(r.out), reference).at("status") == "ok");
    CHECK(r.err.find(reg.password) == std::string::npos);
  }
  SECTION("--username without --password-stdin is refused: a password never goes in argv")
  {
    const RunResult r = ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host, "--username", "u"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--password-stdin") != std::string::npos);
  }
}

TEST_CASE("registry: token auth with a credential helper, anonymous pulls, and refused credentials",
          "[registry_server][resolve][auth]")
{
  const RegistryFixture& f = registry_fixture();
  const TestRegistry& reg = f.token;
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const std::string reference = reg.host + "/fixture/multi:v1";
  deploy(repo, {reference});
  const auto token_requests = [&] { return lines_of(read_file(f.token_log)).size(); };

  SECTION("credHelpers: docker-credential-<name> on PATH gives the credentials")
  {
    const fs::path helper = tmp.write("bin/docker-credential-ctest",
                                      "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 3\n"
                                      "printf '{\"ServerURL\":\"%s\",\"Username\":\"" +
                                          reg.username + "\",\"Secret\":\"" + reg.password + "\"}' \"$server\"\n");
    fs::permissions(helper, fs::perms::owner_all);
    write_docker_config(tmp, R"({"credHelpers":{")" + reg.host + R"(":"ctest"}})");
    const std::string path = (tmp / "bin").string() + ":" + std::getenv("PATH");
    const RunResult r = ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host, "--format", "json"},
                           {"PATH=" + path});
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    const json out = json::parse(r.out);
    const json& o = by_reference(out, reference);
    CHECK(o.at("digest") == skopeo_digest(reg, reference));
    CHECK(o.at("platforms").size() == 2);
    CHECK(r.err.find(reg.password) == std::string::npos);
    CHECK(r.out.find(reg.password) == std::string::npos);
    CHECK(ledger_bytes(tmp).find(reg.password) == std::string::npos);
  }
  SECTION("wrong credentials: the token server is asked once, then unauthorized (exit 3)")
  {
    write_docker_config(tmp, R"({"auths":{")" + reg.host + R"(":{"auth":")" + base64(reg.username + ":nope-not-it") +
                                 R"("}}})");
    const std::size_t before = token_requests();
    const RunResult r = ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host});
    INFO(show(r));
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("[unauthorized]") != std::string::npos);
    CHECK(r.err.find("refused the credentials") != std::string::npos);
    CHECK(r.err.find("nope-not-it") == std::string::npos);
    // Other tests may use the token server at the same time (ctest -j2): at least ours, and ours once.
    const auto log = lines_of(read_file(f.token_log));
    REQUIRE(log.size() > before);
    std::size_t refused = 0;
    for (std::size_t i = before; i < log.size(); ++i) {
      const json line = json::parse(log[i]);
      refused += line.at("scopes").get<std::string>().find("fixture/multi") != std::string::npos &&
                         line.at("credentials") == true && line.at("valid") == false
                     ? 1
                     : 0;
    }
    CHECK(refused == 1);
  }
  SECTION("anonymous: a public repository resolves without credentials")
  {
    const std::string repository = "public/" + unique_repository("anon").substr(std::string("resolve-test/").size());
    ImageSpec spec;
    spec.salt = repository;
    const PushedImage pushed = push_image(reg, repository + ":v1", spec);
    GitRepo other(tmp / "other");
    deploy(other, {pushed.reference});
    const RunResult r =
        ct(tmp, {"resolve", "--repo", other.str(), "--insecure-registry", reg.host, "--format", "json"});
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    CHECK(by_reference(json::parse(r.out), pushed.reference).at("digest") == pushed.digest);
  }
  SECTION("anonymous on a private repository: unauthorized after one refresh")
  {
    const RunResult r = ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host});
    INFO(show(r));
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("[unauthorized]") != std::string::npos);
  }
}

TEST_CASE("registry: drift reports a tag re-pushed after deployment as moved, a deleted one as gone",
          "[registry_server][drift]")
{
  const RegistryFixture& f = registry_fixture();
  const TestRegistry& reg = f.open;
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const std::string repository = unique_repository("drift");
  ImageSpec spec;
  spec.salt = "first";
  const PushedImage first = push_image(reg, repository + ":v1", spec);
  const PushedImage stable = push_image(reg, repository + ":v2", ImageSpec{});
  const std::string pinned = reg.host + "/" + repository + ":v2@" + stable.digest;
  deploy(repo, {first.reference, stable.reference, pinned, reg.host + "/" + repository + ":never-resolved"});

  SECTION("before any observation: unverified, exit 0")
  {
    // The never-resolved tag does not exist either: gone wins over unverified only with evidence.
    const RunResult r = ct(tmp, {"drift", "--repo", repo.str(), "--insecure-registry", reg.host, "--format", "json"});
    INFO(show(r));
    REQUIRE(r.exit_code == 0);
    const json out = json::parse(r.out);
    REQUIRE(out.size() == 4);
    CHECK(out[0].at("status") == "unverified");
    CHECK(out[0].at("current_digest") == first.digest);
  }
  SECTION("resolved, then the tag is re-pushed: moved, exit 1; then deleted: gone")
  {
    (void)resolve_json(tmp, repo, reg.host);
    const RunResult clean = ct(tmp, {"drift", "--repo", repo.str(), "--insecure-registry", reg.host});
    INFO(show(clean));
    CHECK(clean.exit_code == 0);

    spec.salt = "second";
    const PushedImage second = push_image(reg, repository + ":v1", spec);
    REQUIRE(second.digest != first.digest);
    const RunResult moved =
        ct(tmp, {"drift", "--repo", repo.str(), "--insecure-registry", reg.host, "--format", "json"});
    INFO(show(moved));
    CHECK(moved.exit_code == 1);
    const json out = json::parse(moved.out);
    const auto row = [&](const std::string& ref) -> const json& {
      for (const auto& o : out) {
        if (o.at("ref") == ref) {
          return o;
        }
      }
      FAIL("no row for " << ref);
      throw std::logic_error("unreachable");
    };
    CHECK(row(first.reference).at("status") == "moved");
    CHECK(row(first.reference).at("deployed_digest") == first.digest);
    CHECK(row(first.reference).at("current_digest") == second.digest);
    CHECK(row(stable.reference).at("status") == "ok");
    CHECK(row(pinned).at("status") == "pinned");
    CHECK(moved.err.find("1 moved, 0 gone") != std::string::npos);

    // The table says the same.
    const RunResult table = ct(tmp, {"drift", "--repo", repo.str(), "--insecure-registry", reg.host});
    CHECK(table.exit_code == 1);
    CHECK(table.out.find("moved") != std::string::npos);

    delete_manifest(reg, repository, stable.digest);
    const RunResult gone =
        ct(tmp, {"drift", "--repo", repo.str(), "--insecure-registry", reg.host, "--format", "json"});
    INFO(show(gone));
    CHECK(gone.exit_code == 1);
    const json after = json::parse(gone.out);
    std::size_t gone_rows = 0;
    for (const auto& o : after) {
      gone_rows += o.at("status") == "gone" ? 1 : 0;
    }
    CHECK(gone_rows == 2); // the v2 tag (deleted with its manifest) and the pinned digest
  }
}

TEST_CASE("registry: observations recorded as git notes come back with a fresh clone and scan",
          "[registry_server][notes]")
{
  const RegistryFixture& f = registry_fixture();
  const TestRegistry& reg = f.open;
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  const std::string reference = reg.host + "/fixture/app:v1";
  deploy(repo, {reference});
  const RunResult r = ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host, "--record-notes"});
  INFO(show(r));
  REQUIRE(r.exit_code == 0);
  const std::string note = repo.git({"notes", "--ref", "changetrail", "show", "HEAD"}).out;
  const json doc = json::parse(note);
  REQUIRE(doc.at("observations").size() == 1);
  CHECK(doc.at("observations")[0].at("digest") == f.image("open/fixture/app:v1").digest);
  CHECK(doc.at("images").size() == 1);

  // A second resolve merges into the note: two observations, one image.
  REQUIRE(ct(tmp, {"resolve", "--repo", repo.str(), "--insecure-registry", reg.host, "--record-notes"}).exit_code == 0);
  const json merged = json::parse(repo.git({"notes", "--ref", "changetrail", "show", "HEAD"}).out);
  CHECK(merged.at("observations").size() >= 1);
  CHECK(merged.at("images").size() == 1);

  // A clone that fetches the notes, scanned into a new ledger, knows what the registry said.
  const fs::path clone = tmp / "clone";
  git_in(tmp.path(), {"clone", "-q", repo.str(), clone.string()});
  git_in(clone, {"fetch", "-q", "origin", "refs/notes/changetrail:refs/notes/changetrail"});
  const std::string fresh = (tmp / "fresh.db").string();
  const RunResult scan = run_changetrail({"--ledger", fresh, "scan", "--repo", clone.string()});
  INFO(show(scan));
  REQUIRE(scan.exit_code == 0);
  CHECK(scan.err.find("registry observations read from git notes") != std::string::npos);
  const RunResult tl = run_changetrail({"--ledger", fresh, "timeline", "--since", "2000-01-01", "--format", "json"});
  REQUIRE(tl.exit_code == 0);
  const json events = json::parse(tl.out);
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("observed").at("digest") == f.image("open/fixture/app:v1").digest);
  CHECK(events[0].at("observed").at("source") == "https://github.com/acme/app");
  // Scanning again reads nothing twice.
  const RunResult again = run_changetrail({"--ledger", fresh, "scan", "--repo", clone.string()});
  CHECK(again.err.find("read from git notes") == std::string::npos);
}

TEST_CASE("registry: check --verify-registry reports a moved tag and a digest that does not exist",
          "[registry_server][check]")
{
  const RegistryFixture& f = registry_fixture();
  const TestRegistry& reg = f.open;
  TempDir tmp;
  const std::string repository = unique_repository("check");
  ImageSpec spec;
  spec.salt = "one";
  const PushedImage one = push_image(reg, repository + ":v1", spec);
  spec.salt = "two";
  const PushedImage two = push_image(reg, repository + ":v2", spec);
  const std::string base = reg.host + "/" + repository;
  const std::string absent = "sha256:" + std::string(64, 'a');
  const auto check = [&](const std::string& image) {
    (void)tmp.write("deploy/app.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
                                       "    - name: c\n      image: " +
                                           image + "\n");
    return ct(tmp, {"check", (tmp / "deploy").string(), "--verify-registry", "--insecure-registry", reg.host,
                    "--format", "json"});
  };
  SECTION("pinned and true: clean")
  {
    const RunResult r = check(base + ":v1@" + one.digest);
    INFO(show(r));
    CHECK(r.exit_code == 0);
    CHECK(json::parse(r.out).at("findings").empty());
  }
  SECTION("the tag written beside the digest points elsewhere: tag-digest-mismatch, a warning")
  {
    const RunResult r = check(base + ":v2@" + one.digest);
    INFO(show(r));
    CHECK(r.exit_code == 0);
    const json findings = json::parse(r.out).at("findings");
    REQUIRE(findings.size() == 1);
    CHECK(findings[0].at("rule") == "tag-digest-mismatch");
    CHECK(findings[0].at("severity") == "warning");
    CHECK(findings[0].at("message").get<std::string>().find(two.digest) != std::string::npos);
  }
  SECTION("a digest the registry does not have: digest-not-found, an error (exit 1)")
  {
    const RunResult r = check(base + ":v1@" + absent);
    INFO(show(r));
    CHECK(r.exit_code == 1);
    const json findings = json::parse(r.out).at("findings");
    REQUIRE(findings.size() == 1);
    CHECK(findings[0].at("rule") == "digest-not-found");
  }
  SECTION("without --verify-registry nothing is asked")
  {
    (void)tmp.write("deploy/app.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
                                       "    - name: c\n      image: " +
                                           base + ":v1@" + absent + "\n");
    const RunResult r = ct(tmp, {"check", (tmp / "deploy").string(), "--format", "json"});
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("registry: pin shows a diff (exit 1) and --write rewrites to tag@digest, keeping every other byte",
          "[registry_server][pin]")
{
  const RegistryFixture& f = registry_fixture();
  const std::string h = f.open.host;
  TempDir tmp;
  const std::string compose = "# the web tier\nservices:\n  web:\n    image: \"" + h +
                              "/fixture/app:v1\"   # keep this comment\n  worker:\n    image: " + h +
                              "/fixture/multi:v1\r\n  gone:\n    image: " + h + "/fixture/app:no-such-tag\n";
  const std::string dockerfile = "FROM --platform=$BUILDPLATFORM " + h + "/fixture/docker:v1 AS build\nRUN true\n";
  (void)tmp.write("src/compose.yaml", compose);
  (void)tmp.write("src/Dockerfile", dockerfile);
  const std::string app = f.image("open/fixture/app:v1").digest;
  const std::string multi = f.image("open/fixture/multi:v1").digest;
  const std::string docker = f.image("open/fixture/docker:v1").digest;

  const RunResult diff = ct(tmp, {"pin", (tmp / "src").string(), "--insecure-registry", h});
  INFO(show(diff));
  CHECK(diff.exit_code == 1);
  CHECK(diff.out.find("+    image: \"" + h + "/fixture/app:v1@" + app + "\"   # keep this comment") != std::string::npos);
  CHECK(diff.out.find("-    image: \"" + h + "/fixture/app:v1\"   # keep this comment") != std::string::npos);
  CHECK(diff.err.find("fixture/app:no-such-tag not found") != std::string::npos);
  CHECK(read_file(tmp / "src/compose.yaml") == compose); // nothing written without --write

  const RunResult write = ct(tmp, {"pin", (tmp / "src").string(), "--insecure-registry", h, "--write"});
  INFO(show(write));
  CHECK(write.exit_code == 0);
  std::string expected = compose;
  const auto put = [&expected](const std::string& from, const std::string& to) {
    const auto at = expected.find(from);
    REQUIRE(at != std::string::npos);
    expected.replace(at, from.size(), to);
  };
  put(h + "/fixture/app:v1\"", h + "/fixture/app:v1@" + app + "\"");
  put(h + "/fixture/multi:v1\r\n", h + "/fixture/multi:v1@" + multi + "\r\n");
  CHECK(read_file(tmp / "src/compose.yaml") == expected);
  CHECK(read_file(tmp / "src/Dockerfile")
        == "FROM --platform=$BUILDPLATFORM " + h + "/fixture/docker:v1@" + docker + " AS build\nRUN true\n");

  // Nothing left to pin but the tag that does not exist: exit 0 without --write means "nothing would change".
  const RunResult again = ct(tmp, {"pin", (tmp / "src").string(), "--insecure-registry", h});
  INFO(show(again));
  CHECK(again.exit_code == 0);
  CHECK(again.out.empty());
}

namespace {

// A docker-registry of the test's own serving https with a self-signed certificate for
// 127.0.0.1 (the shared fixture speaks plain http). Stopped when the object goes.
class TlsRegistry {
public:
  explicit TlsRegistry(const TempDir& tmp)
  {
    const fs::path dir = tmp / "tls";
    fs::create_directories(dir);
    m_cert = (dir / "cert.pem").string();
    const RunResult gen = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                               "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                               (dir / "key.pem").string(), "-out", m_cert});
    INFO(gen.err);
    REQUIRE(gen.exit_code == 0);
    const RunResult port = run({"python3", "-c",
                                "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"});
    REQUIRE(port.exit_code == 0);
    m_host = "127.0.0.1:" + port.out.substr(0, port.out.find('\n'));
    (void)tmp.write("tls/config.yml", "version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: " +
                                        (dir / "storage").string() + "}\nhttp:\n  addr: " + m_host +
                                        "\n  tls: {certificate: " + m_cert + ", key: " + (dir / "key.pem").string() +
                                        "}\n");
    m_pid = ::fork();
    REQUIRE(m_pid >= 0);
    if (m_pid == 0) {
      const std::string config = (dir / "config.yml").string();
      const std::string log = (dir / "registry.log").string();
      // The access log goes to stdout: both into the file, not into the test's output.
      (void)std::freopen(log.c_str(), "w", stderr);
      (void)std::freopen(log.c_str(), "a", stdout);
      ::execlp("docker-registry", "docker-registry", "serve", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (run({"curl", "-sk", "-o", "/dev/null", "https://" + m_host + "/v2/"}).exit_code == 0) {
        return;
      }
      ::usleep(100000);
    }
    FAIL("the TLS registry did not start: " << read_file(dir / "registry.log"));
  }
  ~TlsRegistry()
  {
    if (m_pid > 0) {
      ::kill(m_pid, SIGTERM);
      int status = 0;
      ::waitpid(m_pid, &status, 0);
    }
  }
  TlsRegistry(const TlsRegistry&) = delete;
  TlsRegistry& operator=(const TlsRegistry&) = delete;

  [[nodiscard]] const std::string& host() const { return m_host; }
  [[nodiscard]] const std::string& cert() const { return m_cert; }

private:
  std::string m_host;
  std::string m_cert;
  pid_t m_pid = -1;
};

} // namespace

TEST_CASE("registry: TLS is always verified; a private CA is trusted through SSL_CERT_FILE",
          "[registry_server][resolve][tls]")
{
  TempDir tmp;
  TlsRegistry tls(tmp);
  const TestRegistry reg{"tls", tls.host(), "", ""};
  ImageSpec spec;
  spec.salt = "tls";
  // skopeo pushes with verification off; changetrail never turns it off.
  const PushedImage pushed = push_image(reg, "acme/tls:v1", spec);
  GitRepo repo(tmp / "repo");
  deploy(repo, {pushed.reference});

  const RunResult untrusted = ct(tmp, {"resolve", "--repo", repo.str()});
  INFO(show(untrusted));
  CHECK(untrusted.exit_code == 3);
  CHECK(untrusted.err.find("[tls]") != std::string::npos);

  const RunResult trusted = ct(tmp, {"resolve", "--repo", repo.str(), "--format", "json"}, {"SSL_CERT_FILE=" + tls.cert()});
  INFO(show(trusted));
  REQUIRE(trusted.exit_code == 0);
  CHECK(by_reference(json::parse(trusted.out), pushed.reference).at("digest") == pushed.digest);
}

TEST_CASE("registry: resolve --all also asks about references of the history that were never observed",
          "[registry_server][resolve]")
{
  const RegistryFixture& f = registry_fixture();
  const std::string h = f.open.host;
  TempDir tmp;
  GitRepo repo(tmp / "repo");
  deploy(repo, {h + "/fixture/docker:v1"}, t(1));
  deploy(repo, {h + "/fixture/app:v1"}, t(2)); // docker:v1 is no longer deployed

  const json tip = resolve_json(tmp, repo, h);
  REQUIRE(tip.size() == 1);
  CHECK(tip[0].at("reference") == h + "/fixture/app:v1");

  const json all = resolve_json(tmp, repo, h, 0, {"--all"});
  REQUIRE(all.size() == 2);
  CHECK(by_reference(all, h + "/fixture/docker:v1").at("digest") == f.image("open/fixture/docker:v1").digest);

  // Everything of the history is observed now: --all adds nothing beyond the tip.
  const json again = resolve_json(tmp, repo, h, 0, {"--all"});
  CHECK(again.size() == 1);
}
