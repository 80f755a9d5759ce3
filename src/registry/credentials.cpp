// Docker's credential sources, read the way the docker CLI reads them (cli/config/configfile,
// cli/config/credentials and docker-credential-helpers' client package), REGISTRY.md "Security".
//
// Nothing in this file puts a secret, a config.json value or a helper's output into a message:
// errors name the file, the key, the helper and the registry only.
#include <changetrail/registry/credentials.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/file.hpp>
#include <changetrail/util/strings.hpp>

#include <climits>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

extern char** environ; // NOLINT: POSIX, for posix_spawnp

namespace changetrail::registry {

namespace {

constexpr std::uintmax_t k_config_limit = std::uintmax_t{4} << 20;
constexpr std::size_t k_helper_stdout_limit = std::size_t{64} << 10;
// docker-credential-helpers' credentials.ErrCredentialsNotFound, which every helper prints on
// stdout with a non-zero exit status when it has nothing for the server.
constexpr std::string_view k_not_found_message = "credentials not found in native keychain";
// The username a helper answers for an identity token (docker cli, credentials/native_store.go).
constexpr std::string_view k_token_username = "<token>";
constexpr std::string_view k_docker_hub_host = "docker.io";
// While the helper keeps its pipes open, how often to look whether it has exited (a helper that
// leaves a background child holding stdout must not cost us the whole timeout).
constexpr std::chrono::milliseconds k_exit_poll{50};

// A file descriptor we own. Move-only; closed on destruction.
class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept
  {
    if (this != &other) {
      reset();
      m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  [[nodiscard]] int get() const { return m_fd; }
  [[nodiscard]] bool is_open() const { return m_fd >= 0; }
  void reset()
  {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }

private:
  int m_fd = -1;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// A close-on-exec pipe whose ends are above 2, so that the dup2 file actions onto 0, 1 and 2 in the
// child cannot overwrite one of our own ends (a process started with a standard stream closed
// would get pipe ends numbered 0 to 2).
Pipe make_pipe()
{
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw util::Fatal(std::string("cannot create a pipe for a credential helper: ") + std::strerror(errno));
  }
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  for (UniqueFd* end : {&p.read, &p.write}) {
    if (end->get() <= 2) {
      const int moved = ::fcntl(end->get(), F_DUPFD_CLOEXEC, 3);
      if (moved < 0) {
        throw util::Fatal(std::string("cannot create a pipe for a credential helper: ") + std::strerror(errno));
      }
      *end = UniqueFd(moved);
    }
  }
  return p;
}

// Strips a scheme ("https://"), userinfo and path from a config.json key or a registry name and
// lower-cases what is left: host[:port]. The docker CLI's ConvertToHostname does the same for
// `auths` keys written as URLs ("https://index.docker.io/v1/", "http://localhost:5000/v2/").
// Docker Hub's names all become "docker.io".
std::string normalize_host(std::string_view key)
{
  std::string_view host = util::trim(key);
  if (const auto scheme = host.find("://"); scheme != std::string_view::npos) {
    host.remove_prefix(scheme + 3);
  }
  host = host.substr(0, host.find('/'));
  if (const auto at = host.rfind('@'); at != std::string_view::npos) {
    host.remove_prefix(at + 1);
  }
  std::string out = util::to_lower(host);
  if (out == "index.docker.io" || out == "registry-1.docker.io") {
    out = k_docker_hub_host;
  }
  return out;
}

// The server URL a helper is asked for, as the docker CLI passes it (ResolveAuthConfig:
// registry.IndexServer for the official index, else the index name, i.e. host[:port] without a
// scheme), so that a helper finds what `docker login` stored.
std::string server_url_for(const std::string& host)
{
  return host == k_docker_hub_host ? std::string(k_docker_hub_server) : host;
}

// Whether the key is written in the form the lookup uses (so that it wins over a variant of the
// same host written as a URL): "https://index.docker.io/v1/" for Docker Hub, the bare host else.
bool is_exact_key(std::string_view key, const std::string& host)
{
  return host == k_docker_hub_host ? key == k_docker_hub_server : key == host;
}

// A helper's name becomes part of a program name looked up on PATH: a "/" would make it a path
// ("docker-credential-../../tmp/x"), so only the characters of real helper names are allowed.
bool is_valid_helper_name(std::string_view name)
{
  if (name.empty()) {
    return false;
  }
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string invalid_helper_name_message(std::string_view name)
{
  return "credential helper name " + util::quote(name) + " is not valid (allowed: A-Z a-z 0-9 . _ -)";
}

// Standard base64 (RFC 4648 section 4). Padding is optional and line breaks are skipped, as Go's
// decoder does for config.json; anything else outside the alphabet is an error.
std::optional<std::string> decode_base64(std::string_view text)
{
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  std::uint32_t bits = 0;
  int count = 0; // sextets in `bits`
  std::size_t padding = 0;
  for (const char c : text) {
    if (c == '\r' || c == '\n') {
      continue;
    }
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) {
      return std::nullopt; // data after padding
    }
    std::uint32_t v = 0;
    if (c >= 'A' && c <= 'Z') {
      v = static_cast<std::uint32_t>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      v = static_cast<std::uint32_t>(c - 'a' + 26);
    } else if (c >= '0' && c <= '9') {
      v = static_cast<std::uint32_t>(c - '0' + 52);
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | v;
    if (++count == 4) {
      out += static_cast<char>((bits >> 16) & 0xFF);
      out += static_cast<char>((bits >> 8) & 0xFF);
      out += static_cast<char>(bits & 0xFF);
      bits = 0;
      count = 0;
    }
  }
  // A last group of 2 or 3 sextets holds 1 or 2 bytes; a single sextet holds none.
  if (count == 1 || (padding > 0 && static_cast<std::size_t>(count) + padding != 4) || padding > 2) {
    return std::nullopt;
  }
  if (count == 2) {
    out += static_cast<char>((bits >> 4) & 0xFF);
  } else if (count == 3) {
    out += static_cast<char>((bits >> 10) & 0xFF);
    out += static_cast<char>((bits >> 2) & 0xFF);
  }
  return out;
}

// $DOCKER_CONFIG, else $HOME/.docker, else the password database's home (as docker's homedir.Get).
std::string config_dir(const std::string& given)
{
  if (!given.empty()) {
    return given;
  }
  if (const char* env = std::getenv("DOCKER_CONFIG"); env != nullptr && *env != '\0') {
    return env;
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.docker";
  }
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_dir != nullptr && *found->pw_dir != '\0') {
    return std::string(found->pw_dir) + "/.docker";
  }
  return {};
}

// Config errors name the file and the key; never a value (config.json holds secrets).
[[noreturn]] void config_error(const std::string& path, const std::string& what)
{
  throw util::InputError(path + ": " + what);
}

std::string entry_name(std::string_view section, std::string_view key)
{
  return std::string(section) + "[" + util::quote(key) + "]";
}

// An optional string field of an `auths` entry: absent and null read as empty (Go's decoder
// leaves the field empty for both).
std::string string_field(const nlohmann::json& entry, const char* field, const std::string& path,
                         const std::string& where)
{
  const auto it = entry.find(field);
  if (it == entry.end() || it->is_null()) {
    return {};
  }
  if (!it->is_string()) {
    config_error(path, where + "." + field + " must be a string");
  }
  return it->get<std::string>();
}

// One `auths` entry; nullopt when it holds nothing to send (`docker login` with a credsStore
// leaves `{}` entries behind).
std::optional<Credential> parse_auth_entry(const nlohmann::json& entry, const std::string& path,
                                           const std::string& where)
{
  if (!entry.is_object()) {
    config_error(path, where + " must be an object");
  }
  Credential credential;
  credential.username = string_field(entry, "username", path, where);
  credential.secret = string_field(entry, "password", path, where);
  const std::string auth = string_field(entry, "auth", path, where);
  if (!auth.empty()) {
    // `auth` wins over the separate fields, as in the docker CLI's config loading.
    const auto decoded = decode_base64(auth);
    if (!decoded) {
      config_error(path, where + ".auth is not valid base64");
    }
    const auto colon = decoded->find(':');
    if (colon == std::string::npos || colon == 0) {
      config_error(path, where + ".auth is not base64 of \"user:password\"");
    }
    credential.username = decoded->substr(0, colon);
    // Docker trims NUL bytes from the password: old clients padded the encoded value with them.
    const std::string password = decoded->substr(colon + 1);
    const auto first = password.find_first_not_of('\0');
    credential.secret = first == std::string::npos
                            ? std::string()
                            : password.substr(first, password.find_last_not_of('\0') - first + 1);
  }
  if (std::string token = string_field(entry, "identitytoken", path, where); !token.empty()) {
    // An identity token is an OAuth2 refresh token for the realm; it replaces the password.
    credential.secret = std::move(token);
    credential.identity_token = true;
  }
  if (credential.username.empty() && credential.secret.empty()) {
    return std::nullopt;
  }
  return credential;
}

// The child process of a helper: killed (with its process group, so that a shell script's own
// children go too) and reaped on every path out of run_credential_helper that has not reaped it.
class HelperProcess {
public:
  explicit HelperProcess(pid_t pid) : m_pid(pid) {}
  HelperProcess(const HelperProcess&) = delete;
  HelperProcess& operator=(const HelperProcess&) = delete;
  ~HelperProcess() { kill_and_reap(); }

  // The wait status when the helper has exited, without blocking.
  std::optional<int> poll_exit()
  {
    if (m_reaped) {
      return m_status;
    }
    int status = 0;
    pid_t r = 0;
    do {
      r = ::waitpid(m_pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == m_pid) {
      m_reaped = true;
      m_status = status;
      return status;
    }
    if (r < 0) {
      // ECHILD: someone else reaped it (SIGCHLD ignored). Its status is lost.
      m_reaped = true;
      m_status = -1;
      return m_status;
    }
    return std::nullopt;
  }

  void kill_and_reap()
  {
    if (m_reaped) {
      return;
    }
    ::kill(-m_pid, SIGKILL);
    ::kill(m_pid, SIGKILL);
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
    m_reaped = true;
    m_status = status;
  }

private:
  pid_t m_pid;
  bool m_reaped = false;
  int m_status = 0;
};

// A posix_spawn attribute object (posix_spawnattr_t, posix_spawn_file_actions_t) with its
// init and destroy functions.
template <typename T, int (*init)(T*), int (*destroy)(T*)> class SpawnObject {
public:
  SpawnObject() { init(&m_object); }
  SpawnObject(const SpawnObject&) = delete;
  SpawnObject& operator=(const SpawnObject&) = delete;
  ~SpawnObject() { destroy(&m_object); }
  [[nodiscard]] T* get() { return &m_object; }

private:
  T m_object{};
};

using SpawnFileActions =
    SpawnObject<posix_spawn_file_actions_t, &::posix_spawn_file_actions_init, &::posix_spawn_file_actions_destroy>;
using SpawnAttr = SpawnObject<posix_spawnattr_t, &::posix_spawnattr_init, &::posix_spawnattr_destroy>;

void set_nonblocking(int fd)
{
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    throw util::Fatal(std::string("cannot set up a pipe for a credential helper: ") + std::strerror(errno));
  }
}

} // namespace

CredentialStore CredentialStore::load(const std::string& docker_config_dir)
{
  CredentialStore store;
  const std::string dir = config_dir(docker_config_dir);
  if (dir.empty()) {
    return store;
  }
  const std::string path = dir + "/config.json";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
    return store; // no config: anonymous access, as docker without a login
  }
  std::string text;
  std::string error;
  if (!util::read_regular_file(path, k_config_limit, text, error)) {
    config_error(path, error);
  }
  store.m_path = path;
  if (util::trim(text).empty()) {
    return store; // docker accepts an empty file as an empty config
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() quotes the bytes around the error, which may be part of a secret: only the offset.
    config_error(path, "not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
  if (!doc.is_object()) {
    config_error(path, "not a JSON object");
  }

  if (const auto it = doc.find("auths"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) {
      config_error(path, "auths must be an object");
    }
    std::map<std::string, bool> exact; // host -> the stored entry came from an exact key
    for (const auto& [key, entry] : it->items()) {
      auto credential = parse_auth_entry(entry, path, entry_name("auths", key));
      const std::string host = normalize_host(key);
      if (!credential || host.empty()) {
        continue;
      }
      // Several keys may name one host ("https://ghcr.io" and "ghcr.io"): the key in the form the
      // docker CLI looks up first wins, as its exact map lookup comes before its hostname fallback.
      const bool is_exact = is_exact_key(key, host);
      const auto known = exact.find(host);
      if (known == exact.end() || (is_exact && !known->second)) {
        store.m_auths[host] = std::move(*credential);
        exact[host] = is_exact;
      }
    }
  }

  if (const auto it = doc.find("credHelpers"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) {
      config_error(path, "credHelpers must be an object");
    }
    for (const auto& [key, helper] : it->items()) {
      const std::string where = entry_name("credHelpers", key);
      if (!helper.is_string()) {
        config_error(path, where + " must be a string");
      }
      const auto name = helper.get<std::string>();
      if (name.empty()) {
        continue;
      }
      if (!is_valid_helper_name(name)) {
        config_error(path, where + ": " + invalid_helper_name_message(name));
      }
      // Docker matches credHelpers keys exactly against the hostname (or Docker Hub's URL key);
      // they are normalized here like `auths` keys so that "https://ghcr.io" or "GHCR.io" work too.
      if (const std::string host = normalize_host(key); !host.empty()) {
        store.m_cred_helpers[host] = name;
      }
    }
  }

  if (const auto it = doc.find("credsStore"); it != doc.end() && !it->is_null()) {
    if (!it->is_string()) {
      config_error(path, "credsStore must be a string");
    }
    store.m_creds_store = it->get<std::string>();
    if (!store.m_creds_store.empty() && !is_valid_helper_name(store.m_creds_store)) {
      config_error(path, "credsStore: " + invalid_helper_name_message(store.m_creds_store));
    }
  }
  return store;
}

void CredentialStore::set_override(const std::string& registry_host, Credential credential)
{
  m_overrides[normalize_host(registry_host)] = std::move(credential);
}

CredentialLookup CredentialStore::lookup(std::string_view registry_host) const
{
  const std::string host = normalize_host(registry_host);
  if (const auto it = m_overrides.find(host); it != m_overrides.end()) {
    return {it->second, "--username"};
  }
  // When a helper is configured for the host (credHelpers[host], else credsStore), its answer is
  // final, including "credentials not found": the docker CLI then uses the helper's (empty)
  // answer and never the `auths` entry of the same host (configfile.GetCredentialsStore picks
  // one store per host; nativeStore.Get takes only the email from the file). So do we: a stale
  // password left in `auths` beside a keychain is not sent behind the user's back.
  const auto run = [&](const std::string& helper, std::string source) {
    return CredentialLookup{run_credential_helper(helper, server_url_for(host), helper_timeout), std::move(source)};
  };
  if (const auto it = m_cred_helpers.find(host); it != m_cred_helpers.end()) {
    return run(it->second, "credHelpers[" + host + "] (docker-credential-" + it->second + ")");
  }
  if (!m_creds_store.empty()) {
    return run(m_creds_store, "credsStore (docker-credential-" + m_creds_store + ")");
  }
  if (const auto it = m_auths.find(host); it != m_auths.end()) {
    return {it->second, "auths"};
  }
  return {};
}

std::optional<Credential> run_credential_helper(const std::string& helper, std::string_view server_url,
                                                std::chrono::milliseconds timeout)
{
  if (!is_valid_helper_name(helper)) {
    throw util::InputError(invalid_helper_name_message(helper));
  }
  const std::string program = "docker-credential-" + helper;
  const std::string registry = normalize_host(server_url);
  const auto fail = [&](const std::string& what) {
    return util::Fatal("credential helper " + program + " " + what + " (registry " + registry + ")");
  };

  // The server URL goes into the pipe before the helper starts: it fits in the pipe's buffer
  // (PIPE_BUF bytes at least), so the write cannot block, and it cannot raise SIGPIPE because we
  // hold the read end. Docker writes it without a newline; helpers read to EOF.
  if (server_url.size() > PIPE_BUF) {
    throw fail("cannot be asked for a server URL of " + std::to_string(server_url.size()) + " bytes");
  }
  Pipe in = make_pipe();
  set_nonblocking(in.write.get());
  if (!server_url.empty()) {
    ssize_t n = 0;
    do {
      n = ::write(in.write.get(), server_url.data(), server_url.size());
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(server_url.size())) {
      throw fail("could not be given the server URL");
    }
  }
  in.write.reset();
  Pipe out = make_pipe();
  Pipe err = make_pipe();

  SpawnFileActions actions;
  ::posix_spawn_file_actions_adddup2(actions.get(), in.read.get(), 0);
  ::posix_spawn_file_actions_adddup2(actions.get(), out.write.get(), 1);
  ::posix_spawn_file_actions_adddup2(actions.get(), err.write.get(), 2);
  SpawnAttr attr;
  // Its own process group, so that a timeout kills a script's children with it; default SIGPIPE
  // disposition and an empty signal mask whatever ours are (both survive exec).
  sigset_t none;
  sigemptyset(&none);
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  ::posix_spawnattr_setpgroup(attr.get(), 0);
  ::posix_spawnattr_setsigmask(attr.get(), &none);
  ::posix_spawnattr_setsigdefault(attr.get(), &pipe_signal);
  ::posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::string arg0 = program;
  std::string arg1 = "get";
  std::array<char*, 3> argv{arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  // No shell: posix_spawnp searches PATH for the program itself.
  const int rc = ::posix_spawnp(&pid, program.c_str(), actions.get(), attr.get(), argv.data(), environ);
  if (rc == ENOENT) {
    throw util::Fatal("credential helper " + program + " not found on PATH (registry " + registry + ")");
  }
  if (rc != 0) {
    throw fail(std::string("could not be started: ") + std::strerror(rc));
  }
  HelperProcess child(pid);
  in.read.reset();
  out.write.reset();
  err.write.reset();
  set_nonblocking(out.read.get());
  set_nonblocking(err.read.get());

  // Read both pipes until the helper has exited and they are drained (or closed). stderr is read
  // only so that a chatty helper cannot block on a full pipe: it is thrown away unread, because
  // helpers echo what they were given and what they found (secrets) there.
  std::string output;
  std::array<char, 4096> buffer{};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<int> status;
  while (true) {
    if (!status) {
      status = child.poll_exit();
    }
    if (status && !out.read.is_open() && !err.read.is_open()) {
      break;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!status && left.count() <= 0) {
      child.kill_and_reap();
      throw fail("did not answer within " + std::to_string(timeout.count()) + " ms; killed");
    }
    // Once it has exited, only what is already in the pipes is read (a background child of the
    // helper may keep them open).
    const int wait_ms =
        status ? 0 : static_cast<int>(std::clamp(left, std::chrono::milliseconds(1), k_exit_poll).count());
    std::array<pollfd, 2> fds{};
    nfds_t n = 0;
    for (const UniqueFd* fd : {&out.read, &err.read}) {
      if (fd->is_open()) {
        fds[n++] = pollfd{fd->get(), POLLIN, 0};
      }
    }
    if (n == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
      continue;
    }
    const int ready = ::poll(fds.data(), n, wait_ms);
    if (ready < 0 && errno != EINTR) {
      throw fail(std::string("could not be read from: ") + std::strerror(errno));
    }
    if (ready == 0 && status) {
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      UniqueFd& fd = fds[i].fd == out.read.get() ? out.read : err.read;
      const ssize_t k = ::read(fd.get(), buffer.data(), buffer.size());
      if (k > 0) {
        if (&fd == &out.read) {
          if (output.size() + static_cast<std::size_t>(k) > k_helper_stdout_limit) {
            child.kill_and_reap();
            throw fail("printed more than " + std::to_string(k_helper_stdout_limit >> 10) + " KiB; killed");
          }
          output.append(buffer.data(), static_cast<std::size_t>(k));
        }
      } else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    }
  }

  if (*status == -1) {
    throw fail("exited with an unknown status");
  }
  if (WIFSIGNALED(*status)) {
    throw fail("was killed by signal " + std::to_string(WTERMSIG(*status)));
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    // docker-credential-helpers' client compares the trimmed stdout with the message; looking for
    // it anywhere in stdout also accepts a helper that adds a prefix or a second line, and cannot
    // turn a failure into a credential (not found means anonymous access).
    if (output.find(k_not_found_message) != std::string::npos) {
      return std::nullopt;
    }
    throw fail("failed with exit status " + std::to_string(WEXITSTATUS(*status)));
  }

  const auto not_json = [&] { return fail("printed something other than {\"Username\", \"Secret\"} JSON"); };
  nlohmann::json answer = nlohmann::json::parse(output, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    throw not_json();
  }
  const auto field = [&](const char* name) {
    const auto it = answer.find(name);
    if (it == answer.end() || it->is_null()) {
      return std::string();
    }
    if (!it->is_string()) {
      throw not_json();
    }
    return it->get<std::string>();
  };
  Credential credential;
  credential.username = field("Username");
  credential.secret = field("Secret");
  if (credential.username == k_token_username) {
    // docker cli nativeStore: the secret is an identity token and there is no username.
    credential.username.clear();
    credential.identity_token = true;
  }
  if (credential.username.empty() && credential.secret.empty()) {
    return std::nullopt;
  }
  return credential;
}

} // namespace changetrail::registry
