#include "scan_files.hpp"

namespace changetrail::cli {

ScannedFiles scan_files(const Globals& globals, std::vector<std::string> paths, unsigned jobs)
{
  if (paths.empty()) {
    paths.emplace_back(".");
  }
  ScannedFiles out;
  out.workspace = open_workspace(globals, paths);
  const policy::Config& config = out.workspace.config;
  extract::WalkOptions options;
  options.root = out.workspace.root;
  options.threads = jobs;
  options.ignored = [&config](std::string_view rel) { return config.ignored(rel); };
  options.environment = [&config](std::string_view rel) { return config.environment_for(rel); };
  out.walk = extract::extract_paths(paths, options);
  return out;
}

} // namespace changetrail::cli
