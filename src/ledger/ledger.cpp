#include <changetrail/ledger/ledger.hpp>

#include <changetrail/util/error.hpp>
#include <changetrail/util/glob.hpp>

#include "sqlite_stmt.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <tuple>
#include <utility>

namespace fs = std::filesystem;

namespace changetrail::ledger {

using detail::corrupt;
using detail::Stmt;

namespace {

// 'CTRL' in PRAGMA application_id marks a file as a changetrail ledger.
constexpr int k_application_id = 0x4354524c;

// Migrations: k_migrations[v] brings a ledger from version v to v + 1.
constexpr const char* k_migrations[] = {
  R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE repos(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL,
  branch TEXT NOT NULL,
  last_commit TEXT NOT NULL DEFAULT '',
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_scan INTEGER NOT NULL DEFAULT 0,
  boundary INTEGER NOT NULL DEFAULT 0);
CREATE TABLE commits(
  repo_id INTEGER NOT NULL REFERENCES repos(id),
  seq INTEGER NOT NULL,
  id TEXT NOT NULL,
  parent TEXT NOT NULL,
  time INTEGER NOT NULL,
  author_time INTEGER NOT NULL,
  author TEXT NOT NULL,
  summary TEXT NOT NULL,
  superseded INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(repo_id, seq)) WITHOUT ROWID;
CREATE INDEX commits_by_id ON commits(repo_id, id);
CREATE INDEX commits_by_time ON commits(repo_id, time);
CREATE TABLE locations(
  id INTEGER PRIMARY KEY,
  repo_id INTEGER NOT NULL REFERENCES repos(id),
  path TEXT NOT NULL,
  location TEXT NOT NULL,
  UNIQUE(repo_id, path, location));
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  repo_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  time INTEGER NOT NULL,
  location_id INTEGER NOT NULL REFERENCES locations(id),
  change TEXT NOT NULL,
  env TEXT NOT NULL,
  format TEXT NOT NULL,
  workload TEXT NOT NULL,
  container TEXT NOT NULL,
  line INTEGER NOT NULL,
  from_path TEXT NOT NULL,
  from_ref TEXT NOT NULL,
  from_input TEXT NOT NULL,
  to_ref TEXT NOT NULL,
  to_input TEXT NOT NULL,
  superseded INTEGER NOT NULL DEFAULT 0);
CREATE INDEX events_by_time ON events(time);
CREATE INDEX events_by_location ON events(location_id, seq);
)sql",
  // 2: the state probe (a location's last event at or before a commit) answered from the index
  // alone: `at` and `diff` read the events table only for the rows they return.
  R"sql(
CREATE INDEX events_by_location_state ON events(location_id, superseded, seq);
DROP INDEX events_by_location;
)sql",
  // 3: what registries said (issue 4). Not derived from git: `ledger rebuild` copies these.
  // One row per answer; re-reading the same answer from git notes adds nothing (unique index).
  R"sql(
CREATE TABLE observations(
  id INTEGER PRIMARY KEY,
  reference TEXT NOT NULL,
  registry TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  status TEXT NOT NULL,
  pinned_digest TEXT NOT NULL,
  pinned_status TEXT NOT NULL,
  error TEXT NOT NULL,
  observed_at INTEGER NOT NULL,
  repo TEXT NOT NULL,
  commit_id TEXT NOT NULL,
  origin TEXT NOT NULL,
  platforms TEXT NOT NULL);
CREATE UNIQUE INDEX observations_by_reference
  ON observations(reference, observed_at, tag, digest, status, pinned_status);
ALTER TABLE repos ADD COLUMN notes_commit TEXT NOT NULL DEFAULT '';
CREATE TABLE images(
  digest TEXT PRIMARY KEY,
  media_type TEXT NOT NULL,
  platforms TEXT NOT NULL,
  revision TEXT NOT NULL,
  source TEXT NOT NULL,
  created TEXT NOT NULL,
  version TEXT NOT NULL,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  fetched_at INTEGER NOT NULL) WITHOUT ROWID;
)sql",
};
constexpr int k_migration_count = static_cast<int>(std::size(k_migrations));
static_assert(k_migration_count == k_schema_version);

constexpr const char* k_insert_commit =
  "INSERT INTO commits(repo_id, seq, id, parent, time, author_time, author, summary) VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* k_insert_location =
  "INSERT INTO locations(repo_id, path, location) VALUES(?, ?, ?) ON CONFLICT DO NOTHING";
constexpr const char* k_select_location = "SELECT id FROM locations WHERE repo_id = ? AND path = ? AND location = ?";
constexpr const char* k_insert_event =
  "INSERT INTO events(repo_id, seq, time, location_id, change, env, format, workload, container, line, from_path, "
  "from_ref, from_input, to_ref, to_input) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

Repo read_repo(const Stmt& s)
{
  Repo r;
  r.id = s.integer(0);
  r.name = s.text(1);
  r.path = s.text(2);
  r.branch = s.text(3);
  r.last_commit = s.text(4);
  r.last_seq = s.integer(5);
  r.last_scan = s.integer(6);
  r.shallow_boundary = s.integer(7) != 0;
  return r;
}

constexpr const char* k_repo_columns = "id, name, path, branch, last_commit, last_seq, last_scan, boundary";

std::string message(const std::string& path, const std::string& what)
{
  return "ledger " + path + ": " + what;
}

bool matches_filter(const Filter& f, const std::string& env, const std::string& path, const std::string& workload,
                    const std::string& refs)
{
  if (!f.env.empty() && env != f.env) {
    return false;
  }
  if (!f.path.empty() && !util::glob_match(f.path, path)) {
    return false;
  }
  if (!f.workload.empty() && workload.find(f.workload) == std::string::npos) {
    return false;
  }
  if (!f.image.empty() && refs.find(f.image) == std::string::npos) {
    return false;
  }
  return true;
}

} // namespace

std::string default_path()
{
  if (const char* env = std::getenv("CHANGETRAIL_LEDGER"); env != nullptr && *env != '\0') {
    return env;
  }
  std::string base;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    base = std::string(home) + "/.local/share";
  } else {
    base = ".";
  }
  return base + "/changetrail/ledger.db";
}

Ledger::Ledger(sqlite3* db, std::string path) : m_db(db), m_path(std::move(path)) {}

Ledger::Ledger(Ledger&& other) noexcept
  : m_db(std::exchange(other.m_db, nullptr)), m_path(std::move(other.m_path)), m_prepared(std::move(other.m_prepared)),
    m_location_ids(std::move(other.m_location_ids))
{
  other.m_prepared.clear();
}

Ledger& Ledger::operator=(Ledger&& other) noexcept
{
  if (this != &other) {
    finalize_prepared();
    sqlite3_close_v2(m_db);
    m_db = std::exchange(other.m_db, nullptr);
    m_path = std::move(other.m_path);
    m_prepared = std::move(other.m_prepared);
    other.m_prepared.clear();
    m_location_ids = std::move(other.m_location_ids);
  }
  return *this;
}

Ledger::~Ledger()
{
  finalize_prepared();
  sqlite3_close_v2(m_db);
}

sqlite3_stmt* Ledger::prepared(const char* sql)
{
  if (const auto it = m_prepared.find(sql); it != m_prepared.end()) {
    return it->second;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    throw util::Fatal("ledger " + m_path + ": " + sqlite3_errmsg(m_db));
  }
  m_prepared.emplace(sql, stmt);
  return stmt;
}

void Ledger::finalize_prepared() noexcept
{
  for (auto& [sql, stmt] : m_prepared) {
    sqlite3_finalize(stmt);
  }
  m_prepared.clear();
}

Ledger Ledger::open(const std::string& path, Mode mode, int busy_timeout_ms)
{
  const bool write = mode == Mode::write;
  std::error_code ec;
  if (!write && !fs::exists(path, ec)) {
    throw util::InputError("no ledger at " + path + "; record one with `changetrail scan`");
  }
  if (write) {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) {
      fs::create_directories(parent, ec);
      if (ec) {
        throw util::Fatal("cannot create the ledger directory " + parent.string() + ": " + ec.message());
      }
    }
  }
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec)) {
    throw util::InputError("ledger " + path + " is not a regular file");
  }
  sqlite3* db = nullptr;
  const int flags = write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    throw util::Fatal(message(path, "cannot open: " + msg));
  }
  Ledger ledger(db, path);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  ledger.migrate(write);
  return ledger;
}

void Ledger::exec(const char* sql) const
{
  char* err = nullptr;
  if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errmsg(m_db);
    sqlite3_free(err);
    const int code = sqlite3_errcode(m_db) & 0xFF;
    if (code == SQLITE_NOTADB) {
      throw util::InputError("ledger " + m_path + " is not a changetrail ledger (not an SQLite database)");
    }
    if (code == SQLITE_CORRUPT) {
      throw corrupt(m_path, msg);
    }
    if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM) {
      throw util::Fatal("ledger " + m_path + " cannot be written: " + msg);
    }
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
      throw util::Fatal("ledger " + m_path + " is locked by another changetrail process (waited; " + msg + ")");
    }
    throw util::Fatal("ledger " + m_path + ": " + msg);
  }
}

void Ledger::migrate(bool write)
{
  // Reading the header detects a file that is not SQLite (NOTADB) or is damaged (CORRUPT).
  exec("SELECT count(*) FROM sqlite_master");
  int app_id = 0;
  int version = 0;
  int tables = 0;
  {
    Stmt s(m_db, "PRAGMA application_id", m_path);
    if (s.step()) {
      app_id = static_cast<int>(s.integer(0));
    }
  }
  {
    Stmt s(m_db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", m_path);
    if (s.step()) {
      tables = static_cast<int>(s.integer(0));
    }
  }
  if (tables > 0 && app_id != k_application_id) {
    throw util::InputError("ledger " + m_path + " is an SQLite database but not a changetrail ledger");
  }
  if (tables > 0) {
    Stmt s(m_db, "SELECT value FROM meta WHERE key = 'schema_version'", m_path);
    if (s.step()) {
      version = std::atoi(s.text(0).c_str());
    }
    if (version > k_schema_version) {
      throw util::InputError("ledger " + m_path + " has schema version " + std::to_string(version)
                             + ", newer than this changetrail understands (" + std::to_string(k_schema_version)
                             + "); upgrade changetrail");
    }
  }
  if (write) {
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    // A full scan writes for minutes: checkpoint every ~40 MB of WAL rather than every 4 MB
    // (each checkpoint waits for two fdatasyncs). A scan checkpoints at its end anyway.
    exec("PRAGMA wal_autocheckpoint = 10000");
  }
  exec("PRAGMA foreign_keys = ON");
  if (version == k_schema_version) {
    return;
  }
  if (!write) {
    throw util::InputError("ledger " + m_path + " has schema version " + std::to_string(version) + " (this changetrail: "
                           + std::to_string(k_schema_version) + "); run `changetrail scan` once to upgrade it");
  }
  begin();
  try {
    // Another process may have migrated while we waited for the lock.
    int current = 0;
    {
      Stmt probe(m_db, "SELECT count(*) FROM sqlite_master WHERE name = 'meta'", m_path);
      if (probe.step() && probe.integer(0) > 0) {
        Stmt s(m_db, "SELECT value FROM meta WHERE key = 'schema_version'", m_path);
        if (s.step()) {
          current = std::atoi(s.text(0).c_str());
        }
      }
    }
    for (int v = current; v < k_schema_version; ++v) {
      exec(k_migrations[v]);
    }
    exec(("PRAGMA application_id = " + std::to_string(k_application_id)).c_str());
    Stmt s(m_db, "INSERT INTO meta(key, value) VALUES('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
           m_path);
    s.bind(1, std::to_string(k_schema_version)).run();
    commit();
  } catch (...) {
    rollback();
    throw;
  }
}

void Ledger::checkpoint_and_close_wal()
{
  exec("PRAGMA wal_checkpoint(TRUNCATE)");
  exec("PRAGMA journal_mode = DELETE");
}

void Ledger::begin()
{
  exec("BEGIN IMMEDIATE");
}

void Ledger::commit()
{
  exec("COMMIT");
}

void Ledger::rollback() noexcept
{
  m_location_ids.clear();
  if (sqlite3_get_autocommit(m_db) == 0) {
    sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

std::optional<Repo> Ledger::find_repo(const std::string& name) const
{
  Stmt s(m_db, (std::string("SELECT ") + k_repo_columns + " FROM repos WHERE name = ?").c_str(), m_path);
  s.bind(1, name);
  if (!s.step()) {
    return std::nullopt;
  }
  return read_repo(s);
}

std::vector<Repo> Ledger::repos() const
{
  Stmt s(m_db, (std::string("SELECT ") + k_repo_columns + " FROM repos ORDER BY name").c_str(), m_path);
  std::vector<Repo> out;
  while (s.step()) {
    out.push_back(read_repo(s));
  }
  return out;
}

Repo Ledger::create_repo(const std::string& name, const std::string& path, const std::string& branch)
{
  Stmt s(m_db,
         "INSERT INTO repos(name, path, branch) VALUES(?, ?, ?) "
         "ON CONFLICT(name) DO UPDATE SET path = excluded.path, branch = excluded.branch",
         m_path);
  s.bind(1, name).bind(2, path).bind(3, branch).run();
  auto r = find_repo(name);
  if (!r) {
    throw util::Fatal("ledger " + m_path + ": repository row vanished");
  }
  return *r;
}

std::int64_t Ledger::add_commit(const Repo& repo, std::int64_t seq, const git::CommitInfo& c,
                                const std::vector<history::Event>& events)
{
  {
    Stmt s(m_db, prepared(k_insert_commit), m_path);
    s.bind(1, repo.id).bind(2, seq).bind(3, c.id).bind(4, c.parent).bind(5, c.time).bind(6, c.author_time);
    s.bind(7, c.author).bind(8, c.summary).run();
  }
  if (events.empty()) {
    return seq;
  }
  Stmt loc(m_db, prepared(k_insert_location), m_path);
  Stmt loc_id(m_db, prepared(k_select_location), m_path);
  Stmt ev(m_db, prepared(k_insert_event), m_path);
  std::string key;
  for (const auto& e : events) {
    key = std::to_string(repo.id);
    key.append(1, '\0').append(e.path).append(1, '\0').append(e.location);
    auto it = m_location_ids.find(key);
    if (it == m_location_ids.end()) {
      loc.reset();
      loc.bind(1, repo.id).bind(2, e.path).bind(3, e.location).run();
      loc_id.reset();
      loc_id.bind(1, repo.id).bind(2, e.path).bind(3, e.location);
      if (!loc_id.step()) {
        throw util::Fatal("ledger " + m_path + ": location row vanished");
      }
      it = m_location_ids.emplace(key, loc_id.integer(0)).first;
    }
    const std::int64_t id = it->second;
    ev.reset();
    ev.bind(1, repo.id).bind(2, seq).bind(3, c.time).bind(4, id).bind(5, e.change).bind(6, e.env).bind(7, e.format);
    ev.bind(8, e.workload).bind(9, e.container).bind(10, static_cast<std::int64_t>(e.line)).bind(11, e.from_path);
    ev.bind(12, e.from_ref).bind(13, e.from_input).bind(14, e.to_ref).bind(15, e.to_input).run();
  }
  return seq;
}

void Ledger::set_scan_state(const Repo& repo, const std::string& last_commit, std::int64_t last_seq, bool boundary)
{
  Stmt s(m_db, "UPDATE repos SET last_commit = ?, last_seq = ?, last_scan = strftime('%s','now'), boundary = ? WHERE id = ?",
         m_path);
  s.bind(1, last_commit).bind(2, last_seq).bind(3, boundary ? 1 : 0).bind(4, repo.id).run();
}

void Ledger::supersede_after(const Repo& repo, std::int64_t keep_seq, std::int64_t new_seq, const git::CommitInfo& tip,
                             const std::string& old_tip)
{
  {
    // Earlier markers stay visible: each rewrite keeps its own record.
    Stmt s(m_db, "UPDATE events SET superseded = 1 WHERE repo_id = ? AND seq > ? AND change != 'history-rewritten'",
           m_path);
    s.bind(1, repo.id).bind(2, keep_seq).run();
  }
  {
    Stmt s(m_db, "UPDATE commits SET superseded = 1 WHERE repo_id = ? AND seq > ? AND superseded = 0", m_path);
    s.bind(1, repo.id).bind(2, keep_seq).run();
  }
  // The marker: a commit row for the new tip at the moment of detection, with one event.
  history::Event marker;
  marker.change = std::string(history::k_history_rewritten);
  marker.from_ref = old_tip;
  marker.to_ref = tip.id;
  git::CommitInfo c = tip;
  c.summary = "history rewritten: " + old_tip.substr(0, 12) + " is no longer on the branch; rescanned from seq "
              + std::to_string(keep_seq);
  add_commit(repo, new_seq, c, {marker});
  Stmt s(m_db, "UPDATE commits SET superseded = 2 WHERE repo_id = ? AND seq = ?", m_path);
  s.bind(1, repo.id).bind(2, new_seq).run();
}

std::optional<std::int64_t> Ledger::seq_of_commit(const Repo& repo, const std::string& commit) const
{
  // INDEXED BY: with `ORDER BY seq DESC LIMIT 1` SQLite walks the primary key of every commit of
  // the repository instead (15 ms on 12,000 commits, paid by every incremental scan).
  Stmt s(m_db,
         "SELECT max(seq) FROM commits INDEXED BY commits_by_id WHERE repo_id = ? AND id = ? AND superseded = 0",
         m_path);
  s.bind(1, repo.id).bind(2, commit);
  if (s.step() && !s.is_null(0)) {
    return s.integer(0);
  }
  return std::nullopt;
}

std::int64_t Ledger::max_seq(const Repo& repo) const
{
  Stmt s(m_db, "SELECT coalesce(max(seq), 0) FROM commits WHERE repo_id = ?", m_path);
  s.bind(1, repo.id);
  return s.step() ? s.integer(0) : 0;
}

namespace {

// The id of location l's last live event at or before the sequence number `seq_expr`, from the
// covering index events_by_location_state (NULL when there is none).
std::string last_event_sql(const std::string& seq_expr)
{
  return "SELECT id FROM events INDEXED BY events_by_location_state WHERE location_id = l.id AND superseded = 0 "
         "AND seq <= " + seq_expr + " ORDER BY seq DESC, id DESC LIMIT 1";
}

constexpr const char* k_event_select =
  "SELECT r.name, r.branch, c.id, c.time, c.author_time, c.author, c.summary, e.seq, l.path, e.from_path, e.env, "
  "e.format, l.location, e.workload, e.container, e.line, e.change, e.from_ref, e.from_input, e.to_ref, e.to_input "
  "FROM events e JOIN locations l ON l.id = e.location_id JOIN commits c ON c.repo_id = e.repo_id AND c.seq = e.seq "
  "JOIN repos r ON r.id = e.repo_id ";

// Reads the current row into `row`, reusing its strings' storage.
void read_event(const Stmt& s, EventRow& row)
{
  s.text_into(0, row.repo);
  s.text_into(1, row.branch);
  s.text_into(2, row.commit);
  row.time = s.integer(3);
  row.author_time = s.integer(4);
  s.text_into(5, row.author);
  s.text_into(6, row.summary);
  row.seq = s.integer(7);
  auto& e = row.event;
  s.text_into(8, e.path);
  s.text_into(9, e.from_path);
  s.text_into(10, e.env);
  s.text_into(11, e.format);
  s.text_into(12, e.location);
  s.text_into(13, e.workload);
  s.text_into(14, e.container);
  e.line = static_cast<std::uint32_t>(s.integer(15));
  s.text_into(16, e.change);
  s.text_into(17, e.from_ref);
  s.text_into(18, e.from_input);
  s.text_into(19, e.to_ref);
  s.text_into(20, e.to_input);
}


} // namespace

void Ledger::each_event(const Filter& filter, const std::function<void(const EventRow&)>& visit) const
{
  std::string sql = std::string(k_event_select)
                    + "WHERE e.superseded = 0 AND e.change != 'moved-away' AND e.time >= ? AND e.time <= ? "
                      "AND (? = '' OR r.name = ?) ORDER BY e.time, e.repo_id, e.seq, e.id";
  Stmt s(m_db, sql.c_str(), m_path);
  s.bind(1, filter.since.value_or(std::numeric_limits<std::int64_t>::min()));
  s.bind(2, filter.until.value_or(std::numeric_limits<std::int64_t>::max()));
  s.bind(3, filter.repo).bind(4, filter.repo);
  EventRow row;
  while (s.step()) {
    read_event(s, row);
    const auto& e = row.event;
    const bool marker = e.change == history::k_history_rewritten;
    if (!marker
        && !matches_filter(filter, e.env, e.path, e.workload,
                           filter.image.empty()
                             ? std::string{}
                             : e.from_ref + "\n" + e.from_input + "\n" + e.to_ref + "\n" + e.to_input)) {
      continue;
    }
    visit(row);
  }
}

std::vector<EventRow> Ledger::dump() const
{
  std::vector<EventRow> out;
  each_dumped([&](const EventRow& row) { out.push_back(row); });
  return out;
}

void Ledger::each_dumped(const std::function<void(const EventRow&)>& visit) const
{
  Stmt s(m_db, (std::string(k_event_select) + "ORDER BY r.name, e.superseded, c.id, l.path, l.location, e.change").c_str(),
         m_path);
  EventRow row;
  while (s.step()) {
    read_event(s, row);
    visit(row);
  }
}

namespace {

// The WITH clause body that gives, per repository, the sequence number of a moment.
std::string cut_sql(const Ledger::Cut& c, std::vector<std::int64_t>& binds)
{
  if (c.time) {
    binds.push_back(*c.time);
    return "SELECT repo_id, max(seq) FROM commits WHERE superseded = 0 AND time <= ? GROUP BY repo_id";
  }
  binds.push_back(c.repo_id);
  binds.push_back(c.seq);
  return "SELECT ?, ?";
}

// The columns of one side of a state, for events alias e{n} and commits alias c{n}; read back
// by read_state.
std::string state_columns(char n)
{
  std::string out = "e{n}.change, e{n}.env, e{n}.workload, e{n}.container, e{n}.format, e{n}.to_ref, e{n}.to_input, "
                    "c{n}.time, c{n}.id";
  for (std::size_t k = out.find("{n}"); k != std::string::npos; k = out.find("{n}", k)) {
    out.replace(k, 3, 1, n);
  }
  return out;
}

// A location's state from a row that starts with repository name, path and location and has
// state_columns at `col`; nullopt when there is no event, the location was removed or moved
// away, or the filter leaves it out.
std::optional<StateRow> read_state(const Stmt& s, int col, const Filter& filter)
{
  if (s.is_null(col)) {
    return std::nullopt;
  }
  const std::string change = s.text(col);
  if (change != "added" && change != "changed" && change != "moved") {
    return std::nullopt;
  }
  StateRow row;
  row.repo = s.text(0);
  row.path = s.text(1);
  row.location = s.text(2);
  row.env = s.text(col + 1);
  row.workload = s.text(col + 2);
  row.container = s.text(col + 3);
  row.format = s.text(col + 4);
  row.ref = s.text(col + 5);
  row.input = s.text(col + 6);
  row.since = s.integer(col + 7);
  row.commit = s.text(col + 8);
  if (!matches_filter(filter, row.env, row.path, row.workload,
                      filter.image.empty() ? std::string{} : row.ref + "\n" + row.input)) {
    return std::nullopt;
  }
  return row;
}

} // namespace

std::vector<StateRow> Ledger::state_query(const Cut& cut, const Filter& filter) const
{
  // Per location, its last event at or before the cut; a location whose last event removed or
  // moved it away is not there. One probe per location, in the index alone.
  std::vector<std::int64_t> binds;
  const std::string sql = "WITH cut(repo_id, s) AS (" + cut_sql(cut, binds)
                          + ") SELECT r.name, l.path, l.location, " + state_columns('1')
                          + " FROM cut JOIN locations l ON l.repo_id = cut.repo_id "
                            "JOIN events e1 ON e1.id = (" + last_event_sql("cut.s") + ") "
                            "JOIN commits c1 ON c1.repo_id = e1.repo_id AND c1.seq = e1.seq "
                            "JOIN repos r ON r.id = l.repo_id "
                            "WHERE e1.change IN ('added', 'changed', 'moved') AND (? = '' OR r.name = ?)";
  Stmt s(m_db, sql.c_str(), m_path);
  int i = 1;
  for (const auto b : binds) {
    s.bind(i++, b);
  }
  s.bind(i, filter.repo).bind(i + 1, filter.repo);
  std::vector<StateRow> out;
  while (s.step()) {
    if (auto row = read_state(s, 3, filter)) {
      out.push_back(std::move(*row));
    }
  }
  // Sorted here rather than by SQLite, whose sorter copied every row once more.
  std::sort(out.begin(), out.end(), [](const StateRow& a, const StateRow& b) {
    return std::tie(a.repo, a.env, a.path, a.location) < std::tie(b.repo, b.env, b.path, b.location);
  });
  return out;
}

std::vector<std::pair<std::optional<StateRow>, std::optional<StateRow>>>
Ledger::state_changes(const Cut& a, const Cut& b, const Filter& filter) const
{
  // Both probes per location come from the index; only locations whose last event differs
  // between the moments have their events (and commits) read.
  std::vector<std::int64_t> binds;
  const std::string sql_a = cut_sql(a, binds);
  const std::string sql_b = cut_sql(b, binds);
  const std::string sql =
    "WITH a(repo_id, s) AS (" + sql_a + "), b(repo_id, s) AS (" + sql_b
    + "), p AS MATERIALIZED (SELECT l.repo_id, l.path, l.location, (" + last_event_sql("a.s") + ") AS ea, ("
    + last_event_sql("b.s")
    + ") AS eb FROM locations l LEFT JOIN a ON a.repo_id = l.repo_id LEFT JOIN b ON b.repo_id = l.repo_id "
      "WHERE a.s IS NOT NULL OR b.s IS NOT NULL) "
      "SELECT r.name, p.path, p.location, "
    + state_columns('1') + ", " + state_columns('2')
    + " FROM p JOIN repos r ON r.id = p.repo_id "
      "LEFT JOIN events e1 ON e1.id = p.ea LEFT JOIN commits c1 ON c1.repo_id = e1.repo_id AND c1.seq = e1.seq "
      "LEFT JOIN events e2 ON e2.id = p.eb LEFT JOIN commits c2 ON c2.repo_id = e2.repo_id AND c2.seq = e2.seq "
      "WHERE p.ea IS NOT p.eb AND (? = '' OR r.name = ?)";
  Stmt s(m_db, sql.c_str(), m_path);
  int i = 1;
  for (const auto v : binds) {
    s.bind(i++, v);
  }
  s.bind(i, filter.repo).bind(i + 1, filter.repo);
  std::vector<std::pair<std::optional<StateRow>, std::optional<StateRow>>> out;
  while (s.step()) {
    auto before = read_state(s, 3, filter);
    auto after = read_state(s, 12, filter);
    if (!before && !after) {
      continue;
    }
    if (before && after
        && (before->input.empty() ? before->ref : before->input) == (after->input.empty() ? after->ref : after->input)) {
      continue;
    }
    out.emplace_back(std::move(before), std::move(after));
  }
  return out;
}

std::vector<StateRow> Ledger::state_at(std::int64_t time, const Filter& filter) const
{
  Cut c;
  c.time = time;
  return state_query(c, filter);
}

std::vector<StateRow> Ledger::state_at_commit(const Repo& repo, std::int64_t seq, const Filter& filter) const
{
  Cut c;
  c.repo_id = repo.id;
  c.seq = seq;
  return state_query(c, filter);
}

Stats Ledger::stats() const
{
  Stats st;
  {
    Stmt s(m_db,
           "SELECT (SELECT count(*) FROM repos), (SELECT count(*) FROM commits WHERE superseded = 0), "
           "(SELECT count(*) FROM events WHERE superseded = 0 AND change != 'moved-away')",
           m_path);
    if (s.step()) {
      st.repos = s.integer(0);
      st.commits = s.integer(1);
      st.events = s.integer(2);
    }
  }
  std::error_code ec;
  const auto size = fs::file_size(m_path, ec);
  st.bytes = ec ? 0 : static_cast<std::int64_t>(size);
  const auto wal = fs::file_size(m_path + "-wal", ec);
  if (!ec) {
    st.bytes += static_cast<std::int64_t>(wal);
  }
  st.repositories = repos();
  return st;
}

} // namespace changetrail::ledger
