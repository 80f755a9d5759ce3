#include "globals.hpp"

#include <changetrail/util/strings.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace changetrail::cli {

Workspace open_workspace(const Globals& globals, const std::vector<std::string>& paths)
{
  Workspace ws;
  ws.root = policy::find_root(paths.empty() ? std::string(".") : paths.front());
  std::string config_path = globals.config;
  if (config_path.empty()) {
    const fs::path candidate = fs::path(ws.root) / ".changetrail.yaml";
    std::error_code ec;
    if (fs::exists(candidate, ec)) {
      config_path = candidate.string();
    }
  }
  if (!config_path.empty()) {
    ws.config = policy::load_config(config_path);
  }
  ws.config.root = ws.root;
  return ws;
}

bool use_color(const Globals& globals, int fd)
{
  if (globals.color == "always") {
    return true;
  }
  if (globals.color == "never") {
    return false;
  }
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') {
    return false;
  }
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") {
    return false;
  }
  return isatty(fd) != 0;
}

void warn(const Globals& globals, const std::string& message)
{
  if (!globals.quiet) {
    std::cerr << "changetrail: warning: " << util::sanitize_utf8(message) << '\n';
  }
}

void error_line(const std::string& message)
{
  std::cerr << "changetrail: error: " << util::sanitize_utf8(message) << '\n';
}

} // namespace changetrail::cli
