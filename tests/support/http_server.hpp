#pragma once

// A minimal HTTP/1.1 server on 127.0.0.1 for tests: the token server of the registry fixture runs on it,
// and fakes that misbehave on purpose (resets, slow bodies, missing Content-Length) are built from it.
// Also a one-shot client (`http_fetch`) for readiness probes and tests that need no real HTTP client.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace changetrail::test {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Owns a file descriptor (socket or pipe end): closed on destruction, move-only.
class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept
  {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  [[nodiscard]] int get() const { return m_fd; }
  [[nodiscard]] bool valid() const { return m_fd >= 0; }
  int release()
  {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
  }
  void reset(int fd = -1);

private:
  int m_fd = -1;
};

// Case-insensitive lookup in a header list; empty when absent (first match wins).
std::string find_header(const HttpHeaders& headers, std::string_view name);

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path and query, not decoded
  std::string path;    // target before '?'
  std::string query;   // target after '?', without it
  std::string version; // "HTTP/1.1"
  HttpHeaders headers;
  std::string body;

  [[nodiscard]] std::string header(std::string_view name) const { return find_header(headers, name); }
  // Every value of a query parameter, percent-decoded (`scope=` may repeat).
  [[nodiscard]] std::vector<std::string> query_values(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  // Sent as given. Content-Length is added unless present here (a handler may set a wrong one on purpose:
  // the connection is then closed after the answer) or omit_content_length is set.
  HttpHeaders headers;
  std::string body;

  // Fault injection.
  bool reset = false;                       // close the connection without answering (RST), after reading the request
  std::chrono::milliseconds delay{0};       // wait before answering
  std::chrono::milliseconds chunk_delay{0}; // with chunk_size > 0: the body goes out in pieces of chunk_size
  std::size_t chunk_size = 0;               // bytes, each piece preceded by chunk_delay (headers go out at once)
  bool omit_content_length = false;         // body delimited by connection close
  std::string raw;                          // if non-empty: written verbatim instead of status/headers/body, then close
};

// Serves on 127.0.0.1 with a free port, one thread per connection. Keep-alive as HTTP/1.1 says
// (HTTP/1.0 only with `Connection: keep-alive`); `Connection: close` honoured; HEAD answered with the
// Content-Length of the body the handler returned and no body. Requests over 1 MiB (headers plus body)
// get 413 and the connection is closed; a chunked request body gets 501 (no test client sends one).
// A handler that throws gives 500 with the exception text as body.
class HttpServer {
public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit HttpServer(Handler handler);
  ~HttpServer(); // stops accepting, wakes idle keep-alive connections, joins every thread
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] int port() const { return m_port; }
  [[nodiscard]] std::string host() const;                  // "127.0.0.1:PORT"
  [[nodiscard]] std::vector<HttpRequest> requests() const; // in order of arrival
  [[nodiscard]] std::size_t connections() const;           // accepted so far

  static constexpr std::size_t k_max_request_bytes = 1024 * 1024;

private:
  struct Connection {
    UniqueFd fd;
    std::thread thread;
    bool done = false; // guarded by m_mutex, as is fd once the thread runs
  };

  void accept_loop();
  void serve(Connection& connection);
  // Sleeps for `duration` unless the server stops first; false when it is stopping.
  bool pause(std::chrono::milliseconds duration);
  // Waits until `fd` is readable or the server stops; false when stopping.
  bool wait_readable(int fd) const;
  bool send_all(int fd, std::string_view data) const;
  void close_connection(Connection& connection, bool reset);

  Handler m_handler;
  UniqueFd m_listener;
  int m_port = 0;
  // Closing the write end makes the read end readable for every poll() at once: the stop signal.
  UniqueFd m_wake_read;
  UniqueFd m_wake_write;
  std::atomic<bool> m_stopping{false};
  std::mutex m_stop_mutex;
  std::condition_variable m_stop_cv;

  mutable std::mutex m_mutex;
  std::vector<HttpRequest> m_requests;
  std::size_t m_connections = 0;
  std::list<std::unique_ptr<Connection>> m_open;
  std::thread m_acceptor;
};

struct HttpReply {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  [[nodiscard]] std::string header(std::string_view name) const { return find_header(headers, name); }
};

// One request on a fresh connection with `Connection: close` to `host` ("127.0.0.1:PORT"); reads the answer
// to the end (Content-Length, chunked or close-delimited). Throws std::runtime_error when the connection
// fails or the answer does not come within `timeout`.
HttpReply http_fetch(const std::string& host, const std::string& method, const std::string& target,
                     const HttpHeaders& headers = {}, const std::string& body = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Connects a blocking TCP socket to 127.0.0.1:port; throws on failure.
UniqueFd connect_loopback(int port);

std::string percent_decode(std::string_view text);
std::string base64_encode(std::string_view data);
// Standard alphabet, padding optional; throws std::invalid_argument on other characters.
std::string base64_decode(std::string_view text);

} // namespace changetrail::test
