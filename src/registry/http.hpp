#pragma once

// The transfer engine: one curl multi handle drives every request of a run, so connections
// are reused and HTTP/2 streams multiplexed where the server offers them (REGISTRY.md
// "Operations"). Requests are queued and started under a per-host and a global cap; callbacks
// run on the thread that calls run() and may queue more requests (the next step of a flow).

#include "curl.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace changetrail::registry::http {

// Body caps of REGISTRY.md "Security", enforced in the write callback: CURLOPT_MAXFILESIZE does
// not apply when the server sends no Content-Length.
inline constexpr std::size_t k_manifest_cap = 4 * 1024 * 1024;
inline constexpr std::size_t k_token_cap = 1024 * 1024;
inline constexpr std::size_t k_error_cap = 64 * 1024;
inline constexpr std::size_t k_header_cap = 64 * 1024;

struct Request {
  std::string method = "GET"; // GET, HEAD or POST
  std::string url;
  std::vector<std::string> headers; // "Name: value"; may hold credentials, never printed
  std::string body;                 // POST only (application/x-www-form-urlencoded)
  std::size_t body_cap = k_manifest_cap;
  // Refuse connections to loopback, private, link-local and unspecified addresses (a token realm
  // on another host than the registry: REGISTRY.md "Security", realm policy). Checked on the
  // address actually connected to, so a host name that resolves to 169.254.169.254 is caught too.
  bool public_addresses_only = false;
};

enum class Failure : std::uint8_t {
  none,      // an HTTP answer arrived (any status)
  timeout,   // connect or transfer timed out
  connect,   // refused, unreachable, name not resolved
  tls,       // certificate or handshake failure
  network,   // reset, closed early, partial body
  too_large, // body or headers over their cap
  refused,   // the address policy refused the connection
  protocol,  // malformed HTTP, unsupported protocol
};
[[nodiscard]] const char* to_string(Failure f);

struct Response {
  Failure failure = Failure::none;
  std::string error; // one line when failure != none; no URL query, no header value
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers; // names lower case, in order
  std::string body;
  std::string url; // the URL requested (for redirects relative to it)

  [[nodiscard]] std::string header(std::string_view name) const; // first, or empty
  [[nodiscard]] std::vector<std::string> header_values(std::string_view name) const;
};

struct Limits {
  int per_host = 6;
  int total = 32;
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  std::string user_agent = "changetrail";
  std::string ca_file; // CA bundle instead of the system's (default: $SSL_CERT_FILE)
  std::string ca_dir;  // CA directory (default: $SSL_CERT_DIR)
};

class Engine {
public:
  explicit Engine(Limits limits);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  using Done = std::function<void(Response&)>;
  void submit(Request request, Done done);
  // Runs `f` on the loop after `delay` (back-off before a retry).
  void after(std::chrono::milliseconds delay, std::function<void()> f);
  // Runs until nothing is queued, running or waiting. An exception from a callback stops the
  // loop, cancels what is in flight and is rethrown.
  void run();

  // Requests started so far, for tests and the summary.
  [[nodiscard]] std::size_t started() const { return m_started; }

private:
  struct Transfer;
  struct Timer {
    std::chrono::steady_clock::time_point at;
    std::uint64_t order;
    std::function<void()> f;
  };
  void start(std::unique_ptr<Transfer> t);
  void start_queued();
  void finish(CURL* easy, CURLcode code);
  bool fire_timers();

  Limits m_limits;
  curl::Multi m_multi;
  std::vector<std::unique_ptr<Transfer>> m_queue;
  std::map<CURL*, std::unique_ptr<Transfer>> m_active;
  std::map<std::string, int> m_per_host;
  std::vector<Timer> m_timers; // a heap on (at, order)
  std::uint64_t m_timer_order = 0;
  std::size_t m_started = 0;
};

} // namespace changetrail::registry::http

namespace changetrail::registry::http {

// False for loopback, private (RFC 1918, RFC 4193), shared (RFC 6598), link-local, multicast
// and unspecified addresses, IPv4-mapped IPv6 judged as IPv4. `literal` that is not an IP
// address: nullopt.
[[nodiscard]] std::optional<bool> is_public_ip(std::string_view literal);

} // namespace changetrail::registry::http
