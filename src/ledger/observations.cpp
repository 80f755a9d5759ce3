// Registry observations and image metadata in the ledger (schema 3, issue 4).

#include <changetrail/ledger/ledger.hpp>

#include <changetrail/reference/reference.hpp>

#include "sqlite_stmt.hpp"

#include <nlohmann/json.hpp>

#include <set>

namespace changetrail::ledger {

using detail::Stmt;

namespace {

constexpr const char* k_observation_columns =
  "reference, registry, tag, digest, status, pinned_digest, pinned_status, error, observed_at, repo, commit_id, "
  "origin, platforms";

std::string platforms_json(const std::vector<registry::Platform>& platforms)
{
  nlohmann::json a = nlohmann::json::array();
  for (const auto& p : platforms) {
    a.push_back({{"platform", p.platform}, {"digest", p.digest}});
  }
  return a.dump();
}

std::vector<registry::Platform> platforms_of(const std::string& text)
{
  std::vector<registry::Platform> out;
  const nlohmann::json a = nlohmann::json::parse(text, nullptr, false);
  if (!a.is_array()) {
    return out;
  }
  for (const auto& p : a) {
    if (p.is_object()) {
      out.push_back({p.value("platform", ""), p.value("digest", "")});
    }
  }
  return out;
}

// A JSON object's string values (labels, annotations).
void string_map(const std::string& text, std::map<std::string, std::string>& out)
{
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) {
    return;
  }
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) {
      out[k] = v.get<std::string>();
    }
  }
}

Observation read_observation(const Stmt& s)
{
  Observation o;
  o.reference = s.text(0);
  o.registry = s.text(1);
  o.tag = s.text(2);
  o.digest = s.text(3);
  o.status = s.text(4);
  o.pinned_digest = s.text(5);
  o.pinned_status = s.text(6);
  o.error = s.text(7);
  o.observed_at = s.integer(8);
  o.repo = s.text(9);
  o.commit = s.text(10);
  o.origin = s.text(11);
  o.platforms = platforms_of(s.text(12));
  return o;
}

} // namespace

void Ledger::add_observations(const std::vector<Observation>& observations,
                              const std::vector<std::shared_ptr<const registry::ImageMetadata>>& images,
                              std::int64_t now)
{
  begin();
  try {
    const std::string insert = std::string("INSERT OR IGNORE INTO observations(") + k_observation_columns
                               + ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    Stmt s(m_db, insert.c_str(), m_path);
    for (const auto& o : observations) {
      s.reset();
      s.bind(1, o.reference).bind(2, o.registry).bind(3, o.tag).bind(4, o.digest).bind(5, o.status);
      s.bind(6, o.pinned_digest).bind(7, o.pinned_status).bind(8, o.error).bind(9, o.observed_at);
      s.bind(10, o.repo).bind(11, o.commit).bind(12, o.origin).bind(13, platforms_json(o.platforms));
      s.run();
    }
    Stmt img(m_db,
             "INSERT OR IGNORE INTO images(digest, media_type, platforms, revision, source, created, version, labels, "
             "annotations, fetched_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             m_path);
    for (const auto& m : images) {
      if (!m) {
        continue;
      }
      img.reset();
      img.bind(1, m->digest).bind(2, m->media_type).bind(3, platforms_json(m->platforms)).bind(4, m->revision);
      img.bind(5, m->source).bind(6, m->created).bind(7, m->version);
      img.bind(8, nlohmann::json(m->labels).dump()).bind(9, nlohmann::json(m->annotations).dump()).bind(10, now);
      img.run();
    }
    commit();
  } catch (...) {
    rollback();
    throw;
  }
}

std::shared_ptr<const registry::ImageMetadata> Ledger::image(const std::string& digest) const
{
  Stmt s(m_db,
         "SELECT media_type, platforms, revision, source, created, version, labels, annotations FROM images "
         "WHERE digest = ?",
         m_path);
  s.bind(1, digest);
  if (!s.step()) {
    return nullptr;
  }
  auto m = std::make_shared<registry::ImageMetadata>();
  m->digest = digest;
  m->media_type = s.text(0);
  m->platforms = platforms_of(s.text(1));
  m->revision = s.text(2);
  m->source = s.text(3);
  m->created = s.text(4);
  m->version = s.text(5);
  string_map(s.text(6), m->labels);
  string_map(s.text(7), m->annotations);
  return m;
}

std::vector<Observation> Ledger::observations(const std::string& reference) const
{
  const std::string sql = std::string("SELECT ") + k_observation_columns
                          + " FROM observations WHERE reference = ? ORDER BY observed_at, id";
  Stmt s(m_db, sql.c_str(), m_path);
  s.bind(1, reference);
  std::vector<Observation> out;
  while (s.step()) {
    out.push_back(read_observation(s));
  }
  return out;
}

std::optional<Observation> Ledger::observation_after(const std::string& reference, std::int64_t deployed_at) const
{
  const std::string sql = std::string("SELECT ") + k_observation_columns
                          + " FROM observations WHERE reference = ? AND observed_at >= ? AND status = 'ok' "
                            "ORDER BY observed_at, id LIMIT 1";
  Stmt s(m_db, sql.c_str(), m_path);
  s.bind(1, reference).bind(2, deployed_at);
  if (!s.step()) {
    return std::nullopt;
  }
  return read_observation(s);
}

std::vector<std::string> Ledger::unobserved_references() const
{
  // References are stored as written; observations by canonical form.
  std::set<std::string> observed;
  {
    Stmt s(m_db, "SELECT DISTINCT reference FROM observations", m_path);
    while (s.step()) {
      observed.insert(s.text(0));
    }
  }
  std::vector<std::string> out;
  Stmt s(m_db, "SELECT DISTINCT to_ref FROM events WHERE to_ref != '' AND superseded = 0 ORDER BY to_ref", m_path);
  while (s.step()) {
    std::string ref = s.text(0);
    const reference::Reference r = reference::parse(ref);
    if (r.valid && observed.count(r.canonical()) == 0) {
      out.push_back(std::move(ref));
    }
  }
  return out;
}

void Ledger::copy_observations_from(const std::string& other_path)
{
  {
    Stmt a(m_db, "ATTACH DATABASE ? AS old", m_path);
    a.bind(1, other_path);
    a.run();
  }
  try {
    exec("BEGIN IMMEDIATE");
    exec("INSERT OR IGNORE INTO main.observations SELECT * FROM old.observations");
    exec("INSERT OR IGNORE INTO main.images SELECT * FROM old.images");
    exec("COMMIT");
  } catch (...) {
    rollback();
    exec("DETACH DATABASE old");
    throw;
  }
  exec("DETACH DATABASE old");
}

std::int64_t Ledger::observation_count() const
{
  Stmt s(m_db, "SELECT count(*) FROM observations", m_path);
  return s.step() ? s.integer(0) : 0;
}

std::string Ledger::notes_commit(const std::string& repo_name) const
{
  Stmt s(m_db, "SELECT notes_commit FROM repos WHERE name = ?", m_path);
  s.bind(1, repo_name);
  return s.step() ? s.text(0) : std::string();
}

void Ledger::set_notes_commit(const std::string& repo_name, const std::string& commit)
{
  Stmt s(m_db, "UPDATE repos SET notes_commit = ? WHERE name = ?", m_path);
  s.bind(1, commit).bind(2, repo_name);
  s.run();
}

} // namespace changetrail::ledger
