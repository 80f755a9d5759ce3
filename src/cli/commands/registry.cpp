#include "registry.hpp"

#include "history.hpp"

#include <changetrail/git/git.hpp>
#include <changetrail/ledger/ledger.hpp>
#include <changetrail/ledger/notes.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/json_text.hpp>
#include <changetrail/util/strings.hpp>
#include <changetrail/util/time.hpp>

#include <climits>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <iostream>
#include <map>
#include <set>
#include <unordered_map>

namespace fs = std::filesystem;

namespace changetrail::cli {

namespace {

// The ledger row of one answer (DESIGN.md: observations are evidence that cannot be rebuilt).
ledger::Observation observation_of(const registry::Resolution& res, const std::string& repo, const std::string& commit,
                                   std::int64_t now)
{
  ledger::Observation o;
  o.reference = res.ref.canonical();
  o.registry = res.host;
  o.observed_at = now;
  o.repo = repo;
  o.commit = commit;
  if (res.tag) {
    o.tag = res.ref.has_tag() ? res.ref.tag : "latest";
    o.digest = res.tag->digest;
    o.status = registry::to_string(res.tag->status);
  } else {
    o.status = registry::to_string(registry::Status::ok);
  }
  if (res.pinned) {
    o.pinned_digest = res.ref.digest;
    o.pinned_status = registry::to_string(res.pinned->status);
  }
  o.error = res.error();
  if (res.metadata) {
    o.platforms = res.metadata->platforms;
  }
  return o;
}

// The state of each recorded repository at its last scanned commit (what is deployed now).
std::vector<ledger::StateRow> tip_states(const ledger::Ledger& led, const std::string& repo_name,
                                         const ledger::Filter& filter, std::vector<ledger::Repo>* repos = nullptr)
{
  std::vector<ledger::StateRow> out;
  bool found = repo_name.empty();
  for (const auto& repo : led.repos()) {
    if (!repo_name.empty() && repo.name != repo_name) {
      continue;
    }
    found = true;
    auto rows = led.state_at_commit(repo, repo.last_seq, filter);
    out.insert(out.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    if (repos != nullptr) {
      repos->push_back(repo);
    }
  }
  if (!found) {
    throw util::InputError("no repository named " + util::quote(repo_name) + " in the ledger " + led.path()
                           + " (changetrail ledger stats lists them)");
  }
  return out;
}

// resolve --record-notes: per repository, its observations as a note on its tip commit, merged
// with what the note already holds.
void record_notes(const Globals& globals, const std::vector<ledger::Repo>& repos,
                  const std::map<std::string, std::set<std::string>>& deployed,
                  const std::vector<ledger::Observation>& observations,
                  const std::vector<registry::Resolution>& results)
{
  for (const auto& repo : repos) {
    const auto refs = deployed.find(repo.name);
    if (refs == deployed.end()) {
      continue;
    }
    ledger::NoteContent content;
    std::set<std::string> digests;
    for (std::size_t i = 0; i < observations.size(); ++i) {
      if (refs->second.count(observations[i].reference) == 0) {
        continue;
      }
      content.observations.push_back(observations[i]);
      content.observations.back().repo = repo.name;
      content.observations.back().commit = repo.last_commit;
      if (results[i].metadata && digests.insert(results[i].metadata->digest).second) {
        content.images.push_back(results[i].metadata);
      }
    }
    if (content.observations.empty() || repo.last_commit.empty()) {
      continue;
    }
    git::Repository git_repo = git::Repository::open(repo.path);
    if (!git_repo.has_commit(repo.last_commit)) {
      warn(globals, repo.path + ": commit " + repo.last_commit.substr(0, 12) + " is not in the repository; no note written");
      continue;
    }
    const auto existing = git_repo.read_note(ledger::k_notes_ref, repo.last_commit);
    git_repo.write_note(ledger::k_notes_ref, repo.last_commit, ledger::merge_note(existing, content));
    if (!globals.quiet) {
      std::cerr << "noted " << content.observations.size() << " observations on " << repo.name << " "
                << repo.last_commit.substr(0, 12) << " (" << ledger::k_notes_ref << "; share with git push origin "
                << ledger::k_notes_ref << ")\n";
    }
  }
}

std::string short_digest(const std::string& d)
{
  const auto colon = d.find(':');
  return colon == std::string::npos || d.size() < colon + 13 ? d : d.substr(0, colon + 13);
}

} // namespace

void add_registry_flags(CLI::App& sub, RegistryFlags& flags)
{
  sub.add_option("--insecure-registry", flags.insecure,
                 "HOST[:PORT] that may be reached over plain http (repeatable; added to registries.insecure)");
  sub.add_option("--concurrency", flags.concurrency, "Concurrent requests per registry (default: config, 6)")
    ->check(CLI::Range(1, 64));
  sub.add_option("--timeout", flags.timeout, "Seconds before one request is abandoned")
    ->check(CLI::Range(0.1, 3600.0))
    ->capture_default_str();
  sub.add_option("--docker-config", flags.docker_config,
                 "Directory of config.json with the registry credentials (default: $DOCKER_CONFIG or ~/.docker)");
  sub.add_option("--username", flags.username, "User name for the registry of --login-registry (with --password-stdin)");
  sub.add_flag("--password-stdin", flags.password_stdin, "Read the password or token for --username from stdin");
  sub.add_option("--login-registry", flags.login_registry,
                 "Registry host the --username credentials are for (default: the only registry asked)");
}

registry::Client make_client(const Globals& globals, const RegistryFlags& flags, const policy::Config& config,
                             const std::vector<reference::Reference>& refs, registry::Options options)
{
  if (globals.verbose > 0) {
    options.note = [&globals](const std::string& line) { warn(globals, "registry " + line); };
  }
  options.insecure_hosts = config.insecure_registries;
  options.insecure_hosts.insert(options.insecure_hosts.end(), flags.insecure.begin(), flags.insecure.end());
  options.trusted_realms = config.trusted_realms;
  options.per_host = flags.concurrency > 0 ? flags.concurrency : config.concurrency;
  options.timeout = std::chrono::milliseconds(static_cast<long>(flags.timeout * 1000));
  options.connect_timeout = std::min(options.timeout, std::chrono::milliseconds(10000));
  registry::CredentialStore store = registry::CredentialStore::load(flags.docker_config);
  if (flags.password_stdin && flags.username.empty()) {
    throw util::InputError("--password-stdin needs --username");
  }
  if (!flags.username.empty()) {
    if (!flags.password_stdin) {
      // A password on the command line would be visible to every user of the machine (ps).
      throw util::InputError("--username needs --password-stdin: the password is read from stdin, never from an argument");
    }
    std::string host = flags.login_registry;
    if (host.empty()) {
      std::set<std::string> registries;
      for (const auto& r : refs) {
        if (r.valid) {
          registries.insert(r.registry);
        }
      }
      if (registries.size() != 1) {
        throw util::InputError("--username: the references are on " + std::to_string(registries.size())
                               + " registries; name the one the credentials are for with --login-registry HOST");
      }
      host = *registries.begin();
    }
    std::string password;
    std::getline(std::cin, password);
    while (!password.empty() && (password.back() == '\r' || password.back() == '\n')) {
      password.pop_back();
    }
    if (password.empty()) {
      throw util::InputError("--password-stdin: nothing on stdin");
    }
    store.set_override(host, registry::Credential{flags.username, password, false});
  }
  return registry::Client(std::move(options), std::move(store));
}

CLI::App* register_resolve(CLI::App& app, ResolveOptions& options)
{
  auto* sub = app.add_subcommand("resolve", "Ask the registries what the deployed references point at; record it");
  sub->add_option("--repo", options.repo,
                  "Only this repository (a directory is scanned first, incrementally; or a ledger name)");
  sub->add_flag("--all", options.all, "Also every reference of the recorded history that has no observation yet");
  sub->add_flag("--record-notes", options.record_notes,
                "Also write the observations of each repository's tip commit as a git note under refs/notes/changetrail");
  sub->add_option("--format", options.format, "table or json")
    ->check(CLI::IsMember({"table", "json"}))
    ->capture_default_str();
  add_registry_flags(*sub, options.registry);
  return sub;
}

int run_resolve(const Globals& globals, const ResolveOptions& options)
{
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  const bool repo_dir = !options.repo.empty() && fs::is_directory(options.repo, ec);
  const std::string repo_name = prepare_repo(globals, options.repo);
  const Workspace ws = open_workspace(globals, {repo_dir ? options.repo : std::string(".")});
  auto led = ledger::Ledger::open(ledger_path(globals), ledger::Ledger::Mode::write);

  struct Target {
    reference::Reference ref;
    std::string repo;
    std::string commit;
  };
  std::vector<Target> targets;
  std::set<std::string> seen;
  std::size_t skipped = 0;
  const auto add = [&](const std::string& written, const std::string& repo, const std::string& commit) {
    reference::Reference r = reference::parse(written);
    if (!r.valid) {
      ++skipped; // templated or invalid: not a question for a registry (check reports it)
      return;
    }
    if (seen.insert(r.canonical()).second) {
      targets.push_back(Target{std::move(r), repo, commit});
    }
  };
  std::vector<ledger::Repo> repos;
  const auto states = tip_states(led, repo_name, {}, &repos);
  std::unordered_map<std::string, std::string> tip_of;
  for (const auto& r : repos) {
    tip_of[r.name] = r.last_commit;
  }
  std::map<std::string, std::set<std::string>> deployed; // repository -> canonical references
  for (const auto& row : states) {
    const std::string& written = row.input.empty() ? row.ref : row.input;
    add(written, row.repo, tip_of[row.repo]);
    if (const auto r = reference::parse(written); r.valid) {
      deployed[row.repo].insert(r.canonical());
    }
  }
  if (options.all) {
    for (const auto& written : led.unobserved_references()) {
      add(written, {}, {});
    }
  }
  if (targets.empty()) {
    if (!globals.quiet) {
      std::cerr << "nothing to resolve: no deployed reference" << (skipped > 0 ? " that is not templated" : "")
                << " in " << (repo_name.empty() ? "the ledger" : repo_name) << "\n";
    }
    return util::k_exit_clean;
  }

  std::vector<reference::Reference> refs;
  refs.reserve(targets.size());
  for (const auto& t : targets) {
    refs.push_back(t.ref);
  }
  registry::Options copt;
  copt.known_metadata = [&led](const std::string& digest) { return led.image(digest); };
  registry::Client client = make_client(globals, options.registry, ws.config, refs, copt);
  const auto results = client.resolve(refs);
  const std::int64_t now = util::now_seconds();

  std::vector<ledger::Observation> observations;
  std::vector<std::shared_ptr<const registry::ImageMetadata>> images;
  std::size_t ok = 0;
  std::size_t not_found = 0;
  std::size_t failures = 0;
  std::set<std::string> hosts;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& res = results[i];
    const auto& t = targets[i];
    hosts.insert(res.host);
    ledger::Observation o = observation_of(res, t.repo, t.commit, now);
    if (res.metadata) {
      images.push_back(res.metadata);
    }
    observations.push_back(std::move(o));
    const registry::Status s = res.status();
    if (s == registry::Status::ok) {
      ++ok;
    } else if (s == registry::Status::not_found) {
      ++not_found;
      warn(globals, "registry " + res.error());
    } else {
      ++failures;
      error_line("registry " + res.error() + " [" + registry::to_string(s) + "]");
    }
    if (globals.verbose > 0 && !res.metadata_error.empty()) {
      warn(globals, "registry " + res.metadata_error + " (image metadata not read)");
    }
  }
  led.add_observations(observations, images, now);
  if (options.record_notes) {
    record_notes(globals, repos, deployed, observations, results);
  }

  if (options.format == "json") {
    std::string out = "[";
    for (std::size_t i = 0; i < observations.size(); ++i) {
      const auto& o = observations[i];
      const auto& m = results[i].metadata;
      out += i == 0 ? "{" : ",{";
      const auto field = [&out](const char* name, const std::string& v, bool first = false) {
        if (!first) {
          out += ',';
        }
        out += '"';
        out += name;
        out += "\":";
        util::append_json_string(out, v);
      };
      field("reference", o.reference, true);
      field("registry", o.registry);
      field("tag", o.tag);
      field("digest", o.digest);
      field("status", o.status);
      field("pinned_digest", o.pinned_digest);
      field("pinned_status", o.pinned_status);
      field("error", o.error);
      field("observed_at", util::format_rfc3339_utc(o.observed_at));
      out += ",\"platforms\":[";
      for (std::size_t p = 0; p < o.platforms.size(); ++p) {
        out += p == 0 ? "{" : ",{";
        field("platform", o.platforms[p].platform, true);
        field("digest", o.platforms[p].digest);
        out += '}';
      }
      out += ']';
      field("revision", m ? m->revision : std::string());
      field("source", m ? m->source : std::string());
      field("created", m ? m->created : std::string());
      field("version", m ? m->version : std::string());
      for (const auto& [name, values] : {std::pair{"labels", m ? &m->labels : nullptr},
                                         std::pair{"annotations", m ? &m->annotations : nullptr}}) {
        out += ",\"";
        out += name;
        out += "\":{";
        bool first = true;
        for (const auto& [k, v] : values != nullptr ? *values : std::map<std::string, std::string>{}) {
          if (!first) {
            out += ',';
          }
          first = false;
          util::append_json_string(out, k); // keys come from the image: escaped like values
          out += ':';
          util::append_json_string(out, v);
        }
        out += '}';
      }
      out += '}';
    }
    out += "]\n";
    std::cout << out;
  } else {
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < observations.size(); ++i) {
      const auto& o = observations[i];
      const auto& m = results[i].metadata;
      std::string digest = o.pinned_digest.empty() ? short_digest(o.digest) : short_digest(o.pinned_digest);
      if (!o.pinned_digest.empty() && !o.digest.empty() && o.digest != o.pinned_digest) {
        digest += " (tag now " + short_digest(o.digest) + ")";
      }
      std::string status = o.status;
      if (!o.pinned_status.empty() && o.pinned_status != "ok") {
        status = "digest " + o.pinned_status;
      }
      rows.push_back({targets[i].ref.familiar(), digest, status,
                      o.platforms.empty() ? "" : std::to_string(o.platforms.size()),
                      m && !m->revision.empty() ? m->revision.substr(0, 12) : ""});
    }
    print_grid(std::cout, "table", {"REFERENCE", "DIGEST", "STATUS", "PLATFORMS", "REVISION"}, rows);
  }
  std::cout.flush();
  if (!globals.quiet) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const auto& c = client.counters();
    std::cerr << "resolved " << targets.size() << " references on " << hosts.size() << " registr"
              << (hosts.size() == 1 ? "y" : "ies") << ": " << ok << " ok, " << not_found << " not found, " << failures
              << " failed" << (skipped > 0 ? ", " + std::to_string(skipped) + " templated or invalid skipped" : "")
              << "; " << c.requests << " requests in " << secs << "\n";
  }
  return failures > 0 ? util::k_exit_runtime : util::k_exit_clean;
}

CLI::App* register_drift(CLI::App& app, DriftOptions& options)
{
  auto* sub = app.add_subcommand(
    "drift", "Compare the digest each deployed tag had when it was deployed with where it points now (exit 1 on moved or gone)");
  sub->add_option("--repo", options.repo,
                  "Only this repository (a directory is scanned first, incrementally; or a ledger name)");
  sub->add_option("--env", options.env, "Only this environment");
  sub->add_option("--format", options.format, "table or json")
    ->check(CLI::IsMember({"table", "json"}))
    ->capture_default_str();
  add_registry_flags(*sub, options.registry);
  return sub;
}

int run_drift(const Globals& globals, const DriftOptions& options)
{
  std::error_code ec;
  const bool repo_dir = !options.repo.empty() && fs::is_directory(options.repo, ec);
  const std::string repo_name = prepare_repo(globals, options.repo);
  const Workspace ws = open_workspace(globals, {repo_dir ? options.repo : std::string(".")});
  auto led = ledger::Ledger::open(ledger_path(globals), ledger::Ledger::Mode::write);
  ledger::Filter filter;
  filter.env = options.env;
  std::vector<ledger::Repo> repos;
  const auto rows = tip_states(led, repo_name, filter, &repos);

  // One registry question per distinct reference.
  std::vector<reference::Reference> refs;
  std::unordered_map<std::string, std::size_t> index;
  std::vector<std::size_t> ref_of(rows.size(), SIZE_MAX);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    reference::Reference r = reference::parse(rows[i].input.empty() ? rows[i].ref : rows[i].input);
    if (!r.valid) {
      continue;
    }
    auto [it, inserted] = index.try_emplace(r.canonical(), refs.size());
    if (inserted) {
      refs.push_back(std::move(r));
    }
    ref_of[i] = it->second;
  }
  std::vector<registry::Resolution> results;
  std::optional<registry::Client> client;
  if (!refs.empty()) {
    registry::Options copt;
    copt.known_metadata = [&led](const std::string& digest) { return led.image(digest); };
    client.emplace(make_client(globals, options.registry, ws.config, refs, copt));
    results = client->resolve(refs);
  }
  const std::int64_t now = util::now_seconds();

  // The evidence of deployment is read before today's answers are recorded: an observation made
  // now must not count as one made when the reference was deployed.
  struct Row {
    const ledger::StateRow* state;
    std::string status; // ok, pinned, moved, gone, unverified, error, skipped
    std::string deployed_digest;
    std::string observed_at;
    std::string now_digest;
    std::string detail;
  };
  std::vector<Row> out;
  std::size_t moved = 0;
  std::size_t gone = 0;
  std::size_t failures = 0;
  std::size_t unverified = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Row row{&rows[i], {}, {}, {}, {}, {}};
    if (ref_of[i] == SIZE_MAX) {
      row.status = "skipped";
      row.detail = "templated or invalid reference";
      out.push_back(std::move(row));
      continue;
    }
    const registry::Resolution& res = results[ref_of[i]];
    const reference::Reference& ref = refs[ref_of[i]];
    if (res.tag && res.tag->status == registry::Status::ok) {
      row.now_digest = res.tag->digest;
    }
    const bool answer_failed = (res.tag && res.tag->status != registry::Status::ok
                                && res.tag->status != registry::Status::not_found)
                               || (res.pinned && res.pinned->status != registry::Status::ok
                                   && res.pinned->status != registry::Status::not_found);
    if (ref.has_digest()) {
      row.deployed_digest = ref.digest;
      if (res.pinned && res.pinned->status == registry::Status::not_found) {
        row.status = "gone";
        row.detail = "the pinned digest is no longer in the registry";
      } else if (answer_failed) {
        row.status = "error";
        row.detail = res.error();
      } else {
        row.status = "pinned";
      }
    } else if (const auto seen = led.observation_after(ref.canonical(), rows[i].since)) {
      row.deployed_digest = seen->digest;
      row.observed_at = util::format_rfc3339_utc(seen->observed_at);
      if (res.tag && res.tag->status == registry::Status::not_found) {
        row.status = "gone";
        row.detail = "the tag no longer exists";
      } else if (answer_failed) {
        row.status = "error";
        row.detail = res.error();
      } else if (row.now_digest != seen->digest) {
        row.status = "moved";
        row.detail = "the tag was re-pointed after it was deployed: what runs may not be what was reviewed";
      } else {
        row.status = "ok";
      }
    } else {
      row.status = answer_failed ? "error" : "unverified";
      row.detail = answer_failed ? res.error() : "no observation since it was deployed (run resolve after each deployment)";
    }
    moved += row.status == "moved" ? 1 : 0;
    gone += row.status == "gone" ? 1 : 0;
    failures += row.status == "error" ? 1 : 0;
    unverified += row.status == "unverified" ? 1 : 0;
    out.push_back(std::move(row));
  }

  // Today's answers are observations too.
  if (!results.empty()) {
    std::unordered_map<std::string, std::string> tip_of;
    for (const auto& r : repos) {
      tip_of[r.name] = r.last_commit;
    }
    std::vector<ledger::Observation> observations;
    std::vector<std::shared_ptr<const registry::ImageMetadata>> images;
    for (const auto& res : results) {
      observations.push_back(observation_of(res, repo_name, repo_name.empty() ? "" : tip_of[repo_name], now));
      if (res.metadata) {
        images.push_back(res.metadata);
      }
    }
    led.add_observations(observations, images, now);
  }

  if (options.format == "json") {
    std::string text = "[";
    for (std::size_t i = 0; i < out.size(); ++i) {
      const Row& r = out[i];
      text += i == 0 ? "{" : ",{";
      const auto field = [&text](const char* name, const std::string& v, bool first = false) {
        if (!first) {
          text += ',';
        }
        text += '"';
        text += name;
        text += "\":";
        util::append_json_string_or_null(text, v);
      };
      field("status", r.status, true);
      field("repo", r.state->repo);
      field("env", r.state->env);
      field("path", r.state->path);
      field("location", r.state->location);
      field("ref", r.state->ref);
      field("since", util::format_rfc3339_utc(r.state->since));
      field("commit", r.state->commit);
      field("deployed_digest", r.deployed_digest);
      field("observed_at", r.observed_at);
      field("current_digest", r.now_digest);
      field("detail", r.detail);
      text += '}';
    }
    text += "]\n";
    std::cout << text;
  } else {
    std::vector<std::vector<std::string>> cells;
    for (const Row& r : out) {
      std::string digests = short_digest(r.deployed_digest);
      if (r.status == "moved") {
        digests += " -> " + short_digest(r.now_digest);
      } else if (r.status == "unverified" && !r.now_digest.empty()) {
        digests = "? (now " + short_digest(r.now_digest) + ")";
      }
      cells.push_back({r.status, r.state->env, r.state->path + " " + r.state->location, r.state->ref, digests});
    }
    print_grid(std::cout, "table", {"STATUS", "ENV", "LOCATION", "REFERENCE", "DIGEST"}, cells);
  }
  std::cout.flush();
  for (const Row& r : out) {
    if (r.status == "error") {
      error_line("registry " + r.detail);
    }
  }
  if (!globals.quiet) {
    std::cerr << "drift: " << out.size() << " locations: " << moved << " moved, " << gone << " gone, " << unverified
              << " unverified, " << failures << " not checked (registry errors)\n";
  }
  if (moved > 0 || gone > 0) {
    return util::k_exit_findings;
  }
  return failures > 0 ? util::k_exit_runtime : util::k_exit_clean;
}

} // namespace changetrail::cli
