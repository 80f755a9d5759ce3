#pragma once

#include "../globals.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace changetrail::cli {

struct HookOptions {
  bool install = false; // which subcommand: install or uninstall
  bool pre_commit = false;
  bool pre_push = false; // neither flag: both hooks
  std::string repo;      // default: the repository of the current directory
};

// `hook install` and `hook uninstall` (issue 5, section 2).
CLI::App* register_hook(CLI::App& app, HookOptions& options);
int run_hook(const Globals& globals, const HookOptions& options);

} // namespace changetrail::cli
