#pragma once

// Turning the first-parent commits of a branch into events: per commit, the image references of
// the changed files before and after, compared by location key (DESIGN.md "Events and time").

#include <changetrail/git/git.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace changetrail::history {

// added / removed / changed: the reference at a location of one file. moved: the location is now
// in another file (a rename or a move between directories); the same commit also records a
// `moved-away` row at the old path, which closes the old location for `at` and `diff` and is not
// shown by `timeline`.
inline constexpr std::string_view k_added = "added";
inline constexpr std::string_view k_removed = "removed";
inline constexpr std::string_view k_changed = "changed";
inline constexpr std::string_view k_moved = "moved";
inline constexpr std::string_view k_moved_away = "moved-away";
inline constexpr std::string_view k_history_rewritten = "history-rewritten";

struct Event {
  std::string change;
  std::string path;       // repository-relative
  std::string from_path;  // moved: where the location was before
  std::string env;
  std::string format;
  std::string location;
  std::string workload;
  std::string container;
  std::uint32_t line = 0; // of the new reference (the old one for removed)
  std::string from_ref;   // as written; empty when none
  std::string from_input; // what was parsed (split forms joined, variables substituted)
  std::string to_ref;
  std::string to_input;
};

struct CommitEvents {
  git::CommitInfo commit;
  std::vector<Event> events;
  std::vector<std::string> warnings; // one line each: commit and path
  std::uint32_t files_skipped = 0;   // blobs missing from the object store
  std::vector<std::string> notes;    // files that do not parse (shown with -v)
  std::uint32_t files_unparsable = 0;
};

// What the scanner needs from the configuration.
struct ScanOptions {
  std::function<bool(std::string_view rel)> ignored;
  std::function<std::string(std::string_view rel)> environment;
};

// Extracts the findings of each blob once (a cache keyed by blob id, and by the .env beside a
// compose file), so a file that changes back and forth or exists in many environments is parsed
// once per distinct content.
class Scanner {
public:
  Scanner(const git::Repository& repo, ScanOptions options);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // The events of consecutive commits (commit, parent) of the line, oldest first; parent empty:
  // the commit's whole tree is added. The blobs they need are extracted on `threads` threads.
  [[nodiscard]] std::vector<CommitEvents> scan_batch(const std::vector<std::pair<std::string, std::string>>& commits,
                                                     unsigned threads);
  [[nodiscard]] bool candidate(std::string_view path) const;

  struct Cached;

private:
  std::string cache_key(const std::string& commit, const std::string& path, const std::string& blob,
                        std::string& dotenv_blob) const;
  [[nodiscard]] std::vector<git::Change> changes_of(const git::Repository& repo, const std::string& commit,
                                                    const std::string& parent, const std::string& tree,
                                                    const std::string& parent_tree) const;
  // Runs work(repository handle, thread index) on `threads` threads, thread 0 on m_repo.
  template <typename Work>
  void in_parallel(unsigned threads, const Work& work);
  std::shared_ptr<const Cached> last_good(const std::string& parent, const std::string& path);
  void events_of(const std::string& commit, const std::string& parent, const std::vector<git::Change>& changes,
                 CommitEvents& out);
  std::shared_ptr<const Cached> findings(const std::string& commit, const std::string& path, const std::string& blob,
                                         CommitEvents& out);

  const git::Repository& m_repo;
  std::vector<git::Repository> m_workers; // handles of the other threads
  git::CommitInfo m_last;                 // the last commit of the previous batch
  ScanOptions m_options;
  std::unordered_map<std::string, std::shared_ptr<const Cached>> m_cache;
  std::unordered_map<std::string, std::shared_ptr<const Cached>> m_last_good; // by path

};

} // namespace changetrail::history
