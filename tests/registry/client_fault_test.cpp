// Tests of registry::Client against fake registries built on test::HttpServer: the faults a real
// registry server cannot produce on demand (REGISTRY.md "HTTP flow", "Security", "Operations";
// docs/ARCHITECTURE.md "Registries (issue 4)"). One correct fake serves a fixed image and index;
// each test changes one thing about it through a hook and checks the typed answer, the request
// counters and what the fake received. The tests against a real registry are in tests/registry_server/.

#include "support/http_server.hpp"
#include "support/registry_fixture.hpp"
#include "support/support.hpp"

#include <changetrail/reference/reference.hpp>
#include <changetrail/registry/client.hpp>
#include <changetrail/registry/credentials.hpp>
#include <changetrail/util/strings.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace Catch {
template <>
struct StringMaker<changetrail::registry::Status> {
  static std::string convert(changetrail::registry::Status s) { return changetrail::registry::to_string(s); }
};
} // namespace Catch

namespace {

namespace registry = changetrail::registry;
namespace reference = changetrail::reference;
namespace util = changetrail::util;
using changetrail::test::base64_encode;
using changetrail::test::HttpRequest;
using changetrail::test::HttpResponse;
using changetrail::test::HttpServer;
using changetrail::test::sha256_digest;
using changetrail::test::TempDir;
using registry::Client;
using registry::Resolution;
using registry::Status;
using Catch::Matchers::Contains;
using json = nlohmann::ordered_json;
using namespace std::chrono_literals;

constexpr const char* k_oci_index = "application/vnd.oci.image.index.v1+json";
constexpr const char* k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* k_docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr const char* k_docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";

// ---- what the fake serves -------------------------------------------------------------------------

struct Image {
  json labels;
  std::string config;
  std::string config_digest;
  std::string manifest;
  std::string digest;
};

Image make_image(const std::string& arch, json labels)
{
  Image i;
  i.labels = std::move(labels);
  i.config = json{{"architecture", arch},
                  {"os", "linux"},
                  {"config", {{"Labels", i.labels}}},
                  {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}}
                 .dump();
  i.config_digest = sha256_digest(i.config);
  i.manifest = json{{"schemaVersion", 2},
                    {"mediaType", k_oci_manifest},
                    {"config",
                     {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                      {"digest", i.config_digest},
                      {"size", i.config.size()}}},
                    {"layers", json::array()}}
                   .dump();
  i.digest = sha256_digest(i.manifest);
  return i;
}

json labels(const std::string& revision, const std::string& version)
{
  return json{{"org.opencontainers.image.revision", revision},
              {"org.opencontainers.image.source", "https://example.test/acme/app"},
              {"org.opencontainers.image.created", "2024-05-01T10:00:00Z"},
              {"org.opencontainers.image.version", version},
              {"maintainer", "acme"}};
}

// Tag v1: an OCI image. Tag multi: an index listing linux/arm64 first, then linux/amd64 (the image
// of v1) and a buildkit-style unknown/unknown attestation.
struct Content {
  Image amd64 = make_image("amd64", labels("0123456789abcdef0123456789abcdef01234567", "1.2.3"));
  Image arm64 = make_image("arm64", labels("fedcba9876543210fedcba9876543210fedcba98", "1.2.3-arm64"));
  Image attestation = make_image("unknown", json::object());
  std::string index;
  std::string index_digest;
  std::map<std::string, std::string> manifests; // digest -> body
  std::map<std::string, std::string> tags;      // tag -> digest
  std::map<std::string, std::string> blobs;     // digest -> body

  Content()
  {
    const auto entry = [](const Image& i, const char* os, const char* arch) {
      return json{{"mediaType", k_oci_manifest},
                  {"digest", i.digest},
                  {"size", i.manifest.size()},
                  {"platform", {{"architecture", arch}, {"os", os}}}};
    };
    index = json{{"schemaVersion", 2},
                 {"mediaType", k_oci_index},
                 {"manifests",
                  {entry(arm64, "linux", "arm64"), entry(amd64, "linux", "amd64"),
                   entry(attestation, "unknown", "unknown")}}}
                .dump();
    index_digest = sha256_digest(index);
    for (const Image* i : {&amd64, &arm64, &attestation}) {
      manifests[i->digest] = i->manifest;
      blobs[i->config_digest] = i->config;
    }
    manifests[index_digest] = index;
    tags = {{"v1", amd64.digest}, {"multi", index_digest}};
  }
};

const Content& content()
{
  static const Content c;
  return c;
}

// ---- HTTP answers ---------------------------------------------------------------------------------

struct Route {
  std::string name; // repository
  std::string kind; // "manifests", "blobs" or empty
  std::string ref;  // tag or digest
};

Route route(const std::string& path)
{
  for (const char* kind : {"manifests", "blobs"}) {
    const std::string marker = std::string("/") + kind + "/";
    const auto at = path.rfind(marker);
    if (path.starts_with("/v2/") && at != std::string::npos && at > 4) {
      return Route{path.substr(4, at - 4), kind, path.substr(at + marker.size())};
    }
  }
  return {};
}

bool is_manifest(const HttpRequest& q, std::string_view method, std::string_view ref = {})
{
  const Route r = route(q.path);
  return q.method == method && r.kind == "manifests" && (ref.empty() || r.ref == ref);
}

bool is_blob(const HttpRequest& q, std::string_view ref)
{
  const Route r = route(q.path);
  return q.method == "GET" && r.kind == "blobs" && r.ref == ref;
}

HttpResponse answer(int status, std::string body = {}, changetrail::test::HttpHeaders headers = {})
{
  HttpResponse r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

HttpResponse error_answer(int status, const std::string& code)
{
  return answer(status, json{{"errors", {{{"code", code}, {"message", code}}}}}.dump(),
                {{"Content-Type", "application/json"}});
}

// A manifest as a registry serves it; `announced` empty: no Docker-Content-Digest header.
HttpResponse manifest_answer(const std::string& body, const std::string& announced)
{
  HttpResponse r = answer(200, body);
  const json doc = json::parse(body, nullptr, false);
  r.headers.emplace_back("Content-Type", doc.is_object() ? doc.value("mediaType", k_oci_manifest) : k_oci_manifest);
  if (!announced.empty()) {
    r.headers.emplace_back("Docker-Content-Digest", announced);
  }
  return r;
}

// What a correct registry answers; every repository holds the same content.
HttpResponse registry_answer(const HttpRequest& q)
{
  const Content& c = content();
  if (q.path == "/v2/") {
    return answer(200, "{}", {{"Content-Type", "application/json"}});
  }
  const Route r = route(q.path);
  if (r.kind == "manifests") {
    const auto tag = c.tags.find(r.ref);
    const std::string digest = tag != c.tags.end() ? tag->second : r.ref;
    if (const auto m = c.manifests.find(digest); m != c.manifests.end()) {
      return manifest_answer(m->second, digest);
    }
    return error_answer(404, "MANIFEST_UNKNOWN");
  }
  if (r.kind == "blobs") {
    if (const auto b = c.blobs.find(r.ref); b != c.blobs.end()) {
      return answer(200, b->second, {{"Content-Type", "application/octet-stream"}, {"Docker-Content-Digest", r.ref}});
    }
    return error_answer(404, "BLOB_UNKNOWN");
  }
  return error_answer(404, "NAME_UNKNOWN");
}

// An HttpServer whose answers come from `hook` first and from `fallback` where the hook has none:
// the correct behaviour with one thing changed.
class Fake {
public:
  using Hook = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

  Fake(Hook hook, HttpServer::Handler fallback)
    : m_hook(std::move(hook)), m_fallback(std::move(fallback)), m_server([this](const HttpRequest& q) {
        if (m_hook) {
          if (auto r = m_hook(q)) {
            return std::move(*r);
          }
        }
        return m_fallback(q);
      })
  {
  }

  [[nodiscard]] std::string host() const { return m_server.host(); }
  [[nodiscard]] int port() const { return m_server.port(); }
  [[nodiscard]] std::string ref(const std::string& rest) const { return host() + "/" + rest; }
  [[nodiscard]] std::vector<HttpRequest> requests() const { return m_server.requests(); }
  [[nodiscard]] std::size_t count(std::string_view method, std::string_view path) const
  {
    const auto all = requests();
    return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](const HttpRequest& q) {
      return q.method == method && q.path == path;
    }));
  }

private:
  Hook m_hook;
  HttpServer::Handler m_fallback;
  HttpServer m_server;
};

Fake fake_registry(Fake::Hook hook = {})
{
  return Fake(std::move(hook), registry_answer);
}

// A token server: tok-1, tok-2, ... in the order asked.
Fake token_server(Fake::Hook hook = {})
{
  auto issued = std::make_shared<std::atomic<int>>(0);
  return Fake(std::move(hook), [issued](const HttpRequest&) {
    return answer(200, json{{"token", "tok-" + std::to_string(++*issued)}, {"expires_in", 300}}.dump(),
                  {{"Content-Type", "application/json"}});
  });
}

// A server that answers only what its hook answers (object storage behind a redirect).
Fake plain_server(Fake::Hook hook)
{
  return Fake(std::move(hook), [](const HttpRequest&) { return error_answer(404, "NOT_FOUND"); });
}

// The first hook that answers.
Fake::Hook chain(std::vector<Fake::Hook> hooks)
{
  return [hooks = std::move(hooks)](const HttpRequest& q) -> std::optional<HttpResponse> {
    for (const auto& h : hooks) {
      if (auto r = h(q)) {
        return r;
      }
    }
    return std::nullopt;
  };
}

std::string realm_of(const Fake& tokens, const std::string& host_name = "127.0.0.1")
{
  return "http://" + host_name + ":" + std::to_string(tokens.port()) + "/token";
}

// HEAD of tag v1 announces no digest, so the client has to GET the manifest: that GET gets `get`.
Fake::Hook get_answers(HttpResponse get)
{
  return [get = std::move(get)](const HttpRequest& q) -> std::optional<HttpResponse> {
    if (is_manifest(q, "HEAD", "v1")) {
      return manifest_answer(content().amd64.manifest, "");
    }
    if (is_manifest(q, "GET", "v1")) {
      return get;
    }
    return std::nullopt;
  };
}

// A registry of Docker's token authentication: GET /v2/ and every request without a token get a
// Bearer challenge naming `realm`; a token for which `refuse` is true gets 401 invalid_token.
Fake::Hook bearer_guard(const std::string& realm, std::function<bool(std::string_view token)> refuse = {})
{
  return [realm, refuse](const HttpRequest& q) -> std::optional<HttpResponse> {
    std::string challenge = "Bearer realm=\"" + realm + "\",service=\"fake\"";
    if (const Route r = route(q.path); !r.kind.empty()) {
      challenge += ",scope=\"repository:" + r.name + ":pull\"";
    }
    const std::string auth = q.header("Authorization");
    if (!auth.starts_with("Bearer ")) {
      return answer(401, "{}", {{"WWW-Authenticate", challenge}});
    }
    if (refuse && refuse(std::string_view(auth).substr(7))) {
      return answer(401, "{}", {{"WWW-Authenticate", challenge + ",error=\"invalid_token\""}});
    }
    return std::nullopt;
  };
}

// A registry of Basic authentication that accepts exactly `authorization`.
Fake::Hook basic_guard(const std::string& authorization)
{
  return [authorization](const HttpRequest& q) -> std::optional<HttpResponse> {
    if (q.header("Authorization") != authorization) {
      return answer(401, "{}", {{"WWW-Authenticate", "Basic realm=\"fake\""}});
    }
    return std::nullopt;
  };
}

// ---- the client -----------------------------------------------------------------------------------

registry::Options fast_options()
{
  registry::Options o;
  o.insecure_hosts = {"127.0.0.1"};
  o.timeout = 5s;
  o.connect_timeout = 2s;
  o.max_tries = 3;
  o.backoff = 10ms;
  o.max_retry_after = 3s;
  return o;
}

// No config.json in `dir`: anonymous.
registry::CredentialStore anonymous(const TempDir& dir)
{
  return registry::CredentialStore::load((dir / "anonymous").string());
}

constexpr const char* k_user = "fault-user";
constexpr const char* k_password = "fault-s3cret-pass";

std::string basic_header()
{
  return "Basic " + base64_encode(std::string(k_user) + ":" + k_password);
}

// A config.json with `auths` for `host`.
registry::CredentialStore with_credentials(const TempDir& dir, const std::string& host)
{
  const json config{{"auths", {{host, {{"auth", base64_encode(std::string(k_user) + ":" + k_password)}}}}}};
  dir.write("docker/config.json", config.dump());
  return registry::CredentialStore::load((dir / "docker").string());
}

std::vector<Resolution> resolve(Client& c, const std::vector<std::string>& refs)
{
  std::vector<reference::Reference> parsed;
  for (const auto& r : refs) {
    parsed.push_back(reference::parse(r));
    INFO(r << ": " << parsed.back().error);
    REQUIRE(parsed.back().valid);
  }
  auto out = c.resolve(parsed);
  REQUIRE(out.size() == refs.size());
  return out;
}

Resolution resolve_one(Client& c, const std::string& ref)
{
  return resolve(c, {ref}).front();
}

// Every error a resolution carries, for the checks that no secret reaches one.
std::string all_errors(const Resolution& r)
{
  std::string out = r.metadata_error;
  for (const auto& l : {r.tag, r.pinned}) {
    if (l) {
      out += "\n" + l->error;
    }
  }
  return out;
}

void check_no_secret(const std::string& text)
{
  INFO(text);
  CHECK_THAT(text, !Contains(k_password));
  CHECK_THAT(text, !Contains(base64_encode(std::string(k_user) + ":" + k_password)));
  CHECK_THAT(text, !Contains("tok-"));
}

void check_amd64_metadata(const Resolution& r)
{
  const Image& img = content().amd64;
  INFO(r.metadata_error);
  REQUIRE(r.metadata);
  CHECK(r.metadata_error.empty());
  CHECK(r.metadata->revision == "0123456789abcdef0123456789abcdef01234567");
  CHECK(r.metadata->source == "https://example.test/acme/app");
  CHECK(r.metadata->created == "2024-05-01T10:00:00Z");
  CHECK(r.metadata->version == "1.2.3");
  CHECK(r.metadata->labels.size() == img.labels.size());
  CHECK(r.metadata->labels.at("maintainer") == "acme");
}

// The answer for tag v1: the amd64 image, its labels read.
void check_v1_answer(const Resolution& r)
{
  REQUIRE(r.tag);
  INFO(r.tag->error);
  CHECK(r.tag->status == Status::ok);
  CHECK(r.tag->digest == content().amd64.digest);
  check_amd64_metadata(r);
}

std::vector<std::string> split_list(const std::string& text)
{
  std::vector<std::string> out;
  for (const auto part : util::split(text, ',')) {
    out.emplace_back(util::trim(part));
  }
  return out;
}

} // namespace

// ---- 1. the correct registry ----------------------------------------------------------------------

TEST_CASE("Client against a correct fake registry", "[registry][client]")
{
  TempDir tmp;
  const Content& c = content();
  Fake reg = fake_registry();
  Client client(fast_options(), anonymous(tmp));

  SECTION("a tag: the HEAD's Docker-Content-Digest, labels from the verified config blob")
  {
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    CHECK(r.host == reg.host());
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::ok);
    CHECK(r.tag->digest == c.amd64.digest);
    CHECK(r.tag->media_type == k_oci_manifest);
    CHECK(r.tag->http_status == 200);
    CHECK(r.tag->error.empty());
    CHECK_FALSE(r.pinned);
    CHECK(r.deployed_digest() == c.amd64.digest);
    check_amd64_metadata(r);
    CHECK(r.metadata->digest == c.amd64.digest);
    CHECK(r.metadata->media_type == k_oci_manifest);
    CHECK(r.metadata->platforms.empty());

    const auto q = reg.requests();
    REQUIRE(q.size() == 4);
    CHECK((q[0].method == "GET" && q[0].path == "/v2/"));
    CHECK((q[1].method == "HEAD" && q[1].path == "/v2/acme/app/manifests/v1"));
    CHECK((q[2].method == "GET" && q[2].path == "/v2/acme/app/manifests/" + c.amd64.digest));
    CHECK((q[3].method == "GET" && q[3].path == "/v2/acme/app/blobs/" + c.amd64.config_digest));
    // REGISTRY.md step 3: all four media types, or the registry answers something else.
    const auto accept = split_list(q[1].header("Accept"));
    CHECK(std::set<std::string>(accept.begin(), accept.end())
          == std::set<std::string>{k_oci_index, k_oci_manifest, k_docker_list, k_docker_manifest});
    CHECK(accept.size() == 4);
    for (const auto& each : q) {
      CHECK(each.header("Authorization").empty()); // never challenged: never sent
    }
    CHECK(client.counters().requests == 4);
    CHECK(client.counters().retries == 0);
    CHECK(client.counters().token_requests == 0);
  }

  SECTION("an index: platforms without unknown/unknown, labels of linux/amd64")
  {
    const Resolution r = resolve_one(client, reg.ref("acme/app:multi"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::ok);
    CHECK(r.tag->digest == c.index_digest);
    CHECK(r.tag->media_type == k_oci_index);
    check_amd64_metadata(r);
    CHECK(r.metadata->digest == c.index_digest);
    CHECK(r.metadata->media_type == k_oci_index);
    REQUIRE(r.metadata->platforms.size() == 2);
    CHECK(r.metadata->platforms[0].platform == "linux/arm64");
    CHECK(r.metadata->platforms[0].digest == c.arm64.digest);
    CHECK(r.metadata->platforms[1].platform == "linux/amd64");
    CHECK(r.metadata->platforms[1].digest == c.amd64.digest);
    // The attestation and the arm64 image are never fetched.
    CHECK(reg.count("GET", "/v2/acme/app/manifests/" + c.attestation.digest) == 0);
    CHECK(reg.count("GET", "/v2/acme/app/manifests/" + c.arm64.digest) == 0);
    CHECK(reg.count("GET", "/v2/acme/app/blobs/" + c.amd64.config_digest) == 1);
  }

  SECTION("a tag and a digest: two lookups, both verified")
  {
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1@" + c.amd64.digest));
    REQUIRE(r.tag);
    REQUIRE(r.pinned);
    CHECK(r.tag->status == Status::ok);
    CHECK(r.pinned->status == Status::ok);
    CHECK(r.pinned->digest == c.amd64.digest);
    CHECK(reg.count("HEAD", "/v2/acme/app/manifests/v1") == 1);
    CHECK(reg.count("HEAD", "/v2/acme/app/manifests/" + c.amd64.digest) == 1);
    check_amd64_metadata(r);
  }

  SECTION("a tag that does not exist")
  {
    const Resolution r = resolve_one(client, reg.ref("acme/app:nope"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::not_found);
    CHECK(r.tag->http_status == 404);
    CHECK_THAT(r.tag->error, Contains(reg.host()) && Contains("nope"));
    CHECK_FALSE(r.metadata);
  }
}

// ---- 2. the digest from the body ------------------------------------------------------------------

TEST_CASE("Client hashes the GET body when HEAD gives no digest", "[registry][client]")
{
  TempDir tmp;
  const Content& c = content();
  Fake::Hook hook;
  SECTION("no Docker-Content-Digest at all")
  {
    hook = [&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_manifest(q, "HEAD") || is_manifest(q, "GET")) {
        HttpResponse r = registry_answer(q);
        std::erase_if(r.headers, [](const auto& h) { return util::iequals(h.first, "Docker-Content-Digest"); });
        return r;
      }
      return std::nullopt;
    };
  }
  SECTION("HEAD answered 405")
  {
    hook = [](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_manifest(q, "HEAD")) {
        return error_answer(405, "UNSUPPORTED");
      }
      return std::nullopt;
    };
  }
  Fake reg = fake_registry(hook);
  Client client(fast_options(), anonymous(tmp));
  const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
  REQUIRE(r.tag);
  INFO(r.tag->error);
  CHECK(r.tag->status == Status::ok);
  CHECK(r.tag->digest == c.amd64.digest);
  CHECK(r.tag->digest == sha256_digest(c.amd64.manifest));
  CHECK(r.tag->media_type == k_oci_manifest);
  const auto q = reg.requests();
  REQUIRE(q.size() >= 3);
  CHECK((q[1].method == "HEAD" && q[1].path == "/v2/acme/app/manifests/v1"));
  CHECK((q[2].method == "GET" && q[2].path == "/v2/acme/app/manifests/v1"));
  CHECK(reg.count("GET", "/v2/acme/app/manifests/v1") == 1);
  check_amd64_metadata(r);
}

// ---- 3. content that is not what it claims --------------------------------------------------------

TEST_CASE("Client reports content that does not hash to its digest", "[registry][client]")
{
  TempDir tmp;
  const Content& c = content();
  // A valid digest of content nobody serves.
  const std::string absent = sha256_digest("not served");

  SECTION("a manifest body whose Docker-Content-Digest is another digest")
  {
    Fake reg = fake_registry(get_answers(manifest_answer(c.amd64.manifest, c.arm64.digest)));
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::digest_mismatch);
    CHECK(r.tag->digest.empty());
    CHECK_THAT(r.tag->error, Contains(c.arm64.digest) && Contains(c.amd64.digest) && Contains(reg.host()));
    CHECK_FALSE(r.metadata);
  }

  SECTION("a pinned digest whose served content hashes to something else")
  {
    Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_manifest(q, "HEAD", absent)) {
        return manifest_answer(c.amd64.manifest, ""); // no header: the client has to GET and hash
      }
      if (is_manifest(q, "GET", absent)) {
        return manifest_answer(c.amd64.manifest, absent);
      }
      return std::nullopt;
    });
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app@" + absent));
    CHECK_FALSE(r.tag);
    REQUIRE(r.pinned);
    CHECK(r.pinned->status == Status::digest_mismatch);
    CHECK_THAT(r.pinned->error, Contains("hashes to " + c.amd64.digest));
    CHECK(r.status() == Status::digest_mismatch);
    CHECK_FALSE(r.metadata);
  }

  SECTION("a pinned digest the HEAD confirms but whose content hashes to something else")
  {
    // HEAD has no body to check: the lie shows only when the manifest is read for metadata.
    Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_manifest(q, "HEAD", absent) || is_manifest(q, "GET", absent)) {
        return manifest_answer(c.amd64.manifest, absent);
      }
      return std::nullopt;
    });
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app@" + absent));
    REQUIRE(r.pinned);
    CHECK(r.pinned->status == Status::ok);
    CHECK_FALSE(r.metadata);
    CHECK_THAT(r.metadata_error, Contains("hashes to " + c.amd64.digest));
  }

  SECTION("a config blob that does not hash to its digest: no metadata, the tag still answers")
  {
    Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_blob(q, c.amd64.config_digest)) {
        return answer(200, c.arm64.config);
      }
      return std::nullopt;
    });
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::ok);
    CHECK(r.tag->digest == c.amd64.digest);
    CHECK(r.status() == Status::ok);
    // Metadata is kept forever by digest: labels that could not be verified must not be stored
    // as "this image has no labels".
    CHECK_FALSE(r.metadata);
    CHECK_THAT(r.metadata_error, Contains(c.amd64.config_digest) && Contains("does not hash"));
  }

  SECTION("an index whose platform manifest does not hash to its digest: no metadata")
  {
    Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_manifest(q, "GET", c.amd64.digest)) {
        return manifest_answer(c.arm64.manifest, "");
      }
      return std::nullopt;
    });
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:multi"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::ok);
    CHECK(r.tag->digest == c.index_digest);
    CHECK_FALSE(r.metadata);
    CHECK_THAT(r.metadata_error, Contains("hashes to " + c.arm64.digest));
  }
}

// ---- 4. rate limits and server errors -------------------------------------------------------------

TEST_CASE("Client retries 429 and 5xx a bounded number of times", "[registry][client]")
{
  struct Case {
    const char* name;
    int failures; // the first HEADs of the tag that fail; -1: all of them
    HttpResponse failure;
    int max_tries;
    Status status;
    std::size_t heads; // HEADs of the tag the fake receives
    std::size_t retries;
    std::string error; // a part of the error
    std::chrono::milliseconds min_elapsed{0};
  };
  const Case cases[] = {
      {"429 with Retry-After: 1, then 200: waits a second", 1, answer(429, "{}", {{"Retry-After", "1"}}), 3,
       Status::ok, 2, 1, "", 1s},
      {"429 asking for longer than max_retry_after: rate limited at once", -1,
       answer(429, "{}", {{"Retry-After", "5"}}), 3, Status::rate_limited, 1, 0, "asked to wait 5 s"},
      {"429 forever: rate limited after max_tries", -1, answer(429, "{}"), 4, Status::rate_limited, 4, 3, "429"},
      {"503 then 200", 1, error_answer(503, "UNAVAILABLE"), 3, Status::ok, 2, 1, ""},
      {"500 forever: a protocol failure after max_tries", -1, error_answer(500, "INTERNAL"), 3, Status::protocol, 3, 2,
       "500"},
  };
  for (const Case& t : cases) {
    DYNAMIC_SECTION(t.name)
    {
      TempDir tmp;
      std::atomic<int> failed{0};
      Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
        if (is_manifest(q, "HEAD", "v1") && (t.failures < 0 || failed++ < t.failures)) {
          return t.failure;
        }
        return std::nullopt;
      });
      registry::Options o = fast_options();
      o.max_tries = t.max_tries;
      o.max_retry_after = 2s;
      Client client(o, anonymous(tmp));
      const auto start = std::chrono::steady_clock::now();
      const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
      const auto elapsed = std::chrono::steady_clock::now() - start;
      REQUIRE(r.tag);
      INFO(r.tag->error);
      CHECK(r.tag->status == t.status);
      CHECK(reg.count("HEAD", "/v2/acme/app/manifests/v1") == t.heads);
      CHECK(client.counters().retries == t.retries);
      CHECK(elapsed >= t.min_elapsed);
      if (t.status == Status::ok) {
        CHECK(r.tag->digest == content().amd64.digest);
      } else {
        CHECK(r.tag->http_status == t.failure.status);
        CHECK_THAT(r.tag->error, Contains(t.error) && Contains(reg.host()));
        CHECK_FALSE(r.metadata);
      }
    }
  }
}

// ---- 5. connection resets -------------------------------------------------------------------------

TEST_CASE("Client retries a reset connection", "[registry][client]")
{
  TempDir tmp;
  const std::string head_path = "/v2/acme/app/manifests/v1";
  std::atomic<int> resets{0};
  int failures = 0;
  SECTION("reset once, then an answer")
  {
    failures = 1;
  }
  SECTION("reset forever")
  {
    failures = 1000;
  }
  Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
    if (q.path == "/v2/") {
      // A fresh connection for the HEAD: on a reused one curl itself retries a reset once.
      return answer(200, "{}", {{"Connection", "close"}});
    }
    if (is_manifest(q, "HEAD", "v1") && resets++ < failures) {
      HttpResponse r;
      r.reset = true;
      return r;
    }
    return std::nullopt;
  });
  Client client(fast_options(), anonymous(tmp));
  const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
  REQUIRE(r.tag);
  INFO(r.tag->error);
  if (failures == 1) {
    CHECK(r.tag->status == Status::ok);
    CHECK(r.tag->digest == content().amd64.digest);
    CHECK(client.counters().retries == 1);
    CHECK(reg.count("HEAD", head_path) == 2);
  } else {
    CHECK(r.tag->status == Status::network);
    CHECK_THAT(r.tag->error, Contains(reg.host()));
    CHECK(client.counters().retries == 2);
    CHECK(reg.count("HEAD", head_path) == 3);
  }
}

// ---- 6. slow bodies -------------------------------------------------------------------------------

TEST_CASE("Client gives up on a body slower than the timeout", "[registry][client]")
{
  TempDir tmp;
  const Content& c = content();
  HttpResponse slow = manifest_answer(c.amd64.manifest, c.amd64.digest);
  slow.chunk_size = 16;
  slow.chunk_delay = 100ms; // about 2 s for the whole body
  Fake reg = fake_registry(get_answers(slow));
  registry::Options o = fast_options();
  o.timeout = 500ms;
  o.max_tries = 2;
  Client client(o, anonymous(tmp));
  const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
  REQUIRE(r.tag);
  CHECK(r.tag->status == Status::timeout);
  CHECK_THAT(r.tag->error, Contains(reg.host()));
  CHECK(reg.count("GET", "/v2/acme/app/manifests/v1") == 2);
  CHECK(client.counters().retries == 1);
}

// ---- 7. bodies over their cap ---------------------------------------------------------------------

TEST_CASE("Client caps bodies", "[registry][client]")
{
  TempDir tmp;
  const Content& c = content();

  SECTION("a manifest over 4 MiB")
  {
    bool omit_length = true;
    SECTION("without Content-Length (the write callback's cap)") {}
    SECTION("with Content-Length")
    {
      omit_length = false;
    }
    HttpResponse huge = manifest_answer(std::string(5 * 1024 * 1024, ' ') + c.amd64.manifest, "");
    huge.omit_content_length = omit_length;
    Fake reg = fake_registry(get_answers(huge));
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::too_large);
    CHECK_THAT(r.tag->error, Contains("4096 KiB") && Contains(reg.host()));
    CHECK(reg.count("GET", "/v2/acme/app/manifests/v1") == 1); // not retried
  }

  SECTION("a token answer over 1 MiB, without Content-Length")
  {
    Fake tokens = token_server([](const HttpRequest&) -> std::optional<HttpResponse> {
      HttpResponse r = answer(200, "{\"token\":\"tok-" + std::string(1536 * 1024, 'x') + "\"}");
      r.omit_content_length = true;
      return r;
    });
    Fake reg = fake_registry(bearer_guard(realm_of(tokens)));
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::too_large);
    CHECK_THAT(r.tag->error, Contains("1024 KiB"));
    CHECK(tokens.requests().size() == 1);
    CHECK(reg.count("HEAD", "/v2/acme/app/manifests/v1") == 0);
  }
}

// ---- 8. redirects ---------------------------------------------------------------------------------

TEST_CASE("Client follows redirects itself", "[registry][client]")
{
  TempDir tmp;
  const Content& c = content();
  const std::string blob_path = "/v2/acme/app/blobs/" + c.amd64.config_digest;

  SECTION("a blob redirected to another host:port gets no Authorization")
  {
    Fake storage = plain_server([&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (q.path == "/storage/" + c.amd64.config_digest) {
        return answer(200, c.amd64.config);
      }
      return std::nullopt;
    });
    Fake reg = fake_registry(chain({basic_guard(basic_header()), [&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_blob(q, c.amd64.config_digest)) {
        return answer(307, {},
                      {{"Location", "http://" + storage.host() + "/storage/" + c.amd64.config_digest + "?X-Sig=abc"}});
      }
      return std::nullopt;
    }}));
    Client client(fast_options(), with_credentials(tmp, reg.host()));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    check_v1_answer(r);
    const auto stored = storage.requests();
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].query == "X-Sig=abc");
    CHECK(stored[0].header("Authorization").empty());
    const auto asked = reg.requests();
    const auto blob = std::find_if(asked.begin(), asked.end(), [&](const HttpRequest& q) { return q.path == blob_path; });
    REQUIRE(blob != asked.end());
    CHECK(blob->header("Authorization") == basic_header());
  }

  SECTION("a redirect to the same host:port keeps Authorization")
  {
    const std::string moved = "/v2/acme/app/moved/" + c.amd64.config_digest;
    Fake reg = fake_registry(chain({basic_guard(basic_header()), [&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_blob(q, c.amd64.config_digest)) {
        return answer(307, {}, {{"Location", moved}});
      }
      if (q.path == moved) {
        return answer(200, c.amd64.config);
      }
      return std::nullopt;
    }}));
    Client client(fast_options(), with_credentials(tmp, reg.host()));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    check_v1_answer(r);
    const auto asked = reg.requests();
    const auto hop = std::find_if(asked.begin(), asked.end(), [&](const HttpRequest& q) { return q.path == moved; });
    REQUIRE(hop != asked.end());
    CHECK(hop->header("Authorization") == basic_header());
  }

  SECTION("5 redirects are followed, a 6th is a protocol error")
  {
    int redirects = 0;
    Status expected = Status::ok;
    SECTION("5")
    {
      redirects = 5;
    }
    SECTION("6")
    {
      redirects = 6;
      expected = Status::protocol;
    }
    // HEAD of the tag: ?hop=1, ?hop=2, ... then the real answer.
    Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
      const int hop = q.query.starts_with("hop=") ? std::stoi(q.query.substr(4)) : 0;
      if (is_manifest(q, "HEAD", "v1") && hop < redirects) {
        return answer(302, {}, {{"Location", q.path + "?hop=" + std::to_string(hop + 1)}});
      }
      return std::nullopt;
    });
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    REQUIRE(r.tag);
    INFO(r.tag->error);
    CHECK(r.tag->status == expected);
    CHECK(reg.count("HEAD", "/v2/acme/app/manifests/v1") == 6);
    if (expected == Status::protocol) {
      CHECK_THAT(r.tag->error, Contains("more than 5 redirects"));
    } else {
      CHECK(r.tag->digest == c.amd64.digest);
    }
  }
  // Not tested: https -> http downgrade (refused unless the target is insecure) needs a TLS server.
}

// ---- 9. Bearer tokens -----------------------------------------------------------------------------

TEST_CASE("Client fetches one Bearer token per scope", "[registry][client]")
{
  TempDir tmp;
  const Content& c = content();
  Fake tokens = token_server();
  Fake reg = fake_registry(bearer_guard(realm_of(tokens)));

  SECTION("several references of one repository: one token")
  {
    Client client(fast_options(), anonymous(tmp));
    const auto out = resolve(client, {reg.ref("acme/app:v1"), reg.ref("acme/app:multi"),
                                      reg.ref("acme/app@" + c.index_digest)});
    for (const auto& r : out) {
      INFO(r.ref.input << ": " << r.error());
      CHECK(r.status() == Status::ok);
      CHECK(r.metadata);
    }
    CHECK(out[0].tag->digest == c.amd64.digest);
    CHECK(out[1].tag->digest == c.index_digest);
    CHECK(out[2].pinned->digest == c.index_digest);
    CHECK(client.counters().token_requests == 1);
    const auto asked = tokens.requests();
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].path == "/token");
    CHECK(asked[0].query_values("service") == std::vector<std::string>{"fake"});
    CHECK(asked[0].query_values("scope") == std::vector<std::string>{"repository:acme/app:pull"});
    CHECK(asked[0].header("Authorization").empty()); // anonymous
    for (const auto& q : reg.requests()) {
      if (q.path != "/v2/") {
        CHECK(q.header("Authorization") == "Bearer tok-1");
      }
    }
  }

  SECTION("several repositories: one token per scope")
  {
    Client client(fast_options(), anonymous(tmp));
    const auto out = resolve(client, {reg.ref("acme/app:v1"), reg.ref("acme/other:v1"), reg.ref("acme/app:multi")});
    for (const auto& r : out) {
      CHECK(r.status() == Status::ok);
    }
    CHECK(client.counters().token_requests == 2);
    std::multiset<std::string> scopes;
    for (const auto& q : tokens.requests()) {
      for (const auto& s : q.query_values("scope")) {
        scopes.insert(s);
      }
    }
    CHECK(scopes == std::multiset<std::string>{"repository:acme/app:pull", "repository:acme/other:pull"});
    CHECK(reg.count("GET", "/v2/") == 1); // one ping per registry
  }

  SECTION("credentials go to the token server as Basic, never to the registry")
  {
    Client client(fast_options(), with_credentials(tmp, reg.host()));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    CHECK(r.status() == Status::ok);
    const auto asked = tokens.requests();
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].header("Authorization") == basic_header());
    const auto registry_requests = reg.requests();
    CHECK(registry_requests.size() == 4);
    for (const auto& q : registry_requests) {
      INFO(q.method << " " << q.path);
      const std::string auth = q.header("Authorization");
      CHECK((auth.empty() || auth == "Bearer tok-1"));
      CHECK_THAT(auth, !Contains(k_password) && !Contains("Basic"));
    }
  }
}

TEST_CASE("Client refreshes a rejected token once, never twice", "[registry][client]")
{
  TempDir tmp;
  const std::string head_path = "/v2/acme/app/manifests/v1";
  Fake tokens = token_server();
  bool refuse_all = false;
  SECTION("tok-1 rejected as invalid_token: one refresh, then ok") {}
  SECTION("every token rejected: unauthorized after one refresh")
  {
    refuse_all = true;
  }
  Fake reg = fake_registry(
      bearer_guard(realm_of(tokens), [&](std::string_view token) { return refuse_all || token == "tok-1"; }));
  Client client(fast_options(), with_credentials(tmp, reg.host()));
  const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
  REQUIRE(r.tag);
  CHECK(client.counters().token_requests == 2);
  CHECK(tokens.requests().size() == 2);
  CHECK(reg.count("HEAD", head_path) == 2);
  check_no_secret(all_errors(r));
  if (refuse_all) {
    CHECK(r.tag->status == Status::unauthorized);
    CHECK(r.tag->http_status == 401);
    CHECK_THAT(r.tag->error, Contains(reg.host()) && Contains("401"));
    CHECK_FALSE(r.metadata);
  } else {
    check_v1_answer(r);
  }
}

TEST_CASE("Client asks a token server that refuses only once", "[registry][client]")
{
  TempDir tmp;
  Fake tokens = token_server([](const HttpRequest&) -> std::optional<HttpResponse> {
    return error_answer(401, "UNAUTHORIZED");
  });
  Fake reg = fake_registry(bearer_guard(realm_of(tokens)));
  bool credentials = false;
  SECTION("anonymous") {}
  SECTION("with credentials")
  {
    credentials = true;
  }
  Client client(fast_options(), credentials ? with_credentials(tmp, reg.host()) : anonymous(tmp));
  const auto out = resolve(client, {reg.ref("acme/app:v1"), reg.ref("acme/app:multi")});
  for (const auto& r : out) {
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::unauthorized);
    CHECK_THAT(r.tag->error, Contains("token server"));
    check_no_secret(all_errors(r));
  }
  CHECK(tokens.requests().size() == 1);
  CHECK(client.counters().token_requests == 1);
  CHECK(reg.count("HEAD", "/v2/acme/app/manifests/v1") == 0);
}

TEST_CASE("Client never follows a redirect of the token server", "[registry][client]")
{
  TempDir tmp;
  Fake elsewhere = token_server();
  Fake tokens = token_server([&](const HttpRequest& q) -> std::optional<HttpResponse> {
    return answer(302, {}, {{"Location", realm_of(elsewhere) + "?" + q.query}});
  });
  Fake reg = fake_registry(bearer_guard(realm_of(tokens)));
  Client client(fast_options(), with_credentials(tmp, reg.host()));
  const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
  REQUIRE(r.tag);
  CHECK(r.tag->status == Status::protocol);
  CHECK_THAT(r.tag->error, Contains("302"));
  CHECK(tokens.requests().size() == 1);
  CHECK(elsewhere.requests().empty());
  CHECK(reg.count("HEAD", "/v2/acme/app/manifests/v1") == 0);
}

// ---- 10. the realm policy -------------------------------------------------------------------------

namespace {

// A name other than localhost that /etc/hosts maps to a loopback address, or empty.
std::string loopback_alias()
{
  std::ifstream hosts("/etc/hosts");
  std::string line;
  while (std::getline(hosts, line)) {
    std::istringstream words(line.substr(0, line.find('#')));
    std::string address;
    std::string name;
    if (!(words >> address) || !address.starts_with("127.")) {
      continue;
    }
    while (words >> name) {
      if (name != "localhost" && !name.ends_with(".localhost") && name.find('.') == std::string::npos) {
        return name;
      }
    }
  }
  return {};
}

} // namespace

TEST_CASE("Client applies the realm policy", "[registry][client]")
{
  TempDir tmp;
  Fake tokens = token_server();
  registry::Options o = fast_options();
  std::string realm;
  Status expected = Status::refused;
  std::string named; // what the error must name
  std::size_t token_requests = 0; // the policy refuses before asking; the socket check while connecting

  SECTION("a link-local realm (cloud metadata) on another host")
  {
    realm = "http://169.254.169.254/token";
    named = "169.254.169.254 is a loopback or private address on another host";
  }
  SECTION("localhost is another host than 127.0.0.1")
  {
    realm = realm_of(tokens, "localhost");
    named = "localhost:" + std::to_string(tokens.port()) + " is a loopback or private address on another host";
  }
  SECTION("an IPv4-mapped loopback address")
  {
    realm = "http://[::ffff:127.0.0.1]:" + std::to_string(tokens.port()) + "/token";
    named = "is a loopback or private address on another host";
  }
  SECTION("a realm with user information")
  {
    realm = "http://u:" + std::string(k_password) + "@127.0.0.1:" + std::to_string(tokens.port()) + "/token";
    named = "user information";
  }
  SECTION("a name that resolves to loopback: refused by the socket check")
  {
    const std::string alias = loopback_alias();
    if (alias.empty()) {
      WARN("no loopback alias other than localhost in /etc/hosts: socket-level refusal not tested");
      return;
    }
    realm = realm_of(tokens, alias);
    named = "refused to connect to a loopback";
    token_requests = 1;
  }
  SECTION("localhost listed in trusted_realms: allowed")
  {
    realm = realm_of(tokens, "localhost");
    o.trusted_realms = {"localhost"};
    expected = Status::ok;
  }
  SECTION("the registry's own host on another port: allowed")
  {
    realm = realm_of(tokens);
    expected = Status::ok;
  }

  Fake reg = fake_registry(bearer_guard(realm));
  Client client(o, with_credentials(tmp, reg.host()));
  const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
  REQUIRE(r.tag);
  INFO(realm << ": " << r.tag->error);
  CHECK(r.tag->status == expected);
  if (expected == Status::refused) {
    CHECK_THAT(r.tag->error, Contains(named));
    check_no_secret(r.tag->error);
    CHECK(tokens.requests().empty());
    CHECK(client.counters().token_requests == token_requests);
    for (const auto& q : reg.requests()) {
      CHECK(q.path == "/v2/");
    }
  } else {
    CHECK(tokens.requests().size() == 1);
    CHECK(client.counters().token_requests == 1);
  }
  // Not tested: a plain-http realm for a registry that is not insecure (refused) needs a TLS registry.
}

// ---- 11. Basic ------------------------------------------------------------------------------------

TEST_CASE("Client sends Basic credentials only when challenged", "[registry][client]")
{
  TempDir tmp;
  SECTION("Basic challenge: credentials from config.json on every registry request")
  {
    Fake reg = fake_registry(basic_guard(basic_header()));
    Client client(fast_options(), with_credentials(tmp, reg.host()));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    check_v1_answer(r);
    const auto q = reg.requests();
    REQUIRE(q.size() == 4);
    CHECK(q[0].header("Authorization").empty());
    for (std::size_t i = 1; i < q.size(); ++i) {
      CHECK(q[i].header("Authorization") == basic_header());
    }
    CHECK(client.counters().token_requests == 0);
  }

  SECTION("Basic challenge without credentials: unauthorized, once")
  {
    Fake reg = fake_registry(basic_guard(basic_header()));
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::unauthorized);
    CHECK_THAT(r.tag->error, Contains("no credentials for " + reg.host()));
    CHECK(reg.count("HEAD", "/v2/acme/app/manifests/v1") == 1);
  }

  SECTION("no challenge: no Authorization although credentials are configured")
  {
    Fake reg = fake_registry();
    Client client(fast_options(), with_credentials(tmp, reg.host()));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    CHECK(r.status() == Status::ok);
    const auto q = reg.requests();
    CHECK(q.size() == 4);
    for (const auto& each : q) {
      CHECK(each.header("Authorization").empty());
    }
  }
}

// ---- 12. concurrency ------------------------------------------------------------------------------

TEST_CASE("Client keeps to the per-host cap and asks identical references once", "[registry][client]")
{
  TempDir tmp;
  const Content& c = content();
  std::atomic<int> inside{0};
  std::atomic<int> peak{0};
  Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
    if (!is_manifest(q, "HEAD") && !is_manifest(q, "GET")) {
      return std::nullopt;
    }
    // HttpServer's `delay` runs after the handler returns: sleep here so the count covers it.
    const int now = ++inside;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    if (q.method == "HEAD") {
      std::this_thread::sleep_for(250ms);
    }
    --inside;
    return manifest_answer(c.amd64.manifest, c.amd64.digest);
  });
  registry::Options o = fast_options();
  o.per_host = 3;
  // The transfer timeout runs from the moment a request is handed to curl: 20 requests handed over
  // at once would wait in curl's own queue (7 rounds of 250 ms) and time out. The client's queue
  // hands them over only when they can start.
  o.timeout = 1200ms;
  Client client(o, anonymous(tmp));
  std::vector<std::string> refs;
  for (int i = 0; i < 20; ++i) {
    refs.push_back(reg.ref("acme/app:t" + std::to_string(i)));
  }
  refs.push_back(reg.ref("acme/app:t0"));
  refs.push_back(reg.ref("acme/app:t7"));
  const auto out = resolve(client, refs);
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO(refs[i] << ": " << out[i].error());
    CHECK(out[i].ref.input == refs[i]);
    CHECK(out[i].status() == Status::ok);
    CHECK(out[i].tag->digest == c.amd64.digest);
  }
  CHECK(peak.load() == 3);
  CHECK(client.counters().retries == 0);
  CHECK(reg.count("HEAD", "/v2/acme/app/manifests/t0") == 1);
  CHECK(reg.count("HEAD", "/v2/acme/app/manifests/t7") == 1);
  std::size_t heads = 0;
  for (const auto& q : reg.requests()) {
    heads += q.method == "HEAD" ? 1 : 0;
  }
  CHECK(heads == 20);
}

// ---- 13, 14. registries that cannot be asked -------------------------------------------------------

TEST_CASE("Client: one failing registry never stops the others", "[registry][client]")
{
  TempDir tmp;
  Fake good = fake_registry();

  SECTION("nothing listening")
  {
    const int dead_port = [] {
      HttpServer closed([](const HttpRequest&) { return HttpResponse{}; });
      return closed.port();
    }();
    const std::string dead = "127.0.0.1:" + std::to_string(dead_port);
    Client client(fast_options(), anonymous(tmp));
    const auto out = resolve(client, {dead + "/acme/app:v1", good.ref("acme/app:v1"), dead + "/acme/app:multi"});
    for (const std::size_t i : {0U, 2U}) {
      REQUIRE(out[i].tag);
      CHECK(out[i].tag->status == Status::network);
      CHECK_THAT(out[i].tag->error, Contains(dead));
    }
    CHECK(out[1].status() == Status::ok);
    CHECK(out[1].tag->digest == content().amd64.digest);
    CHECK(client.counters().retries == 0); // a refused connection is not retried
  }

  SECTION("GET /v2/ answered 404: not a registry")
  {
    Fake web = fake_registry([](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (q.path == "/v2/") {
        return answer(404, "<html>not here</html>", {{"Content-Type", "text/html"}});
      }
      return std::nullopt;
    });
    Client client(fast_options(), anonymous(tmp));
    const auto out = resolve(client, {web.ref("acme/app:v1"), good.ref("acme/app:v1")});
    REQUIRE(out[0].tag);
    CHECK(out[0].tag->status == Status::protocol);
    CHECK_THAT(out[0].tag->error, Contains(web.host()) && Contains("404") && Contains("not an OCI distribution registry"));
    CHECK(web.requests().size() == 1);
    CHECK(out[1].status() == Status::ok);
  }
}

// ---- what the issue lists besides: a 5 GB Content-Length, malformed challenges and JSON ------------

TEST_CASE("Client refuses a body that announces 5 GB at once", "[registry][client]")
{
  TempDir tmp;
  // The header alone: the fake would never send 5 GB, the client must not wait for them or
  // reserve memory for them.
  HttpResponse huge;
  huge.raw = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n"
             "Content-Length: 5368709120\r\n\r\n{";
  Fake reg = fake_registry(get_answers(huge));
  Client client(fast_options(), anonymous(tmp));
  const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
  REQUIRE(r.tag);
  CHECK(r.tag->status == Status::too_large);
  CHECK_THAT(r.tag->error, Contains("4096 KiB"));
}

TEST_CASE("Client reports malformed challenges and JSON as protocol errors", "[registry][client]")
{
  TempDir tmp;
  SECTION("401 whose WWW-Authenticate has no usable challenge")
  {
    const char* headers[] = {"Bearer", "Bearer realm", "Negotiate abc==", ",,,", "Bearer realm=\"unterminated"};
    for (const char* header : headers) {
      INFO(header);
      Fake reg = fake_registry([header](const HttpRequest&) -> std::optional<HttpResponse> {
        return answer(401, "{}", {{"WWW-Authenticate", header}});
      });
      Client client(fast_options(), anonymous(tmp));
      const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
      REQUIRE(r.tag);
      CHECK(r.tag->status == Status::protocol);
      CHECK_THAT(r.tag->error, Contains("without a Bearer or Basic challenge"));
    }
  }
  SECTION("a token server answering something that is not a token")
  {
    const char* bodies[] = {"not json", "[]", "{\"token\":7}", "{\"access_token\":\"\"}", "{}"};
    for (const char* body : bodies) {
      INFO(body);
      Fake tokens = token_server([body](const HttpRequest&) -> std::optional<HttpResponse> { return answer(200, body); });
      Fake reg = fake_registry(bearer_guard(realm_of(tokens)));
      Client client(fast_options(), anonymous(tmp));
      const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
      REQUIRE(r.tag);
      CHECK(r.tag->status == Status::protocol);
      CHECK_THAT(r.tag->error, Contains("answer has no token"));
    }
  }
  SECTION("a manifest that is not JSON: the tag answers, the metadata says why it is missing")
  {
    const std::string garbage = "this is not a manifest";
    const std::string digest = sha256_digest(garbage);
    Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_manifest(q, "HEAD", "v1") || is_manifest(q, "GET", "v1") || is_manifest(q, "GET", digest)) {
        return manifest_answer(garbage, digest);
      }
      return std::nullopt;
    });
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::ok);
    CHECK(r.tag->digest == digest);
    CHECK_FALSE(r.metadata);
    CHECK_THAT(r.metadata_error, Contains("not a JSON object"));
  }
  SECTION("a Docker-Content-Digest that is not a digest: the body is hashed instead")
  {
    const std::string& body = content().amd64.manifest;
    Fake reg = fake_registry([&](const HttpRequest& q) -> std::optional<HttpResponse> {
      if (is_manifest(q, "HEAD", "v1") || is_manifest(q, "GET", "v1")) {
        return manifest_answer(body, "sha256:not-hex");
      }
      return std::nullopt;
    });
    Client client(fast_options(), anonymous(tmp));
    const Resolution r = resolve_one(client, reg.ref("acme/app:v1"));
    REQUIRE(r.tag);
    CHECK(r.tag->status == Status::ok);
    CHECK(r.tag->digest == sha256_digest(body));
  }
}

TEST_CASE("Client notes a registry's pull limit once", "[registry][client]")
{
  TempDir tmp;
  Fake reg = fake_registry([](const HttpRequest& q) -> std::optional<HttpResponse> {
    if (q.method == "HEAD" && route(q.path).kind == "manifests") {
      HttpResponse r = registry_answer(q);
      r.headers.emplace_back("ratelimit-limit", "100;w=21600");
      r.headers.emplace_back("ratelimit-remaining", "95;w=21600");
      return r;
    }
    return std::nullopt;
  });
  std::vector<std::string> notes;
  registry::Options o = fast_options();
  o.note = [&notes](const std::string& line) { notes.push_back(line); };
  Client client(o, anonymous(tmp));
  const auto rs = resolve(client, {reg.ref("acme/app:v1"), reg.ref("acme/app:multi")});
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status() == Status::ok);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0] == reg.host() + ": ratelimit-remaining 95;w=21600 of 100;w=21600");
}
