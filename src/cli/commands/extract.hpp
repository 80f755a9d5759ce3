#pragma once

#include "../globals.hpp"

#include <CLI/CLI.hpp>

namespace changetrail::cli {

struct ExtractOptions {
  std::vector<std::string> paths;
  std::string format = "table";
  unsigned jobs = 0;
};

CLI::App* register_extract(CLI::App& app, ExtractOptions& options);
int run_extract(const Globals& globals, const ExtractOptions& options);

} // namespace changetrail::cli
