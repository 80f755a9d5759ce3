#include <changetrail/registry/client.hpp>

#include <changetrail/registry/challenge.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/strings.hpp>

#include "curl.hpp"
#include "http.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <unordered_map>

namespace changetrail::registry {
namespace {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

// REGISTRY.md "HTTP flow" step 3: all four, or the answer changes (a Docker list is
// down-converted, OCI content is a 404, no Accept at all gets schema1).
constexpr const char* k_accept =
  "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
  "application/vnd.docker.distribution.manifest.list.v2+json, "
  "application/vnd.docker.distribution.manifest.v2+json";

constexpr const char* k_annotation_keys[] = {"org.opencontainers.image.revision", "org.opencontainers.image.source",
                                              "org.opencontainers.image.created", "org.opencontainers.image.version"};

std::string hex(const unsigned char* p, unsigned n)
{
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// The digest of `content` with the algorithm of `like` ("sha512:..." or else sha256).
std::string digest_of(std::string_view content, std::string_view like = {})
{
  const bool sha512 = like.starts_with("sha512:");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (EVP_Digest(content.data(), content.size(), md, &n, sha512 ? EVP_sha512() : EVP_sha256(), nullptr) != 1) {
    throw util::Fatal("OpenSSL: digest computation failed");
  }
  return (sha512 ? "sha512:" : "sha256:") + hex(md, n);
}

std::string base64(std::string_view in)
{
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string url_encode(std::string_view s)
{
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string media_type_of(const http::Response& r)
{
  std::string t = r.header("content-type");
  if (const auto semi = t.find(';'); semi != std::string::npos) {
    t.resize(semi);
  }
  return std::string(util::trim(t));
}

bool is_redirect(long status)
{
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Status status_of(http::Failure f)
{
  switch (f) {
  case http::Failure::none:
    return Status::ok;
  case http::Failure::timeout:
    return Status::timeout;
  case http::Failure::tls:
    return Status::tls;
  case http::Failure::too_large:
    return Status::too_large;
  case http::Failure::refused:
    return Status::refused;
  case http::Failure::protocol:
    return Status::protocol;
  case http::Failure::connect:
  case http::Failure::network:
    return Status::network;
  }
  return Status::network;
}

// Retry-After: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3). nullopt when absent or
// unreadable.
std::optional<Ms> retry_after(const http::Response& r)
{
  const std::string v = r.header("retry-after");
  if (v.empty()) {
    return std::nullopt;
  }
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) {
      return Ms(std::chrono::hours(24 * 365));
    }
    return Ms(std::stol(v) * 1000);
  }
  std::tm tm{};
  if (strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) {
    return std::nullopt;
  }
  const std::time_t at = timegm(&tm);
  const std::time_t now = std::time(nullptr);
  return Ms(at > now ? (at - now) * 1000 : 0);
}

std::string platform_name(const nlohmann::json& p)
{
  if (!p.is_object()) {
    return {};
  }
  auto text = [&](const char* k) {
    auto it = p.find(k);
    return it != p.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string name = text("os") + "/" + text("architecture");
  if (const std::string v = text("variant"); !v.empty()) {
    name += "/" + v;
  }
  return name;
}

void take_annotations(ImageMetadata& m, const nlohmann::json& doc, const char* field)
{
  auto it = doc.find(field);
  if (it == doc.end() || !it->is_object()) {
    return;
  }
  std::string* targets[] = {&m.revision, &m.source, &m.created, &m.version};
  for (std::size_t i = 0; i < std::size(k_annotation_keys); ++i) {
    auto v = it->find(k_annotation_keys[i]);
    if (targets[i]->empty() && v != it->end() && v->is_string()) {
      *targets[i] = v->get<std::string>();
    }
  }
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) {
      m.annotations[k] = v.get<std::string>();
    }
  }
}

const std::string k_empty;

http::Limits limits_of(const Options& o)
{
  http::Limits l;
  l.per_host = o.per_host;
  l.total = o.total;
  l.timeout = o.timeout;
  l.connect_timeout = o.connect_timeout;
  return l;
}

} // namespace

const char* to_string(Status s)
{
  switch (s) {
  case Status::ok:
    return "ok";
  case Status::not_found:
    return "not-found";
  case Status::unauthorized:
    return "unauthorized";
  case Status::rate_limited:
    return "rate-limited";
  case Status::timeout:
    return "timeout";
  case Status::tls:
    return "tls";
  case Status::network:
    return "network";
  case Status::protocol:
    return "protocol";
  case Status::digest_mismatch:
    return "digest-mismatch";
  case Status::too_large:
    return "too-large";
  case Status::refused:
    return "refused";
  }
  return "unknown";
}

Status Resolution::status() const
{
  if (tag && tag->status != Status::ok) {
    return tag->status;
  }
  if (pinned && pinned->status != Status::ok) {
    return pinned->status;
  }
  return Status::ok;
}

const std::string& Resolution::error() const
{
  if (tag && tag->status != Status::ok) {
    return tag->error;
  }
  if (pinned && pinned->status != Status::ok) {
    return pinned->error;
  }
  return k_empty;
}

std::string Resolution::deployed_digest() const
{
  if (ref.has_digest()) {
    return ref.digest;
  }
  return tag && tag->status == Status::ok ? tag->digest : std::string();
}

std::string endpoint_host(const std::string& registry)
{
  return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

bool host_listed(const std::vector<std::string>& list, const std::string& host_port)
{
  const std::string h = util::to_lower(host_port);
  std::string host_only = h;
  if (const auto colon = h.rfind(':'); colon != std::string::npos && h.find(']', colon) == std::string::npos) {
    host_only = h.substr(0, colon);
  }
  return std::any_of(list.begin(), list.end(), [&](const std::string& entry) {
    const std::string e = util::to_lower(util::trim(entry));
    return e == h || e == host_only;
  });
}

struct Client::Impl {
  using Then = std::function<void()>;
  // Status ok: an HTTP answer the caller interprets (never 401, 403, 429, 5xx or a redirect).
  using Answer = std::function<void(Status, const std::string& error, http::Response& r)>;
  using Authorized = std::function<void(Status, const std::string& error, const std::string& header)>;

  struct Endpoint {
    std::string registry; // as in references ("docker.io")
    std::string host;     // "registry-1.docker.io"
    std::string base;     // "https://registry-1.docker.io"
    bool insecure = false;
    enum class State : std::uint8_t { unknown, pinging, ready, failed } state = State::unknown;
    Status fail_status = Status::ok;
    std::string fail_error;
    std::optional<Challenge> bearer;
    bool basic = false;
    std::vector<Then> waiting;
    bool looked_up = false;
    std::optional<Credential> credential;
    std::string credential_source;
    std::string credential_error;
    bool rate_noted = false;
  };

  struct Token {
    std::string value;
    Clock::time_point expires{};
    bool fetching = false;
    std::vector<Authorized> waiting;
  };

  struct MetadataFetch {
    bool done = false;
    std::shared_ptr<const ImageMetadata> result;
    std::string error;
    std::vector<Then> waiting;
  };

  Options opt;
  CredentialStore credentials;
  http::Engine engine;
  Counters counters;
  std::unordered_map<std::string, std::unique_ptr<Endpoint>> endpoints;
  std::unordered_map<std::string, Token> tokens;
  std::unordered_map<std::string, MetadataFetch> metadata;
  std::mt19937 rng{std::random_device{}()};

  Impl(Options o, CredentialStore c)
    : opt(std::move(o)), credentials(std::move(c)),
      engine(limits_of(opt))
  {
  }

  Endpoint& endpoint(const std::string& registry)
  {
    auto& slot = endpoints[registry];
    if (!slot) {
      slot = std::make_unique<Endpoint>();
      slot->registry = registry;
      slot->host = endpoint_host(registry);
      slot->insecure = host_listed(opt.insecure_hosts, slot->host) || host_listed(opt.insecure_hosts, registry);
      slot->base = (slot->insecure ? "http://" : "https://") + slot->host;
    }
    return *slot;
  }

  // --- transport: retries and redirects -------------------------------------------------------

  static bool transient(const http::Response& r)
  {
    if (r.failure == http::Failure::timeout || r.failure == http::Failure::network) {
      return true;
    }
    return r.failure == http::Failure::none
           && (r.status == 429 || r.status == 500 || r.status == 502 || r.status == 503 || r.status == 504);
  }

  // One request with back-off retries (429, 5xx, timeouts, resets). `done` sees the last answer.
  void fetch(http::Request req, std::function<void(http::Response&)> done, int attempt = 1)
  {
    ++counters.requests;
    http::Request copy = req;
    engine.submit(std::move(copy), [this, req = std::move(req), done = std::move(done), attempt](http::Response& r) {
      if (!transient(r) || attempt >= opt.max_tries) {
        done(r);
        return;
      }
      const long base = opt.backoff.count() << std::min(attempt - 1, 10);
      Ms delay(std::uniform_int_distribution<long>(base / 2, base + base / 2)(rng));
      if (const auto asked = retry_after(r)) {
        if (*asked > opt.max_retry_after) {
          done(r); // waiting that long is not a retry, it is a stall: report it now
          return;
        }
        delay = std::max(delay, *asked);
      }
      ++counters.retries;
      engine.after(delay, [this, req, done, attempt] { fetch(req, done, attempt + 1); });
    });
  }

  // A request to a registry, following redirects ourselves: the Authorization header goes only
  // where it came from (REGISTRY.md "HTTP flow" step 6, blob GETs redirected to object storage).
  void follow(http::Request req, std::function<void(http::Response&)> done, int hops = 0)
  {
    fetch(req, [this, req, done = std::move(done), hops](http::Response& r) {
      if (r.failure != http::Failure::none || !is_redirect(r.status)) {
        done(r);
        return;
      }
      curl::Url from;
      curl::Url to;
      const std::string location = r.header("location");
      if (hops >= 5 || location.empty() || !curl::parse_url(req.url, from) || !curl::parse_url(location, to, req.url)) {
        r.failure = http::Failure::protocol;
        r.error = hops >= 5 ? "more than 5 redirects" : "a redirect without a usable Location";
        done(r);
        return;
      }
      if (from.scheme == "https" && to.scheme == "http" && !host_listed(opt.insecure_hosts, to.authority())) {
        r.failure = http::Failure::refused;
        r.error = "redirect from https to plain http (" + to.authority() + ") refused";
        done(r);
        return;
      }
      http::Request next = req;
      next.url = to.text();
      if (from.scheme != to.scheme || from.host != to.host || from.port != to.port) {
        std::erase_if(next.headers, [](const std::string& h) {
          return util::iequals(h.substr(0, std::min<std::size_t>(h.size(), 14)), "authorization:");
        });
      }
      follow(std::move(next), done, hops + 1);
    });
  }

  // --- endpoint ping and credentials ------------------------------------------------------------

  void with_endpoint(Endpoint& ep, Then then)
  {
    if (ep.state == Endpoint::State::ready || ep.state == Endpoint::State::failed) {
      then();
      return;
    }
    ep.waiting.push_back(std::move(then));
    if (ep.state == Endpoint::State::pinging) {
      return;
    }
    ep.state = Endpoint::State::pinging;
    http::Request req;
    req.url = ep.base + "/v2/";
    req.body_cap = http::k_error_cap;
    follow(std::move(req), [this, &ep](http::Response& r) {
      if (r.failure != http::Failure::none) {
        fail_endpoint(ep, status_of(r.failure), r.error);
      } else if (r.status == 200) {
        ep.state = Endpoint::State::ready;
      } else if (r.status == 401) {
        for (auto& c : parse_challenges(r.header_values("www-authenticate"))) {
          if (c.scheme == "bearer" && !c.param("realm").empty() && !ep.bearer) {
            ep.bearer = std::move(c);
          } else if (c.scheme == "basic") {
            ep.basic = true;
          }
        }
        if (ep.bearer || ep.basic) {
          ep.state = Endpoint::State::ready;
        } else {
          fail_endpoint(ep, Status::protocol, "GET /v2/ answered 401 without a Bearer or Basic challenge");
        }
      } else if (r.status == 429) {
        fail_endpoint(ep, Status::rate_limited, "GET /v2/ answered 429 Too Many Requests");
      } else {
        fail_endpoint(ep, Status::protocol,
                      "GET /v2/ answered " + std::to_string(r.status) + ": not an OCI distribution registry");
      }
      auto waiting = std::move(ep.waiting);
      ep.waiting.clear();
      for (auto& w : waiting) {
        w();
      }
    });
  }

  void fail_endpoint(Endpoint& ep, Status s, const std::string& why)
  {
    ep.state = Endpoint::State::failed;
    ep.fail_status = s;
    ep.fail_error = why;
    if (s == Status::tls && !ep.insecure) {
      ep.fail_error += " (if this registry serves plain http, name it with --insecure-registry " + ep.host + ")";
    }
  }

  const std::optional<Credential>& credential(Endpoint& ep)
  {
    if (!ep.looked_up) {
      ep.looked_up = true;
      try {
        CredentialLookup found = credentials.lookup(ep.registry);
        ep.credential = std::move(found.credential);
        ep.credential_source = std::move(found.source);
      } catch (const util::Fatal& e) {
        ep.credential_error = e.what();
      }
    }
    return ep.credential;
  }

  // --- authorization ----------------------------------------------------------------------------

  void authorize(Endpoint& ep, const std::string& scope, bool refresh, Authorized then)
  {
    if (ep.bearer) {
      token(ep, scope, refresh, std::move(then));
      return;
    }
    if (ep.basic) {
      const auto& cred = credential(ep);
      if (!ep.credential_error.empty()) {
        then(Status::unauthorized, ep.credential_error, {});
        return;
      }
      // Never before a challenge asked for it (some registries answer pre-emptive Basic with 400).
      then(Status::ok, {}, cred ? "Authorization: Basic " + base64(cred->username + ":" + cred->secret) : std::string());
      return;
    }
    then(Status::ok, {}, {});
  }

  // The realm policy of REGISTRY.md "Security". Empty when the realm may be asked; `public_only`
  // says whether the connection must go to a public address.
  std::string realm_refusal(const Endpoint& ep, const curl::Url& realm, bool& public_only) const
  {
    public_only = false;
    if (realm.has_userinfo) {
      return "token realm with user information refused";
    }
    if (realm.scheme != "https" && !ep.insecure) {
      return "token realm " + realm.authority() + " is not https";
    }
    curl::Url registry;
    if (curl::parse_url(ep.base + "/", registry) && registry.host == realm.host) {
      return {};
    }
    if (host_listed(opt.trusted_realms, realm.authority()) || host_listed(opt.trusted_realms, realm.host)) {
      return {};
    }
    const auto is_public = http::is_public_ip(realm.host);
    if (realm.host == "localhost" || realm.host.ends_with(".localhost") || (is_public && !*is_public)) {
      return "token realm " + realm.authority()
             + " is a loopback or private address on another host than the registry (trust it with "
               "registries.trusted_realms)";
    }
    public_only = true;
    return {};
  }

  void token(Endpoint& ep, const std::string& scope, bool refresh, Authorized then)
  {
    const Challenge& ch = *ep.bearer;
    const std::string realm_text = ch.param("realm");
    const std::string service = ch.param("service");
    const std::string key = realm_text + '\n' + service + '\n' + scope;
    Token& t = tokens[key];
    if (!refresh && !t.fetching && !t.value.empty() && Clock::now() < t.expires) {
      then(Status::ok, {}, "Authorization: Bearer " + t.value);
      return;
    }
    t.waiting.push_back(std::move(then));
    if (t.fetching) {
      return;
    }
    t.fetching = true;
    t.value.clear();
    auto finish = [this, key](Status s, const std::string& error) {
      Token& tok = tokens[key];
      tok.fetching = false;
      auto waiting = std::move(tok.waiting);
      tok.waiting.clear();
      const std::string header = s == Status::ok ? "Authorization: Bearer " + tok.value : std::string();
      for (auto& w : waiting) {
        w(s, error, header);
      }
    };
    curl::Url realm;
    if (!curl::parse_url(realm_text, realm)) {
      finish(Status::protocol, "token realm is not an absolute http(s) URL");
      return;
    }
    bool public_only = false;
    if (std::string refusal = realm_refusal(ep, realm, public_only); !refusal.empty()) {
      finish(Status::refused, refusal);
      return;
    }
    const auto& cred = credential(ep);
    if (!ep.credential_error.empty()) {
      finish(Status::unauthorized, ep.credential_error);
      return;
    }
    http::Request req;
    req.body_cap = http::k_token_cap;
    req.public_addresses_only = public_only;
    if (cred && cred->identity_token) {
      // An identity token is an OAuth2 refresh token (docker's token authentication, "oauth").
      req.method = "POST";
      req.url = realm.text();
      req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
      req.body = "grant_type=refresh_token&client_id=changetrail&service=" + url_encode(service)
                 + "&scope=" + url_encode(scope) + "&refresh_token=" + url_encode(cred->secret);
    } else {
      req.url = realm.text() + (realm.path_and_query.find('?') == std::string::npos ? "?" : "&");
      if (!service.empty()) {
        req.url += "service=" + url_encode(service) + "&";
      }
      req.url += "scope=" + url_encode(scope);
      if (cred) {
        req.headers.push_back("Authorization: Basic " + base64(cred->username + ":" + cred->secret));
      }
    }
    ++counters.token_requests;
    const std::string where = "token server " + realm.authority();
    const bool anonymous = !cred.has_value();
    // No redirects on the token request (REGISTRY.md "Security"): fetch, not follow.
    fetch(std::move(req), [this, key, where, anonymous, finish](http::Response& r) {
      if (r.failure != http::Failure::none) {
        finish(status_of(r.failure), where + ": " + r.error);
        return;
      }
      if (r.status == 401 || r.status == 403) {
        finish(Status::unauthorized, where + (anonymous ? ": refused an anonymous token (no credentials configured)"
                                                         : ": refused the credentials (" + std::to_string(r.status) + ")"));
        return;
      }
      if (r.status == 429) {
        finish(Status::rate_limited, where + ": 429 Too Many Requests");
        return;
      }
      if (r.status != 200) {
        finish(Status::protocol, where + ": answered " + std::to_string(r.status));
        return;
      }
      nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
      std::string value;
      if (j.is_object()) {
        for (const char* field : {"token", "access_token"}) {
          auto it = j.find(field);
          if (value.empty() && it != j.end() && it->is_string()) {
            value = it->get<std::string>();
          }
        }
      }
      if (value.empty()) {
        finish(Status::protocol, where + ": answer has no token");
        return;
      }
      long expires_in = 60;
      if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer()) {
        // Docker's token specification: less than 60 seconds means 60.
        expires_in = std::max<long>(60, it->get<long>());
      }
      Token& tok = tokens[key];
      tok.value = std::move(value);
      tok.expires = Clock::now() + std::chrono::seconds(expires_in - 10);
      finish(Status::ok, {});
    });
  }

  // --- one resolution ---------------------------------------------------------------------------

  struct Job {
    Resolution res;
    Endpoint* ep = nullptr;
    std::string scope;
    int pending = 0;
    std::string where; // "HOST: repository" for messages
  };
  using JobPtr = std::shared_ptr<Job>;

  // An authorized registry request: on 401 with invalid_token or insufficient_scope the token is
  // refreshed once, never more (repeated 401s can lock an account).
  void request(const JobPtr& job, http::Request req, Answer done, bool refreshed = false)
  {
    Endpoint& ep = *job->ep;
    authorize(ep, job->scope, refreshed,
              [this, job, req = std::move(req), done = std::move(done), refreshed](Status s, const std::string& error,
                                                                                    const std::string& header) mutable {
                http::Response none;
                if (s != Status::ok) {
                  done(s, job->where + ": " + error, none);
                  return;
                }
                http::Request authed = req;
                if (!header.empty()) {
                  authed.headers.push_back(header);
                }
                follow(std::move(authed), [this, job, req, done, refreshed](http::Response& r) {
                  answer(job, req, done, refreshed, r);
                });
              });
  }

  void answer(const JobPtr& job, const http::Request& req, const Answer& done, bool refreshed, http::Response& r)
  {
    Endpoint& ep = *job->ep;
    if (r.failure != http::Failure::none) {
      std::string why = r.error;
      if (r.failure == http::Failure::tls && !ep.insecure) {
        why += " (if this registry serves plain http, name it with --insecure-registry " + ep.host + ")";
      }
      done(status_of(r.failure), job->where + ": " + why, r);
      return;
    }
    if (r.status == 401) {
      std::string error;
      for (const auto& c : parse_challenges(r.header_values("www-authenticate"))) {
        if (c.scheme == "bearer") {
          error = c.param("error");
        }
      }
      if (ep.bearer && !refreshed && (error == "invalid_token" || error == "insufficient_scope" || error.empty())) {
        request(job, req, done, true);
        return;
      }
      std::string why = "unauthorized (401)";
      credential(ep);
      if (!ep.credential && ep.credential_error.empty()) {
        why += ": no credentials for " + ep.registry + " in " + (credentials.path().empty() ? std::string("any docker config") : credentials.path());
      } else if (ep.credential) {
        why += " with the credentials from " + ep.credential_source;
      }
      done(Status::unauthorized, job->where + ": " + why, r);
      return;
    }
    if (r.status == 403) {
      done(Status::unauthorized, job->where + ": access denied (403)", r);
      return;
    }
    if (r.status == 429) {
      std::string why = "429 Too Many Requests";
      if (const auto wait = retry_after(r)) {
        why += " (asked to wait " + std::to_string(wait->count() / 1000) + " s)";
      }
      done(Status::rate_limited, job->where + ": " + why, r);
      return;
    }
    if (r.status >= 500) {
      done(Status::protocol, job->where + ": answered " + std::to_string(r.status), r);
      return;
    }
    if (opt.note && !ep.rate_noted) {
      if (const std::string remaining = r.header("ratelimit-remaining"); !remaining.empty()) {
        ep.rate_noted = true;
        opt.note(ep.host + ": ratelimit-remaining " + remaining
                 + (r.header("ratelimit-limit").empty() ? "" : " of " + r.header("ratelimit-limit")));
      }
    }
    done(Status::ok, {}, r);
  }

  http::Request manifest_request(const Job& job, const std::string& method, const std::string& target) const
  {
    http::Request req;
    req.method = method;
    req.url = job.ep->base + "/v2/" + job.res.ref.repository + "/manifests/" + target;
    req.headers.emplace_back(k_accept);
    return req;
  }

  // HEAD the manifest of a tag or digest; the digest comes from Docker-Content-Digest, or from
  // hashing a GET when the header is missing or HEAD is refused (REGISTRY.md step 4).
  void lookup(const JobPtr& job, const std::string& target, Lookup* out, Then done)
  {
    request(job, manifest_request(*job, "HEAD", target),
            [this, job, target, out, done](Status s, const std::string& error, http::Response& r) {
              if (s != Status::ok) {
                *out = Lookup{s, error, {}, {}, r.status};
                done();
                return;
              }
              out->http_status = r.status;
              if (r.status == 404) {
                *out = Lookup{Status::not_found, job->where + ":" + target + " not found (404)", {}, {}, 404};
                done();
                return;
              }
              const std::string announced = r.header("docker-content-digest");
              if (r.status == 200 && !announced.empty() && reference::validate_digest(announced).empty()) {
                if (target.find(':') != std::string::npos && target != announced) {
                  *out = Lookup{Status::digest_mismatch,
                                job->where + ": asked for " + target + ", the registry announced " + announced, {}, {}, 200};
                } else {
                  out->status = Status::ok;
                  out->digest = announced;
                  out->media_type = media_type_of(r);
                }
                done();
                return;
              }
              get_manifest(job, target, [out, done](Status gs, const std::string& gerror, const std::string& digest,
                                                    const std::string& media_type, const std::string&) {
                out->status = gs;
                out->http_status = gs == Status::ok ? 200 : out->http_status;
                out->error = gerror;
                out->digest = digest;
                out->media_type = media_type;
                done();
              });
            });
  }

  using Manifest = std::function<void(Status, const std::string& error, const std::string& digest,
                                      const std::string& media_type, const std::string& body)>;

  // GET a manifest and verify it: the digest is the hash of the exact bytes; it must equal the
  // digest asked for and the one the registry announced.
  void get_manifest(const JobPtr& job, const std::string& target, Manifest done)
  {
    request(job, manifest_request(*job, "GET", target),
            [job, target, done](Status s, const std::string& error, http::Response& r) {
              if (s != Status::ok) {
                done(s, error, {}, {}, {});
                return;
              }
              if (r.status == 404) {
                done(Status::not_found, job->where + ":" + target + " not found (404)", {}, {}, {});
                return;
              }
              if (r.status != 200) {
                done(Status::protocol, job->where + ": GET manifest " + target + " answered " + std::to_string(r.status), {}, {}, {});
                return;
              }
              const bool by_digest = target.find(':') != std::string::npos;
              const std::string computed = digest_of(r.body, by_digest ? std::string_view(target) : std::string_view());
              const std::string announced = r.header("docker-content-digest");
              if (by_digest && computed != target) {
                done(Status::digest_mismatch, job->where + ": the manifest served for " + target + " hashes to " + computed, {}, {}, {});
                return;
              }
              // A header that is not a digest at all is treated as absent (the bytes decide); a
              // digest of the same algorithm that differs from them is a mismatch.
              if (reference::validate_digest(announced).empty() && announced.substr(0, 7) == computed.substr(0, 7)
                  && announced != computed) {
                done(Status::digest_mismatch,
                     job->where + ":" + target + ": Docker-Content-Digest " + announced + " but the body hashes to " + computed,
                     {}, {}, {});
                return;
              }
              std::string media_type = media_type_of(r);
              nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
              if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) {
                media_type = j["mediaType"].get<std::string>();
              }
              done(Status::ok, {}, computed, media_type, r.body);
            });
  }

  // GET a blob (the image config) and verify its digest.
  void get_blob(const JobPtr& job, const std::string& digest, std::function<void(Status, const std::string&, const std::string&)> done)
  {
    http::Request req;
    req.url = job->ep->base + "/v2/" + job->res.ref.repository + "/blobs/" + digest;
    request(job, std::move(req), [job, digest, done](Status s, const std::string& error, http::Response& r) {
      if (s != Status::ok) {
        done(s, error, {});
        return;
      }
      if (r.status != 200) {
        done(r.status == 404 ? Status::not_found : Status::protocol,
             job->where + ": blob " + digest + " answered " + std::to_string(r.status), {});
        return;
      }
      if (digest_of(r.body, digest) != digest) {
        done(Status::digest_mismatch, job->where + ": blob " + digest + " does not hash to its digest", {});
        return;
      }
      done(Status::ok, {}, r.body);
    });
  }

  // --- metadata ---------------------------------------------------------------------------------

  void fetch_metadata(const JobPtr& job, const std::string& digest, Then done)
  {
    auto [it, inserted] = metadata.try_emplace(digest);
    MetadataFetch& f = it->second;
    if (f.done) {
      job->res.metadata = f.result;
      job->res.metadata_error = f.error;
      done();
      return;
    }
    f.waiting.push_back([this, job, digest, done] {
      const MetadataFetch& m = metadata[digest];
      job->res.metadata = m.result;
      job->res.metadata_error = m.error;
      done();
    });
    if (!inserted) {
      return;
    }
    if (opt.known_metadata) {
      if (auto known = opt.known_metadata(digest)) {
        finish_metadata(digest, std::move(known), {});
        return;
      }
    }
    get_manifest(job, digest, [this, job, digest](Status s, const std::string& error, const std::string&,
                                                  const std::string& media_type, const std::string& body) {
      if (s != Status::ok) {
        finish_metadata(digest, nullptr, error);
        return;
      }
      auto m = std::make_shared<ImageMetadata>();
      m->digest = digest;
      m->media_type = media_type;
      nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
      if (!doc.is_object()) {
        finish_metadata(digest, nullptr, job->where + ": manifest " + digest + " is not a JSON object");
        return;
      }
      auto manifests = doc.find("manifests");
      if (manifests != doc.end() && manifests->is_array()) {
        std::string chosen;
        bool chosen_amd64 = false;
        for (const auto& entry : *manifests) {
          const std::string name = entry.is_object() ? platform_name(entry.value("platform", nlohmann::json())) : "";
          auto d = entry.is_object() ? entry.find("digest") : entry.end();
          if (d == entry.end() || !d->is_string() || !reference::validate_digest(d->get<std::string>()).empty()) {
            continue;
          }
          // Build attestations are listed as unknown/unknown (REGISTRY.md step 5).
          if (name == "unknown/unknown") {
            continue;
          }
          m->platforms.push_back(Platform{name, d->get<std::string>()});
          // The platform read for labels: linux/amd64 when there is one, else the first.
          if (chosen.empty() || (name == "linux/amd64" && !chosen_amd64)) {
            chosen = d->get<std::string>();
            chosen_amd64 = name == "linux/amd64";
          }
        }
        take_annotations(*m, doc, "annotations");
        if (chosen.empty()) {
          finish_metadata(digest, m, {});
          return;
        }
        get_manifest(job, chosen, [this, job, digest, m](Status ps, const std::string& perror, const std::string&,
                                                         const std::string&, const std::string& pbody) {
          if (ps != Status::ok) {
            // Metadata is kept forever per digest: a partial answer would hide the labels for good.
            finish_metadata(digest, nullptr, perror);
            return;
          }
          nlohmann::json image = nlohmann::json::parse(pbody, nullptr, false);
          read_image(job, digest, m, image, /*index_annotations_read=*/true);
        });
        return;
      }
      read_image(job, digest, m, doc, false);
    });
  }

  // An image manifest: labels from its config blob, then the manifest's annotations.
  void read_image(const JobPtr& job, const std::string& digest, const std::shared_ptr<ImageMetadata>& m,
                  const nlohmann::json& image, bool from_index)
  {
    if (!image.is_object()) {
      finish_metadata(digest, m, job->where + ": platform manifest is not a JSON object");
      return;
    }
    // The index's annotations were read first; the image's own come before them in priority,
    // so they are merged after the config labels below.
    nlohmann::json manifest_annotations = image.value("annotations", nlohmann::json::object());
    auto config = image.find("config");
    std::string config_digest;
    if (config != image.end() && config->is_object() && config->contains("digest") && (*config)["digest"].is_string()) {
      config_digest = (*config)["digest"].get<std::string>();
    }
    if (config_digest.empty() || !reference::validate_digest(config_digest).empty()) {
      ImageMetadata merged = merge(*m, {}, manifest_annotations, from_index);
      finish_metadata(digest, std::make_shared<ImageMetadata>(std::move(merged)), {});
      return;
    }
    get_blob(job, config_digest, [this, digest, m, manifest_annotations, from_index](Status s, const std::string& error,
                                                                                      const std::string& body) {
      if (s != Status::ok) {
        // Unverified or missing labels are not "no labels": metadata is kept forever per digest.
        finish_metadata(digest, nullptr, error);
        return;
      }
      std::map<std::string, std::string> labels;
      {
        nlohmann::json cfg = nlohmann::json::parse(body, nullptr, false);
        if (cfg.is_object()) {
          auto c = cfg.find("config");
          if (c != cfg.end() && c->is_object()) {
            auto l = c->find("Labels");
            if (l != c->end() && l->is_object()) {
              for (const auto& [k, v] : l->items()) {
                if (v.is_string()) {
                  labels[k] = v.get<std::string>();
                }
              }
            }
          }
        }
      }
      ImageMetadata merged = merge(*m, labels, manifest_annotations, from_index);
      finish_metadata(digest, std::make_shared<ImageMetadata>(std::move(merged)), {});
    });
  }

  // Priority: config labels, then the image manifest's annotations, then the index's (already in m).
  static ImageMetadata merge(const ImageMetadata& index_level, const std::map<std::string, std::string>& labels,
                             const nlohmann::json& manifest_annotations, bool from_index)
  {
    ImageMetadata out = index_level;
    out.labels = labels;
    // The image manifest's own annotations over the index's.
    if (manifest_annotations.is_object()) {
      for (const auto& [k, v] : manifest_annotations.items()) {
        if (v.is_string()) {
          out.annotations[k] = v.get<std::string>();
        }
      }
    }
    std::string index_values[] = {out.revision, out.source, out.created, out.version};
    std::string* targets[] = {&out.revision, &out.source, &out.created, &out.version};
    for (std::size_t i = 0; i < std::size(k_annotation_keys); ++i) {
      std::string v;
      if (auto l = labels.find(k_annotation_keys[i]); l != labels.end()) {
        v = l->second;
      }
      if (v.empty() && manifest_annotations.is_object()) {
        auto a = manifest_annotations.find(k_annotation_keys[i]);
        if (a != manifest_annotations.end() && a->is_string()) {
          v = a->get<std::string>();
        }
      }
      if (v.empty() && from_index) {
        v = index_values[i];
      }
      *targets[i] = v;
    }
    return out;
  }

  void finish_metadata(const std::string& digest, std::shared_ptr<const ImageMetadata> result, const std::string& error)
  {
    MetadataFetch& f = metadata[digest];
    f.done = true;
    f.result = std::move(result);
    f.error = error;
    auto waiting = std::move(f.waiting);
    f.waiting.clear();
    for (auto& w : waiting) {
      w();
    }
  }

  // --- the run ----------------------------------------------------------------------------------

  void start(const JobPtr& job)
  {
    const reference::Reference& ref = job->res.ref;
    if (!ref.valid) {
      Lookup l{Status::protocol, ref.unresolved ? "not a reference yet (template variables)" : ref.error, {}, {}, 0};
      job->res.tag = l;
      return;
    }
    job->ep = &endpoint(ref.registry);
    job->res.host = job->ep->host;
    job->scope = "repository:" + ref.repository + ":pull";
    job->where = job->ep->host + ": " + ref.repository;
    with_endpoint(*job->ep, [this, job] {
      Endpoint& ep = *job->ep;
      const reference::Reference& r = job->res.ref;
      if (ep.state == Endpoint::State::failed) {
        Lookup l{ep.fail_status, ep.host + ": " + ep.fail_error, {}, {}, 0};
        if (r.has_digest()) {
          job->res.pinned = l;
        }
        if (r.has_tag() || !r.has_digest()) {
          job->res.tag = l;
        }
        return;
      }
      auto step_done = [this, job] {
        if (--job->pending > 0) {
          return;
        }
        const std::string deployed = job->res.deployed_digest();
        const bool found = job->res.status() == Status::ok
                           || (job->res.pinned && job->res.pinned->status == Status::ok);
        if (opt.fetch_metadata && !deployed.empty() && found) {
          fetch_metadata(job, deployed, [] {});
        }
      };
      job->pending = (r.has_tag() || !r.has_digest() ? 1 : 0) + (r.has_digest() ? 1 : 0);
      if (r.has_tag() || !r.has_digest()) {
        job->res.tag.emplace();
        lookup(job, r.has_tag() ? r.tag : "latest", &*job->res.tag, step_done);
      }
      if (r.has_digest()) {
        job->res.pinned.emplace();
        lookup(job, r.digest, &*job->res.pinned, step_done);
      }
    });
  }
};

Client::Client(Options options, CredentialStore credentials)
  : m_impl(std::make_unique<Impl>(std::move(options), std::move(credentials)))
{
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const Counters& Client::counters() const
{
  return m_impl->counters;
}

std::vector<Resolution> Client::resolve(const std::vector<reference::Reference>& refs)
{
  // One job per distinct canonical reference; duplicates share its answer.
  std::vector<Impl::JobPtr> jobs;
  std::unordered_map<std::string, std::size_t> by_name;
  std::vector<std::size_t> job_of(refs.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const std::string key = refs[i].valid ? refs[i].canonical() : "\n" + refs[i].input;
    auto [it, inserted] = by_name.try_emplace(key, jobs.size());
    if (inserted) {
      auto job = std::make_shared<Impl::Job>();
      job->res.ref = refs[i];
      jobs.push_back(std::move(job));
    }
    job_of[i] = it->second;
  }
  for (const auto& job : jobs) {
    m_impl->start(job);
  }
  m_impl->engine.run();
  std::vector<Resolution> out;
  out.reserve(refs.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    out.push_back(jobs[job_of[i]]->res);
    out.back().ref = refs[i];
  }
  return out;
}

} // namespace changetrail::registry
