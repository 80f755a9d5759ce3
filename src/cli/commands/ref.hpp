#pragma once

#include "../globals.hpp"

#include <CLI/CLI.hpp>

namespace changetrail::cli {

struct RefOptions {
  std::vector<std::string> refs;
  std::string format = "table";
};

CLI::App* register_ref(CLI::App& app, RefOptions& options);
int run_ref(const Globals& globals, const RefOptions& options);

} // namespace changetrail::cli
