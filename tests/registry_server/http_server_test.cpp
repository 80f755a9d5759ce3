// The test HTTP server (tests/support/http_server.hpp), driven by plain POSIX sockets so that every byte
// on the wire is visible: keep-alive, HEAD, and the faults it injects for client tests.

#include "support/http_server.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <thread>

using namespace changetrail::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct RawResponse {
  std::string status_line;
  HttpHeaders headers;
  std::string body;
  [[nodiscard]] std::string header(std::string_view name) const { return find_header(headers, name); }
};

// A client connection that reads exactly what the server sends.
class RawClient {
public:
  explicit RawClient(int port) : m_fd(connect_loopback(port)) {}

  void send(std::string_view data)
  {
    while (!data.empty()) {
      const auto n = ::send(m_fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads until `pred(buffer)` holds or the peer closes; false on close or timeout first.
  template <typename Pred> bool read_until(Pred pred, std::chrono::milliseconds timeout = 5s)
  {
    const auto deadline = Clock::now() + timeout;
    while (!pred(m_buffer)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        return false;
      }
      pollfd p{m_fd.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
        continue;
      }
      char chunk[4096];
      const auto n = ::recv(m_fd.get(), chunk, sizeof chunk, 0);
      if (n <= 0) {
        m_closed = true;
        m_error = n < 0 ? errno : 0;
        return pred(m_buffer);
      }
      m_buffer.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }

  // One response: the head, then Content-Length bytes (or everything up to the close without one).
  // `head_request`: no body follows whatever Content-Length says.
  RawResponse response(bool head_request = false)
  {
    REQUIRE(read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; }));
    const auto head_end = m_buffer.find("\r\n\r\n");
    RawResponse r;
    const std::string head = m_buffer.substr(0, head_end);
    m_buffer.erase(0, head_end + 4);
    std::size_t at = head.find("\r\n");
    r.status_line = head.substr(0, at);
    while (at != std::string::npos) {
      const auto next = head.find("\r\n", at + 2);
      const std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
      const auto colon = line.find(':');
      r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
      at = next;
    }
    if (head_request) {
      return r;
    }
    if (const std::string cl = r.header("Content-Length"); !cl.empty()) {
      const std::size_t length = std::stoul(cl);
      REQUIRE(read_until([length](const std::string& b) { return b.size() >= length; }));
      r.body = m_buffer.substr(0, length);
      m_buffer.erase(0, length);
    } else {
      read_until([](const std::string&) { return false; });
      REQUIRE(m_closed);
      r.body = std::move(m_buffer);
      m_buffer.clear();
    }
    return r;
  }

  // True when the server closes the connection (EOF or reset) within `timeout`.
  bool closed_by_peer(std::chrono::milliseconds timeout = 2s)
  {
    read_until([](const std::string&) { return false; }, timeout);
    return m_closed;
  }

  [[nodiscard]] const std::string& unread() const { return m_buffer; }
  [[nodiscard]] int error() const { return m_error; }

private:
  UniqueFd m_fd;
  std::string m_buffer;
  bool m_closed = false;
  int m_error = 0;
};

HttpResponse text(std::string body, int status = 200)
{
  HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "text/plain"}};
  r.body = std::move(body);
  return r;
}

std::string get(const std::string& target, const std::string& extra = {})
{
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

} // namespace

TEST_CASE("http_server: answers and records requests", "[http_server]")
{
  HttpServer server([](const HttpRequest& r) { return text("path=" + r.path + " query=" + r.query); });
  CHECK(server.port() > 0);
  CHECK(server.host() == "127.0.0.1:" + std::to_string(server.port()));

  RawClient client(server.port());
  client.send(get("/token?service=reg&scope=repository%3Aa%2Fb%3Apull&scope=x", "X-Test: One\r\n"));
  const RawResponse r = client.response();
  CHECK(r.status_line == "HTTP/1.1 200 OK");
  CHECK(r.header("content-length") == std::to_string(r.body.size()));
  CHECK(r.body == "path=/token query=service=reg&scope=repository%3Aa%2Fb%3Apull&scope=x");

  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/token?service=reg&scope=repository%3Aa%2Fb%3Apull&scope=x");
  CHECK(requests[0].header("x-test") == "One");
  CHECK(requests[0].header("absent").empty());
  CHECK(requests[0].query_values("scope") == std::vector<std::string>{"repository:a/b:pull", "x"});
  CHECK(requests[0].query_values("service") == std::vector<std::string>{"reg"});
}

TEST_CASE("http_server: keep-alive serves several requests on one connection", "[http_server]")
{
  HttpServer server([](const HttpRequest& r) { return text(r.path); });
  RawClient client(server.port());
  client.send(get("/one"));
  CHECK(client.response().body == "/one");
  client.send(get("/two"));
  CHECK(client.response().body == "/two");
  // Pipelined: both requests in one write, answered in order.
  client.send(get("/three") + get("/four"));
  CHECK(client.response().body == "/three");
  CHECK(client.response().body == "/four");
  CHECK(server.connections() == 1);
  CHECK(server.requests().size() == 4);

  SECTION("Connection: close ends it after the answer")
  {
    client.send(get("/last", "Connection: close\r\n"));
    const RawResponse r = client.response();
    CHECK(r.body == "/last");
    CHECK(r.header("Connection") == "close");
    CHECK(client.closed_by_peer());
  }

  SECTION("HTTP/1.0 closes unless asked to keep alive")
  {
    RawClient old(server.port());
    old.send("GET /old HTTP/1.0\r\n\r\n");
    CHECK(old.response().body == "/old");
    CHECK(old.closed_by_peer());
  }
}

TEST_CASE("http_server: HEAD gets the Content-Length of the body and no body", "[http_server]")
{
  HttpServer server([](const HttpRequest&) { return text(std::string(1234, 'x')); });
  RawClient client(server.port());
  client.send("HEAD /manifest HTTP/1.1\r\nHost: test\r\n\r\n");
  const RawResponse head = client.response(true);
  CHECK(head.header("Content-Length") == "1234");
  // Nothing follows the head: the next answer on the connection starts right away.
  client.send(get("/manifest"));
  const RawResponse r = client.response();
  CHECK(r.status_line == "HTTP/1.1 200 OK");
  CHECK(r.body.size() == 1234);
}

TEST_CASE("http_server: request bodies, limits and handler errors", "[http_server]")
{
  HttpServer server([](const HttpRequest& r) {
    if (r.path == "/throw") {
      throw std::runtime_error("handler failed");
    }
    return text(r.method + ":" + r.body, 201);
  });

  SECTION("a POST body is read by Content-Length")
  {
    RawClient client(server.port());
    client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    const RawResponse r = client.response();
    CHECK(r.status_line == "HTTP/1.1 201 Created");
    CHECK(r.body == "POST:hello");
  }

  SECTION("over 1 MiB is refused with 413")
  {
    RawClient client(server.port());
    client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n");
    const RawResponse r = client.response();
    CHECK(r.status_line.starts_with("HTTP/1.1 413"));
    CHECK(client.closed_by_peer());
    CHECK(server.requests().empty());
  }

  SECTION("an endless head is refused")
  {
    RawClient client(server.port());
    const std::string header = "X-Filler: " + std::string(std::size_t{64} * 1024, 'a') + "\r\n";
    client.send("GET / HTTP/1.1\r\n");
    for (int i = 0; i < 20; ++i) {
      client.send(header);
    }
    const RawResponse r = client.response();
    CHECK(r.status_line.starts_with("HTTP/1.1 431"));
  }

  SECTION("a throwing handler gives 500")
  {
    RawClient client(server.port());
    client.send(get("/throw"));
    const RawResponse r = client.response();
    CHECK(r.status_line == "HTTP/1.1 500 Internal Server Error");
    CHECK(r.body.find("handler failed") != std::string::npos);
  }
}

TEST_CASE("http_server: fault injection", "[http_server]")
{
  std::mutex mutex;
  HttpResponse next;
  HttpServer server([&](const HttpRequest&) {
    const std::lock_guard lock(mutex);
    return next;
  });
  const auto answer_with = [&](HttpResponse r) {
    const std::lock_guard lock(mutex);
    next = std::move(r);
  };

  SECTION("reset closes without an answer")
  {
    HttpResponse r = text("never sent");
    r.reset = true;
    answer_with(r);
    RawClient client(server.port());
    client.send(get("/"));
    CHECK(client.closed_by_peer());
    CHECK(client.unread().empty());
    CHECK(client.error() == ECONNRESET);
    CHECK(server.requests().size() == 1);
  }

  SECTION("delay holds the whole answer back")
  {
    HttpResponse r = text("late");
    r.delay = 300ms;
    answer_with(r);
    RawClient client(server.port());
    const auto began = Clock::now();
    client.send(get("/"));
    CHECK(client.response().body == "late");
    CHECK(Clock::now() - began >= 300ms);
  }

  SECTION("a slow body arrives in chunks after the head")
  {
    HttpResponse r = text("0123456789");
    r.chunk_size = 2;
    r.chunk_delay = 60ms;
    answer_with(r);
    RawClient client(server.port());
    const auto began = Clock::now();
    client.send(get("/"));
    REQUIRE(client.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; }));
    const auto head_at = Clock::now() - began;
    const RawResponse response = client.response();
    const auto body_at = Clock::now() - began;
    CHECK(response.body == "0123456789");
    CHECK(response.header("Content-Length") == "10");
    CHECK(head_at < 250ms);
    CHECK(body_at >= 5 * 60ms);
    // Still keep-alive afterwards.
    client.send(get("/again"));
    CHECK(client.response().body == "0123456789");
  }

  SECTION("omit_content_length ends the body with the connection")
  {
    HttpResponse r = text("until close");
    r.omit_content_length = true;
    answer_with(r);
    RawClient client(server.port());
    client.send(get("/"));
    const RawResponse response = client.response();
    CHECK(response.header("Content-Length").empty());
    CHECK(response.body == "until close");
  }

  SECTION("a wrong Content-Length of the handler's is sent as is, then the connection closes")
  {
    HttpResponse r = text("short");
    r.headers.emplace_back("Content-Length", "100");
    answer_with(r);
    RawClient client(server.port());
    client.send(get("/"));
    REQUIRE(client.read_until([](const std::string& b) { return b.find("short") != std::string::npos; }));
    CHECK(client.unread().find("Content-Length: 100\r\n") != std::string::npos);
    CHECK(client.closed_by_peer());
  }

  SECTION("raw bytes are written verbatim")
  {
    HttpResponse r;
    r.raw = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"; // truncated on purpose
    answer_with(r);
    RawClient client(server.port());
    client.send(get("/"));
    CHECK(client.closed_by_peer());
    CHECK(client.unread() == r.raw);
  }
}

TEST_CASE("http_server: concurrent connections are served at the same time", "[http_server]")
{
  std::mutex mutex;
  std::condition_variable cv;
  int arrived = 0;
  // Each request waits until both have arrived: one connection at a time would never answer.
  HttpServer server([&](const HttpRequest& r) {
    std::unique_lock lock(mutex);
    ++arrived;
    cv.notify_all();
    const bool both = cv.wait_for(lock, 5s, [&] { return arrived >= 2; });
    return text(both ? r.path : "alone");
  });
  RawClient a(server.port());
  RawClient b(server.port());
  a.send(get("/a"));
  b.send(get("/b"));
  CHECK(a.response().body == "/a");
  CHECK(b.response().body == "/b");
  CHECK(server.connections() == 2);
}

TEST_CASE("http_server: stops promptly with idle and busy connections open", "[http_server]")
{
  std::optional<RawClient> idle;
  std::optional<RawClient> slow;
  const auto began = Clock::now();
  {
    HttpServer server([](const HttpRequest& r) {
      HttpResponse response = text(std::string(100, 'x'));
      if (r.path == "/slow") {
        response.chunk_size = 1;
        response.chunk_delay = 1s;
      }
      return response;
    });
    idle.emplace(server.port());
    idle->send(get("/"));
    CHECK(idle->response().body.size() == 100);
    slow.emplace(server.port());
    slow->send(get("/slow"));
    REQUIRE(slow->read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; }));
  }
  CHECK(Clock::now() - began < 3s);
  CHECK(idle->closed_by_peer(1s));
  CHECK(slow->closed_by_peer(1s));
}

TEST_CASE("http_server: http_fetch reads Content-Length, chunked and close-delimited answers", "[http_server]")
{
  HttpServer server([](const HttpRequest& r) {
    HttpResponse response = text("body of " + r.path);
    if (r.path == "/chunked") {
      response.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n6\r\n of ch\r\n0\r\n\r\n";
    } else if (r.path == "/close") {
      response.omit_content_length = true;
    }
    return response;
  });
  CHECK(http_fetch(server.host(), "GET", "/plain").body == "body of /plain");
  CHECK(http_fetch(server.host(), "GET", "/chunked").body == "body of ch");
  CHECK(http_fetch(server.host(), "GET", "/close").body == "body of /close");
  const HttpReply head = http_fetch(server.host(), "HEAD", "/plain");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.header("content-length") == "14");
  CHECK(base64_decode(base64_encode("user:pa ss")) == "user:pa ss");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(percent_decode("a%2Fb+c%3a") == "a/b c:");
}
