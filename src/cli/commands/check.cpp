#include "check.hpp"

#include "scan_files.hpp"

#include <changetrail/extract/extract.hpp>
#include <changetrail/git/git.hpp>
#include <changetrail/policy/policy.hpp>
#include <changetrail/util/strings.hpp>
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
  if (f == "codequality") {
    return report::CheckFormat::codequality;
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

// --staged / --range: the candidate files a change touched, read from git (the index or the
// commits, never the work tree), with what each held before, for "introduced" filtering.
ScannedFiles changed_files(const Globals& globals, const CheckOptions& options)
{
  const std::string dir = options.paths.empty() ? std::string(".") : options.paths.front();
  if (options.paths.size() > 1) {
    throw util::InputError("--staged and --range take one PATH: the repository");
  }
  const git::Repository repo = git::Repository::open(dir);
  ScannedFiles out;
  out.workspace = open_workspace(globals, {repo.path()});
  const policy::Config& config = out.workspace.config;
  const auto interesting = [&config](std::string_view rel) {
    return extract::classify(rel) != extract::FileKind::none && !config.ignored(rel);
  };
  std::vector<git::Change> changes;
  if (options.staged) {
    changes = repo.index_changes(interesting);
  } else {
    const bool merge_base = options.range.find("...") != std::string::npos;
    const auto sep = options.range.find(merge_base ? "..." : "..");
    if (sep == std::string::npos) {
      throw util::InputError("--range " + util::quote(options.range) + ": expected A..B or A...B");
    }
    const std::string a_text = options.range.substr(0, sep);
    const std::string b_text = options.range.substr(sep + (merge_base ? 3 : 2));
    const auto resolve = [&](const std::string& rev) {
      const auto id = repo.resolve_commit(rev.empty() ? std::string("HEAD") : rev);
      if (!id) {
        throw util::InputError("--range: " + util::quote(rev) + " is not a commit of " + repo.path());
      }
      return *id;
    };
    // git's empty tree as A: the whole tree of B is new (a first push with nothing to compare to).
    constexpr std::string_view k_empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    const bool from_nothing = a_text == k_empty_tree;
    std::string a = from_nothing ? std::string() : resolve(a_text);
    const std::string b = resolve(b_text);
    if (merge_base && !from_nothing) {
      const auto base = repo.merge_base(a, b);
      if (!base) {
        throw util::InputError("--range " + options.range + ": the two commits have no merge base");
      }
      a = *base;
    }
    changes = repo.tree_changes(from_nothing ? std::string() : repo.commit_info(a).tree, repo.commit_info(b).tree,
                                interesting);
  }
  const auto extract_blob = [&](const std::string& rel, const std::string& blob) {
    extract::FileResult result;
    const auto content = repo.read_blob(blob);
    if (!content) {
      result.file = rel;
      result.rel = rel;
      result.problems.push_back({0, 0, "blob " + blob.substr(0, 12) + " is missing from the object store"});
      return result;
    }
    extract::FileInput input;
    input.file = rel;
    input.rel = rel;
    input.content = *content;
    input.kind = extract::classify(rel);
    input.read_dotenv = [] { return std::optional<std::string>(); };
    result = extract::extract_file(input);
    const std::string env = config.environment_for(rel);
    for (auto& f : result.findings) {
      f.env = env;
    }
    return result;
  };
  for (const auto& c : changes) {
    if (c.new_path.empty() || c.new_blob.empty()) {
      continue; // a deletion introduces nothing
    }
    out.walk.files.push_back(extract_blob(c.new_path, c.new_blob));
    if (!options.all_findings && !c.old_blob.empty()) {
      auto& before = out.before[c.new_path];
      for (const auto& f : extract_blob(c.old_path.empty() ? c.new_path : c.old_path, c.old_blob).findings) {
        before.insert(f.location + '\n' + f.ref);
      }
    }
  }
  return out;
}

} // namespace

CLI::App* register_check(CLI::App& app, CheckOptions& options)
{
  auto* sub = app.add_subcommand("check", "Refuse image references that are not pinned (a CI gate)");
  sub->add_option("PATH", options.paths, "Files or directories (default: .)");
  sub->add_option("--format", options.format, "Output format")
    ->check(CLI::IsMember({"text", "json", "sarif", "junit", "github", "codequality"}))
    ->capture_default_str();
  sub->add_option("-o,--output", options.output, "Write the report to this file instead of stdout");
  sub->add_option("-j,--jobs", options.jobs, "Files read in parallel (default: one per core)");
  sub->add_flag("--staged", options.staged,
                "Check what the staged change adds or alters compared with HEAD (a pre-commit hook); PATH: the repository");
  sub->add_option("--range", options.range,
                  "Check what commits A..B introduce (A...B: since the merge base, as git defines it); PATH: the repository");
  sub->add_flag("--all-findings", options.all_findings,
                "With --staged or --range: report every finding of the changed files, not only the introduced ones");
  sub->add_flag("--verify-registry", options.verify_registry,
                "Ask the registries about pinned references (rules tag-digest-mismatch, digest-not-found)");
  add_registry_flags(*sub, options.registry);
  return sub;
}

int run_check(const Globals& globals, const CheckOptions& options)
{
  if (options.staged && !options.range.empty()) {
    throw util::InputError("--staged and --range exclude each other");
  }
  if (options.all_findings && !options.staged && options.range.empty()) {
    throw util::InputError("--all-findings goes with --staged or --range");
  }
  const auto scanned = options.staged || !options.range.empty() ? changed_files(globals, options)
                                                                 : scan_files(globals, options.paths, options.jobs);
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
    if (const auto before = scanned.before.find(file.file); before != scanned.before.end()) {
      // What the change did not introduce: the same reference at the same location before it.
      std::erase_if(violations, [&](const policy::Violation& v) {
        return !v.location.empty() && before->second.count(v.location + '\n' + v.ref) > 0;
      });
    }
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
