#include <changetrail/ledger/scan.hpp>

#include <changetrail/ledger/notes.hpp>

#include <changetrail/util/error.hpp>

#include <algorithm>
#include <future>

namespace changetrail::ledger {

namespace {

std::string resolve_branch(const git::Repository& repo, const std::string& branch, std::string& tip)
{
  for (const std::string& candidate : {"refs/heads/" + branch, "refs/remotes/" + branch, branch}) {
    if (auto id = repo.resolve_commit(candidate)) {
      tip = *id;
      return branch;
    }
  }
  throw util::InputError("branch " + branch + " not found in " + repo.path());
}

// A remote URL as a repository's name, without credentials: CI runners clone with
// https://user:token@host/... (GitLab's job token), and the name is printed and stored.
std::string without_userinfo(const std::string& url)
{
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) {
    return url; // scp-like user@host:path names a user, not a secret
  }
  const auto start = scheme + 3;
  const auto end = url.find_first_of("/?#", start);
  const auto at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < start) {
    return url;
  }
  return url.substr(0, start) + url.substr(at + 1);
}

struct Pending {
  history::CommitEvents events;
};


ScanSummary scan_commits(Ledger& ledger, const ScanRequest& request, const git::Repository& repo)
{
  ScanSummary summary;
  summary.branch = request.branch.empty() ? repo.current_branch() : request.branch;
  if (summary.branch.empty()) {
    summary.branch = "HEAD"; // detached
  }
  summary.name = request.name;
  if (summary.name.empty()) {
    summary.name = without_userinfo(repo.remote_url("origin"));
  }
  if (summary.name.empty()) {
    summary.name = repo.path();
  }
  if (repo.is_empty()) {
    summary.empty = true;
    return summary;
  }
  resolve_branch(repo, summary.branch, summary.tip);

  const auto warn = [&](const std::string& w) {
    if (request.warn) {
      request.warn(w);
    }
  };

  // The loop restarts when another scanner moved the same repository forward meanwhile
  // (compare-and-set on the scan state in every batch transaction).
  bool registered = false;
  for (;;) {
    std::optional<Repo> row = ledger.find_repo(summary.name);
    if (!row || !registered || row->branch != summary.branch || row->path != repo.path()) {
      // Create the row, or record where and which branch this scan reads now.
      registered = true;
      ledger.begin();
      try {
        row = ledger.create_repo(summary.name, repo.path(), summary.branch);
        ledger.commit();
      } catch (...) {
        ledger.rollback();
        throw;
      }
    }
    std::string stop = row->last_commit;
    if (stop == summary.tip) {
      return summary;
    }
    // The usual case, the last scanned commit a few first parents below the tip, is checked by
    // walking first parents; only otherwise the (costlier) ancestry test runs.
    if (!stop.empty() && !repo.first_parent_reaches(summary.tip, stop, 1000)
        && !(repo.has_commit(stop) && repo.is_ancestor(stop, summary.tip))) {
      // History rewritten: keep what was recorded, superseded, and rescan from the merge base.
      const auto base = repo.has_commit(stop) ? repo.merge_base(stop, summary.tip) : std::nullopt;
      const std::int64_t keep = base ? ledger.seq_of_commit(*row, *base).value_or(0) : 0;
      ledger.begin();
      try {
        const auto fresh = ledger.find_repo(summary.name);
        if (!fresh || fresh->last_commit != row->last_commit) {
          ledger.rollback();
          continue;
        }
        const std::int64_t marker_seq = ledger.max_seq(*row) + 1;
        ledger.supersede_after(*row, keep, marker_seq, repo.commit_info(summary.tip), stop);
        ledger.set_scan_state(*row, keep > 0 ? *base : std::string{}, marker_seq, false);
        ledger.commit();
      } catch (...) {
        ledger.rollback();
        throw;
      }
      warn("history of " + summary.branch + " was rewritten: " + stop.substr(0, 12)
           + " is no longer on it; earlier events kept as superseded, rescanning from "
           + (keep > 0 ? base->substr(0, 12) : std::string("the first commit")));
      summary.rewritten = true;
      continue;
    }

    bool boundary = false;
    std::vector<std::string> parents;
    std::vector<std::string> line = repo.first_parent_line(summary.tip, stop, boundary, &parents);
    if (!stop.empty() && !line.empty()) {
      // The last scanned commit is an ancestor but not on the first-parent line (it was merged
      // from a side branch): skip the commits the ledger already has.
      std::size_t kept = 0;
      for (std::size_t k = 0; k < line.size(); ++k) {
        if (ledger.seq_of_commit(*row, line[k]).has_value()) {
          continue;
        }
        if (kept != k) { // a string moved onto itself is left empty
          line[kept] = std::move(line[k]);
          parents[kept] = std::move(parents[k]);
        }
        ++kept;
      }
      line.resize(kept);
      parents.resize(kept);
    }
    summary.boundary = summary.boundary || boundary;
    const auto total = static_cast<std::int64_t>(line.size());
    std::int64_t seq = std::max(row->last_seq, ledger.max_seq(*row));
    std::string expected = row->last_commit;
    bool restarted = false;
    // A scanner per attempt: after a restart, what one remembered of files (the last version that
    // parsed) may come from commits beyond the point the scan now continues from.
    history::Scanner scanner(repo, request.options);
    // The commits to scan are listed first, so that only the scanning thread uses the repository
    // handle: while this thread writes one batch to the ledger, the next one is scanned.
    std::vector<std::pair<std::string, std::string>> todo;
    todo.reserve(line.size());
    for (std::size_t i = 0; i < line.size(); ++i) {
      const std::string& parent = parents[i];
      // A parent that is the commit before it on the line is present; only the oldest commit
      // of the line can have a missing parent (a shallow clone).
      const bool parent_present = !parent.empty() && ((i > 0 && line[i - 1] == parent) || repo.has_commit(parent));
      if (!parent.empty() && !parent_present) {
        warn("commit " + line[i].substr(0, 12) + ": its parent is missing (shallow clone); its whole tree is taken as added");
      }
      todo.emplace_back(line[i], parent_present ? parent : std::string{});
    }
    // Batch sizes follow the density of the history: about request.batch_events events per batch
    // (two batches are in memory at once), never more than request.batch_commits commits.
    std::size_t pos = 0;
    std::size_t batch_size = std::min<std::size_t>(request.batch_commits, 500);
    const auto scan_async = [&] {
      const std::size_t end = std::min(todo.size(), pos + batch_size);
      std::vector<std::pair<std::string, std::string>> slice(todo.begin() + static_cast<std::ptrdiff_t>(pos),
                                                             todo.begin() + static_cast<std::ptrdiff_t>(end));
      pos = end;
      return std::async(std::launch::async, [&scanner, slice = std::move(slice), threads = request.threads] {
        return scanner.scan_batch(slice, threads);
      });
    };
    std::future<std::vector<history::CommitEvents>> next;
    if (pos < todo.size()) {
      next = scan_async();
    }
    std::int64_t done = 0;
    while (next.valid()) {
      std::vector<history::CommitEvents> batch = next.get();
      std::size_t events = 0;
      for (const auto& ce : batch) {
        events += ce.events.size();
      }
      const std::size_t per_commit = std::max<std::size_t>(1, events / std::max<std::size_t>(1, batch.size()));
      batch_size = std::clamp<std::size_t>(request.batch_events / per_commit, 1, request.batch_commits);
      if (pos < todo.size()) {
        next = scan_async();
      }
      done += static_cast<std::int64_t>(batch.size());
      if (request.progress) {
        request.progress(done, total);
      }
      ledger.begin();
      try {
        const auto fresh = ledger.find_repo(summary.name);
        if (!fresh || fresh->last_commit != expected) {
          ledger.rollback();
          restarted = true;
          break;
        }
        for (const auto& ce : batch) {
          ledger.add_commit(*row, ++seq, ce.commit, ce.events);
        }
        const bool at_boundary = boundary || row->shallow_boundary;
        ledger.set_scan_state(*row, batch.back().commit.id, seq, at_boundary);
        ledger.commit();
      } catch (...) {
        ledger.rollback();
        throw;
      }
      expected = batch.back().commit.id;
      for (const auto& ce : batch) {
        ++summary.commits;
        summary.events += std::count_if(ce.events.begin(), ce.events.end(),
                                        [](const history::Event& e) { return e.change != history::k_moved_away; });
        summary.files_skipped += ce.files_skipped;
        summary.files_unparsable += ce.files_unparsable;
        for (const auto& w : ce.warnings) {
          warn(w);
        }
        if (request.note) {
          for (const auto& n : ce.notes) {
            request.note(n);
          }
        }
      }
    }
    if (next.valid()) {
      next.wait(); // a restart leaves a batch scanning: the repository is used again below
    }
    if (!restarted) {
      return summary;
    }
  }
}

} // namespace

ScanSummary scan(Ledger& ledger, const ScanRequest& request)
{
  git::Repository repo = git::Repository::open(request.repo_dir);
  ScanSummary summary = scan_commits(ledger, request, repo);
  if (!summary.empty) {
    // Observations recorded as git notes come back with the repository (a fresh clone plus
    // `scan` recovers them); read only when the notes ref moved since the last import.
    summary.observations_imported = import_notes(ledger, repo, summary.name, request.warn);
  }
  return summary;
}

} // namespace changetrail::ledger
