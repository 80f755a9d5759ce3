#pragma once

#include <changetrail/policy/config.hpp>

#include <string>
#include <vector>

namespace changetrail::cli {

struct Globals {
  std::string ledger;
  std::string config;
  std::string color = "auto";
  int verbose = 0;
  bool quiet = false;
};

// The repository root for a set of PATH arguments and the configuration that applies there.
struct Workspace {
  std::string root;
  policy::Config config;
};

[[nodiscard]] Workspace open_workspace(const Globals& globals, const std::vector<std::string>& paths);
[[nodiscard]] bool use_color(const Globals& globals, int fd);

// Diagnostics on stderr: "changetrail: warning: ..." (not with -q).
void warn(const Globals& globals, const std::string& message);
void error_line(const std::string& message);

} // namespace changetrail::cli
