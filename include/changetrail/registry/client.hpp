#pragma once

// The OCI distribution client (REGISTRY.md "HTTP flow"): what a reference's tag points at now,
// whether a pinned digest still exists, and what the image says about itself (platforms,
// labels, annotations). Every answer it keeps is checked against the digest it claims.

#include <changetrail/reference/reference.hpp>
#include <changetrail/registry/credentials.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace changetrail::registry {

// Typed failures, per reference (STYLE.md: the small enum tests assert on).
enum class Status : std::uint8_t {
  ok,
  not_found,       // 404: no such tag, digest or repository
  unauthorized,    // 401/403 after one refresh, or the token server refused the credentials
  rate_limited,    // 429 after the retries
  timeout,         // connect or transfer timeout after the retries
  tls,             // certificate or handshake failure
  network,         // refused, unreachable, reset, not resolved
  protocol,        // an answer that breaks the protocol (bad digest header, bad JSON, 5xx after retries)
  digest_mismatch, // content whose SHA-256 is not the digest it was asked or announced for
  too_large,       // a body over its cap
  refused,         // our own policy: plain http to a host not configured insecure, a realm that fails the realm policy
};
[[nodiscard]] const char* to_string(Status s);

struct Platform {
  std::string platform; // "linux/amd64", "linux/arm/v7"
  std::string digest;
};

// What a digest is: immutable, so fetched once and kept forever (REGISTRY.md "Operations").
struct ImageMetadata {
  std::string digest;
  std::string media_type;
  std::vector<Platform> platforms; // an index's entries without unknown/unknown; empty for one image
  // org.opencontainers.image.{revision,source,created,version}: config labels first, then the
  // manifest's annotations, then the index's.
  std::string revision;
  std::string source;
  std::string created;
  std::string version;
  std::map<std::string, std::string> labels;      // config.Labels of the platform image read
  std::map<std::string, std::string> annotations; // the index's, then the image manifest's over them
};

// One request of a resolution: a tag or a digest in a repository.
struct Lookup {
  Status status = Status::ok;
  std::string error;     // one line, names the registry host; never a credential
  std::string digest;    // what the registry answered (verified when the body was read)
  std::string media_type;
  long http_status = 0;
};

struct Resolution {
  reference::Reference ref;
  std::string host; // the registry endpoint ("registry-1.docker.io", "127.0.0.1:5000")
  // Where the tag points now. A reference without tag or digest is looked up as "latest",
  // which is what a runtime pulls.
  std::optional<Lookup> tag;
  // Whether the pinned digest exists (references with a digest only).
  std::optional<Lookup> pinned;
  // Of the digest that runs: the pinned one, else the tag's. Null when unknown.
  std::shared_ptr<const ImageMetadata> metadata;
  std::string metadata_error; // why metadata is missing when it was asked for (not a failure of the reference)

  // The first failure of tag and pinned lookups, or ok.
  [[nodiscard]] Status status() const;
  [[nodiscard]] const std::string& error() const;
  // The digest that runs: the pinned digest, else the tag's answer; empty when unknown.
  [[nodiscard]] std::string deployed_digest() const;
};

struct Options {
  std::vector<std::string> insecure_hosts; // host[:port] allowed over plain http
  std::vector<std::string> trusted_realms; // token realm hosts allowed although private or loopback
  int per_host = 6;
  int total = 32;
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  int max_tries = 4;                            // per request, for 429, 5xx, timeouts and resets
  std::chrono::milliseconds backoff{250};       // first back-off, doubled per try, with jitter
  std::chrono::milliseconds max_retry_after{30000}; // Retry-After is honoured up to this
  bool fetch_metadata = true;
  // Diagnostics for -v: once per registry, the pull limit it reports (Docker Hub's
  // `ratelimit-remaining`: GETs of manifests count against it, HEADs do not).
  std::function<void(const std::string&)> note;
  // Metadata already known (the ledger): no request is made for these digests.
  std::function<std::shared_ptr<const ImageMetadata>(const std::string& digest)> known_metadata;
};

// Request counts of one run, for the summary line and tests.
struct Counters {
  std::size_t requests = 0;
  std::size_t retries = 0;
  std::size_t token_requests = 0;
};

class Client {
public:
  Client(Options options, CredentialStore credentials);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Resolves every reference concurrently; the answer has one Resolution per input, in order.
  // Invalid and templated references come back with Status::protocol and say why. Never throws
  // for a registry's failure (each reference carries its own); throws util::Fatal only when the
  // client itself cannot work (libcurl missing).
  std::vector<Resolution> resolve(const std::vector<reference::Reference>& refs);

  [[nodiscard]] const Counters& counters() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// The endpoint of a reference's registry: docker.io is served by registry-1.docker.io.
[[nodiscard]] std::string endpoint_host(const std::string& registry);

// "host[:port]" matching for --insecure-registry and config lists: exact host:port, or a host
// without port that matches every port.
[[nodiscard]] bool host_listed(const std::vector<std::string>& list, const std::string& host_port);

} // namespace changetrail::registry
