// registry_fixture start DIR | stop DIR: real registries for the tests (see registry_fixture.hpp).
//
// `start` prepares DIR (htpasswd, token signing key and certificate), forks a detached daemon
// (`registry_fixture serve DIR`, internal) that runs the token server and three docker-registry children,
// waits until they answer, pushes the standard images with skopeo and writes DIR/fixture.json.
// `stop` ends the daemon, which ends its registries. The daemon also ends itself after two hours, so an
// interrupted test run leaves nothing behind for long.

#include "http_server.hpp"
#include "registry_fixture.hpp"
#include "support.hpp"

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace changetrail::test {

// support.cpp's TempDir asks whether the current Catch test failed; there is no Catch session here.
bool current_test_failed()
{
  return false;
}

namespace {

constexpr std::string_view k_marker = ".changetrail-registry-fixture";
constexpr std::string_view k_token_service = "changetrail-fixture-registry";
constexpr std::string_view k_token_issuer = "changetrail-fixture-token-server";
constexpr auto k_ready_timeout = 20s;
constexpr auto k_default_lifetime = std::chrono::hours(2);
constexpr std::array<std::string_view, 3> k_registry_names{"open", "basic", "token"};

// ---- Small helpers ----

void write_text(const fs::path& p, const std::string& text,
                fs::perms perms = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                  fs::perms::others_read)
{
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
      throw std::runtime_error("cannot write " + p.string());
    }
  }
  fs::permissions(p, perms);
}

// Readers poll for these files: they must never see half of one.
void write_atomically(const fs::path& p, const std::string& text)
{
  const fs::path temp = p.string() + ".tmp";
  write_text(temp, text);
  fs::rename(temp, p);
}

// The last lines of a log, for error messages.
std::string tail(const fs::path& p, std::size_t lines = 15)
{
  const std::string text = read_file(p);
  std::size_t from = text.size();
  if (from > 0 && text.back() == '\n') {
    --from;
  }
  for (std::size_t n = 0; n < lines && from > 0; ++n) {
    const auto eol = text.rfind('\n', from - 1);
    from = eol == std::string::npos ? 0 : eol;
  }
  return "---- " + p.string() + " (end) ----\n" + text.substr(from == 0 ? 0 : from + 1);
}

std::string random_hex(std::size_t bytes)
{
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  static constexpr std::string_view k_hex = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : buf) {
    out += k_hex[c >> 4U];
    out += k_hex[c & 15U];
  }
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point t)
{
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t)
{
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A port nobody listens on right now. Another process may take it before docker-registry binds it:
// the daemon then sees the registry exit and retries with another port.
int free_port()
{
  const UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error(std::string("cannot bind a free port: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

std::string process_cmdline(pid_t pid)
{
  std::string text = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : text) {
    if (c == '\0') {
      c = ' ';
    }
  }
  return text;
}

// Alive and not a zombie waiting for its reaper.
bool process_running(pid_t pid)
{
  if (pid <= 0 || ::kill(pid, 0) != 0) {
    return false;
  }
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout)
{
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process_running(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    // Our own child (start's daemon when it died early) must be reaped to disappear.
    ::waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::optional<pid_t> read_pid(const fs::path& p)
{
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) {
    return std::nullopt;
  }
  try {
    const long pid = std::stol(read_file(p));
    return pid > 0 ? std::optional<pid_t>(static_cast<pid_t>(pid)) : std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ---- OpenSSL handles ----

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

void check_ssl(bool ok, const char* what)
{
  if (!ok) {
    throw std::runtime_error(std::string("OpenSSL: ") + what + " failed");
  }
}

std::string bio_text(BIO* bio)
{
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// The RSA key that signs tokens and the self-signed certificate the token registry trusts (rootcertbundle).
void write_signing_key(const fs::path& key_path, const fs::path& cert_path)
{
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048)));
  check_ssl(key != nullptr, "RSA key generation");
  Certificate cert(X509_new());
  check_ssl(cert != nullptr, "X509_new");
  check_ssl(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  check_ssl(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1, "serial");
  check_ssl(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr, "notBefore");
  check_ssl(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600) != nullptr, "notAfter");
  check_ssl(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get()); // owned by cert
  check_ssl(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>("changetrail fixture token signer"), -1,
                                       -1, 0) == 1,
            "subject");
  check_ssl(X509_set_issuer_name(cert.get(), name) == 1, "issuer");
  check_ssl(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

  const Bio key_bio(BIO_new(BIO_s_mem()));
  check_ssl(key_bio && PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
            "PEM_write_bio_PrivateKey");
  write_text(key_path, bio_text(key_bio.get()), fs::perms::owner_read | fs::perms::owner_write);
  const Bio cert_bio(BIO_new(BIO_s_mem()));
  check_ssl(cert_bio && PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1, "PEM_write_bio_X509");
  write_text(cert_path, bio_text(cert_bio.get()));
}

Pkey read_signing_key(const fs::path& key_path)
{
  const std::string pem = read_file(key_path);
  const Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  check_ssl(key != nullptr, ("reading " + key_path.string()).c_str());
  return key;
}

std::string base64url(std::string_view data)
{
  std::string text = base64_encode(data);
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
  }
  for (char& c : text) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return text;
}

// The key id docker/libtrust derives from a public key, which registry 2.8 looks up for a JWT's `kid`:
// SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes, base32 without padding, 12 groups of 4 joined by ':'.
std::string libtrust_key_id(EVP_PKEY* key)
{
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  check_ssl(len > 0, "i2d_PUBKEY");
  const std::string hash = [&] {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned n = 0;
    EVP_Digest(der, static_cast<std::size_t>(len), md.data(), &n, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<const char*>(md.data()), 30);
  }();
  OPENSSL_free(der);
  static constexpr std::string_view k_base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string b32;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : hash) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      b32 += k_base32[(buffer >> static_cast<unsigned>(bits)) & 31U];
    }
  }
  std::string id;
  for (std::size_t i = 0; i < b32.size(); i += 4) {
    id += (id.empty() ? "" : ":") + b32.substr(i, 4);
  }
  return id;
}

std::string sign_rs256(EVP_PKEY* key, std::string_view data)
{
  const MdCtx ctx(EVP_MD_CTX_new());
  check_ssl(ctx != nullptr, "EVP_MD_CTX_new");
  check_ssl(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1, "EVP_DigestSignInit");
  std::size_t len = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  check_ssl(EVP_DigestSign(ctx.get(), nullptr, &len, bytes, data.size()) == 1, "EVP_DigestSign (size)");
  std::string sig(len, '\0');
  check_ssl(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes, data.size()) == 1,
            "EVP_DigestSign");
  sig.resize(len);
  return sig;
}

// ---- Token server ----

HttpResponse answer(int status, std::string content_type, std::string body, HttpHeaders extra = {})
{
  HttpResponse r;
  r.status = status;
  r.headers = std::move(extra);
  r.headers.emplace_back("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

struct TokenSettings {
  std::string service;
  std::string issuer;
  std::string username;
  std::string password;
};

// Docker's token protocol, as a real token server (docker_auth, Harbor) answers it: authenticated users get
// the actions they ask for; anonymous requests get pull on `public/` repositories and otherwise a token with
// an empty access list, so that the registry (not the token server) refuses with insufficient_scope.
class TokenServer {
public:
  TokenServer(TokenSettings settings, Pkey key, fs::path log_path)
      : m_settings(std::move(settings)), m_key(std::move(key)), m_key_id(libtrust_key_id(m_key.get())),
        m_log_path(std::move(log_path))
  {
  }

  HttpResponse handle(const HttpRequest& request)
  {
    if (request.path == "/healthz") {
      return answer(200, "text/plain", "ok\n");
    }
    if (request.path != "/token") {
      return answer(404, "text/plain", "not found\n");
    }
    const std::vector<std::string> scopes = request.query_values("scope");
    if (request.method != "GET") {
      log(request, scopes, false, false, 405, {});
      return answer(405, "text/plain", "GET only\n", {{"Allow", "GET"}});
    }

    const std::string authorization = request.header("Authorization");
    const bool sent = !authorization.empty();
    bool valid = false;
    if (sent) {
      std::string decoded;
      if (authorization.compare(0, 6, "Basic ") == 0) {
        try {
          decoded = base64_decode(authorization.substr(6));
        } catch (const std::invalid_argument&) {
          decoded.clear();
        }
      }
      valid = decoded == m_settings.username + ":" + m_settings.password;
      if (!valid) {
        log(request, scopes, true, false, 401, {});
        return answer(401, "application/json",
                      R"({"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]})",
                      {{"WWW-Authenticate", R"(Basic realm="changetrail fixture token server")"}});
      }
    }

    json access = json::array();
    for (const auto& scope : scopes) {
      const auto first = scope.find(':');
      const auto last = scope.rfind(':');
      if (first == std::string::npos || last == first) {
        continue; // not type:name:actions; real servers ignore it too
      }
      const std::string type = scope.substr(0, first);
      const std::string name = scope.substr(first + 1, last - first - 1);
      json actions = json::array();
      for (std::size_t at = last + 1; at <= scope.size();) {
        auto comma = scope.find(',', at);
        if (comma == std::string::npos) {
          comma = scope.size();
        }
        const std::string action = scope.substr(at, comma - at);
        const bool known = action == "pull" || action == "push" || action == "delete" || action == "*";
        const bool anonymous_pull = !valid && type == "repository" && name.starts_with("public/") && action == "pull";
        if (known && (valid || anonymous_pull)) {
          actions.push_back(action);
        }
        at = comma + 1;
      }
      if (!actions.empty()) {
        access.push_back({{"type", type}, {"name", name}, {"actions", actions}});
      }
    }

    const auto now = std::chrono::system_clock::now();
    const json header{{"typ", "JWT"}, {"alg", "RS256"}, {"kid", m_key_id}};
    const json claims{{"iss", m_settings.issuer},
                      {"sub", valid ? m_settings.username : std::string{}},
                      // A JSON string: registry 2.8 refuses an audience array.
                      {"aud", m_settings.service},
                      {"exp", unix_seconds(now + 300s)},
                      // Slightly in the past: the registry compares with its own clock, to the second.
                      {"nbf", unix_seconds(now - 10s)},
                      {"iat", unix_seconds(now)},
                      {"jti", random_hex(16)},
                      {"access", access}};
    const std::string signing_input = base64url(header.dump()) + "." + base64url(claims.dump());
    const std::string token = signing_input + "." + base64url(sign_rs256(m_key.get(), signing_input));
    log(request, scopes, sent, valid, 200, access);
    const json body{{"token", token}, {"access_token", token}, {"expires_in", 300}, {"issued_at", rfc3339(now)}};
    return answer(200, "application/json", body.dump());
  }

private:
  // One line per request, for tests that count or inspect token requests. Never a password or a token.
  void log(const HttpRequest& request, const std::vector<std::string>& scopes, bool sent, bool valid, int status,
           const json& access)
  {
    std::string scope_text;
    for (const auto& s : scopes) {
      scope_text += (scope_text.empty() ? "" : " ") + s;
    }
    std::string granted;
    for (const auto& a : access) {
      std::string actions;
      for (const auto& action : a.at("actions")) {
        actions += (actions.empty() ? "" : ",") + action.get<std::string>();
      }
      granted += (granted.empty() ? "" : " ") + a.at("type").get<std::string>() + ":" +
                 a.at("name").get<std::string>() + ":" + actions;
    }
    const auto services = request.query_values("service");
    const auto accounts = request.query_values("account");
    const json line{{"time", rfc3339(std::chrono::system_clock::now())},
                    {"method", request.method},
                    {"service", services.empty() ? "" : services.front()},
                    {"account", accounts.empty() ? "" : accounts.front()},
                    {"credentials", sent},
                    {"valid", valid},
                    {"scopes", scope_text},
                    {"granted", granted},
                    {"status", status}};
    const std::lock_guard lock(m_log_mutex);
    std::ofstream out(m_log_path, std::ios::app);
    out << line.dump() << '\n';
  }

  TokenSettings m_settings;
  Pkey m_key;
  std::string m_key_id;
  fs::path m_log_path;
  std::mutex m_log_mutex;
};

// ---- Paths in DIR ----

struct Paths {
  fs::path dir;
  [[nodiscard]] fs::path marker() const { return dir / k_marker; }
  [[nodiscard]] fs::path pid() const { return dir / "daemon.pid"; }
  [[nodiscard]] fs::path daemon_log() const { return dir / "daemon.log"; }
  [[nodiscard]] fs::path settings() const { return dir / "settings.json"; }
  [[nodiscard]] fs::path ready() const { return dir / "ready.json"; }
  [[nodiscard]] fs::path failed() const { return dir / "failed.txt"; }
  [[nodiscard]] fs::path children() const { return dir / "registries.pid"; }
  [[nodiscard]] fs::path fixture() const { return dir / "fixture.json"; }
  [[nodiscard]] fs::path htpasswd() const { return dir / "htpasswd"; }
  [[nodiscard]] fs::path key() const { return dir / "token.key"; }
  [[nodiscard]] fs::path cert() const { return dir / "token.crt"; }
  [[nodiscard]] fs::path token_log() const { return dir / "token.log"; }
  [[nodiscard]] fs::path config(std::string_view name) const
  {
    return dir / ("registry-" + std::string(name) + ".yml");
  }
  [[nodiscard]] fs::path log(std::string_view name) const { return dir / ("registry-" + std::string(name) + ".log"); }
  [[nodiscard]] fs::path storage(std::string_view name) const { return dir / ("storage-" + std::string(name)); }
};

// ---- The daemon ----

void remove_old_dirs(const Paths& paths);

std::string yaml_string(const std::string& s)
{
  return json(s).dump(); // a JSON string is a YAML double-quoted scalar
}

std::string registry_config(const Paths& paths, std::string_view name, int port, const std::string& token_realm)
{
  std::string yaml;
  const auto line = [&yaml](const std::string& text) { yaml += text + "\n"; };
  line("version: 0.1");
  line("log:");
  line("  level: info");
  line("  formatter: text");
  line("storage:");
  line("  filesystem:");
  line("    rootdirectory: " + yaml_string(paths.storage(name).string()));
  line("  delete:");
  line("    enabled: true"); // for delete_manifest
  line("http:");
  line("  addr: 127.0.0.1:" + std::to_string(port));
  line("  secret: " + yaml_string(random_hex(16))); // without one, every start warns and makes one up
  line("  headers:");
  line("    X-Content-Type-Options: [nosniff]");
  if (name == "basic") {
    line("auth:");
    line("  htpasswd:");
    line("    realm: changetrail-fixture-basic");
    line("    path: " + yaml_string(paths.htpasswd().string()));
  } else if (name == "token") {
    line("auth:");
    line("  token:");
    line("    realm: " + yaml_string(token_realm));
    line("    service: " + yaml_string(std::string(k_token_service)));
    line("    issuer: " + yaml_string(std::string(k_token_issuer)));
    line("    rootcertbundle: " + yaml_string(paths.cert().string()));
  }
  return yaml;
}

std::string registry_program()
{
  const char* env = std::getenv("DOCKER_REGISTRY");
  return env != nullptr && *env != '\0' ? env : "docker-registry";
}

// docker-registry reads REGISTRY_* variables as config overrides: none from the caller's environment.
std::vector<std::string> registry_environment()
{
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "REGISTRY_", 9) != 0) {
      env.emplace_back(*e);
    }
  }
  return env;
}

struct Child {
  std::string name;
  pid_t pid = -1;
  int port = 0;
};

pid_t spawn_registry(const Paths& paths, std::string_view name)
{
  // Everything the child needs is prepared before fork(): the daemon has threads (the token server).
  const std::string program = registry_program();
  const std::string config = paths.config(name).string();
  std::vector<std::string> env_strings = registry_environment();
  std::vector<char*> envp;
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  std::array<char*, 4> argv{const_cast<char*>(program.c_str()), const_cast<char*>("serve"),
                            const_cast<char*>(config.c_str()), nullptr};
  const UniqueFd log(::open(paths.log(name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  const UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!log.valid() || !null.valid()) {
    throw std::runtime_error("cannot open " + paths.log(name).string());
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // If the daemon is killed outright (SIGKILL), its registries go with it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      _exit(1);
    }
    dup2(null.get(), 0);
    dup2(log.get(), 1);
    dup2(log.get(), 2);
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

// A registry, not whatever else may have taken the port, answers GET /v2/ (200, or 401 with auth).
bool registry_answers(int port)
{
  try {
    const HttpReply reply = http_fetch("127.0.0.1:" + std::to_string(port), "GET", "/v2/", {}, {}, 2s);
    return (reply.status == 200 || reply.status == 401) &&
           reply.header("Docker-Distribution-Api-Version") == "registry/2.0";
  } catch (const std::exception&) {
    return false;
  }
}

void stop_children(std::vector<Child>& children);

// Starts the three registries at once and waits until each answers GET /v2/. A registry that exits
// (its port was taken between free_port() and its bind) is started again on another port.
std::vector<Child> start_registries(const Paths& paths, const std::string& token_realm,
                                    std::chrono::steady_clock::time_point deadline)
{
  constexpr int k_attempts = 5;
  std::vector<Child> children;
  std::vector<int> attempts;
  std::vector<bool> ready;
  const auto launch = [&](Child& c) {
    c.port = free_port();
    write_text(paths.config(c.name), registry_config(paths, c.name, c.port, token_realm));
    c.pid = spawn_registry(paths, c.name);
  };
  try {
    for (const auto name : k_registry_names) {
      children.push_back(Child{std::string(name), -1, 0});
      attempts.push_back(1);
      ready.push_back(false);
      launch(children.back());
    }
    for (;;) {
      bool all = true;
      for (std::size_t i = 0; i < children.size(); ++i) {
        if (ready[i]) {
          continue;
        }
        Child& c = children[i];
        int status = 0;
        if (::waitpid(c.pid, &status, WNOHANG) == c.pid) {
          const std::string why = "docker-registry for " + c.name + " on port " + std::to_string(c.port) + " exited (" +
                                  (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                                     : "signal " + std::to_string(WTERMSIG(status))) +
                                  ")";
          c.pid = -1;
          if (++attempts[i] > k_attempts) {
            throw std::runtime_error(why + "\n" + tail(paths.log(c.name)));
          }
          std::cerr << why << "; trying another port\n";
          launch(c);
        } else if (registry_answers(c.port)) {
          ready[i] = true;
          continue;
        }
        all = false;
      }
      if (all) {
        return children;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::string logs;
        for (std::size_t i = 0; i < children.size(); ++i) {
          if (!ready[i]) {
            logs += "docker-registry for " + children[i].name + " did not answer GET /v2/ on port " +
                    std::to_string(children[i].port) + "\n" + tail(paths.log(children[i].name)) + "\n";
          }
        }
        throw std::runtime_error(logs);
      }
      std::this_thread::sleep_for(20ms);
    }
  } catch (...) {
    stop_children(children);
    throw;
  }
}

void stop_children(std::vector<Child>& children)
{
  for (const auto& c : children) {
    if (c.pid > 0) {
      ::kill(c.pid, SIGTERM);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (auto& c : children) {
    while (c.pid > 0) {
      if (::waitpid(c.pid, nullptr, WNOHANG) != 0) {
        c.pid = -1;
      } else if (std::chrono::steady_clock::now() > deadline) {
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, nullptr, 0);
        c.pid = -1;
      } else {
        std::this_thread::sleep_for(10ms);
      }
    }
  }
}

std::chrono::seconds daemon_lifetime()
{
  // Tests of the fixture itself may shorten it; nothing else should.
  if (const char* env = std::getenv("CHANGETRAIL_REGISTRY_FIXTURE_LIFETIME"); env != nullptr && *env != '\0') {
    return std::chrono::seconds(std::max(1L, std::atol(env)));
  }
  return k_default_lifetime;
}

int serve(const Paths& paths)
{
  // Signals are taken with sigtimedwait() by the main thread; blocked before any thread exists so that
  // the token server's threads never receive them.
  sigset_t signals;
  sigemptyset(&signals);
  for (const int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    sigaddset(&signals, s);
  }
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  const auto stop_at = std::chrono::steady_clock::now() + daemon_lifetime();
  std::cerr << rfc3339(std::chrono::system_clock::now()) << " registry fixture daemon " << ::getpid() << " starting\n";

  std::vector<Child> children;
  std::thread cleaner;
  std::unique_ptr<TokenServer> tokens;
  std::unique_ptr<HttpServer> http;
  try {
    const json settings = json::parse(read_file(paths.settings()));
    tokens = std::make_unique<TokenServer>(TokenSettings{settings.at("token_service").get<std::string>(),
                                                         settings.at("token_issuer").get<std::string>(),
                                                         settings.at("token_username").get<std::string>(),
                                                         settings.at("token_password").get<std::string>()},
                                           read_signing_key(paths.key()), paths.token_log());
    http = std::make_unique<HttpServer>([&tokens](const HttpRequest& r) { return tokens->handle(r); });
    const std::string realm = "http://" + http->host() + "/token";
    children = start_registries(paths, realm, std::chrono::steady_clock::now() + k_ready_timeout);
    std::string pids;
    json ready{{"token_port", http->port()}, {"token_realm", realm}, {"registries", json::object()}};
    for (const auto& c : children) {
      pids += std::to_string(c.pid) + "\n";
      ready["registries"][c.name] = c.port;
    }
    write_atomically(paths.children(), pids);
    write_atomically(paths.ready(), ready.dump(2));
    std::cerr << rfc3339(std::chrono::system_clock::now()) << " ready: " << ready.dump() << '\n';
    cleaner = std::thread([&paths] { remove_old_dirs(paths); });
  } catch (const std::exception& e) {
    std::cerr << "registry fixture daemon: " << e.what() << '\n';
    write_atomically(paths.failed(), e.what());
    stop_children(children);
    if (cleaner.joinable()) {
      cleaner.join();
    }
    return 1;
  }

  for (;;) {
    const auto left = stop_at - std::chrono::steady_clock::now();
    if (left <= 0s) {
      std::cerr << rfc3339(std::chrono::system_clock::now()) << " lifetime over, stopping\n";
      break;
    }
    const auto wait = std::min<std::chrono::nanoseconds>(left, 1s);
    timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    const int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig == SIGCHLD) {
      for (auto& c : children) {
        int status = 0;
        if (c.pid > 0 && ::waitpid(c.pid, &status, WNOHANG) == c.pid) {
          std::cerr << rfc3339(std::chrono::system_clock::now()) << " docker-registry " << c.name << " (pid " << c.pid
                    << ") ended unexpectedly, status " << status << '\n';
          c.pid = -1;
        }
      }
    } else if (sig > 0) {
      std::cerr << rfc3339(std::chrono::system_clock::now()) << " signal " << sig << ", stopping\n";
      break;
    }
  }
  stop_children(children);
  http.reset();
  if (cleaner.joinable()) {
    cleaner.join();
  }
  std::error_code ec;
  if (read_pid(paths.pid()) == ::getpid()) {
    fs::remove(paths.pid(), ec);
  }
  fs::remove(paths.ready(), ec);
  std::cerr << rfc3339(std::chrono::system_clock::now()) << " stopped\n";
  return 0;
}

// ---- start / stop ----

// Is `pid` the daemon of this DIR (and not some process that reused the number)?
bool is_our_daemon(pid_t pid, const Paths& paths)
{
  const std::string cmdline = process_cmdline(pid);
  return cmdline.find("registry_fixture") != std::string::npos &&
         cmdline.find(" serve " + paths.dir.string() + " ") != std::string::npos;
}

bool stop(const Paths& paths, bool quiet)
{
  bool stopped = false;
  if (const auto pid = read_pid(paths.pid()); pid && process_running(*pid) && is_our_daemon(*pid, paths)) {
    ::kill(*pid, SIGTERM);
    if (!wait_gone(*pid, 10s)) {
      ::kill(*pid, SIGKILL);
      wait_gone(*pid, 5s);
    }
    stopped = true;
  }
  // Registries left by a daemon that was killed outright (their parent-death signal normally ends them).
  std::error_code ec;
  if (fs::is_regular_file(paths.children(), ec)) {
    std::istringstream in(read_file(paths.children()));
    for (long pid = 0; in >> pid;) {
      const auto p = static_cast<pid_t>(pid);
      if (process_running(p) && process_cmdline(p).find(paths.dir.string()) != std::string::npos) {
        ::kill(p, SIGKILL);
        wait_gone(p, 5s);
        stopped = true;
      }
    }
  }
  // fixture.json goes (tests must not find a fixture that is not running) but is kept under another
  // name: ci/test.sh checks after the run that none of its passwords reached the test output.
  fs::rename(paths.fixture(), paths.dir / "fixture.stopped.json", ec);
  for (const auto& p : {paths.pid(), paths.children(), paths.ready(), paths.fixture()}) {
    fs::remove(p, ec);
  }
  if (!quiet) {
    std::cout << (stopped ? "registry fixture stopped: " : "no registry fixture running in ") << paths.dir.string()
              << '\n';
  }
  return stopped;
}

void prepare_dir(const Paths& paths)
{
  std::error_code ec;
  if (fs::exists(paths.dir, ec)) {
    const bool empty = fs::is_directory(paths.dir, ec) && fs::directory_iterator(paths.dir) == fs::directory_iterator();
    if (!empty && !fs::exists(paths.marker(), ec)) {
      throw std::runtime_error(paths.dir.string() + " exists and is not a registry fixture directory; not touching it");
    }
    if (!empty) {
      // Removing the old storage takes seconds (unlink is slow on the CI disks): it is moved aside here and
      // removed by the new daemon once it is ready (remove_old_dirs).
      fs::rename(paths.dir, paths.dir.string() + ".old-" + random_hex(4));
    }
  }
  fs::create_directories(paths.dir);
  write_text(paths.marker(), "changetrail registry fixture: removed by `registry_fixture start`\n");
}

// Removes the directories prepare_dir() moved aside, including those of runs that crashed.
void remove_old_dirs(const Paths& paths)
{
  std::error_code ec;
  const std::string prefix = paths.dir.filename().string() + ".old-";
  for (const auto& entry : fs::directory_iterator(paths.dir.parent_path(), ec)) {
    if (entry.path().filename().string().starts_with(prefix) && fs::exists(entry.path() / k_marker, ec)) {
      fs::remove_all(entry.path(), ec);
    }
  }
}

std::string htpasswd_line(const std::string& user, const std::string& password)
{
  // -i: the password on stdin, not in the argument list.
  const RunResult r = run({"htpasswd", "-nBi", user}, {}, password + "\n");
  if (r.exit_code != 0) {
    throw std::runtime_error("htpasswd -nBi " + user + " failed (exit " + std::to_string(r.exit_code) + "): " + r.err);
  }
  return r.out.substr(0, r.out.find('\n')) + "\n";
}

pid_t spawn_daemon(const Paths& paths, const std::string& self)
{
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid != 0) {
    return pid;
  }
  // Detached: own session (no terminal, out of reach of the caller's process-group signals) and no
  // inherited descriptors, or ctest would wait for the pipes of `start` until the daemon ends.
  ::setsid();
  const int null = ::open("/dev/null", O_RDONLY);
  const int log = ::open(paths.daemon_log().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (null < 0 || log < 0) {
    _exit(126);
  }
  dup2(null, 0);
  dup2(log, 1);
  dup2(log, 2);
  ::close_range(3, ~0U, 0);
  const std::string dir = paths.dir.string();
  std::array<char*, 4> argv{const_cast<char*>(self.c_str()), const_cast<char*>("serve"), const_cast<char*>(dir.c_str()),
                            nullptr};
  ::execv(self.c_str(), argv.data());
  _exit(127);
}

json wait_ready(const Paths& paths, pid_t daemon)
{
  const auto deadline = std::chrono::steady_clock::now() + k_ready_timeout + 5s;
  std::error_code ec;
  for (;;) {
    if (fs::exists(paths.ready(), ec)) {
      return json::parse(read_file(paths.ready()));
    }
    const auto logs = [&] {
      std::string text = tail(paths.daemon_log());
      for (const auto name : k_registry_names) {
        if (fs::exists(paths.log(name), ec)) {
          text += "\n" + tail(paths.log(name));
        }
      }
      return text;
    };
    if (fs::exists(paths.failed(), ec)) {
      throw std::runtime_error("the registry fixture daemon failed: " + read_file(paths.failed()) + "\n" + logs());
    }
    int status = 0;
    if (::waitpid(daemon, &status, WNOHANG) == daemon) {
      throw std::runtime_error("the registry fixture daemon exited before it was ready (status " +
                               std::to_string(status) + ")\n" + logs());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("the registry fixture was not ready within " +
                               std::to_string(std::chrono::seconds(k_ready_timeout).count()) + " s\n" + logs());
    }
    std::this_thread::sleep_for(20ms);
  }
}

struct StandardImage {
  std::string repository_tag;
  ImageSpec spec;
};

// The table in registry_fixture.hpp. Each image names its own source, so that a test sees which image's
// labels it read; the salts make every digest different.
std::vector<StandardImage> standard_images()
{
  const std::map<std::string, std::string> oci_labels{
      {"org.opencontainers.image.revision", "0123456789abcdef0123456789abcdef01234567"},
      {"org.opencontainers.image.source", "https://github.com/acme/app"},
      {"org.opencontainers.image.created", "2026-11-20T10:00:00Z"},
      {"org.opencontainers.image.version", "1.0.0"},
  };
  std::vector<StandardImage> images;
  ImageSpec app;
  app.labels = oci_labels;
  app.salt = "app";
  images.push_back({"fixture/app:v1", app});

  ImageSpec docker;
  docker.docker_media_types = true;
  docker.labels = oci_labels;
  docker.labels["org.opencontainers.image.source"] = "https://github.com/acme/docker";
  docker.salt = "docker";
  images.push_back({"fixture/docker:v1", docker});

  ImageSpec multi;
  multi.kind = ImageSpec::Kind::index;
  multi.labels = oci_labels;
  multi.labels["org.opencontainers.image.source"] = "https://github.com/acme/multi";
  multi.annotations = {{"org.opencontainers.image.revision", oci_labels.at("org.opencontainers.image.revision")},
                       {"org.opencontainers.image.source", "https://github.com/acme/multi"}};
  multi.attestation = true;
  multi.salt = "multi";
  images.push_back({"fixture/multi:v1", multi});

  ImageSpec annotated;
  annotated.annotations = oci_labels;
  annotated.annotations["org.opencontainers.image.source"] = "https://github.com/acme/annotated";
  annotated.salt = "annotated";
  images.push_back({"fixture/annotated:v1", annotated});

  ImageSpec dockerlist;
  dockerlist.kind = ImageSpec::Kind::index;
  dockerlist.docker_media_types = true;
  dockerlist.labels = oci_labels;
  dockerlist.labels["org.opencontainers.image.source"] = "https://github.com/acme/dockerlist";
  dockerlist.salt = "dockerlist";
  images.push_back({"fixture/dockerlist:v1", dockerlist});

  // For anonymous pulls through the token registry (its token server grants pull on public/ to anyone).
  ImageSpec open_app = app;
  open_app.salt = "public";
  images.push_back({"public/app:v1", open_app});
  return images;
}

std::string query_encode(std::string_view text)
{
  static constexpr std::string_view k_hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[u >> 4U];
      out += k_hex[u & 15U];
    }
  }
  return out;
}

// Checks that `r` serves every standard image under the digest skopeo pushed, through its authentication
// (a Basic header, or a token from the token server): a broken fixture fails here, not in some later test.
void verify_served(const RegistryFixture& fixture, const TestRegistry& r)
{
  HttpHeaders auth;
  const std::string basic = "Basic " + base64_encode(r.username + ":" + r.password);
  if (r.name == "basic") {
    auth.emplace_back("Authorization", basic);
  } else if (r.name == "token") {
    const std::string prefix = "http://";
    const auto path_at = fixture.token_realm.find('/', prefix.size());
    const std::string host = fixture.token_realm.substr(prefix.size(), path_at - prefix.size());
    std::string target = fixture.token_realm.substr(path_at) + "?service=" + query_encode(fixture.token_service);
    for (const auto& [key, image] : fixture.images) {
      if (key.starts_with("open/")) {
        const std::string repository = key.substr(5, key.rfind(':') - 5);
        target += "&scope=" + query_encode("repository:" + repository + ":pull");
      }
    }
    const HttpReply reply = http_fetch(host, "GET", target, {{"Authorization", basic}});
    if (reply.status != 200) {
      throw std::runtime_error("the token server answered " + std::to_string(reply.status) + ": " + reply.body);
    }
    auth.emplace_back("Authorization", "Bearer " + json::parse(reply.body).at("token").get<std::string>());
  }
  auth.emplace_back("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
                              "application/vnd.docker.distribution.manifest.list.v2+json, "
                              "application/vnd.docker.distribution.manifest.v2+json");
  for (const auto& [key, image] : fixture.images) {
    if (!key.starts_with(r.name + "/")) {
      continue;
    }
    const std::string repository_tag = key.substr(r.name.size() + 1);
    const auto colon = repository_tag.rfind(':');
    const std::string target =
        "/v2/" + repository_tag.substr(0, colon) + "/manifests/" + repository_tag.substr(colon + 1);
    const HttpReply reply = http_fetch(r.host, "HEAD", target, auth);
    if (reply.status != 200 || reply.header("Docker-Content-Digest") != image.digest) {
      throw std::runtime_error("registry " + r.name + " answers HEAD " + target + " with " +
                               std::to_string(reply.status) + " and digest '" + reply.header("Docker-Content-Digest") +
                               "', expected " + image.digest);
    }
  }
}

int start(const Paths& paths, const std::string& self)
{
  const auto began = std::chrono::steady_clock::now();
  stop(paths, true);
  prepare_dir(paths);

  RegistryFixture fixture;
  fixture.dir = paths.dir;
  fixture.open = {"open", {}, {}, {}};
  fixture.basic = {"basic", {}, "basic-user", random_hex(12)};
  fixture.token = {"token", {}, "token-user", random_hex(12)};
  fixture.token_service = k_token_service;
  fixture.token_log = paths.token_log();
  write_text(paths.htpasswd(), htpasswd_line(fixture.basic.username, fixture.basic.password));
  write_signing_key(paths.key(), paths.cert());
  write_text(paths.settings(),
             json{{"token_service", k_token_service},
                  {"token_issuer", k_token_issuer},
                  {"token_username", fixture.token.username},
                  {"token_password", fixture.token.password}}
                 .dump(2),
             fs::perms::owner_read | fs::perms::owner_write);
  write_text(paths.token_log(), "");

  const pid_t daemon = spawn_daemon(paths, self);
  write_text(paths.pid(), std::to_string(daemon) + "\n");
  try {
    const json ready = wait_ready(paths, daemon);
    fixture.token_realm = ready.at("token_realm").get<std::string>();
    for (TestRegistry* r : {&fixture.open, &fixture.basic, &fixture.token}) {
      r->host = "127.0.0.1:" + std::to_string(ready.at("registries").at(r->name).get<int>());
      if (!registry_answers(ready.at("registries").at(r->name).get<int>())) {
        throw std::runtime_error("registry " + r->name + " at " + r->host + " does not answer\n" +
                                 tail(paths.log(r->name)));
      }
    }
    const auto after_servers = std::chrono::steady_clock::now();

    // skopeo and the registries are CPU-bound: pushing 6 images to each of 3 registries takes about 6 s on
    // two cores, pushing them to one and copying its storage about 1.5 s. The storage of docker-registry's
    // filesystem driver is plain files with no cache in front (none is configured), so copies serve alike.
    const std::vector<StandardImage> images = standard_images();
    std::mutex mutex;
    std::string errors;
    std::size_t next = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        for (;;) {
          const StandardImage* image = nullptr;
          {
            const std::lock_guard lock(mutex);
            if (next == images.size()) {
              return;
            }
            image = &images[next++];
          }
          try {
            PushedImage pushed = push_image(fixture.open, image->repository_tag, image->spec);
            const std::lock_guard lock(mutex);
            fixture.images["open/" + image->repository_tag] = std::move(pushed);
          } catch (const std::exception& e) {
            const std::lock_guard lock(mutex);
            errors += std::string(e.what()) + "\n";
          }
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    if (!errors.empty()) {
      throw std::runtime_error("pushing the standard images failed:\n" + errors);
    }
    for (const TestRegistry* r : {&fixture.basic, &fixture.token}) {
      fs::create_directories(paths.storage(r->name));
      fs::copy(paths.storage("open") / "docker", paths.storage(r->name) / "docker",
               fs::copy_options::recursive | fs::copy_options::overwrite_existing);
      for (const auto& image : images) {
        PushedImage copy = fixture.images.at("open/" + image.repository_tag);
        copy.reference = r->host + "/" + image.repository_tag;
        fixture.images[r->name + "/" + image.repository_tag] = std::move(copy);
      }
    }
    for (const TestRegistry* r : fixture.registries()) {
      verify_served(fixture, *r);
    }
    write_atomically(paths.fixture(), json(fixture).dump(2));
    const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
    std::cout << "registry fixture ready in " << paths.dir.string() << " (servers " << ms(after_servers - began)
              << " ms, images " << ms(std::chrono::steady_clock::now() - after_servers) << " ms)\n"
              << "  open  " << fixture.open.host << "\n  basic " << fixture.basic.host << "\n  token "
              << fixture.token.host << " (realm " << fixture.token_realm << ")\n";
    return 0;
  } catch (...) {
    stop(paths, true);
    throw;
  }
}

int usage()
{
  std::cerr << "usage: registry_fixture start DIR | stop DIR\n";
  return 2;
}

} // namespace
} // namespace changetrail::test

int main(int argc, char** argv)
{
  using namespace changetrail::test;
  if (argc != 3) {
    return usage();
  }
  const std::string command = argv[1];
  std::error_code ec;
  fs::path dir = fs::absolute(argv[2], ec).lexically_normal();
  if (ec || argv[2][0] == '\0') {
    return usage();
  }
  if (!dir.has_filename()) {
    dir = dir.parent_path(); // "DIR/" and "DIR" name the same fixture (the daemon is found by its command line)
  }
  const Paths paths{dir};
  try {
    if (command == "start") {
      std::error_code self_ec;
      const fs::path self = fs::read_symlink("/proc/self/exe", self_ec);
      return start(paths, self_ec ? std::string(argv[0]) : self.string());
    }
    if (command == "stop") {
      stop(paths, false);
      return 0;
    }
    if (command == "serve") {
      return serve(paths);
    }
  } catch (const std::exception& e) {
    std::cerr << "registry_fixture " << command << ": " << e.what() << '\n';
    return 1;
  }
  return usage();
}
