// The registry fixture itself: what it promises about the standard images, authentication and pushes,
// checked with skopeo (an independent client) and plain HTTP requests.

#include "support/http_server.hpp"
#include "support/registry_fixture.hpp"
#include "support/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <random>
#include <unistd.h>

using namespace changetrail::test;
using nlohmann::json;

namespace {

constexpr std::string_view k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view k_oci_index = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view k_docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
constexpr std::string_view k_docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view k_all_manifest_types =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

RunResult skopeo_inspect(const TestRegistry& r, const std::string& reference,
                         const std::vector<std::string>& extra = {})
{
  std::vector<std::string> argv{skopeo_program(), "inspect", "--tls-verify=false"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!r.username.empty()) {
    argv.push_back("--creds");
    argv.push_back(r.username + ":" + r.password);
  }
  argv.push_back("docker://" + reference);
  return run(argv);
}

// The raw bytes a registry serves for `reference`; fails the test when skopeo cannot read them.
std::string raw_manifest(const TestRegistry& r, const std::string& reference)
{
  const RunResult result = skopeo_inspect(r, reference, {"--raw"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

// A repository name no other test (nor another run of this one) uses.
std::string unique_repository(const std::string& stem)
{
  static std::atomic<int> counter{0};
  std::random_device device;
  return "fixture-test/" + stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(device() % 100000);
}

std::string token_host(const RegistryFixture& f)
{
  const std::string rest = f.token_realm.substr(std::string("http://").size());
  return rest.substr(0, rest.find('/'));
}

std::string token_path(const RegistryFixture& f, const std::vector<std::string>& scopes)
{
  std::string target = "/token?service=" + f.token_service;
  for (const auto& s : scopes) {
    target += "&scope=" + s;
  }
  return target;
}

HttpHeaders basic_auth(const std::string& user, const std::string& password)
{
  return {{"Authorization", "Basic " + base64_encode(user + ":" + password)}};
}

json jwt_claims(const std::string& token)
{
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  REQUIRE(second != std::string::npos);
  std::string payload = token.substr(first + 1, second - first - 1);
  for (char& c : payload) {
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  return json::parse(base64_decode(payload));
}

std::vector<json> token_log_lines(const RegistryFixture& f)
{
  std::vector<json> lines;
  const std::string text = read_file(f.token_log);
  for (std::size_t at = 0; at < text.size();) {
    const auto eol = text.find('\n', at);
    lines.push_back(json::parse(text.substr(at, eol - at)));
    at = eol == std::string::npos ? text.size() : eol + 1;
  }
  return lines;
}

} // namespace

TEST_CASE("registry_fixture: three registries answer as configured", "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  CHECK(f.open.name == "open");
  CHECK(f.basic.name == "basic");
  CHECK(f.token.name == "token");
  CHECK(f.open.username.empty());
  CHECK_FALSE(f.basic.password.empty());
  CHECK_FALSE(f.token.password.empty());
  CHECK(f.token_realm.starts_with("http://127.0.0.1:"));
  CHECK(f.token_realm.ends_with("/token"));

  CHECK(http_fetch(f.open.host, "GET", "/v2/").status == 200);

  const HttpReply basic = http_fetch(f.basic.host, "GET", "/v2/");
  CHECK(basic.status == 401);
  CHECK(basic.header("WWW-Authenticate").starts_with("Basic realm="));

  const HttpReply token = http_fetch(f.token.host, "GET", "/v2/");
  CHECK(token.status == 401);
  const std::string challenge = token.header("WWW-Authenticate");
  CHECK(challenge.starts_with("Bearer "));
  CHECK(challenge.find("realm=\"" + f.token_realm + "\"") != std::string::npos);
  CHECK(challenge.find("service=\"" + f.token_service + "\"") != std::string::npos);
}

TEST_CASE("registry_fixture: each standard image's digest is the sha256 of what the registry serves",
          "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  const std::map<std::string, std::string_view> media_types{
      {"fixture/app:v1", k_oci_manifest},       {"fixture/docker:v1", k_docker_manifest},
      {"fixture/multi:v1", k_oci_index},        {"fixture/annotated:v1", k_oci_manifest},
      {"fixture/dockerlist:v1", k_docker_list}, {"public/app:v1", k_oci_manifest},
  };
  for (const TestRegistry* r : f.registries()) {
    for (const auto& [repository_tag, media_type] : media_types) {
      const std::string key = r->name + "/" + repository_tag;
      INFO(key);
      const PushedImage& image = f.image(key);
      CHECK(image.reference == r->host + "/" + repository_tag);
      CHECK(image.media_type == media_type);
      const std::string raw = raw_manifest(*r, image.reference);
      CHECK(sha256_digest(raw) == image.digest);
      CHECK(json::parse(raw).at("mediaType") == media_type);
      // By digest too: the registry stores the very bytes skopeo pushed.
      CHECK(raw_manifest(*r, r->host + "/" + repository_tag.substr(0, repository_tag.find(':')) + "@" + image.digest) ==
            raw);
    }
  }
  CHECK(f.images.size() == media_types.size() * 3);
}

TEST_CASE("registry_fixture: the multi-arch index lists two platforms and an attestation", "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  const PushedImage& multi = f.image("open/fixture/multi:v1");
  REQUIRE(multi.platforms.size() == 2);
  CHECK(multi.platforms[0].first == "linux/amd64");
  CHECK(multi.platforms[1].first == "linux/arm64");
  CHECK(multi.platforms[0].second != multi.platforms[1].second);
  CHECK(multi.config_digest.empty());

  const json index = json::parse(raw_manifest(f.open, multi.reference));
  REQUIRE(index.at("manifests").size() == 3);
  const json& attestation = index.at("manifests")[2];
  CHECK(attestation.at("platform").at("os") == "unknown");
  CHECK(attestation.at("platform").at("architecture") == "unknown");
  CHECK(attestation.at("annotations").at("vnd.docker.reference.type") == "attestation-manifest");
  CHECK(attestation.at("annotations").at("vnd.docker.reference.digest") == multi.platforms[0].second);
  CHECK(index.at("annotations").at("org.opencontainers.image.source") == "https://github.com/acme/multi");
  CHECK(index.at("annotations").at("org.opencontainers.image.revision").get<std::string>().size() == 40);

  // Each platform image is there, with the labels in its config.
  const RunResult config =
      skopeo_inspect(f.open, f.open.host + "/fixture/multi@" + multi.platforms[1].second, {"--config", "--raw"});
  REQUIRE(config.exit_code == 0);
  const json c = json::parse(config.out);
  CHECK(c.at("architecture") == "arm64");
  CHECK(c.at("config").at("Labels").at("org.opencontainers.image.source") == "https://github.com/acme/multi");

  const PushedImage& list = f.image("basic/fixture/dockerlist:v1");
  CHECK(list.platforms.size() == 2);
  const json docker_list = json::parse(raw_manifest(f.basic, list.reference));
  CHECK(docker_list.at("manifests").size() == 2);
  for (const auto& entry : docker_list.at("manifests")) {
    CHECK(entry.at("mediaType") == k_docker_manifest);
  }
}

TEST_CASE("registry_fixture: labels in the config, annotations in the manifest", "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  for (const TestRegistry* r : f.registries()) {
    INFO(r->name);
    const PushedImage& app = f.image(r->name + "/fixture/app:v1");
    const RunResult config = skopeo_inspect(*r, app.reference, {"--config", "--raw"});
    REQUIRE(config.exit_code == 0);
    CHECK(sha256_digest(config.out) == app.config_digest);
    const json labels = json::parse(config.out).at("config").at("Labels");
    CHECK(labels.at("org.opencontainers.image.revision") == "0123456789abcdef0123456789abcdef01234567");
    CHECK(labels.at("org.opencontainers.image.source") == "https://github.com/acme/app");
    CHECK(labels.at("org.opencontainers.image.created") == "2026-11-20T10:00:00Z");
    CHECK(labels.at("org.opencontainers.image.version") == "1.0.0");

    const PushedImage& docker = f.image(r->name + "/fixture/docker:v1");
    const RunResult docker_config = skopeo_inspect(*r, docker.reference, {"--config", "--raw"});
    REQUIRE(docker_config.exit_code == 0);
    CHECK(json::parse(docker_config.out).at("config").at("Labels").at("org.opencontainers.image.source") ==
          "https://github.com/acme/docker");

    const PushedImage& annotated = f.image(r->name + "/fixture/annotated:v1");
    const json manifest = json::parse(raw_manifest(*r, annotated.reference));
    CHECK(manifest.at("annotations").at("org.opencontainers.image.source") == "https://github.com/acme/annotated");
    CHECK(manifest.at("annotations").size() == 4);
    const RunResult annotated_config = skopeo_inspect(*r, annotated.reference, {"--config", "--raw"});
    REQUIRE(annotated_config.exit_code == 0);
    CHECK_FALSE(json::parse(annotated_config.out).at("config").contains("Labels"));
  }
}

TEST_CASE("registry_fixture: the basic registry refuses wrong credentials", "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  const std::string target = "/v2/fixture/app/manifests/v1";
  const auto head = [&](const std::string& password) {
    HttpHeaders headers{{"Accept", std::string(k_all_manifest_types)}};
    if (!password.empty()) {
      headers.emplace_back(basic_auth(f.basic.username, password).front());
    }
    return http_fetch(f.basic.host, "HEAD", target, headers);
  };
  CHECK(head(f.basic.password).status == 200);
  CHECK(head(f.basic.password).header("Docker-Content-Digest") == f.image("basic/fixture/app:v1").digest);
  CHECK(head("wrong").status == 401);
  CHECK(head("").status == 401);
  // Without an Accept header an OCI manifest is "not found" (REGISTRY.md, HTTP flow 3).
  CHECK(http_fetch(f.basic.host, "HEAD", target, basic_auth(f.basic.username, f.basic.password)).status == 404);

  TestRegistry wrong = f.basic;
  wrong.password = "not-the-password";
  const RunResult r = skopeo_inspect(wrong, f.image("basic/fixture/app:v1").reference, {"--raw"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("not-the-password") == std::string::npos);
}

TEST_CASE("registry_fixture: the token server grants what the rules say and logs each request", "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  const std::string host = token_host(f);
  const std::string app_pull = "repository:fixture/app:pull";
  const HttpHeaders accept{{"Accept", std::string(k_all_manifest_types)}};
  const auto head_with = [&](const std::string& token, const std::string& repository) {
    HttpHeaders headers = accept;
    headers.emplace_back("Authorization", "Bearer " + token);
    return http_fetch(f.token.host, "HEAD", "/v2/" + repository + "/manifests/v1", headers);
  };

  SECTION("valid credentials get the actions asked for")
  {
    const HttpReply reply =
        http_fetch(host, "GET", token_path(f, {"repository:fixture/app:pull,push", "repository:fixture/multi:pull"}),
                   basic_auth(f.token.username, f.token.password));
    REQUIRE(reply.status == 200);
    const json body = json::parse(reply.body);
    CHECK(body.at("expires_in") == 300);
    CHECK(body.at("token") == body.at("access_token"));
    CHECK(body.at("issued_at").get<std::string>().ends_with("Z"));
    const json claims = jwt_claims(body.at("token"));
    CHECK(claims.at("aud") == f.token_service); // a string: registry 2.8 refuses an array
    CHECK(claims.at("sub") == f.token.username);
    REQUIRE(claims.at("access").size() == 2);
    CHECK(claims.at("access")[0].at("actions") == json{"pull", "push"});
    CHECK(head_with(body.at("token"), "fixture/app").status == 200);
    CHECK(head_with(body.at("token"), "fixture/multi").header("Docker-Content-Digest") ==
          f.image("token/fixture/multi:v1").digest);
    // A token for other repositories does not open this one.
    CHECK(head_with(body.at("token"), "fixture/docker").status == 401);
  }

  SECTION("anonymous requests get an empty access list, except pull under public/")
  {
    const HttpReply reply = http_fetch(host, "GET", token_path(f, {app_pull}));
    REQUIRE(reply.status == 200);
    const std::string token = json::parse(reply.body).at("token");
    CHECK(jwt_claims(token).at("access").empty());
    const HttpReply refused = head_with(token, "fixture/app");
    CHECK(refused.status == 401);
    // Registry 2.8 says why in the challenge only; the body's code is a plain UNAUTHORIZED.
    CHECK(refused.header("WWW-Authenticate").find(R"(error="insufficient_scope")") != std::string::npos);
    CHECK(refused.header("WWW-Authenticate").find(R"(scope="repository:fixture/app:pull")") != std::string::npos);

    const HttpReply open_reply = http_fetch(host, "GET", token_path(f, {"repository:public/app:pull,push"}));
    REQUIRE(open_reply.status == 200);
    const std::string open_token = json::parse(open_reply.body).at("token");
    CHECK(jwt_claims(open_token).at("access")[0].at("actions") == json{"pull"});
    CHECK(head_with(open_token, "public/app").status == 200);
  }

  SECTION("wrong credentials get 401 and a JSON error")
  {
    const HttpReply reply = http_fetch(host, "GET", token_path(f, {app_pull}), basic_auth(f.token.username, "wrong"));
    CHECK(reply.status == 401);
    CHECK(json::parse(reply.body).at("errors")[0].at("code") == "UNAUTHORIZED");
  }

  SECTION("skopeo authenticates through it")
  {
    CHECK(sha256_digest(raw_manifest(f.token, f.image("token/fixture/app:v1").reference)) ==
          f.image("token/fixture/app:v1").digest);
    TestRegistry wrong = f.token;
    wrong.password = "wrong";
    CHECK(skopeo_inspect(wrong, f.image("token/fixture/app:v1").reference, {"--raw"}).exit_code != 0);
  }

  // Whatever the section did, the log holds neither the password nor a token.
  const std::string text = read_file(f.token_log);
  CHECK_FALSE(text.empty());
  CHECK(text.find(f.token.password) == std::string::npos);
  CHECK(text.find("eyJ") == std::string::npos); // a JWT starts with the base64 of '{"'
}

TEST_CASE("registry_fixture: token.log tells anonymous, refused and granted requests apart", "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  const std::string marker = unique_repository("log");
  const std::string scope = "repository:" + marker + ":pull";
  http_fetch(token_host(f), "GET", token_path(f, {scope}));
  http_fetch(token_host(f), "GET", token_path(f, {scope}), basic_auth(f.token.username, "wrong"));
  http_fetch(token_host(f), "GET", token_path(f, {scope}), basic_auth(f.token.username, f.token.password));
  std::vector<json> mine;
  for (const auto& line : token_log_lines(f)) {
    if (line.at("scopes") == scope) {
      mine.push_back(line);
    }
  }
  REQUIRE(mine.size() == 3);
  CHECK(mine[0].at("credentials") == false);
  CHECK(mine[0].at("status") == 200);
  CHECK(mine[0].at("granted") == "");
  CHECK(mine[1].at("credentials") == true);
  CHECK(mine[1].at("valid") == false);
  CHECK(mine[1].at("status") == 401);
  CHECK(mine[2].at("valid") == true);
  CHECK(mine[2].at("granted") == scope);
}

// No ';' in test names: CMake would split the name in two.
TEST_CASE("registry_fixture: push_image with another salt moves the tag and delete_manifest removes it",
          "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  for (const TestRegistry* r : f.registries()) {
    INFO(r->name);
    const std::string repository = unique_repository("drift");
    ImageSpec spec;
    spec.labels = {{"org.opencontainers.image.revision", std::string(40, 'a')}};
    spec.salt = "one";
    const PushedImage first = push_image(*r, repository + ":v1", spec);
    spec.salt = "two";
    const PushedImage second = push_image(*r, repository + ":v1", spec);
    CHECK(first.digest != second.digest);
    CHECK(first.config_digest != second.config_digest);
    CHECK(sha256_digest(raw_manifest(*r, second.reference)) == second.digest);
    // The same spec and salt give the same digest again (content is deterministic).
    spec.salt = "one";
    CHECK(push_image(*r, repository + ":again", spec).digest == first.digest);

    delete_manifest(*r, repository, second.digest);
    CHECK(skopeo_inspect(*r, second.reference, {"--raw"}).exit_code != 0);
    CHECK(skopeo_inspect(*r, r->host + "/" + repository + "@" + second.digest, {"--raw"}).exit_code != 0);
    // The other manifest is untouched.
    CHECK(sha256_digest(raw_manifest(*r, r->host + "/" + repository + ":again")) == first.digest);
  }
}

TEST_CASE("registry_fixture: push_image variants", "[registry_fixture]")
{
  const RegistryFixture& f = registry_fixture();
  const std::string repository = unique_repository("variants");

  SECTION("OCI index with variant platform and attestation")
  {
    ImageSpec spec;
    spec.kind = ImageSpec::Kind::index;
    spec.platforms = {"linux/amd64", "linux/arm/v7"};
    spec.attestation = true;
    spec.annotations = {{"org.opencontainers.image.version", "2.0.0"}};
    const PushedImage image = push_image(f.open, repository + ":index", spec);
    CHECK(image.media_type == k_oci_index);
    REQUIRE(image.platforms.size() == 2);
    CHECK(image.platforms[1].first == "linux/arm/v7");
  }

  SECTION("Docker list with an unknown/unknown entry (no annotations in Docker lists)")
  {
    ImageSpec spec;
    spec.kind = ImageSpec::Kind::index;
    spec.docker_media_types = true;
    spec.attestation = true;
    const PushedImage image = push_image(f.token, repository + ":dockerlist", spec);
    CHECK(image.media_type == k_docker_list);
    CHECK(image.platforms.size() == 2);
    const json list = json::parse(raw_manifest(f.token, image.reference));
    REQUIRE(list.at("manifests").size() == 3);
    CHECK(list.at("manifests")[2].at("platform").at("os") == "unknown");
  }

  SECTION("errors name the command without the password")
  {
    TestRegistry wrong = f.basic;
    wrong.password = "secret-that-must-not-show";
    try {
      push_image(wrong, repository + ":v1", ImageSpec{});
      FAIL("push_image with a wrong password succeeded");
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      CHECK(message.find("skopeo") != std::string::npos);
      CHECK(message.find("copy") != std::string::npos);
      CHECK(message.find("secret-that-must-not-show") == std::string::npos);
    }
  }
}
