#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::policy {

enum class Severity : std::uint8_t { off, info, warning, error };

[[nodiscard]] const char* to_string(Severity s);
[[nodiscard]] std::optional<Severity> parse_severity(std::string_view s);

struct EnvironmentRule {
  std::string name;
  std::vector<std::string> paths; // globs over repository-relative paths
};

// `.changetrail.yaml` (DESIGN.md "Config"). Every key is optional; an unknown key or a bad value
// is an InputError naming the file and line.
struct Config {
  std::string file; // where it was read from; empty for the defaults
  std::string root; // directory the path globs are relative to
  std::vector<EnvironmentRule> environments;
  std::map<std::string, Severity, std::less<>> severity;
  std::map<std::string, std::map<std::string, Severity, std::less<>>, std::less<>> environment_severity;
  std::vector<std::string> allowed_registries;
  std::vector<std::string> mutable_tags{"main", "master", "stable", "edge", "dev", "develop", "nightly", "head", "HEAD"};
  std::vector<std::string> ignore;
  std::vector<std::string> insecure_registries;
  std::vector<std::string> trusted_realms;
  int concurrency = 6;

  // Environment of a repository-relative path: the first matching rule, else the defaults
  // (clusters/<name>/, overlays/<name>/, envs/<name>/, or a segment such as prod or staging).
  [[nodiscard]] std::string environment_for(std::string_view rel_path) const;
  [[nodiscard]] bool ignored(std::string_view rel_path) const;
};

[[nodiscard]] Config parse_config(std::string_view content, std::string_view file_name);
[[nodiscard]] Config load_config(const std::string& path);

// The directory a PATH argument belongs to: the nearest ancestor (or itself) holding
// `.changetrail.yaml` or `.git`; otherwise the path itself (a directory) or its parent.
[[nodiscard]] std::string find_root(const std::string& path);

} // namespace changetrail::policy
