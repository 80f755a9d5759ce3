#pragma once

#include "../globals.hpp"

#include <CLI/CLI.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace changetrail::cli {

struct ScanOptions {
  std::string repo = ".";
  std::string branch;
  std::string name;
};

struct QueryOptions {
  std::string since;
  std::string until;
  std::string env;
  std::string repo;
  std::string image;
  std::string path;
  std::string workload;
  std::string format = "table";
  bool local = false;
  std::vector<std::string> times; // at: TIME; diff: FROM TO
};

struct LedgerOptions {
  std::string action; // stats | dump
  std::string format = "table";
};

// An aligned table (format "table"), CSV or Markdown.
void print_grid(std::ostream& os, const std::string& format, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// The ledger's path: --ledger, else ledger::default_path().
[[nodiscard]] std::string ledger_path(const Globals& globals);
// --repo on a query: a directory that is a git repository is scanned first, incrementally, and
// its ledger name returned; anything else is taken as a ledger name.
[[nodiscard]] std::string prepare_repo(const Globals& globals, const std::string& repo);

CLI::App* register_scan(CLI::App& app, ScanOptions& options);
CLI::App* register_timeline(CLI::App& app, QueryOptions& options);
CLI::App* register_at(CLI::App& app, QueryOptions& options);
CLI::App* register_diff(CLI::App& app, QueryOptions& options);
CLI::App* register_ledger(CLI::App& app, LedgerOptions& options);
int run_scan(const Globals& globals, const ScanOptions& options);
int run_timeline(const Globals& globals, const QueryOptions& options);
int run_at(const Globals& globals, const QueryOptions& options);
int run_diff(const Globals& globals, const QueryOptions& options);
int run_ledger(const Globals& globals, const LedgerOptions& options);

} // namespace changetrail::cli
