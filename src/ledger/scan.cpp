#include <changetrail/ledger/scan.hpp>

#include <changetrail/util/error.hpp>

#include <algorithm>

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

struct Pending {
  history::CommitEvents events;
};

} // namespace

ScanSummary scan(Ledger& ledger, const ScanRequest& request)
{
  const git::Repository repo = git::Repository::open(request.repo_dir);
  ScanSummary summary;
  summary.branch = request.branch.empty() ? repo.current_branch() : request.branch;
  if (summary.branch.empty()) {
    summary.branch = "HEAD"; // detached
  }
  summary.name = request.name;
  if (summary.name.empty()) {
    summary.name = repo.remote_url("origin");
  }
  if (summary.name.empty()) {
    summary.name = repo.path();
  }
  if (repo.is_empty()) {
    summary.empty = true;
    return summary;
  }
  resolve_branch(repo, summary.branch, summary.tip);

  history::Scanner scanner(repo, request.options);
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
    std::vector<std::string> line = repo.first_parent_line(summary.tip, stop, boundary);
    if (!stop.empty() && !line.empty()) {
      // The last scanned commit is an ancestor but not on the first-parent line (it was merged
      // from a side branch): skip the commits the ledger already has.
      std::erase_if(line, [&](const std::string& id) { return ledger.seq_of_commit(*row, id).has_value(); });
    }
    summary.boundary = summary.boundary || boundary;
    const auto total = static_cast<std::int64_t>(line.size());
    std::int64_t seq = std::max(row->last_seq, ledger.max_seq(*row));
    std::string expected = row->last_commit;
    bool restarted = false;
    std::size_t i = 0;
    while (i < line.size()) {
      std::vector<std::pair<std::string, std::string>> todo;
      for (; i < line.size() && todo.size() < request.batch_commits; ++i) {
        const std::string parent = repo.first_parent(line[i]);
        const bool parent_present = !parent.empty() && repo.has_commit(parent);
        if (!parent.empty() && !parent_present) {
          warn("commit " + line[i].substr(0, 12) + ": its parent is missing (shallow clone); its whole tree is taken as added");
        }
        todo.emplace_back(line[i], parent_present ? parent : std::string{});
      }
      std::vector<history::CommitEvents> batch = scanner.scan_batch(todo, request.threads);
      if (request.progress) {
        request.progress(static_cast<std::int64_t>(i), total);
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
    if (!restarted) {
      return summary;
    }
  }
}

} // namespace changetrail::ledger
