#include "check.hpp"

#include "scan_files.hpp"

#include <changetrail/policy/policy.hpp>
#include <changetrail/report/report.hpp>
#include <changetrail/util/error.hpp>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <unordered_map>
#include <unistd.h>

#ifndef CHANGETRAIL_VERSION
#define CHANGETRAIL_VERSION "0.0.0"
#endif

namespace changetrail::cli {

namespace {

report::CheckFormat parse_format(const std::string& f)
{
  if (f == "json") {
    return report::CheckFormat::json;
  }
  if (f == "sarif") {
    return report::CheckFormat::sarif;
  }
  if (f == "junit") {
    return report::CheckFormat::junit;
  }
  if (f == "github") {
    return report::CheckFormat::github;
  }
  return report::CheckFormat::text;
}

// Writes the report to a file through a temporary name and a rename, so a CI step never
// uploads half a SARIF file.
void write_output(const std::string& path, const std::string& text)
{
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw util::InputError(path + ": cannot write report: " + std::strerror(errno));
    }
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw util::Fatal(path + ": cannot write report: " + std::strerror(errno));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw util::Fatal(path + ": cannot write report: " + ec.message());
  }
}

} // namespace

CLI::App* register_check(CLI::App& app, CheckOptions& options)
{
  auto* sub = app.add_subcommand("check", "Refuse image references that are not pinned (a CI gate)");
  sub->add_option("PATH", options.paths, "Files or directories (default: .)");
  sub->add_option("--format", options.format, "Output format")
    ->check(CLI::IsMember({"text", "json", "sarif", "junit", "github"}))
    ->capture_default_str();
  sub->add_option("-o,--output", options.output, "Write the report to this file instead of stdout");
  sub->add_option("-j,--jobs", options.jobs, "Files read in parallel (default: one per core)");
  sub->add_flag("--verify-registry", options.verify_registry,
                "Ask the registries about pinned references (rules tag-digest-mismatch, digest-not-found)");
  add_registry_flags(*sub, options.registry);
  return sub;
}

int run_check(const Globals& globals, const CheckOptions& options)
{
  const auto scanned = scan_files(globals, options.paths, options.jobs);
  const policy::Policy policy(scanned.workspace.config);
  report::CheckReport rep;
  rep.tool_version = CHANGETRAIL_VERSION;
  std::size_t references = 0;

  // --verify-registry: every pinned reference is asked about once, before the rules run.
  std::unordered_map<std::string, policy::RegistryFacts> facts;
  std::size_t registry_failures = 0;
  if (options.verify_registry) {
    std::vector<reference::Reference> pinned;
    std::set<std::string> seen;
    for (const auto& file : scanned.walk.files) {
      for (const auto& f : file.findings) {
        if (f.image.valid && f.image.has_digest() && seen.insert(f.image.canonical()).second) {
          pinned.push_back(f.image);
        }
      }
    }
    if (!pinned.empty()) {
      registry::Options copt;
      copt.fetch_metadata = false;
      registry::Client client = make_client(globals, options.registry, scanned.workspace.config, pinned, copt);
      for (const auto& res : client.resolve(pinned)) {
        const bool digest_missing = res.pinned && res.pinned->status == registry::Status::not_found;
        const bool failed = (res.pinned && res.pinned->status != registry::Status::ok && !digest_missing)
                            || (res.tag && res.tag->status != registry::Status::ok
                                && res.tag->status != registry::Status::not_found);
        if (failed) {
          ++registry_failures;
          error_line("registry " + res.error() + " [" + registry::to_string(res.status()) + "]");
          if (!digest_missing) {
            continue; // nothing known: no rule fires on a guess
          }
        }
        policy::RegistryFacts& fact = facts[res.ref.canonical()];
        fact.digest_missing = digest_missing;
        if (res.tag && res.tag->status == registry::Status::ok) {
          fact.tag_digest = res.tag->digest;
        }
      }
    }
  }
  const policy::RegistryLookup lookup = [&facts](const reference::Reference& r) -> const policy::RegistryFacts* {
    const auto it = facts.find(r.canonical());
    return it == facts.end() ? nullptr : &it->second;
  };

  for (const auto& file : scanned.walk.files) {
    auto violations = policy.evaluate(file, options.verify_registry ? &lookup : nullptr);
    rep.violations.insert(rep.violations.end(), std::make_move_iterator(violations.begin()),
                          std::make_move_iterator(violations.end()));
    rep.files.push_back(file.file);
    references += file.findings.size();
  }
  rep.summary = policy::summarize(rep.violations, scanned.walk.files.size(), references);

  const auto format = parse_format(options.format);
  if (options.output.empty()) {
    report::write_check(std::cout, format, rep, report::Style{use_color(globals, STDOUT_FILENO)});
    std::cout.flush();
  } else {
    std::ostringstream text;
    report::write_check(text, format, rep, report::Style{false});
    write_output(options.output, text.str());
  }
  for (const auto& e : scanned.walk.errors) {
    error_line(e);
  }
  if (!scanned.walk.errors.empty()) {
    return util::k_exit_input;
  }
  if (rep.summary.errors > 0) {
    return util::k_exit_findings;
  }
  // The registry was required and could not answer for every pinned reference.
  return registry_failures > 0 ? util::k_exit_runtime : util::k_exit_clean;
}

} // namespace changetrail::cli
