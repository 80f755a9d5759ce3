#include <changetrail/ledger/notes.hpp>

#include <changetrail/util/error.hpp>
#include <changetrail/util/time.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <tuple>

namespace changetrail::ledger {

namespace {

using nlohmann::json;

json platforms_json(const std::vector<registry::Platform>& platforms)
{
  json a = json::array();
  for (const auto& p : platforms) {
    a.push_back({{"platform", p.platform}, {"digest", p.digest}});
  }
  return a;
}

std::vector<registry::Platform> read_platforms(const json& a)
{
  std::vector<registry::Platform> out;
  if (!a.is_array()) {
    return out;
  }
  for (const auto& p : a) {
    if (p.is_object() && p.value("platform", json()).is_string() && p.value("digest", json()).is_string()) {
      out.push_back({p["platform"].get<std::string>(), p["digest"].get<std::string>()});
    }
  }
  return out;
}

std::string text_of(const json& o, const char* key)
{
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The identity of an answer: the columns of the ledger's unique index.
auto key_of(const Observation& o)
{
  return std::tie(o.observed_at, o.reference, o.tag, o.digest, o.status, o.pinned_status);
}

} // namespace

std::string note_text(const NoteContent& content)
{
  std::vector<const Observation*> obs;
  for (const auto& o : content.observations) {
    obs.push_back(&o);
  }
  std::sort(obs.begin(), obs.end(), [](const Observation* a, const Observation* b) { return key_of(*a) < key_of(*b); });
  json observations = json::array();
  for (const Observation* o : obs) {
    observations.push_back({{"reference", o->reference},
                            {"registry", o->registry},
                            {"tag", o->tag},
                            {"digest", o->digest},
                            {"status", o->status},
                            {"pinned_digest", o->pinned_digest},
                            {"pinned_status", o->pinned_status},
                            {"error", o->error},
                            {"observed_at", util::format_rfc3339_utc(o->observed_at)},
                            {"repo", o->repo},
                            {"commit", o->commit},
                            {"platforms", platforms_json(o->platforms)}});
  }
  std::map<std::string, const registry::ImageMetadata*> by_digest;
  for (const auto& m : content.images) {
    if (m) {
      by_digest.emplace(m->digest, m.get());
    }
  }
  json images = json::array();
  for (const auto& [digest, m] : by_digest) {
    images.push_back({{"digest", digest},
                      {"media_type", m->media_type},
                      {"platforms", platforms_json(m->platforms)},
                      {"revision", m->revision},
                      {"source", m->source},
                      {"created", m->created},
                      {"version", m->version},
                      {"labels", m->labels},
                      {"annotations", m->annotations}});
  }
  json doc = {{"changetrail", 1}, {"observations", observations}, {"images", images}};
  return doc.dump(1) + "\n";
}

std::optional<NoteContent> parse_note(std::string_view text, std::string& error)
{
  const json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("changetrail")) {
    error = "not a changetrail note (a JSON object with \"changetrail\")";
    return std::nullopt;
  }
  NoteContent out;
  if (auto obs = doc.find("observations"); obs != doc.end() && obs->is_array()) {
    for (const auto& o : *obs) {
      if (!o.is_object()) {
        continue;
      }
      Observation r;
      r.reference = text_of(o, "reference");
      r.registry = text_of(o, "registry");
      r.tag = text_of(o, "tag");
      r.digest = text_of(o, "digest");
      r.status = text_of(o, "status");
      r.pinned_digest = text_of(o, "pinned_digest");
      r.pinned_status = text_of(o, "pinned_status");
      r.error = text_of(o, "error");
      r.repo = text_of(o, "repo");
      r.commit = text_of(o, "commit");
      r.origin = "notes";
      r.platforms = read_platforms(o.value("platforms", json()));
      const auto at = util::try_parse_time(text_of(o, "observed_at"), 0);
      if (r.reference.empty() || r.status.empty() || !at) {
        continue; // not an observation we can place
      }
      r.observed_at = *at;
      out.observations.push_back(std::move(r));
    }
  }
  if (auto imgs = doc.find("images"); imgs != doc.end() && imgs->is_array()) {
    for (const auto& i : *imgs) {
      if (!i.is_object() || text_of(i, "digest").empty()) {
        continue;
      }
      auto m = std::make_shared<registry::ImageMetadata>();
      m->digest = text_of(i, "digest");
      m->media_type = text_of(i, "media_type");
      m->platforms = read_platforms(i.value("platforms", json()));
      m->revision = text_of(i, "revision");
      m->source = text_of(i, "source");
      m->created = text_of(i, "created");
      m->version = text_of(i, "version");
      for (const auto& [field, target] : {std::pair{"labels", &m->labels}, std::pair{"annotations", &m->annotations}}) {
        if (auto values = i.find(field); values != i.end() && values->is_object()) {
          for (const auto& [k, v] : values->items()) {
            if (v.is_string()) {
              (*target)[k] = v.get<std::string>();
            }
          }
        }
      }
      out.images.push_back(std::move(m));
    }
  }
  return out;
}

std::string merge_note(const std::optional<std::string>& existing, const NoteContent& added)
{
  NoteContent merged;
  if (existing) {
    std::string error;
    auto old = parse_note(*existing, error);
    if (!old) {
      throw util::Fatal("the commit already has a note under " + std::string(k_notes_ref) + " that is " + error
                        + "; not overwritten");
    }
    merged = std::move(*old);
  }
  for (const auto& o : added.observations) {
    const bool known = std::any_of(merged.observations.begin(), merged.observations.end(),
                                   [&](const Observation& m) { return key_of(m) == key_of(o); });
    if (!known) {
      merged.observations.push_back(o);
    }
  }
  merged.images.insert(merged.images.end(), added.images.begin(), added.images.end());
  return note_text(merged);
}

std::int64_t import_notes(Ledger& ledger, const git::Repository& repo, const std::string& repo_name,
                          const std::function<void(const std::string&)>& warn)
{
  const std::string tip = repo.notes_tip(k_notes_ref);
  if (tip.empty() || tip == ledger.notes_commit(repo_name)) {
    return 0;
  }
  NoteContent all;
  std::vector<std::string> bad;
  repo.each_note(k_notes_ref, [&](const std::string& commit, const std::string& text) {
    // No exception may cross libgit2's C frames: failures are collected and reported after.
    std::string error;
    auto note = parse_note(text, error);
    if (!note) {
      bad.push_back("note of commit " + commit.substr(0, 12) + " under " + k_notes_ref + ": " + error + "; skipped");
      return;
    }
    std::move(note->observations.begin(), note->observations.end(), std::back_inserter(all.observations));
    std::move(note->images.begin(), note->images.end(), std::back_inserter(all.images));
  });
  for (const auto& b : bad) {
    if (warn) {
      warn(b);
    }
  }
  const std::int64_t before = ledger.observation_count();
  ledger.add_observations(all.observations, all.images, util::now_seconds());
  ledger.set_notes_commit(repo_name, tip);
  return ledger.observation_count() - before;
}

} // namespace changetrail::ledger
