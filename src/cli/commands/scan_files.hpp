#pragma once

#include "../globals.hpp"

#include <changetrail/extract/walk.hpp>

#include <map>
#include <set>
#include <string>

namespace changetrail::cli {

struct ScannedFiles {
  Workspace workspace;
  extract::WalkResult walk;
  // check --staged/--range: per changed file, "location\nref" of each reference it held before the
  // change (findings identical there are not introduced by the change).
  std::map<std::string, std::set<std::string>> before;
};

// Shared by extract and check: workspace, config, ignore globs and environments applied.
[[nodiscard]] ScannedFiles scan_files(const Globals& globals, std::vector<std::string> paths, unsigned jobs);

} // namespace changetrail::cli
