#pragma once

#include <changetrail/extract/finding.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::extract {

struct WalkOptions {
  std::string root; // paths are made relative to it for `ignored` and `environment`
  std::function<bool(std::string_view rel)> ignored;
  std::function<std::string(std::string_view rel)> environment;
  unsigned threads = 0; // 0: one per core
  std::uintmax_t max_file_size = std::uintmax_t{64} << 20;
};

struct WalkResult {
  std::vector<FileResult> files; // sorted by path; only candidate files
  std::vector<std::string> errors; // PATH arguments that do not exist (exit 2)
};

// Extracts from files and directories. Directories are read recursively, `.git` skipped, and
// symbolic links met during the walk are not followed (git records the link, not its target;
// this also makes link loops harmless). Paths named on the command line are followed.
[[nodiscard]] WalkResult extract_paths(const std::vector<std::string>& paths, const WalkOptions& options);

} // namespace changetrail::extract
