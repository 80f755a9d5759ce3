#include "pin.hpp"

#include "scan_files.hpp"

#include <changetrail/extract/extract.hpp>
#include <changetrail/pin/pin.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/file.hpp>

#include <iostream>
#include <set>
#include <unordered_map>

namespace changetrail::cli {

namespace {

constexpr std::uintmax_t k_max_file = std::uintmax_t{64} << 20;

std::optional<std::string> read_beside(const std::string& file, const char* name)
{
  const auto slash = file.rfind('/');
  const std::string path = slash == std::string::npos ? std::string(name) : file.substr(0, slash + 1) + name;
  std::string text;
  std::string error;
  if (!util::read_regular_file(path, 1u << 20, text, error)) {
    return std::nullopt;
  }
  return text;
}

} // namespace

CLI::App* register_pin(CLI::App& app, PinOptions& options)
{
  auto* sub = app.add_subcommand(
    "pin", "Rewrite unpinned references to tag@digest, keeping every other byte (without --write: a diff, exit 1 if "
           "anything would change)");
  sub->add_option("PATH", options.paths, "Files or directories (default: .)");
  sub->add_flag("--write", options.write, "Rewrite the files in place (through a temporary file and a rename)");
  sub->add_option("-j,--jobs", options.jobs, "Files read in parallel (default: one per core)");
  add_registry_flags(*sub, options.registry);
  return sub;
}

int run_pin(const Globals& globals, const PinOptions& options)
{
  const auto scanned = scan_files(globals, options.paths, options.jobs);
  for (const auto& e : scanned.walk.errors) {
    error_line(e);
  }
  if (!scanned.walk.errors.empty()) {
    return util::k_exit_input;
  }

  // Every reference that wants a digest, asked once.
  std::vector<reference::Reference> wanted;
  std::set<std::string> seen;
  for (const auto& file : scanned.walk.files) {
    for (auto& r : pin::wanted(file)) {
      if (seen.insert(r.canonical()).second) {
        wanted.push_back(std::move(r));
      }
    }
  }
  std::unordered_map<std::string, std::string> digests; // canonical -> digest
  std::unordered_map<std::string, std::string> why_not; // canonical -> reason
  std::size_t failures = 0;
  if (!wanted.empty()) {
    registry::Options copt;
    copt.fetch_metadata = false;
    registry::Client client = make_client(globals, options.registry, scanned.workspace.config, wanted, copt);
    for (const auto& res : client.resolve(wanted)) {
      const std::string key = res.ref.canonical();
      if (res.status() == registry::Status::ok && res.tag && !res.tag->digest.empty()) {
        digests[key] = res.tag->digest;
        continue;
      }
      why_not[key] = res.error();
      if (res.status() == registry::Status::not_found) {
        warn(globals, "registry " + res.error() + ": not pinned");
      } else {
        ++failures;
        error_line("registry " + res.error() + " [" + registry::to_string(res.status()) + "]");
      }
    }
  }
  const pin::DigestLookup lookup = [&](const reference::Reference& r) -> pin::DigestAnswer {
    const std::string key = r.canonical();
    if (auto it = digests.find(key); it != digests.end()) {
      return {it->second, {}};
    }
    auto it = why_not.find(key);
    return {{}, it != why_not.end() ? it->second : std::string()};
  };

  std::size_t changed_files = 0;
  std::size_t changes = 0;
  std::size_t skipped = 0;
  for (const auto& file : scanned.walk.files) {
    if (!file.checked || file.findings.empty()) {
      continue;
    }
    std::string content;
    std::string error;
    if (!util::read_regular_file(file.file, k_max_file, content, error)) {
      error_line(file.file + ": " + error);
      ++failures;
      continue;
    }
    extract::FileInput input;
    input.file = file.file;
    input.rel = file.rel;
    input.content = content;
    input.kind = extract::classify(file.file);
    if (input.kind == extract::FileKind::none) {
      input.kind = extract::FileKind::yaml; // named on the command line: read as YAML, as extract does
    }
    const std::string path = file.file;
    input.read_dotenv = [path] { return read_beside(path, ".env"); };
    const pin::PinResult result = pin::pin_file(input, file, lookup);
    for (const auto& s : result.skipped) {
      ++skipped;
      if (globals.verbose > 0) {
        warn(globals, file.file + ":" + std::to_string(s.line) + ": " + s.ref + " not pinned: " + s.reason);
      }
    }
    if (!result.changed()) {
      continue;
    }
    ++changed_files;
    changes += result.changes.size();
    if (options.write) {
      pin::write_atomically(file.file, result.text);
    } else {
      std::cout << pin::unified_diff(file.rel.empty() ? file.file : file.rel, content, result.text);
    }
  }
  std::cout.flush();
  if (!globals.quiet) {
    std::cerr << (options.write ? "pinned " : "would pin ") << changes << " reference" << (changes == 1 ? "" : "s")
              << " in " << changed_files << " file" << (changed_files == 1 ? "" : "s");
    if (skipped > 0) {
      std::cerr << "; " << skipped << " left as they are" << (globals.verbose > 0 ? "" : " (-v says why)");
    }
    std::cerr << "\n";
  }
  if (failures > 0) {
    return util::k_exit_runtime;
  }
  return !options.write && changes > 0 ? util::k_exit_findings : util::k_exit_clean;
}

} // namespace changetrail::cli
