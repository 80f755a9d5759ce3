#pragma once

// The ledger: an SQLite file of repositories, scanned commits and events (DESIGN.md "Data
// flow"). Everything here can be rebuilt from git (`ledger rebuild`) except what later issues
// add from registries.

#include <changetrail/git/git.hpp>
#include <changetrail/history/history.hpp>
#include <changetrail/registry/client.hpp>

#include <cstdint>
#include <optional>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace changetrail::ledger {

inline constexpr int k_schema_version = 3;

// $CHANGETRAIL_LEDGER, else ${XDG_DATA_HOME:-~/.local/share}/changetrail/ledger.db.
[[nodiscard]] std::string default_path();

struct Repo {
  std::int64_t id = 0;
  std::string name;
  std::string path;
  std::string branch;
  std::string last_commit; // empty before the first scan
  std::int64_t last_seq = 0;
  std::int64_t last_scan = 0; // Unix seconds
  bool shallow_boundary = false;
};

// One event with its commit and repository (DESIGN.md "event").
struct EventRow {
  std::string repo;
  std::string branch;
  std::string commit;
  std::int64_t time = 0;
  std::int64_t author_time = 0;
  std::string author;
  std::string summary;
  std::int64_t seq = 0;
  history::Event event;
};

// One location's reference at a moment (DESIGN.md "state").
struct StateRow {
  std::string repo;
  std::string env;
  std::string path;
  std::string location;
  std::string workload;
  std::string container;
  std::string format;
  std::string ref;
  std::string input;
  std::int64_t since = 0; // time of the commit that set it
  std::string commit;
};

struct Filter {
  std::optional<std::int64_t> since;
  std::optional<std::int64_t> until;
  std::string env;
  std::string repo;
  std::string image;    // substring of the reference before or after
  std::string path;     // glob over repository-relative paths
  std::string workload; // substring
};

// What a registry said about a reference at a moment (issue 4). It cannot be rebuilt from git:
// it lives in the ledger and, with `resolve --record-notes`, in git notes.
struct Observation {
  std::string reference;     // canonical reference as deployed (with its digest, if it has one)
  std::string registry;      // the endpoint asked ("registry-1.docker.io", "127.0.0.1:5000")
  std::string tag;           // the tag looked up ("latest" when none is written); empty for digest-only
  std::string digest;        // where the tag pointed; empty when the registry could not tell
  std::string status = "ok"; // registry::to_string(Status) of the tag lookup
  std::string pinned_digest; // the reference's own digest, if any
  std::string pinned_status; // of that digest's lookup; empty when there is none
  std::string error;         // one line when a status is not ok; never a credential
  std::int64_t observed_at = 0;
  std::string repo;          // the repository it was observed for (may be empty)
  std::string commit;        // the deployed commit it was observed for (may be empty)
  std::string origin = "registry"; // or "notes": read back from refs/notes/changetrail
  std::vector<registry::Platform> platforms;
};

struct Stats {
  std::int64_t repos = 0;
  std::int64_t commits = 0;
  std::int64_t events = 0;
  std::int64_t bytes = 0;
  std::vector<Repo> repositories;
};

class Ledger {
public:
  enum class Mode { read, write };
  // Opens (and in write mode creates, with its directories) the ledger. Refuses a file that is
  // not an SQLite database, one whose schema is newer than this build, and upgrades older ones.
  // `busy_timeout_ms`: how long a writer waits for another writer before giving up.
  static Ledger open(const std::string& path, Mode mode, int busy_timeout_ms = 10000);
  Ledger(Ledger&&) noexcept;
  Ledger& operator=(Ledger&&) noexcept;
  ~Ledger();

  [[nodiscard]] const std::string& path() const { return m_path; }
  // Folds the write-ahead log into the file and leaves the ledger in rollback-journal mode, so
  // the file alone is the whole ledger (before it is renamed or copied).
  void checkpoint_and_close_wal();

  // Transactions: BEGIN IMMEDIATE takes the write lock at once, so two scanners serialize.
  void begin();
  void commit();
  void rollback() noexcept;

  [[nodiscard]] std::optional<Repo> find_repo(const std::string& name) const;
  [[nodiscard]] std::vector<Repo> repos() const;
  Repo create_repo(const std::string& name, const std::string& path, const std::string& branch);
  // Records a scanned commit and its events; returns the commit's sequence number.
  std::int64_t add_commit(const Repo& repo, std::int64_t seq, const git::CommitInfo& commit,
                          const std::vector<history::Event>& events);
  void set_scan_state(const Repo& repo, const std::string& last_commit, std::int64_t last_seq, bool boundary);
  // History rewritten: events after `keep_seq` are marked superseded, a marker event is written.
  void supersede_after(const Repo& repo, std::int64_t keep_seq, std::int64_t new_seq, const git::CommitInfo& tip,
                       const std::string& old_tip);
  [[nodiscard]] std::optional<std::int64_t> seq_of_commit(const Repo& repo, const std::string& commit) const;
  [[nodiscard]] std::int64_t max_seq(const Repo& repo) const;

  // The events of a time window in time order, one at a time, without holding them all (the
  // row is reused between calls).
  void each_event(const Filter& filter, const std::function<void(const EventRow&)>& visit) const;
  // State at a time: per repository, after its last scanned commit with time <= `time`.
  [[nodiscard]] std::vector<StateRow> state_at(std::int64_t time, const Filter& filter) const;
  // State after a given commit of one repository.
  [[nodiscard]] std::vector<StateRow> state_at_commit(const Repo& repo, std::int64_t seq, const Filter& filter) const;

  // A moment for state queries: a time (every repository), or a commit of one repository.
  struct Cut {
    std::optional<std::int64_t> time;
    std::int64_t repo_id = 0;
    std::int64_t seq = 0;
  };
  // The locations whose state differs between two moments: per location, its state at `a` and
  // at `b` (nullopt: not there, or left out by the filter). Locations whose last event is the
  // same at both moments are not read at all; pairs with equal references are dropped.
  [[nodiscard]] std::vector<std::pair<std::optional<StateRow>, std::optional<StateRow>>>
  state_changes(const Cut& a, const Cut& b, const Filter& filter) const;
  [[nodiscard]] Stats stats() const;

  // --- registry observations (src/ledger/observations.cpp) ---
  // Adds observations and image metadata in one transaction; answers already recorded are kept once.
  void add_observations(const std::vector<Observation>& observations,
                        const std::vector<std::shared_ptr<const registry::ImageMetadata>>& images, std::int64_t now);
  // Metadata of a digest, fetched once and kept forever; null when unknown.
  [[nodiscard]] std::shared_ptr<const registry::ImageMetadata> image(const std::string& digest) const;
  // Every observation of a canonical reference, oldest first.
  [[nodiscard]] std::vector<Observation> observations(const std::string& reference) const;
  // The evidence of what `reference` was when it was deployed at `deployed_at`: the first answer
  // with status ok observed at or after that moment. nullopt: never observed since (unverified).
  [[nodiscard]] std::optional<Observation> observation_after(const std::string& reference,
                                                             std::int64_t deployed_at) const;
  // References of the recorded history (as written) that no observation covers yet.
  [[nodiscard]] std::vector<std::string> unobserved_references() const;
  // `ledger rebuild`: registry facts cannot be rebuilt, they are copied from the old ledger.
  void copy_observations_from(const std::string& other_path);
  [[nodiscard]] std::int64_t observation_count() const;
  // The commit of refs/notes/changetrail last read into the ledger for a repository.
  [[nodiscard]] std::string notes_commit(const std::string& repo_name) const;
  void set_notes_commit(const std::string& repo_name, const std::string& commit);
  // Every event, in a stable order, for comparisons in tests and `ledger dump`.
  [[nodiscard]] std::vector<EventRow> dump() const;
  // The same one at a time, in memory that does not grow with the ledger (`ledger dump`).
  void each_dumped(const std::function<void(const EventRow&)>& visit) const;

private:
  Ledger(sqlite3* db, std::string path);
  void exec(const char* sql) const;
  void migrate(bool write);
  [[nodiscard]] std::vector<StateRow> state_query(const Cut& cut, const Filter& filter) const;

  // Prepared once per ledger: the statements the scan runs for every commit and event.
  sqlite3_stmt* prepared(const char* sql);
  void finalize_prepared() noexcept;

  sqlite3* m_db = nullptr;
  std::string m_path;
  std::unordered_map<const char*, sqlite3_stmt*> m_prepared;
  // Location ids by "repo id, path, location", so that a scan looks each up in SQLite once.
  // Emptied on rollback: ids inserted by the rolled-back transaction are gone.
  std::unordered_map<std::string, std::int64_t> m_location_ids;
};

} // namespace changetrail::ledger
