#include <changetrail/policy/config.hpp>

#include <changetrail/policy/policy.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/file.hpp>
#include <changetrail/util/glob.hpp>
#include <changetrail/util/strings.hpp>
#include <changetrail/yaml/yaml.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace changetrail::policy {

const char* to_string(Severity s)
{
  switch (s) {
  case Severity::off:
    return "off";
  case Severity::info:
    return "info";
  case Severity::warning:
    return "warning";
  case Severity::error:
    return "error";
  }
  return "off";
}

std::optional<Severity> parse_severity(std::string_view s)
{
  if (s == "off") {
    return Severity::off;
  }
  if (s == "info" || s == "note") {
    return Severity::info;
  }
  if (s == "warning" || s == "warn") {
    return Severity::warning;
  }
  if (s == "error") {
    return Severity::error;
  }
  return std::nullopt;
}

namespace {

using yaml::Value;

constexpr std::array<std::string_view, 8> k_default_env_segments = {"prod", "production", "staging", "stage",
                                                                    "dev", "qa", "test", "uat"};
constexpr std::array<std::string_view, 3> k_env_parents = {"clusters", "overlays", "envs"};

class ConfigReader {
public:
  ConfigReader(std::string_view file) : m_file(file) {}

  [[noreturn]] void fail(const Value& at, const std::string& message) const
  {
    throw util::InputError(std::string(m_file) + ":" + std::to_string(at ? at.mark().line : 0) + ": " + message);
  }

  void expect_keys(const Value& map, std::string_view where, std::initializer_list<std::string_view> keys) const
  {
    if (!map.is_mapping()) {
      fail(map, std::string(where) + " must be a mapping");
    }
    for (const auto& [k, v] : map.pairs()) {
      const auto key = k.text();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string expected;
        for (const auto allowed : keys) {
          expected += expected.empty() ? "" : ", ";
          expected += allowed;
        }
        fail(k, "unknown key " + util::quote(key) + " in " + std::string(where) + " (expected: " + expected + ")");
      }
    }
  }

  std::vector<std::string> strings(const Value& v, std::string_view where) const
  {
    std::vector<std::string> out;
    if (!v || v.is_null()) {
      return out;
    }
    if (!v.is_sequence()) {
      fail(v, std::string(where) + " must be a list of strings");
    }
    for (const auto& item : v.items()) {
      if (!item.is_scalar() || item.text().empty()) {
        fail(item, std::string(where) + " must be a list of non-empty strings");
      }
      out.emplace_back(item.text());
    }
    return out;
  }

  Severity severity(const Value& v, std::string_view where) const
  {
    const auto s = v.is_scalar() ? parse_severity(v.text()) : std::nullopt;
    if (!s) {
      fail(v, "bad severity " + util::quote(v.text()) + " for " + std::string(where) + " (error, warning, info or off)");
    }
    return *s;
  }

  std::map<std::string, Severity, std::less<>> rule_severities(const Value& map, std::string_view where) const
  {
    std::map<std::string, Severity, std::less<>> out;
    if (!map.is_mapping()) {
      fail(map, std::string(where) + " must be a mapping of rule id to severity");
    }
    for (const auto& [k, v] : map.pairs()) {
      if (find_rule(k.text()) == nullptr) {
        fail(k, "unknown rule " + util::quote(k.text()) + " in " + std::string(where));
      }
      out[std::string(k.text())] = severity(v, std::string(k.text()));
    }
    return out;
  }

  void read(const Value& root, Config& c) const
  {
    if (!root || root.is_null()) {
      return; // an empty file is the defaults
    }
    expect_keys(root, "the configuration", {"environments", "policy", "ignore", "registries"});
    if (const Value envs = root.get("environments"); envs && !envs.is_null()) {
      if (!envs.is_sequence()) {
        fail(envs, "environments must be a list of {name, paths}");
      }
      for (const auto& e : envs.items()) {
        expect_keys(e, "an environments entry", {"name", "paths"});
        EnvironmentRule rule;
        rule.name = std::string(e.get_text("name"));
        if (rule.name.empty()) {
          fail(e, "an environments entry needs a name");
        }
        rule.paths = strings(e.get("paths"), "environments[].paths");
        if (rule.paths.empty()) {
          fail(e, "environment " + util::quote(rule.name) + " needs at least one path glob");
        }
        c.environments.push_back(std::move(rule));
      }
    }
    if (const Value policy = root.get("policy"); policy && !policy.is_null()) {
      expect_keys(policy, "policy", {"severity", "environments", "allowed_registries", "mutable_tags"});
      if (const Value sev = policy.get("severity"); sev) {
        c.severity = rule_severities(sev, "policy.severity");
      }
      if (const Value envs = policy.get("environments"); envs) {
        if (!envs.is_mapping()) {
          fail(envs, "policy.environments must map environment names to rule severities");
        }
        for (const auto& [k, v] : envs.pairs()) {
          c.environment_severity[std::string(k.text())] = rule_severities(v, "policy.environments." + std::string(k.text()));
        }
      }
      if (const Value regs = policy.get("allowed_registries"); regs) {
        c.allowed_registries = strings(regs, "policy.allowed_registries");
      }
      if (const Value tags = policy.get("mutable_tags"); tags) {
        c.mutable_tags = strings(tags, "policy.mutable_tags");
      }
    }
    if (const Value ignore = root.get("ignore"); ignore) {
      c.ignore = strings(ignore, "ignore");
    }
    if (const Value regs = root.get("registries"); regs && !regs.is_null()) {
      expect_keys(regs, "registries", {"insecure", "trusted_realms", "concurrency"});
      c.insecure_registries = strings(regs.get("insecure"), "registries.insecure");
      c.trusted_realms = strings(regs.get("trusted_realms"), "registries.trusted_realms");
      if (const Value n = regs.get("concurrency"); n) {
        const auto t = n.text();
        int value = 0;
        const bool digits = !t.empty() && t.size() < 4 && std::all_of(t.begin(), t.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (digits) {
          value = std::stoi(std::string(t));
        }
        if (!digits || value < 1 || value > 64) {
          fail(n, "registries.concurrency must be a whole number from 1 to 64");
        }
        c.concurrency = value;
      }
    }
  }

private:
  std::string_view m_file;
};

} // namespace

Config parse_config(std::string_view content, std::string_view file_name)
{
  Config c;
  c.file = std::string(file_name);
  const ConfigReader reader(file_name);
  std::size_t documents = 0;
  auto err = yaml::parse_stream(content, [&](const yaml::Document& doc) {
    if (++documents > 1) {
      throw util::InputError(std::string(file_name) + ":" + std::to_string(doc.root() ? doc.root().mark().line : 0)
                             + ": the configuration must be a single YAML document");
    }
    for (const auto& w : doc.warnings()) {
      throw util::InputError(std::string(file_name) + ":" + std::to_string(w.mark.line) + ": " + w.message);
    }
    reader.read(doc.root(), c);
    if (doc.budget_exhausted()) {
      throw util::InputError(std::string(file_name) + ": too many aliases");
    }
  });
  if (err) {
    throw util::InputError(std::string(file_name) + ":" + std::to_string(err->mark.line) + ":" + std::to_string(err->mark.column)
                           + ": invalid YAML: " + err->message);
  }
  return c;
}

Config load_config(const std::string& path)
{
  std::string content;
  std::string error;
  if (!util::read_regular_file(path, 1u << 20, content, error)) {
    throw util::InputError(path + ": configuration: " + error);
  }
  Config c = parse_config(content, path);
  c.root = fs::path(path).parent_path().string();
  if (c.root.empty()) {
    c.root = ".";
  }
  return c;
}

std::string find_root(const std::string& path)
{
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) {
    return path;
  }
  fs::path start = fs::is_directory(p, ec) ? p : p.parent_path();
  for (fs::path dir = start; !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / ".changetrail.yaml", ec) || fs::exists(dir / ".git", ec)) {
      return dir.lexically_normal().string();
    }
    if (dir == dir.parent_path()) {
      break;
    }
  }
  return start.lexically_normal().string();
}

std::string Config::environment_for(std::string_view rel_path) const
{
  for (const auto& rule : environments) {
    for (const auto& glob : rule.paths) {
      if (util::glob_match(glob, rel_path)) {
        return rule.name;
      }
    }
  }
  const auto segments = util::split(rel_path, '/');
  // The last segment is the file name: only directories name environments.
  for (std::size_t i = 0; i + 2 < segments.size(); ++i) {
    if (std::find(k_env_parents.begin(), k_env_parents.end(), segments[i]) != k_env_parents.end()) {
      return std::string(segments[i + 1]);
    }
  }
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    const auto lower = util::to_lower(segments[i]);
    if (std::find(k_default_env_segments.begin(), k_default_env_segments.end(), lower) != k_default_env_segments.end()) {
      return lower;
    }
  }
  return {};
}

bool Config::ignored(std::string_view rel_path) const
{
  return std::any_of(ignore.begin(), ignore.end(), [&](const std::string& g) { return util::glob_match(g, rel_path); });
}

} // namespace changetrail::policy
