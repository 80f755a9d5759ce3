#include "registry_fixture.hpp"

#include "http_server.hpp"
#include "support.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace changetrail::test {

namespace {

constexpr std::string_view k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view k_oci_index = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view k_oci_config = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view k_oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr std::string_view k_in_toto = "application/vnd.in-toto+json";
// The ref name of the single image in each layout we write (oci:DIR:NAME).
constexpr std::string_view k_layout_ref = "image";

// ---- Layer bytes ----

// One regular file in a ustar archive, mode 0644, owner root, mtime 0: the bytes depend on name and
// content only, so the same spec always gives the same digests.
std::string tar_archive(const std::string& name, const std::string& content)
{
  std::array<char, 512> header{};
  const auto put = [&](std::size_t offset, std::string_view text) {
    std::memcpy(header.data() + offset, text.data(), text.size());
  };
  const auto octal = [](std::uint64_t value, int width) {
    std::string digits(static_cast<std::size_t>(width), '0');
    for (int i = width - 1; i >= 0 && value != 0; --i, value >>= 3U) {
      digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + (value & 7U));
    }
    return digits;
  };
  if (name.size() >= 100) {
    throw std::invalid_argument("tar member name too long: " + name);
  }
  put(0, name);
  put(100, "0000644");
  put(108, "0000000");
  put(116, "0000000");
  put(124, octal(content.size(), 11));
  put(136, octal(0, 11));
  put(148, "        "); // the checksum is computed with its own field as spaces
  header[156] = '0';
  put(257, std::string_view("ustar\0"
                            "00",
                            8));
  put(265, "root");
  put(297, "root");
  unsigned sum = 0;
  for (const char c : header) {
    sum += static_cast<unsigned char>(c);
  }
  put(148, octal(sum, 6));
  header[154] = '\0';
  header[155] = ' ';

  std::string out(header.data(), header.size());
  out += content;
  out.append((512 - content.size() % 512) % 512, '\0');
  out.append(1024, '\0'); // two zero records end the archive
  return out;
}

std::uint32_t crc32(std::string_view data)
{
  std::uint32_t crc = 0xFFFFFFFFU;
  for (const char c : data) {
    crc ^= static_cast<unsigned char>(c);
    for (int k = 0; k < 8; ++k) {
      crc = (crc >> 1U) ^ (0xEDB88320U & (0U - (crc & 1U)));
    }
  }
  return ~crc;
}

// A gzip member whose deflate stream is made of stored (uncompressed) blocks. Layers must be gzip:
// skopeo compresses a plain tar layer on its way to a registry, which changes every digest above it
// (and would leave an attestation's vnd.docker.reference.digest pointing at nothing). Stored blocks
// need no zlib and are valid gzip for every reader.
std::string gzip_stored(std::string_view data)
{
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10); // no name, mtime 0, OS unknown
  const auto le16 = [&](std::size_t v) {
    out += static_cast<char>(v & 0xFFU);
    out += static_cast<char>((v >> 8U) & 0xFFU);
  };
  const auto le32 = [&](std::uint32_t v) {
    for (unsigned shift = 0; shift < 32; shift += 8) {
      out += static_cast<char>((v >> shift) & 0xFFU);
    }
  };
  std::size_t at = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, data.size() - at);
    const bool last = at + n == data.size();
    out += static_cast<char>(last ? 1 : 0); // BFINAL, BTYPE=00 (stored), then padding to the byte boundary
    le16(n);
    le16(~n & 0xFFFFU);
    out.append(data.substr(at, n));
    at += n;
  } while (at < data.size());
  le32(crc32(data));
  le32(static_cast<std::uint32_t>(data.size()));
  return out;
}

// ---- OCI layout ----

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

Platform parse_platform(const std::string& text)
{
  Platform p;
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) {
    throw std::invalid_argument("platform must be os/arch[/variant]: " + text);
  }
  p.os = text.substr(0, slash);
  const auto second = text.find('/', slash + 1);
  p.architecture = text.substr(slash + 1, second == std::string::npos ? std::string::npos : second - slash - 1);
  if (second != std::string::npos) {
    p.variant = text.substr(second + 1);
  }
  return p;
}

ordered_json platform_json(const Platform& p)
{
  ordered_json j{{"architecture", p.architecture}, {"os", p.os}};
  if (!p.variant.empty()) {
    j["variant"] = p.variant;
  }
  return j;
}

class LayoutWriter {
public:
  explicit LayoutWriter(fs::path dir) : m_dir(std::move(dir)) { fs::create_directories(m_dir / "blobs" / "sha256"); }

  // Stores a blob, returns its descriptor.
  ordered_json blob(std::string_view media_type, const std::string& bytes) const
  {
    const std::string digest = sha256_digest(bytes);
    write(m_dir / "blobs" / "sha256" / digest.substr(7), bytes);
    return ordered_json{{"mediaType", media_type}, {"digest", digest}, {"size", bytes.size()}};
  }

  // A one-layer image: the layer holds a text file naming the platform and the salt.
  ordered_json image(const Platform& platform, const ImageSpec& spec) const
  {
    const std::string tar =
        tar_archive("changetrail/fixture.txt",
                    "changetrail registry fixture\nplatform: " + platform.os + "/" + platform.architecture +
                        (platform.variant.empty() ? "" : "/" + platform.variant) + "\nsalt: " + spec.salt + "\n");
    const ordered_json layer = blob(k_oci_layer_gzip, gzip_stored(tar));
    ordered_json config{{"architecture", platform.architecture}, {"os", platform.os}};
    if (!platform.variant.empty()) {
      config["variant"] = platform.variant;
    }
    config["config"] = ordered_json::object();
    if (!spec.labels.empty()) {
      config["config"]["Labels"] = spec.labels;
    }
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", {sha256_digest(tar)}}};
    return manifest(config, layer, spec.annotations);
  }

  // Like buildkit's attestation manifests: platform unknown/unknown, one in-toto statement as layer.
  // Docker media types have no in-toto layer type (skopeo 1.9 refuses the conversion), so for them the
  // statement goes into an ordinary gzip tar layer.
  ordered_json attestation(const std::string& subject_digest, const ImageSpec& spec) const
  {
    const std::string statement = ordered_json{
        {"_type", "https://in-toto.io/Statement/v0.1"},
        {"predicateType", "https://slsa.dev/provenance/v0.2"},
        {"subject", {{{"name", "fixture"}, {"digest", {{"sha256", subject_digest.substr(7)}}}}}},
        {"predicate",
         {{"salt", spec.salt}}}}.dump();
    ordered_json layer;
    std::string diff_id;
    if (spec.docker_media_types) {
      const std::string tar = tar_archive("provenance.json", statement);
      layer = blob(k_oci_layer_gzip, gzip_stored(tar));
      diff_id = sha256_digest(tar);
    } else {
      layer = blob(k_in_toto, statement);
      layer["annotations"] = {{"in-toto.io/predicate-type", "https://slsa.dev/provenance/v0.2"}};
      diff_id = layer["digest"].get<std::string>();
    }
    const ordered_json config{{"architecture", "unknown"},
                              {"os", "unknown"},
                              {"config", ordered_json::object()},
                              {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}}};
    ordered_json entry = manifest(config, layer, {});
    entry["platform"] = {{"architecture", "unknown"}, {"os", "unknown"}};
    entry["annotations"] = {{"vnd.docker.reference.digest", subject_digest},
                            {"vnd.docker.reference.type", "attestation-manifest"}};
    return entry;
  }

  // The layout's index.json and oci-layout, naming `top` as k_layout_ref.
  void finish(ordered_json top) const
  {
    top["annotations"] = {{"org.opencontainers.image.ref.name", k_layout_ref}};
    const ordered_json index{{"schemaVersion", 2}, {"manifests", {top}}};
    write(m_dir / "index.json", index.dump());
    write(m_dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  }

  [[nodiscard]] const fs::path& dir() const { return m_dir; }

private:
  ordered_json manifest(const ordered_json& config, const ordered_json& layer,
                        const std::map<std::string, std::string>& annotations) const
  {
    ordered_json m{{"schemaVersion", 2},
                   {"mediaType", k_oci_manifest},
                   {"config", blob(k_oci_config, config.dump())},
                   {"layers", {layer}}};
    if (!annotations.empty()) {
      m["annotations"] = annotations;
    }
    return blob(k_oci_manifest, m.dump());
  }

  static void write(const fs::path& p, const std::string& bytes)
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out) {
      throw std::runtime_error("cannot write " + p.string());
    }
  }

  fs::path m_dir;
};

void write_layout(const fs::path& dir, const ImageSpec& spec)
{
  const LayoutWriter layout(dir);
  if (spec.platforms.empty()) {
    throw std::invalid_argument("ImageSpec without platforms");
  }
  if (spec.kind == ImageSpec::Kind::single) {
    layout.finish(layout.image(parse_platform(spec.platforms.front()), spec));
    return;
  }
  ordered_json entries = ordered_json::array();
  for (const auto& text : spec.platforms) {
    const Platform p = parse_platform(text);
    ordered_json entry = layout.image(p, spec);
    entry["platform"] = platform_json(p);
    entries.push_back(std::move(entry));
  }
  if (spec.attestation) {
    entries.push_back(layout.attestation(entries.front()["digest"].get<std::string>(), spec));
  }
  ordered_json index{{"schemaVersion", 2}, {"mediaType", k_oci_index}, {"manifests", std::move(entries)}};
  if (!spec.annotations.empty()) {
    index["annotations"] = spec.annotations;
  }
  layout.finish(layout.blob(k_oci_index, index.dump()));
}

// ---- skopeo ----

// A skopeo command line; errors show it (and skopeo's stderr) with the password replaced by "***".
struct Command {
  std::vector<std::string> argv;
  std::string secret; // removed from anything shown

  [[nodiscard]] std::string shown() const
  {
    std::string text;
    for (const auto& a : argv) {
      text += (text.empty() ? "" : " ") + redact(a);
    }
    return text;
  }
  [[nodiscard]] std::string redact(std::string text) const
  {
    if (!secret.empty()) {
      for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
        text.replace(at, secret.size(), "***");
      }
    }
    return text;
  }
  RunResult run_checked(int timeout_seconds = 120) const
  {
    RunResult r = run(argv, {}, {}, {}, timeout_seconds);
    if (r.exit_code != 0) {
      throw std::runtime_error(shown() + " failed (exit " + std::to_string(r.exit_code) + "): " + redact(r.err));
    }
    return r;
  }
};

void add_creds(Command& c, const std::string& flag, const TestRegistry& r)
{
  if (!r.username.empty()) {
    c.argv.push_back(flag);
    c.argv.push_back(r.username + ":" + r.password);
    c.secret = r.password;
  }
}

std::string platform_key(const json& platform)
{
  std::string key = platform.value("os", "") + "/" + platform.value("architecture", "");
  if (const auto v = platform.value("variant", ""); !v.empty()) {
    key += "/" + v;
  }
  return key;
}

std::string fixture_dir_setting()
{
  if (const char* env = std::getenv("CHANGETRAIL_REGISTRY_FIXTURE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef CHANGETRAIL_REGISTRY_FIXTURE_DIR
  return CHANGETRAIL_REGISTRY_FIXTURE_DIR;
#else
  return {};
#endif
}

std::string fixture_program()
{
  if (const char* env = std::getenv("CHANGETRAIL_REGISTRY_FIXTURE_BIN"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef CHANGETRAIL_REGISTRY_FIXTURE_BIN
  return CHANGETRAIL_REGISTRY_FIXTURE_BIN;
#else
  return "registry_fixture";
#endif
}

std::optional<RegistryFixture> load_fixture(const fs::path& dir)
{
  std::error_code ec;
  if (dir.empty() || !fs::is_regular_file(dir / "fixture.json", ec)) {
    return std::nullopt;
  }
  try {
    RegistryFixture f = json::parse(read_file(dir / "fixture.json")).get<RegistryFixture>();
    if (registry_fixture_alive(f)) {
      return f;
    }
  } catch (const std::exception&) {
    // A fixture.json being rewritten or from an older layout: start a fixture of our own.
  }
  return std::nullopt;
}

// A fixture started by this process (the test binary was run outside ctest): stopped at exit.
class OwnFixture {
public:
  OwnFixture()
  {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/changetrail-registry-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    }
    m_dir = templ;
    const RunResult r = run({fixture_program(), "start", m_dir.string()}, {}, {}, {}, 180);
    if (r.exit_code != 0) {
      stop(false); // its logs stay for a look
      throw std::runtime_error(fixture_program() + " start " + m_dir.string() + " failed (exit " +
                               std::to_string(r.exit_code) + "):\n" + r.err);
    }
    m_fixture = json::parse(read_file(m_dir / "fixture.json")).get<RegistryFixture>();
  }
  ~OwnFixture() { stop(std::getenv("CHANGETRAIL_KEEP_TEMP") == nullptr); }
  OwnFixture(const OwnFixture&) = delete;
  OwnFixture& operator=(const OwnFixture&) = delete;

  [[nodiscard]] const RegistryFixture& fixture() const { return m_fixture; }

private:
  void stop(bool remove) noexcept
  {
    try {
      run({fixture_program(), "stop", m_dir.string()}, {}, {}, {}, 60);
      if (remove) {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
      }
    } catch (...) {
      // Nothing left to do at exit; the daemon ends itself after two hours at most.
    }
  }

  fs::path m_dir;
  RegistryFixture m_fixture;
};

} // namespace

// ---- JSON ----

void to_json(json& j, const TestRegistry& r)
{
  j = json{{"name", r.name}, {"host", r.host}, {"username", r.username}, {"password", r.password}};
}

void from_json(const json& j, TestRegistry& r)
{
  j.at("name").get_to(r.name);
  j.at("host").get_to(r.host);
  r.username = j.value("username", "");
  r.password = j.value("password", "");
}

void to_json(json& j, const PushedImage& i)
{
  json platforms = json::array();
  for (const auto& [platform, digest] : i.platforms) {
    platforms.push_back({{"platform", platform}, {"digest", digest}});
  }
  j = json{{"reference", i.reference},
           {"digest", i.digest},
           {"media_type", i.media_type},
           {"platforms", platforms},
           {"config_digest", i.config_digest}};
}

void from_json(const json& j, PushedImage& i)
{
  j.at("reference").get_to(i.reference);
  j.at("digest").get_to(i.digest);
  j.at("media_type").get_to(i.media_type);
  i.platforms.clear();
  for (const auto& p : j.at("platforms")) {
    i.platforms.emplace_back(p.at("platform").get<std::string>(), p.at("digest").get<std::string>());
  }
  i.config_digest = j.value("config_digest", "");
}

void to_json(json& j, const RegistryFixture& f)
{
  j = json{{"dir", f.dir.string()},
           {"open", f.open},
           {"basic", f.basic},
           {"token", f.token},
           {"token_realm", f.token_realm},
           {"token_service", f.token_service},
           {"images", f.images},
           {"token_log", f.token_log.string()}};
}

void from_json(const json& j, RegistryFixture& f)
{
  f.dir = j.at("dir").get<std::string>();
  j.at("open").get_to(f.open);
  j.at("basic").get_to(f.basic);
  j.at("token").get_to(f.token);
  j.at("token_realm").get_to(f.token_realm);
  j.at("token_service").get_to(f.token_service);
  j.at("images").get_to(f.images);
  f.token_log = j.at("token_log").get<std::string>();
}

// ---- RegistryFixture ----

const TestRegistry& RegistryFixture::registry(const std::string& name) const
{
  if (name == "open") {
    return open;
  }
  if (name == "basic") {
    return basic;
  }
  if (name == "token") {
    return token;
  }
  throw std::invalid_argument("no test registry named " + name);
}

std::vector<const TestRegistry*> RegistryFixture::registries() const
{
  return {&open, &basic, &token};
}

const PushedImage& RegistryFixture::image(const std::string& key) const
{
  const auto it = images.find(key);
  if (it == images.end()) {
    throw std::out_of_range("the registry fixture has no image " + key);
  }
  return it->second;
}

// ---- Functions ----

std::string sha256_digest(std::string_view data)
{
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  static constexpr std::string_view k_hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += k_hex[md[i] >> 4U];
    out += k_hex[md[i] & 15U];
  }
  return out;
}

std::string skopeo_program()
{
  const char* env = std::getenv("SKOPEO");
  return env != nullptr && *env != '\0' ? env : "skopeo";
}

bool registry_fixture_alive(const RegistryFixture& fixture)
{
  try {
    for (const TestRegistry* r : fixture.registries()) {
      const int status = http_fetch(r->host, "GET", "/v2/", {}, {}, std::chrono::seconds(3)).status;
      if (status != 200 && status != 401) {
        return false;
      }
    }
    // The realm is http://HOST/token; /healthz answers without writing to token.log.
    const std::string prefix = "http://";
    const auto host_end = fixture.token_realm.find('/', prefix.size());
    const std::string host = fixture.token_realm.substr(prefix.size(), host_end - prefix.size());
    return http_fetch(host, "GET", "/healthz", {}, {}, std::chrono::seconds(3)).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

const RegistryFixture& registry_fixture()
{
  // Loaded once per process; a failure is remembered so that every test reports it without retrying.
  static std::mutex mutex;
  static std::optional<RegistryFixture> shared;
  static std::unique_ptr<OwnFixture> own;
  static std::exception_ptr failure;
  const std::lock_guard lock(mutex);
  if (failure) {
    std::rethrow_exception(failure);
  }
  if (shared) {
    return *shared;
  }
  if (own) {
    return own->fixture();
  }
  try {
    if (auto loaded = load_fixture(fixture_dir_setting())) {
      shared = std::move(loaded);
      return *shared;
    }
    own = std::make_unique<OwnFixture>();
    return own->fixture();
  } catch (...) {
    failure = std::current_exception();
    throw;
  }
}

PushedImage push_image(const TestRegistry& r, const std::string& repository_tag, const ImageSpec& spec)
{
  const auto colon = repository_tag.rfind(':');
  if (colon == std::string::npos || colon == 0 || repository_tag.find('/', colon) != std::string::npos) {
    throw std::invalid_argument("push_image wants repository:tag, got " + repository_tag);
  }
  const TempDir temp;
  const fs::path layout = temp / "layout";
  write_layout(layout, spec);

  PushedImage image;
  image.reference = r.host + "/" + repository_tag;
  const fs::path digest_file = temp / "pushed-digest";

  Command copy{{skopeo_program(), "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"}, {}};
  if (spec.kind == ImageSpec::Kind::index) {
    copy.argv.emplace_back("--all");
  }
  if (spec.docker_media_types) {
    copy.argv.emplace_back("--format");
    copy.argv.emplace_back("v2s2");
  }
  add_creds(copy, "--dest-creds", r);
  copy.argv.emplace_back("--digestfile");
  copy.argv.push_back(digest_file.string());
  copy.argv.push_back("oci:" + layout.string() + ":" + std::string(k_layout_ref));
  copy.argv.push_back("docker://" + image.reference);
  copy.run_checked();

  Command inspect{{skopeo_program(), "inspect", "--raw", "--tls-verify=false"}, {}};
  add_creds(inspect, "--creds", r);
  inspect.argv.push_back("docker://" + image.reference);
  const std::string raw = inspect.run_checked().out;

  image.digest = sha256_digest(raw);
  const std::string reported = read_file(digest_file);
  if (reported.substr(0, reported.find_last_not_of(" \n") + 1) != image.digest) {
    throw std::runtime_error(copy.shown() + ": skopeo reports digest " + reported + " but the registry serves " +
                             image.digest + " for " + image.reference);
  }
  const json manifest = json::parse(raw);
  image.media_type = manifest.value("mediaType", "");
  if (manifest.contains("manifests")) {
    for (const auto& entry : manifest.at("manifests")) {
      const std::string key = platform_key(entry.value("platform", json::object()));
      if (key != "unknown/unknown") {
        image.platforms.emplace_back(key, entry.at("digest").get<std::string>());
      }
    }
  } else {
    image.config_digest = manifest.at("config").at("digest").get<std::string>();
  }
  return image;
}

void delete_manifest(const TestRegistry& r, const std::string& repository, const std::string& digest)
{
  Command del{{skopeo_program(), "--insecure-policy", "delete", "--tls-verify=false"}, {}};
  add_creds(del, "--creds", r);
  del.argv.push_back("docker://" + r.host + "/" + repository + "@" + digest);
  del.run_checked();
}

} // namespace changetrail::test
