#include "http_server.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace changetrail::test {

namespace {

bool iequals(std::string_view a, std::string_view b)
{
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s)
{
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// True when a comma-separated header value (Connection) holds `token`.
bool has_token(std::string_view value, std::string_view token)
{
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

const char* reason_phrase(int status)
{
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 411:
    return "Length Required";
  case 413:
    return "Content Too Large";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "Status";
  }
}

// Parses "NAME: value" lines after the first line of `head` (which ends before the blank line).
HttpHeaders parse_header_lines(std::string_view head)
{
  HttpHeaders headers;
  auto eol = head.find("\r\n");
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
    }
  }
  return headers;
}

std::optional<std::size_t> parse_size(std::string_view text, int base = 10)
{
  text = trim(text);
  if (text.empty()) {
    return std::nullopt;
  }
  std::size_t value = 0;
  for (const char c : text) {
    int digit = -1;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (value > (std::size_t{1} << 40)) {
      return std::nullopt; // absurd; also keeps the multiplication from overflowing
    }
    value = value * static_cast<std::size_t>(base) + static_cast<std::size_t>(digit);
  }
  return value;
}

} // namespace

void UniqueFd::reset(int fd)
{
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  m_fd = fd;
}

std::string find_header(const HttpHeaders& headers, std::string_view name)
{
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return {};
}

std::string percent_decode(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size()) {
      const auto value = parse_size(text.substr(i + 1, 2), 16);
      if (value) {
        out += static_cast<char>(*value);
        i += 2;
      } else {
        out += '%';
      }
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string> HttpRequest::query_values(std::string_view name) const
{
  std::vector<std::string> values;
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == name) {
      values.push_back(eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(amp + 1);
  }
  return values;
}

namespace {
constexpr std::string_view k_base64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view data)
{
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const auto n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16U |
                   static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8U |
                   static_cast<unsigned>(static_cast<unsigned char>(data[i + 2]));
    out += k_base64_alphabet[(n >> 18U) & 63U];
    out += k_base64_alphabet[(n >> 12U) & 63U];
    out += k_base64_alphabet[(n >> 6U) & 63U];
    out += k_base64_alphabet[n & 63U];
  }
  if (i < data.size()) {
    auto n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16U;
    if (i + 1 < data.size()) {
      n |= static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8U;
    }
    out += k_base64_alphabet[(n >> 18U) & 63U];
    out += k_base64_alphabet[(n >> 12U) & 63U];
    out += i + 1 < data.size() ? k_base64_alphabet[(n >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view text)
{
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    if (c == '=') {
      break;
    }
    const auto value = k_base64_alphabet.find(c);
    if (value == std::string_view::npos) {
      throw std::invalid_argument("not base64");
    }
    buffer = (buffer << 6U) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU);
    }
  }
  return out;
}

HttpServer::HttpServer(Handler handler) : m_handler(std::move(handler))
{
  m_listener = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!m_listener.valid()) {
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  }
  const int one = 1;
  ::setsockopt(m_listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(m_listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(m_listener.get(), 128) != 0) {
    throw std::runtime_error(std::string("bind/listen on 127.0.0.1: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(m_listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  m_port = ntohs(addr.sin_port);

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  m_wake_read = UniqueFd(wake[0]);
  m_wake_write = UniqueFd(wake[1]);
  m_acceptor = std::thread([this] { accept_loop(); });
}

HttpServer::~HttpServer()
{
  {
    const std::lock_guard lock(m_stop_mutex);
    m_stopping = true;
  }
  m_stop_cv.notify_all();
  m_wake_write.reset();
  m_acceptor.join();
  // A connection thread may be blocked in send() to a client that does not read: shutdown() ends that too.
  std::list<std::unique_ptr<Connection>> open;
  {
    const std::lock_guard lock(m_mutex);
    for (auto& c : m_open) {
      if (c->fd.valid()) {
        ::shutdown(c->fd.get(), SHUT_RDWR);
      }
    }
    open.swap(m_open);
  }
  for (auto& c : open) {
    c->thread.join();
  }
}

std::string HttpServer::host() const
{
  return "127.0.0.1:" + std::to_string(m_port);
}

std::vector<HttpRequest> HttpServer::requests() const
{
  const std::lock_guard lock(m_mutex);
  return m_requests;
}

std::size_t HttpServer::connections() const
{
  const std::lock_guard lock(m_mutex);
  return m_connections;
}

bool HttpServer::pause(std::chrono::milliseconds duration)
{
  std::unique_lock lock(m_stop_mutex);
  return !m_stop_cv.wait_for(lock, duration, [this] { return m_stopping.load(); });
}

bool HttpServer::wait_readable(int fd) const
{
  pollfd fds[2] = {{fd, POLLIN, 0}, {m_wake_read.get(), POLLIN, 0}};
  while (!m_stopping) {
    const int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 || (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      return false;
    }
    if (fds[0].revents != 0) {
      return true;
    }
  }
  return false;
}

bool HttpServer::send_all(int fd, std::string_view data) const
{
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void HttpServer::accept_loop()
{
  while (!m_stopping) {
    pollfd fds[2] = {{m_listener.get(), POLLIN, 0}, {m_wake_read.get(), POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 || fds[1].revents != 0) {
      return;
    }
    UniqueFd fd(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid()) {
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::lock_guard lock(m_mutex);
    // Reap finished connections so a long test does not accumulate threads.
    for (auto it = m_open.begin(); it != m_open.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = m_open.erase(it);
      } else {
        ++it;
      }
    }
    ++m_connections;
    auto connection = std::make_unique<Connection>();
    connection->fd = std::move(fd);
    Connection& c = *connection;
    m_open.push_back(std::move(connection));
    c.thread = std::thread([this, &c] { serve(c); });
  }
}

void HttpServer::close_connection(Connection& connection, bool reset)
{
  const std::lock_guard lock(m_mutex);
  if (connection.fd.valid() && reset) {
    // Linger 0 turns close() into an RST, which is what "connection reset by peer" means to a client.
    const linger lin{1, 0};
    ::setsockopt(connection.fd.get(), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
  }
  connection.fd.reset();
  connection.done = true;
}

void HttpServer::serve(Connection& connection)
{
  const int fd = connection.fd.get(); // stays open until close_connection() below
  std::string buffer;
  bool reset = false;
  const auto read_more = [&]() {
    if (!wait_readable(fd)) {
      return false;
    }
    char chunk[16384];
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      return false;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  const auto refuse = [&](int status, std::string_view message) {
    const std::string body = std::string(message) + "\n";
    send_all(fd, "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                     "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body);
    // Lingering close: the client may still be sending the refused request. Closing with unread input
    // sends an RST, which can destroy the answer before the client reads it; so read and drop for a while.
    ::shutdown(fd, SHUT_WR);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    char sink[16384];
    while (std::chrono::steady_clock::now() < until) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {m_wake_read.get(), POLLIN, 0}};
      if (::poll(fds, 2, 100) < 0 || fds[1].revents != 0) {
        break;
      }
      if (fds[0].revents != 0 && ::recv(fd, sink, sizeof sink, 0) <= 0) {
        break;
      }
    }
  };

  for (;;) {
    // Head of the request.
    std::size_t head_end = std::string::npos;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > k_max_request_bytes) {
        refuse(431, "request head over 1 MiB");
        close_connection(connection, false);
        return;
      }
      if (!read_more()) {
        close_connection(connection, false);
        return;
      }
    }
    HttpRequest request;
    const std::string_view head(buffer.data(), head_end + 2);
    const std::string_view request_line = head.substr(0, head.find("\r\n"));
    const auto sp1 = request_line.find(' ');
    const auto sp2 = request_line.find(' ', sp1 == std::string_view::npos ? sp1 : sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
      refuse(400, "malformed request line");
      close_connection(connection, false);
      return;
    }
    request.method = std::string(request_line.substr(0, sp1));
    request.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    request.version = std::string(request_line.substr(sp2 + 1));
    const auto question = request.target.find('?');
    request.path = request.target.substr(0, question);
    request.query = question == std::string::npos ? std::string{} : request.target.substr(question + 1);
    request.headers = parse_header_lines(head);
    buffer.erase(0, head_end + 4);

    // Body.
    if (!request.header("Transfer-Encoding").empty() && !iequals(request.header("Transfer-Encoding"), "identity")) {
      refuse(501, "chunked request bodies are not supported by this test server");
      close_connection(connection, false);
      return;
    }
    std::size_t content_length = 0;
    if (const auto cl = request.header("Content-Length"); !cl.empty()) {
      const auto parsed = parse_size(cl);
      if (!parsed) {
        refuse(400, "bad Content-Length");
        close_connection(connection, false);
        return;
      }
      content_length = *parsed;
    }
    if (content_length + head_end > k_max_request_bytes) {
      refuse(413, "request over 1 MiB");
      close_connection(connection, false);
      return;
    }
    if (content_length > buffer.size() && iequals(request.header("Expect"), "100-continue")) {
      send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    while (buffer.size() < content_length) {
      if (!read_more()) {
        close_connection(connection, false);
        return;
      }
    }
    request.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);

    const std::string connection_header = request.header("Connection");
    bool keep_alive = request.version == "HTTP/1.0" ? has_token(connection_header, "keep-alive")
                                                    : !has_token(connection_header, "close");
    {
      const std::lock_guard lock(m_mutex);
      m_requests.push_back(request);
    }

    HttpResponse response;
    try {
      response = m_handler(request);
    } catch (const std::exception& e) {
      response = HttpResponse{};
      response.status = 500;
      response.body = std::string(e.what()) + "\n";
    }

    if (response.delay.count() > 0 && !pause(response.delay)) {
      close_connection(connection, false);
      return;
    }
    if (response.reset) {
      reset = true;
      break;
    }
    if (!response.raw.empty()) {
      send_all(fd, response.raw);
      break;
    }

    const bool head_request = request.method == "HEAD";
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason_phrase(response.status) + "\r\n";
    for (const auto& [name, value] : response.headers) {
      out += name + ": " + value + "\r\n";
    }
    const std::string own_length = find_header(response.headers, "Content-Length");
    if (response.omit_content_length) {
      keep_alive = false; // the body ends where the connection does
    } else if (own_length.empty()) {
      out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    } else if (parse_size(own_length) != response.body.size()) {
      keep_alive = false; // a deliberately wrong length leaves the stream unusable
    }
    if (has_token(find_header(response.headers, "Connection"), "close")) {
      keep_alive = false;
    } else if (!keep_alive) {
      out += "Connection: close\r\n";
    }
    out += "\r\n";
    const std::string_view body = head_request ? std::string_view{} : std::string_view(response.body);
    bool sent = true;
    if (response.chunk_size == 0) {
      sent = send_all(fd, out + std::string(body));
    } else {
      sent = send_all(fd, out);
      for (std::size_t at = 0; sent && at < body.size(); at += response.chunk_size) {
        if (response.chunk_delay.count() > 0 && !pause(response.chunk_delay)) {
          sent = false;
          break;
        }
        sent = send_all(fd, body.substr(at, response.chunk_size));
      }
    }
    if (!sent || !keep_alive) {
      break;
    }
  }
  if (!reset) {
    // Half-close first so the client reads everything sent before it sees the end.
    ::shutdown(fd, SHUT_WR);
  }
  close_connection(connection, reset);
}

UniqueFd connect_loopback(int port)
{
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  }
  return fd;
}

HttpReply http_fetch(const std::string& host, const std::string& method, const std::string& target,
                     const HttpHeaders& headers, const std::string& body, std::chrono::milliseconds timeout)
{
  const auto colon = host.rfind(':');
  const auto port = colon == std::string::npos ? std::nullopt : parse_size(std::string_view(host).substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) {
    throw std::invalid_argument("http_fetch: host must be HOST:PORT, got " + host);
  }
  const std::string what = method + " http://" + host + target;
  UniqueFd fd = connect_loopback(static_cast<int>(*port));
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  for (std::string_view rest = request; !rest.empty();) {
    const auto n = ::send(fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      throw std::runtime_error(what + ": send failed: " + std::strerror(errno));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }

  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      throw std::runtime_error(what + ": no complete answer within " + std::to_string(timeout.count()) + " ms");
    }
    pollfd p{fd.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) {
      throw std::runtime_error(what + ": poll: " + std::strerror(errno));
    }
    if (ready <= 0) {
      continue; // interrupted or timed out: the deadline above decides
    }
    char chunk[16384];
    const auto n = ::recv(fd.get(), chunk, sizeof chunk, 0);
    if (n < 0) {
      if (data.empty()) {
        throw std::runtime_error(what + ": " + std::strerror(errno));
      }
      break;
    }
    if (n == 0) {
      break;
    }
    data.append(chunk, static_cast<std::size_t>(n));
  }

  const auto head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos || data.compare(0, 5, "HTTP/") != 0) {
    throw std::runtime_error(what + ": malformed answer (" + std::to_string(data.size()) + " bytes)");
  }
  HttpReply reply;
  const auto sp = data.find(' ');
  reply.status = static_cast<int>(parse_size(std::string_view(data).substr(sp + 1, 3)).value_or(0));
  reply.headers = parse_header_lines(std::string_view(data).substr(0, head_end + 2));
  std::string rest = data.substr(head_end + 4);
  if (method == "HEAD") {
    return reply;
  }
  if (iequals(reply.header("Transfer-Encoding"), "chunked")) {
    std::size_t at = 0;
    for (;;) {
      const auto eol = rest.find("\r\n", at);
      if (eol == std::string::npos) {
        break;
      }
      const std::string_view size_text = std::string_view(rest).substr(at, eol - at);
      const auto size = parse_size(size_text.substr(0, size_text.find(';')), 16);
      if (!size || *size == 0 || eol + 2 + *size > rest.size()) {
        break;
      }
      reply.body += rest.substr(eol + 2, *size);
      at = eol + 2 + *size + 2;
    }
  } else if (const auto cl = parse_size(reply.header("Content-Length")); cl && *cl < rest.size()) {
    reply.body = rest.substr(0, *cl);
  } else {
    reply.body = std::move(rest);
  }
  return reply;
}

} // namespace changetrail::test
