#pragma once

#include "../globals.hpp"

#include <changetrail/extract/walk.hpp>

namespace changetrail::cli {

struct ScannedFiles {
  Workspace workspace;
  extract::WalkResult walk;
};

// Shared by extract and check: workspace, config, ignore globs and environments applied.
[[nodiscard]] ScannedFiles scan_files(const Globals& globals, std::vector<std::string> paths, unsigned jobs);

} // namespace changetrail::cli
