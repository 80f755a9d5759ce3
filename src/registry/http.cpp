#include "http.hpp"

#include <changetrail/util/error.hpp>
#include <changetrail/util/strings.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>

namespace changetrail::registry::http {
namespace {

bool public_v4(const unsigned char* a)
{
  if (a[0] == 0 || a[0] == 10 || a[0] == 127) {
    return false; // "this network", RFC 1918, loopback
  }
  if ((a[0] == 169 && a[1] == 254) || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168)) {
    return false; // link-local (cloud metadata), RFC 1918
  }
  if (a[0] == 100 && (a[1] & 0xc0) == 64) {
    return false; // RFC 6598 shared address space
  }
  return a[0] < 224; // multicast and reserved
}

bool public_v6(const unsigned char* a)
{
  static const unsigned char zero[16] = {};
  if (std::memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) {
    return false; // :: and ::1
  }
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a, mapped, 12) == 0) {
    return public_v4(a + 12);
  }
  if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff) {
    return false; // unique local, link-local, multicast
  }
  return true;
}

bool public_sockaddr(const sockaddr* sa)
{
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return public_v4(reinterpret_cast<const unsigned char*>(&in->sin_addr));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return public_v6(reinterpret_cast<const unsigned char*>(&in6->sin6_addr));
  }
  return false;
}

Failure classify(CURLcode code)
{
  switch (code) {
  case CURLE_OK:
    return Failure::none;
  case CURLE_OPERATION_TIMEDOUT:
    return Failure::timeout;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
    return Failure::connect;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
    return Failure::tls;
  case CURLE_FILESIZE_EXCEEDED:
    return Failure::too_large;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_URL_MALFORMAT:
    return Failure::protocol;
  default:
    return Failure::network; // GOT_NOTHING, RECV_ERROR, SEND_ERROR, PARTIAL_FILE, ...
  }
}

} // namespace

std::optional<bool> is_public_ip(std::string_view literal)
{
  std::string s(literal);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return public_v4(buf);
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return public_v6(buf);
  }
  return std::nullopt;
}

const char* to_string(Failure f)
{
  switch (f) {
  case Failure::none:
    return "none";
  case Failure::timeout:
    return "timeout";
  case Failure::connect:
    return "connect";
  case Failure::tls:
    return "tls";
  case Failure::network:
    return "network";
  case Failure::too_large:
    return "too-large";
  case Failure::refused:
    return "refused";
  case Failure::protocol:
    return "protocol";
  }
  return "unknown";
}

std::string Response::header(std::string_view name) const
{
  for (const auto& [k, v] : headers) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

std::vector<std::string> Response::header_values(std::string_view name) const
{
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (k == name) {
      out.push_back(v);
    }
  }
  return out;
}

struct Engine::Transfer {
  Request request;
  Done done;
  Response response;
  std::string host_key;
  curl::Easy easy;
  curl::Slist headers;
  char error[CURL_ERROR_SIZE] = {};
  std::size_t header_bytes = 0;
  bool too_large = false;
  bool headers_too_large = false;
  bool address_refused = false;

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self)
  {
    auto* t = static_cast<Transfer*>(self);
    const std::size_t len = size * n;
    if (t->response.body.size() + len > t->request.body_cap) {
      t->too_large = true;
      return 0; // makes curl fail the transfer with CURLE_WRITE_ERROR
    }
    t->response.body.append(data, len);
    return len;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self)
  {
    auto* t = static_cast<Transfer*>(self);
    const std::size_t len = size * n;
    t->header_bytes += len;
    if (t->header_bytes > k_header_cap) {
      t->too_large = true;
      t->headers_too_large = true;
      return 0;
    }
    std::string_view line(data, len);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (line.starts_with("HTTP/")) {
      // A new header block (after a 100 Continue or an intermediate answer): only the last counts.
      t->response.headers.clear();
      return len;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return len;
    }
    t->response.headers.emplace_back(util::to_lower(util::trim(line.substr(0, colon))),
                                     std::string(util::trim(line.substr(colon + 1))));
    return len;
  }

  static curl_socket_t on_open_socket(void* self, curlsocktype, curl_sockaddr* address)
  {
    auto* t = static_cast<Transfer*>(self);
    if (t->request.public_addresses_only && !public_sockaddr(&address->addr)) {
      t->address_refused = true;
      return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
  }
};

Engine::Engine(Limits limits) : m_limits(std::move(limits)), m_multi(curl::api().multi_init())
{
  if (const char* f = std::getenv("SSL_CERT_FILE"); f != nullptr && *f != '\0' && m_limits.ca_file.empty()) {
    m_limits.ca_file = f;
  }
  if (const char* d = std::getenv("SSL_CERT_DIR"); d != nullptr && *d != '\0' && m_limits.ca_dir.empty()) {
    m_limits.ca_dir = d;
  }
  if (!m_multi) {
    throw util::Fatal("libcurl: cannot create a multi handle");
  }
  const curl::Api& c = curl::api();
  c.multi_setopt(m_multi.get(), CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  // Our own queue enforces the caps on requests; these bound the connections behind them.
  c.multi_setopt(m_multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(m_limits.per_host));
  c.multi_setopt(m_multi.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(m_limits.total));
}

Engine::~Engine()
{
  const curl::Api& c = curl::api();
  for (auto& [easy, t] : m_active) {
    c.multi_remove_handle(m_multi.get(), easy);
  }
  m_active.clear();
}

void Engine::submit(Request request, Done done)
{
  auto t = std::make_unique<Transfer>();
  curl::Url url;
  if (!curl::parse_url(request.url, url)) {
    throw util::Fatal("internal error: not an http(s) URL");
  }
  t->host_key = url.scheme + "://" + url.authority();
  t->response.url = request.url;
  t->request = std::move(request);
  t->done = std::move(done);
  m_queue.push_back(std::move(t));
}

void Engine::after(std::chrono::milliseconds delay, std::function<void()> f)
{
  m_timers.push_back(Timer{std::chrono::steady_clock::now() + delay, m_timer_order++, std::move(f)});
  std::push_heap(m_timers.begin(), m_timers.end(),
                 [](const Timer& a, const Timer& b) { return std::tie(a.at, a.order) > std::tie(b.at, b.order); });
}

void Engine::start_queued()
{
  // First come, first started, skipping requests whose host is at its cap.
  for (std::size_t i = 0; i < m_queue.size() && static_cast<int>(m_active.size()) < m_limits.total;) {
    if (m_per_host[m_queue[i]->host_key] >= m_limits.per_host) {
      ++i;
      continue;
    }
    auto t = std::move(m_queue[i]);
    m_queue.erase(m_queue.begin() + static_cast<std::ptrdiff_t>(i));
    start(std::move(t));
  }
}

void Engine::start(std::unique_ptr<Transfer> t)
{
  const curl::Api& c = curl::api();
  t->easy.reset(c.easy_init());
  if (!t->easy) {
    throw util::Fatal("libcurl: cannot create a transfer");
  }
  CURL* e = t->easy.get();
  for (const auto& h : t->request.headers) {
    curl_slist* l = c.slist_append(t->headers.get(), h.c_str());
    if (l == nullptr) {
      throw util::Fatal("libcurl: out of memory");
    }
    (void)t->headers.release();
    t->headers.reset(l);
  }
  c.easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
  if (t->request.method == "HEAD") {
    c.easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (t->request.method == "POST") {
    c.easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->request.body.size()));
    c.easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.c_str());
  } else {
    c.easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  c.easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get());
  c.easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  c.easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  c.easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  c.easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  c.easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Transfer::on_open_socket);
  c.easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
  c.easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  c.easy_setopt(e, CURLOPT_PRIVATE, t.get());
  // Redirects are followed by the client, which decides what credentials go to the new host.
  c.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  c.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  c.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  c.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  // A private CA: SSL_CERT_FILE / SSL_CERT_DIR as OpenSSL, Go and Python read them (libcurl
  // itself uses only its compiled-in bundle). Verification stays on either way.
  if (!m_limits.ca_file.empty()) {
    c.easy_setopt(e, CURLOPT_CAINFO, m_limits.ca_file.c_str());
  }
  if (!m_limits.ca_dir.empty()) {
    c.easy_setopt(e, CURLOPT_CAPATH, m_limits.ca_dir.c_str());
  }
  c.easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  c.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  c.easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(m_limits.timeout.count()));
  c.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(m_limits.connect_timeout.count()));
  c.easy_setopt(e, CURLOPT_USERAGENT, m_limits.user_agent.c_str());
  c.easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t->request.body_cap));
  // Manifests are hashed byte for byte: no Accept-Encoding, so no transparent decompression.
  CURLMcode mc = c.multi_add_handle(m_multi.get(), e);
  if (mc != CURLM_OK) {
    throw util::Fatal(std::string("libcurl: ") + c.multi_strerror(mc));
  }
  ++m_per_host[t->host_key];
  ++m_started;
  m_active.emplace(e, std::move(t));
}

void Engine::finish(CURL* easy, CURLcode code)
{
  const curl::Api& c = curl::api();
  auto it = m_active.find(easy);
  if (it == m_active.end()) {
    return;
  }
  std::unique_ptr<Transfer> t = std::move(it->second);
  m_active.erase(it);
  c.multi_remove_handle(m_multi.get(), easy);
  --m_per_host[t->host_key];
  Response& r = t->response;
  long status = 0;
  c.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  r.status = status;
  if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
    r.failure = Failure::too_large;
    r.error = t->headers_too_large ? "answer headers larger than " + std::to_string(k_header_cap / 1024) + " KiB"
                                   : "answer larger than " + std::to_string(t->request.body_cap / 1024) + " KiB";
  } else if (t->address_refused) {
    r.failure = Failure::refused;
    r.error = "refused to connect to a loopback, private or link-local address";
  } else if (code != CURLE_OK) {
    r.failure = classify(code);
    // curl's error buffer names host and port, never our headers; fall back to its generic text.
    r.error = t->error[0] != '\0' ? std::string(t->error) : std::string(c.easy_strerror(code));
    while (!r.error.empty() && (r.error.back() == '\n' || r.error.back() == '\r')) {
      r.error.pop_back();
    }
  }
  t->done(r);
}

bool Engine::fire_timers()
{
  const auto cmp = [](const Timer& a, const Timer& b) { return std::tie(a.at, a.order) > std::tie(b.at, b.order); };
  bool fired = false;
  const auto now = std::chrono::steady_clock::now();
  while (!m_timers.empty() && m_timers.front().at <= now) {
    std::pop_heap(m_timers.begin(), m_timers.end(), cmp);
    Timer timer = std::move(m_timers.back());
    m_timers.pop_back();
    timer.f();
    fired = true;
  }
  return fired;
}

void Engine::run()
{
  const curl::Api& c = curl::api();
  for (;;) {
    start_queued();
    if (m_active.empty() && m_queue.empty() && m_timers.empty()) {
      return;
    }
    int running = 0;
    CURLMcode mc = c.multi_perform(m_multi.get(), &running);
    if (mc != CURLM_OK) {
      throw util::Fatal(std::string("libcurl: ") + c.multi_strerror(mc));
    }
    int left = 0;
    while (CURLMsg* msg = c.multi_info_read(m_multi.get(), &left)) {
      if (msg->msg == CURLMSG_DONE) {
        finish(msg->easy_handle, msg->data.result);
      }
    }
    if (fire_timers()) {
      continue;
    }
    if (!m_queue.empty() && static_cast<int>(m_active.size()) < m_limits.total) {
      // Something may have become startable (a host dropped under its cap).
      bool startable = false;
      for (const auto& t : m_queue) {
        startable = startable || m_per_host[t->host_key] < m_limits.per_host;
      }
      if (startable) {
        continue;
      }
    }
    int wait_ms = 1000;
    if (!m_timers.empty()) {
      const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(m_timers.front().at
                                                                            - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::clamp<long>(d.count() + 1, 0, 1000));
    }
    if (m_active.empty()) {
      if (!m_timers.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
      }
      continue; // back to the top: it returns when nothing is left
    }
    mc = c.multi_poll(m_multi.get(), nullptr, 0, wait_ms, nullptr);
    if (mc != CURLM_OK) {
      throw util::Fatal(std::string("libcurl: ") + c.multi_strerror(mc));
    }
  }
}

} // namespace changetrail::registry::http
