#pragma once

#include "../globals.hpp"

#include <changetrail/registry/client.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace changetrail::cli {

// Flags of every command that talks to a registry (DESIGN.md "Command line").
struct RegistryFlags {
  std::vector<std::string> insecure;
  int concurrency = 0; // 0: the config's (default 6)
  double timeout = 30; // seconds per request
  std::string docker_config;
  std::string username;
  bool password_stdin = false;
  std::string login_registry;
};

struct ResolveOptions {
  std::string repo;
  bool all = false;
  bool record_notes = false;
  std::string format = "table";
  RegistryFlags registry;
};

struct DriftOptions {
  std::string repo;
  std::string env;
  std::string format = "table";
  RegistryFlags registry;
};

void add_registry_flags(CLI::App& sub, RegistryFlags& flags);

// A client configured from the flags and the config. `refs` tells which registry --username is
// for when --login-registry is not given (it must be one registry).
[[nodiscard]] registry::Client make_client(const Globals& globals, const RegistryFlags& flags,
                                           const policy::Config& config,
                                           const std::vector<reference::Reference>& refs,
                                           registry::Options options = {});

CLI::App* register_resolve(CLI::App& app, ResolveOptions& options);
int run_resolve(const Globals& globals, const ResolveOptions& options);
CLI::App* register_drift(CLI::App& app, DriftOptions& options);
int run_drift(const Globals& globals, const DriftOptions& options);

} // namespace changetrail::cli
