#pragma once

#include "../globals.hpp"
#include "registry.hpp"

#include <CLI/CLI.hpp>

namespace changetrail::cli {

struct CheckOptions {
  std::vector<std::string> paths;
  std::string format = "text";
  std::string output;
  unsigned jobs = 0;
  bool verify_registry = false;
  bool staged = false;       // the index against HEAD
  std::string range;         // A..B or A...B (merge base of A and B, as git defines it)
  bool all_findings = false; // with --staged/--range: every finding of the changed files
  RegistryFlags registry;
};

CLI::App* register_check(CLI::App& app, CheckOptions& options);
int run_check(const Globals& globals, const CheckOptions& options);

} // namespace changetrail::cli
