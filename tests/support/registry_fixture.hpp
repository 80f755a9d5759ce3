#pragma once

// Real registry servers for tests: three instances of Debian's docker-registry (distribution 2.8) on
// 127.0.0.1 — open, Basic auth (htpasswd), token auth (against a token server of our own) — with images
// pushed by skopeo from OCI layouts written here. Under ctest the fixture is started once per run by the
// `registry_fixture_start` test (FIXTURES_SETUP registry); run by hand, a test binary starts its own.
//
// Standard images, the same bytes in each registry (keys "open/...", "basic/...", "token/..."):
//   fixture/app:v1         OCI manifest; config labels org.opencontainers.image.revision =
//                          0123456789abcdef0123456789abcdef01234567, .source = https://github.com/acme/app,
//                          .created = 2026-11-20T10:00:00Z, .version = 1.0.0
//   fixture/docker:v1      Docker v2s2 manifest; the same labels, .source = https://github.com/acme/docker
//   fixture/multi:v1       OCI index: linux/amd64, linux/arm64 and an unknown/unknown attestation; labels with
//                          .source = https://github.com/acme/multi; index (and platform manifest) annotations
//                          with that revision and source
//   fixture/annotated:v1   OCI manifest, no config labels; the four keys as manifest annotations,
//                          .source = https://github.com/acme/annotated
//   fixture/dockerlist:v1  Docker manifest list: linux/amd64, linux/arm64 (labels, .source = .../acme/dockerlist)
//   public/app:v1          like fixture/app (another salt): the token server grants pull on public/ to anyone

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace changetrail::test {

struct TestRegistry {
  std::string name;     // "open", "basic", "token"
  std::string host;     // "127.0.0.1:PORT"
  std::string username; // empty for open
  std::string password;
};

struct ImageSpec {
  enum class Kind { single, index };
  Kind kind = Kind::single;
  bool docker_media_types = false; // skopeo --format v2s2: Docker manifest / manifest list. Docker media types
                                   // carry no annotations, so skopeo drops manifest and index annotations.
  std::map<std::string, std::string> labels;      // config.Labels (of every platform image for an index)
  std::map<std::string, std::string> annotations; // manifest annotations (and index annotations for an index)
  std::vector<std::string> platforms{"linux/amd64", "linux/arm64"}; // index only; "os/arch[/variant]"
  // Index only: an "unknown/unknown" entry like buildkit's attestations (annotation
  // vnd.docker.reference.type: attestation-manifest, an in-toto layer). skopeo 1.9 cannot convert an
  // in-toto layer to Docker media types, so with docker_media_types the entry is a plain image with
  // platform unknown/unknown instead, and the list loses its annotations like every Docker list.
  bool attestation = false;
  std::string salt; // goes into the layer: same spec + other salt = new digests
};

struct PushedImage {
  std::string reference;  // "127.0.0.1:PORT/fixture/app:v1"
  std::string digest;     // sha256 of `skopeo inspect --raw` bytes (the index digest for an index)
  std::string media_type; // of that top manifest
  std::vector<std::pair<std::string, std::string>>
      platforms;             // "linux/amd64" -> manifest digest, unknown/unknown excluded
  std::string config_digest; // single only
};

struct RegistryFixture {
  std::filesystem::path dir; // configs, logs and storage
  TestRegistry open;
  TestRegistry basic;      // htpasswd, bcrypt
  TestRegistry token;      // token auth against the token server below
  std::string token_realm; // "http://127.0.0.1:PORT/token"
  std::string token_service;
  std::map<std::string, PushedImage> images; // "<registry name>/<repository>:<tag>", e.g. "open/fixture/app:v1"
  std::filesystem::path token_log;           // one line per token request: time, credentials sent/valid, scopes, status

  [[nodiscard]] const TestRegistry& registry(const std::string& name) const; // "open", "basic", "token"
  [[nodiscard]] std::vector<const TestRegistry*> registries() const;         // all three
  // images.at() with a message naming the key when it is absent.
  [[nodiscard]] const PushedImage& image(const std::string& key) const;
};

// Reads <CHANGETRAIL_REGISTRY_FIXTURE_DIR>/fixture.json (environment variable, else the directory CMake
// compiled in). When it is absent or its servers do not answer, runs `registry_fixture start` into a fresh
// temporary directory and stops that fixture when the process exits. Thread-safe; loaded once.
const RegistryFixture& registry_fixture();

// Writes an OCI layout for `spec` in a temporary directory, pushes it with skopeo to r.host/repository_tag
// ("fixture/app:v1") and reads back what the registry serves. Throws std::runtime_error naming the command
// and its stderr (passwords redacted). Tests that push use repository names of their own (ctest -j2).
PushedImage push_image(const TestRegistry& r, const std::string& repository_tag, const ImageSpec& spec);

// Deletes a manifest by digest (the registry runs with storage.delete.enabled); tags pointing to it go too.
void delete_manifest(const TestRegistry& r, const std::string& repository, const std::string& digest);

// ---- Shared with the registry_fixture executable ----

void to_json(nlohmann::json& j, const TestRegistry& r);
void from_json(const nlohmann::json& j, TestRegistry& r);
void to_json(nlohmann::json& j, const PushedImage& i);
void from_json(const nlohmann::json& j, PushedImage& i);
void to_json(nlohmann::json& j, const RegistryFixture& f);
void from_json(const nlohmann::json& j, RegistryFixture& f);

// "sha256:" + lowercase hex of SHA-256 over `data` (OpenSSL).
std::string sha256_digest(std::string_view data);

// The skopeo program (SKOPEO environment variable, else "skopeo" on PATH).
std::string skopeo_program();

// Whether every registry of `fixture` answers GET /v2/ (200 or 401) and its token server answers at all.
bool registry_fixture_alive(const RegistryFixture& fixture);

} // namespace changetrail::test
