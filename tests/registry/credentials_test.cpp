// Tests of registry::CredentialStore and run_credential_helper (REGISTRY.md "Security"; the docker
// CLI's config file and credential-helper behaviour). Each test writes its own config.json in a
// temporary directory and its own helper scripts (docker-credential-<name>, `#!/bin/sh`) in a bin
// directory put first on PATH for the test.

#include "support/support.hpp"

#include <changetrail/registry/credentials.hpp>
#include <changetrail/util/error.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using changetrail::registry::Credential;
using changetrail::registry::CredentialLookup;
using changetrail::registry::CredentialStore;
using changetrail::registry::k_docker_hub_server;
using changetrail::registry::run_credential_helper;
using changetrail::test::TempDir;
using changetrail::util::Fatal;
using changetrail::util::InputError;

// Sets (or, with nullopt, unsets) an environment variable for the scope of one test.
class EnvVar {
public:
  EnvVar(const char* name, const std::optional<std::string>& value) : m_name(name)
  {
    if (const char* old = std::getenv(name); old != nullptr) {
      m_old = old;
    }
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;
  ~EnvVar()
  {
    if (m_old) {
      ::setenv(m_name, m_old->c_str(), 1);
    } else {
      ::unsetenv(m_name);
    }
  }

private:
  const char* m_name;
  std::optional<std::string> m_old;
};

std::string current_path()
{
  const char* p = std::getenv("PATH");
  return p != nullptr ? p : "/usr/bin:/bin";
}

// A temporary directory with docker/config.json and bin/ first on PATH.
class Setup {
public:
  Setup() : m_path("PATH", (m_dir.path() / "bin").string() + ":" + current_path())
  {
    fs::create_directories(m_dir.path() / "bin");
    fs::create_directories(m_dir.path() / "docker");
  }

  [[nodiscard]] std::string config_dir() const { return (m_dir.path() / "docker").string(); }
  [[nodiscard]] std::string config_path() const { return config_dir() + "/config.json"; }
  [[nodiscard]] const TempDir& dir() const { return m_dir; }

  CredentialStore load(const std::string& config_json) const
  {
    m_dir.write("docker/config.json", config_json);
    return CredentialStore::load(config_dir());
  }

  // bin/docker-credential-<name>: `#!/bin/sh` and `body`.
  void helper(const std::string& name, const std::string& body, bool executable = true) const
  {
    const fs::path p = m_dir.write("bin/docker-credential-" + name, "#!/bin/sh\n" + body);
    fs::permissions(p, executable ? fs::perms::owner_all : fs::perms::owner_read | fs::perms::owner_write);
  }

private:
  TempDir m_dir;
  EnvVar m_path;
};

// A helper that answers user-<server URL> / secret-<server URL>: the test sees exactly what was
// written on its stdin (a trailing newline would show) and that it was run as `<name> get`.
const std::string k_echo_helper = R"(
[ "$#" -eq 1 ] && [ "$1" = get ] || exit 3
url=$(cat; echo x)
url=${url%x}
printf '{"ServerURL":"%s","Username":"user-%s","Secret":"secret-%s"}\n' "$url" "$url" "$url"
)";

const std::string k_not_found_helper = R"(
cat >/dev/null
echo "credentials not found in native keychain"
exit 1
)";

// "user:pw", "hub:hubpass", "other:otherpw", "ghuser:ghpass" in base64.
const std::string k_user_pw = "dXNlcjpwdw==";
const std::string k_hub_auth = "aHViOmh1YnBhc3M=";
const std::string k_other_auth = "b3RoZXI6b3RoZXJwdw==";
const std::string k_gh_auth = "Z2h1c2VyOmdocGFzcw==";

std::string describe(const std::optional<Credential>& c)
{
  if (!c) {
    return "(none)";
  }
  return "username=" + c->username + " secret=" + c->secret + (c->identity_token ? " identity-token" : "");
}

std::string describe(const CredentialLookup& l)
{
  return describe(l.credential) + " from " + l.source;
}

template <typename Error, typename F> std::string error_of(F&& f)
{
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no exception of the expected type)";
}

} // namespace

TEST_CASE("credentials: auths entries", "[registry][credentials]")
{
  const Setup setup;

  SECTION("auth is base64 user:password; hosts match case-insensitively")
  {
    const auto store = setup.load(R"({"auths": {"ghcr.io": {"auth": ")" + k_user_pw + R"("}}})");
    CHECK(store.path() == setup.config_path());
    CHECK(describe(store.lookup("ghcr.io")) == "username=user secret=pw from auths");
    CHECK(describe(store.lookup("GHCR.io")) == "username=user secret=pw from auths");
    CHECK(describe(store.lookup("quay.io")) == "(none) from ");
  }
  SECTION("username and password fields")
  {
    const auto store =
        setup.load(R"({"auths": {"registry.example.com:5000": {"username": "alice", "password": "s3cret"}}})");
    CHECK(describe(store.lookup("registry.example.com:5000")) == "username=alice secret=s3cret from auths");
    // The port is part of the key.
    CHECK(describe(store.lookup("registry.example.com")) == "(none) from ");
  }
  SECTION("auth wins over the separate fields")
  {
    const auto store = setup.load(R"({"auths": {"ghcr.io": {"auth": ")" + k_user_pw +
                                  R"(", "username": "alice", "password": "s3cret"}}})");
    CHECK(describe(store.lookup("ghcr.io")) == "username=user secret=pw from auths");
  }
  SECTION("password holding colons; unpadded base64; NUL padding of old clients")
  {
    const auto store = setup.load(R"({"auths": {
      "a.example": {"auth": "dXNlcjpwYTpzcw=="},
      "b.example": {"auth": "dXNlcjpwdw"},
      "c.example": {"auth": "dTpwAAA="}}})");
    CHECK(describe(store.lookup("a.example")) == "username=user secret=pa:ss from auths");
    CHECK(describe(store.lookup("b.example")) == "username=user secret=pw from auths");
    CHECK(describe(store.lookup("c.example")) == "username=u secret=p from auths");
  }
  SECTION("identitytoken (Azure's empty-password form)")
  {
    const auto store = setup.load(R"({"auths": {"myregistry.azurecr.io": {
      "auth": "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==", "identitytoken": "eyJhbGciOi.refresh"}}})");
    CHECK(describe(store.lookup("myregistry.azurecr.io")) ==
          "username=00000000-0000-0000-0000-000000000000 secret=eyJhbGciOi.refresh identity-token from auths");
  }
  SECTION("empty entries left by docker login with a credsStore are no credential")
  {
    const auto store = setup.load(R"({"auths": {"ghcr.io": {}, "quay.io": {"auth": ""}}})");
    CHECK(describe(store.lookup("ghcr.io")) == "(none) from ");
    CHECK(describe(store.lookup("quay.io")) == "(none) from ");
  }
  SECTION("keys written as URLs match by host[:port]")
  {
    const auto store = setup.load(R"({"auths": {
      "http://localhost:5000/v2/": {"auth": ")" +
                                  k_user_pw + R"("},
      "https://Registry.Example.com/": {"auth": ")" +
                                  k_other_auth + R"("}}})");
    CHECK(describe(store.lookup("localhost:5000")) == "username=user secret=pw from auths");
    CHECK(describe(store.lookup("localhost")) == "(none) from ");
    CHECK(describe(store.lookup("registry.example.com")) == "username=other secret=otherpw from auths");
  }
  SECTION("the key in lookup form wins over a URL variant of the same host")
  {
    const auto store = setup.load(R"({"auths": {
      "ghcr.io": {"auth": ")" + k_gh_auth +
                                  R"("},
      "https://ghcr.io/v1/": {"auth": ")" +
                                  k_other_auth + R"("},
      "docker.io": {"auth": ")" + k_other_auth +
                                  R"("},
      "https://index.docker.io/v1/": {"auth": ")" +
                                  k_hub_auth + R"("}}})");
    CHECK(describe(store.lookup("ghcr.io")) == "username=ghuser secret=ghpass from auths");
    CHECK(describe(store.lookup("docker.io")) == "username=hub secret=hubpass from auths");
  }
}

TEST_CASE("credentials: Docker Hub key variants", "[registry][credentials]")
{
  const Setup setup;
  const std::vector<std::string> keys = {
      std::string(k_docker_hub_server),   "index.docker.io",           "docker.io", "registry-1.docker.io",
      "https://registry-1.docker.io/v2/", "http://index.docker.io/v1/"};
  for (const auto& key : keys) {
    const auto store = setup.load(R"({"auths": {")" + key + R"(": {"auth": ")" + k_hub_auth + R"("}}})");
    for (const char* host : {"docker.io", "index.docker.io", "registry-1.docker.io", "Docker.IO"}) {
      INFO("key " << key << ", lookup " << host);
      CHECK(describe(store.lookup(host)) == "username=hub secret=hubpass from auths");
    }
    INFO("key " << key);
    CHECK(describe(store.lookup("ghcr.io")) == "(none) from ");
  }
}

TEST_CASE("credentials: credHelpers, then credsStore, then auths", "[registry][credentials]")
{
  const Setup setup;
  setup.helper("echo", k_echo_helper);
  setup.helper("store", R"(
url=$(cat)
printf '{"Username":"store-%s","Secret":"store-secret"}' "$url"
)");
  const std::string auths =
      R"("auths": {"ghcr.io": {"auth": ")" + k_gh_auth + R"("}, "quay.io": {"auth": ")" + k_other_auth + R"("}})";

  SECTION("all three")
  {
    const auto store = setup.load(R"({"credHelpers": {"ghcr.io": "echo"}, "credsStore": "store", )" + auths + "}");
    CHECK(describe(store.lookup("ghcr.io")) ==
          "username=user-ghcr.io secret=secret-ghcr.io from credHelpers[ghcr.io] (docker-credential-echo)");
    CHECK(describe(store.lookup("quay.io")) ==
          "username=store-quay.io secret=store-secret from credsStore (docker-credential-store)");
    CHECK(describe(store.lookup("other.example:8443")) ==
          "username=store-other.example:8443 secret=store-secret from credsStore (docker-credential-store)");
  }
  SECTION("no credsStore: auths for the hosts without a helper")
  {
    const auto store = setup.load(R"({"credHelpers": {"ghcr.io": "echo"}, )" + auths + "}");
    CHECK(describe(store.lookup("ghcr.io")) ==
          "username=user-ghcr.io secret=secret-ghcr.io from credHelpers[ghcr.io] (docker-credential-echo)");
    CHECK(describe(store.lookup("quay.io")) == "username=other secret=otherpw from auths");
  }
  SECTION("command-line override first")
  {
    auto store = setup.load(R"({"credHelpers": {"ghcr.io": "echo"}, "credsStore": "store", )" + auths + "}");
    store.set_override("GHCR.IO", Credential{"cli", "clipw", false});
    CHECK(describe(store.lookup("ghcr.io")) == "username=cli secret=clipw from --username");
    CHECK(describe(store.lookup("quay.io")) ==
          "username=store-quay.io secret=store-secret from credsStore (docker-credential-store)");
  }
  SECTION("Docker Hub: the helper is asked for https://index.docker.io/v1/")
  {
    const auto store = setup.load(R"({"credsStore": "echo"})");
    for (const char* host : {"docker.io", "registry-1.docker.io"}) {
      INFO(host);
      CHECK(describe(store.lookup(host)) ==
            "username=user-https://index.docker.io/v1/ secret=secret-https://index.docker.io/v1/ from credsStore "
            "(docker-credential-echo)");
    }
  }
  SECTION("credHelpers keyed by Docker Hub's URL key; host with a port")
  {
    const auto store =
        setup.load(R"({"credHelpers": {"https://index.docker.io/v1/": "echo", "localhost:5000": "echo"}})");
    CHECK(describe(store.lookup("docker.io")) ==
          "username=user-https://index.docker.io/v1/ secret=secret-https://index.docker.io/v1/ from "
          "credHelpers[docker.io] (docker-credential-echo)");
    CHECK(describe(store.lookup("localhost:5000")) ==
          "username=user-localhost:5000 secret=secret-localhost:5000 from credHelpers[localhost:5000] "
          "(docker-credential-echo)");
    CHECK(describe(store.lookup("localhost")) == "(none) from ");
  }
}

TEST_CASE("credentials: a helper's not found is final", "[registry][credentials]")
{
  // The docker CLI picks one store per host: with a helper configured, "not found" means anonymous
  // even when `auths` holds a password for the same host.
  const Setup setup;
  setup.helper("notfound", k_not_found_helper);
  const auto store = setup.load(R"({"credHelpers": {"ghcr.io": "notfound"}, "credsStore": "notfound",
    "auths": {"ghcr.io": {"auth": ")" +
                                k_gh_auth + R"("}, "quay.io": {"auth": ")" + k_other_auth + R"("}}})");
  CHECK(describe(store.lookup("ghcr.io")) == "(none) from credHelpers[ghcr.io] (docker-credential-notfound)");
  CHECK(describe(store.lookup("quay.io")) == "(none) from credsStore (docker-credential-notfound)");
}

TEST_CASE("credentials: run_credential_helper answers", "[registry][credentials]")
{
  const Setup setup;
  const std::chrono::milliseconds timeout{5000};

  SECTION("a credential")
  {
    setup.helper("echo", k_echo_helper);
    CHECK(describe(run_credential_helper("echo", "ghcr.io", timeout)) == "username=user-ghcr.io secret=secret-ghcr.io");
  }
  SECTION("an identity token")
  {
    setup.helper("token", R"(printf '{"ServerURL":"ghcr.io","Username":"<token>","Secret":"refresh-123"}')");
    CHECK(describe(run_credential_helper("token", "ghcr.io", timeout)) ==
          "username= secret=refresh-123 identity-token");
  }
  SECTION("not found")
  {
    setup.helper("notfound", k_not_found_helper);
    CHECK(describe(run_credential_helper("notfound", "ghcr.io", timeout)) == "(none)");
  }
  SECTION("empty answer")
  {
    setup.helper("empty", R"(printf '{"ServerURL":"ghcr.io","Username":"","Secret":""}')");
    CHECK(describe(run_credential_helper("empty", "ghcr.io", timeout)) == "(none)");
  }
  SECTION("a helper that exits without reading its stdin")
  {
    setup.helper("noread", R"(printf '{"Username":"u","Secret":"s"}')");
    CHECK(describe(run_credential_helper("noread", "ghcr.io", timeout)) == "username=u secret=s");
  }
}

TEST_CASE("credentials: failing helpers", "[registry][credentials]")
{
  const Setup setup;
  const std::chrono::milliseconds timeout{5000};

  SECTION("hangs: killed after the timeout, with its children")
  {
    setup.helper("hang", "sleep 30\necho '{}'\n");
    auto store = setup.load(R"({"credHelpers": {"ghcr.io": "hang"}})");
    store.helper_timeout = std::chrono::milliseconds(300);
    const auto start = std::chrono::steady_clock::now();
    CHECK(error_of<Fatal>([&] { (void)store.lookup("ghcr.io"); }) ==
          "credential helper docker-credential-hang did not answer within 300 ms; killed (registry ghcr.io)");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
  SECTION("prints garbage")
  {
    setup.helper("garbage", "echo 'Username: alice'\n");
    CHECK(
        error_of<Fatal>([&] { (void)run_credential_helper("garbage", "ghcr.io", timeout); }) ==
        R"(credential helper docker-credential-garbage printed something other than {"Username", "Secret"} JSON (registry ghcr.io))");
  }
  SECTION("JSON of the wrong shape")
  {
    setup.helper("shape", R"(printf '{"Username":"u","Secret":42}')");
    CHECK(
        error_of<Fatal>([&] { (void)run_credential_helper("shape", "ghcr.io", timeout); }) ==
        R"(credential helper docker-credential-shape printed something other than {"Username", "Secret"} JSON (registry ghcr.io))");
  }
  SECTION("prints the secret on stderr and stdout, then fails: the message holds neither")
  {
    setup.helper("leaky", R"(
echo "unlocking with password hunter2-SECRET" >&2
echo "error: hunter2-SECRET rejected"
exit 1
)");
    const std::string message = error_of<Fatal>([&] { (void)run_credential_helper("leaky", "ghcr.io", timeout); });
    CHECK(message == "credential helper docker-credential-leaky failed with exit status 1 (registry ghcr.io)");
    CHECK(message.find("hunter2") == std::string::npos);
  }
  SECTION("a lot of stderr does not block it")
  {
    setup.helper("chatty", R"(
head -c 300000 /dev/zero | tr '\0' x >&2
printf '{"Username":"u","Secret":"s"}'
)");
    CHECK(describe(run_credential_helper("chatty", "ghcr.io", timeout)) == "username=u secret=s");
  }
  SECTION("more than 64 KiB on stdout")
  {
    setup.helper("flood", "head -c 70000 /dev/zero | tr '\\0' x\n");
    CHECK(error_of<Fatal>([&] { (void)run_credential_helper("flood", "ghcr.io", timeout); }) ==
          "credential helper docker-credential-flood printed more than 64 KiB; killed (registry ghcr.io)");
  }
  SECTION("killed by a signal")
  {
    setup.helper("crash", "kill -9 $$\n");
    CHECK(error_of<Fatal>([&] { (void)run_credential_helper("crash", "ghcr.io", timeout); }) ==
          "credential helper docker-credential-crash was killed by signal 9 (registry ghcr.io)");
  }
  SECTION("missing from PATH")
  {
    auto store = setup.load(R"({"credHelpers": {"ghcr.io": "changetrail-test-missing"}})");
    CHECK(error_of<Fatal>([&] { (void)store.lookup("ghcr.io"); }) ==
          "credential helper docker-credential-changetrail-test-missing not found on PATH (registry ghcr.io)");
    auto hub = setup.load(R"({"credsStore": "changetrail-test-missing"})");
    CHECK(error_of<Fatal>([&] { (void)hub.lookup("index.docker.io"); }) ==
          "credential helper docker-credential-changetrail-test-missing not found on PATH (registry docker.io)");
  }
  SECTION("not executable")
  {
    setup.helper("noexec", "exit 0\n", false);
    CHECK(error_of<Fatal>([&] { (void)run_credential_helper("noexec", "ghcr.io", timeout); }) ==
          "credential helper docker-credential-noexec could not be started: Permission denied (registry ghcr.io)");
  }
}

TEST_CASE("credentials: bad helper names are refused", "[registry][credentials]")
{
  const Setup setup;
  CHECK(error_of<InputError>([&] { (void)setup.load(R"({"credHelpers": {"ghcr.io": "../evil"}})"); }) ==
        setup.config_path() +
            R"(: credHelpers["ghcr.io"]: credential helper name "../evil" is not valid (allowed: A-Z a-z 0-9 . _ -))");
  CHECK(error_of<InputError>([&] { (void)setup.load(R"({"credsStore": "pass --debug"})"); }) ==
        setup.config_path() +
            R"(: credsStore: credential helper name "pass --debug" is not valid (allowed: A-Z a-z 0-9 . _ -))");
  for (const char* name : {"a/b", "", "x;rm", "x y", "/bin/sh"}) {
    INFO(name);
    CHECK(error_of<InputError>([&] { (void)run_credential_helper(name, "ghcr.io", std::chrono::seconds(1)); }) ==
          "credential helper name \"" + std::string(name) + "\" is not valid (allowed: A-Z a-z 0-9 . _ -)");
  }
}

TEST_CASE("credentials: bad config files", "[registry][credentials]")
{
  const Setup setup;
  const std::string path = setup.config_path();
  struct Case {
    std::string json;
    std::string error;
  };
  const std::vector<Case> cases = {
      // Truncated: 50 bytes, the error is at the end of the input (byte 51, counted from 1).
      {R"({"auths": {"ghcr.io": {"auth": "c2VjcmV0LXZhbHVl"})", path + ": not valid JSON (at byte 51)"},
      {"[1, 2]", path + ": not a JSON object"},
      {R"({"auths": []})", path + ": auths must be an object"},
      {R"({"auths": {"ghcr.io": "c2VjcmV0LXZhbHVl"}})", path + R"(: auths["ghcr.io"] must be an object)"},
      {R"({"auths": {"ghcr.io": {"auth": 12}}})", path + R"(: auths["ghcr.io"].auth must be a string)"},
      {R"({"auths": {"ghcr.io": {"password": ["secret-value"]}}})",
       path + R"(: auths["ghcr.io"].password must be a string)"},
      {R"({"auths": {"ghcr.io": {"auth": "c2VjcmV0!LXZhbHVl"}}})",
       path + R"(: auths["ghcr.io"].auth is not valid base64)"},
      {R"({"auths": {"ghcr.io": {"auth": "c2VjcmV0LXZhbHVl"}}})",
       path + R"(: auths["ghcr.io"].auth is not base64 of "user:password")"},
      {R"({"auths": {"ghcr.io": {"auth": "OnNlY3JldC12YWx1ZQ=="}}})",
       path + R"(: auths["ghcr.io"].auth is not base64 of "user:password")"},
      {R"({"auths": {"ghcr.io": {"auth": "c2Vj=cmV0"}}})", path + R"(: auths["ghcr.io"].auth is not valid base64)"},
      {R"({"auths": {"ghcr.io": {"auth": "c2VjcmV0L"}}})", path + R"(: auths["ghcr.io"].auth is not valid base64)"},
      {R"({"credHelpers": ["pass"]})", path + ": credHelpers must be an object"},
      {R"({"credHelpers": {"ghcr.io": 1}})", path + R"(: credHelpers["ghcr.io"] must be a string)"},
      {R"({"credsStore": {"name": "pass"}})", path + ": credsStore must be a string"},
  };
  SECTION("wrong JSON or wrong shapes")
  {
    for (const auto& c : cases) {
      INFO(c.json);
      const std::string message = error_of<InputError>([&] { (void)setup.load(c.json); });
      CHECK(message == c.error);
      // "c2VjcmV0LXZhbHVl" is base64 of "secret-value": neither form may show.
      CHECK(message.find("c2VjcmV0") == std::string::npos);
      CHECK(message.find("secret-value") == std::string::npos);
    }
  }
  SECTION("config.json is a directory")
  {
    fs::create_directories(path);
    CHECK(error_of<InputError>([&] { (void)CredentialStore::load(setup.config_dir()); }) == path + ": is a directory");
  }
}

TEST_CASE("credentials: where config.json is found", "[registry][credentials]")
{
  const Setup setup;

  SECTION("no config file: an empty store")
  {
    const auto store = CredentialStore::load(setup.config_dir());
    CHECK(store.path().empty());
    CHECK(describe(store.lookup("ghcr.io")) == "(none) from ");
    const auto missing_dir = CredentialStore::load((setup.dir().path() / "no-such-dir").string());
    CHECK(missing_dir.path().empty());
  }
  SECTION("an empty file is an empty config")
  {
    const auto store = setup.load("  \n");
    CHECK(store.path() == setup.config_path());
    CHECK(describe(store.lookup("ghcr.io")) == "(none) from ");
  }
  SECTION("DOCKER_CONFIG")
  {
    setup.dir().write("docker/config.json", R"({"auths": {"ghcr.io": {"auth": ")" + k_gh_auth + R"("}}})");
    const EnvVar docker_config("DOCKER_CONFIG", setup.config_dir());
    const auto store = CredentialStore::load();
    CHECK(store.path() == setup.config_path());
    CHECK(describe(store.lookup("ghcr.io")) == "username=ghuser secret=ghpass from auths");
  }
  SECTION("$HOME/.docker without DOCKER_CONFIG")
  {
    setup.dir().write("home/.docker/config.json", R"({"auths": {"ghcr.io": {"auth": ")" + k_user_pw + R"("}}})");
    const EnvVar docker_config("DOCKER_CONFIG", std::nullopt);
    const EnvVar home("HOME", (setup.dir().path() / "home").string());
    const auto store = CredentialStore::load();
    CHECK(store.path() == (setup.dir().path() / "home/.docker/config.json").string());
    CHECK(describe(store.lookup("ghcr.io")) == "username=user secret=pw from auths");
  }
  SECTION("an explicit directory wins over DOCKER_CONFIG")
  {
    setup.dir().write("other/config.json", R"({"auths": {"ghcr.io": {"auth": ")" + k_user_pw + R"("}}})");
    const EnvVar docker_config("DOCKER_CONFIG", (setup.dir().path() / "other").string());
    const auto store = setup.load(R"({"auths": {"ghcr.io": {"auth": ")" + k_gh_auth + R"("}}})");
    CHECK(describe(store.lookup("ghcr.io")) == "username=ghuser secret=ghpass from auths");
  }
}
