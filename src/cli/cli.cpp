#include <changetrail/cli/cli.hpp>

#include "commands/check.hpp"
#include "commands/extract.hpp"
#include "commands/history.hpp"
#include "commands/hook.hpp"
#include "commands/pin.hpp"
#include "commands/ref.hpp"
#include "commands/registry.hpp"
#include "globals.hpp"

#include <changetrail/util/error.hpp>
#include <changetrail/yaml/yaml.hpp>

#include <CLI/CLI.hpp>
#include <git2.h>
#include <sqlite3.h>

#include <iostream>

#ifndef CHANGETRAIL_VERSION
#define CHANGETRAIL_VERSION "0.0.0"
#endif

namespace changetrail::cli {

namespace {

std::string version_text()
{
  int major = 0;
  int minor = 0;
  int rev = 0;
  git_libgit2_version(&major, &minor, &rev);
  std::string out = "changetrail " CHANGETRAIL_VERSION "\n";
  out += "libgit2 " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(rev) + "\n";
  out += std::string("SQLite ") + sqlite3_libversion() + "\n";
  out += "libfyaml " + yaml::library_version() + "\n";
  return out;
}

} // namespace

int main(int argc, char** argv)
{
  CLI::App app{"changetrail: which image, tag and digest was deployed where, when, by which commit"};
  app.name("changetrail");
  app.require_subcommand(0, 1);
  app.fallthrough();

  Globals globals;
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version of changetrail and its libraries");
  app.add_option("--ledger", globals.ledger, "Ledger path (default: $CHANGETRAIL_LEDGER or ~/.local/share/changetrail/ledger.db)");
  app.add_option("--config", globals.config, "Configuration file (default: .changetrail.yaml at the repository root)");
  app.add_option("--color", globals.color, "Color output")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  app.add_flag("-v,--verbose", globals.verbose, "More diagnostics on stderr");
  app.add_flag("-q,--quiet", globals.quiet, "No warnings on stderr");

  RefOptions ref_options;
  ExtractOptions extract_options;
  CheckOptions check_options;
  CLI::App* ref = register_ref(app, ref_options);
  CLI::App* extract = register_extract(app, extract_options);
  CLI::App* check = register_check(app, check_options);
  ScanOptions scan_options;
  QueryOptions timeline_options;
  QueryOptions at_options;
  QueryOptions diff_options;
  LedgerOptions ledger_options;
  CLI::App* scan = register_scan(app, scan_options);
  CLI::App* timeline = register_timeline(app, timeline_options);
  CLI::App* at = register_at(app, at_options);
  CLI::App* diff = register_diff(app, diff_options);
  CLI::App* ledger = register_ledger(app, ledger_options);
  ResolveOptions resolve_options;
  CLI::App* resolve = register_resolve(app, resolve_options);
  DriftOptions drift_options;
  CLI::App* drift = register_drift(app, drift_options);
  PinOptions pin_options;
  CLI::App* pin = register_pin(app, pin_options);
  HookOptions hook_options;
  CLI::App* hook = register_hook(app, hook_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return util::k_exit_clean;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return util::k_exit_clean;
  } catch (const CLI::ParseError& e) {
    error_line(std::string(e.what()) + " (see changetrail --help)");
    return util::k_exit_input;
  }

  if (show_version) {
    std::cout << version_text();
    return util::k_exit_clean;
  }

  try {
    if (ref->parsed()) {
      return run_ref(globals, ref_options);
    }
    if (extract->parsed()) {
      return run_extract(globals, extract_options);
    }
    if (check->parsed()) {
      return run_check(globals, check_options);
    }
    if (scan->parsed()) {
      return run_scan(globals, scan_options);
    }
    if (timeline->parsed()) {
      return run_timeline(globals, timeline_options);
    }
    if (at->parsed()) {
      return run_at(globals, at_options);
    }
    if (diff->parsed()) {
      return run_diff(globals, diff_options);
    }
    if (ledger->parsed()) {
      return run_ledger(globals, ledger_options);
    }
    if (resolve->parsed()) {
      return run_resolve(globals, resolve_options);
    }
    if (drift->parsed()) {
      return run_drift(globals, drift_options);
    }
    if (pin->parsed()) {
      return run_pin(globals, pin_options);
    }
    if (hook->parsed()) {
      return run_hook(globals, hook_options);
    }
    std::cerr << app.help();
    error_line("no command given (ref, extract, check, pin, hook, scan, resolve, drift, timeline, at, diff, ledger)");
    return util::k_exit_input;
  } catch (const util::InputError& e) {
    error_line(e.what());
    return util::k_exit_input;
  } catch (const util::Fatal& e) {
    error_line(e.what());
    return util::k_exit_runtime;
  } catch (const std::exception& e) {
    error_line(std::string("internal error: ") + e.what());
    return util::k_exit_runtime;
  }
}

} // namespace changetrail::cli
