#pragma once

#include "../globals.hpp"
#include "registry.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace changetrail::cli {

struct PinOptions {
  std::vector<std::string> paths;
  bool write = false;
  unsigned jobs = 0;
  RegistryFlags registry;
};

CLI::App* register_pin(CLI::App& app, PinOptions& options);
int run_pin(const Globals& globals, const PinOptions& options);

} // namespace changetrail::cli
