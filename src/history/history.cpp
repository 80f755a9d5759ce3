#include <changetrail/history/history.hpp>

#include <changetrail/extract/extract.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <optional>
#include <thread>
#include <tuple>
#include <map>
#include <set>

namespace changetrail::history {

struct Scanner::Cached {
  struct Item {
    std::string location;
    std::string format;
    std::string workload;
    std::string container;
    std::string ref;
    std::string input;
    std::uint32_t line = 0;
  };
  std::vector<Item> items;
  // The YAML did not parse: what the file deploys is unknown in this version, so it produces no
  // events; the next version that parses is compared with the last one that did.
  bool broken = false;
};

namespace {

// Bounds the blob cache: past this many distinct contents it starts over (memory stays flat
// over 100,000 commits; the files changing now are the ones that matter).
constexpr std::size_t k_cache_limit = 20000;

std::string_view basename(std::string_view path)
{
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string parent_dir(const std::string& path)
{
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string{} : path.substr(0, slash + 1);
}

using Items = std::vector<Scanner::Cached::Item>;

struct Side {
  std::string path;
  const Scanner::Cached::Item* item;
};

} // namespace

Scanner::Scanner(const git::Repository& repo, ScanOptions options) : m_repo(repo), m_options(std::move(options)) {}

Scanner::~Scanner() = default;

bool Scanner::candidate(std::string_view path) const
{
  if (extract::classify(basename(path)) == extract::FileKind::none) {
    return false;
  }
  return !(m_options.ignored && m_options.ignored(path));
}

namespace {

// Reads and extracts one blob; runs on worker threads (with its own repository handle).
std::shared_ptr<Scanner::Cached> extract_blob(const git::Repository& repo, const std::string& path,
                                              const std::string& blob, const std::string& dotenv_blob,
                                              std::string& note)
{
  const auto content = repo.read_blob(blob);
  if (!content) {
    return nullptr; // missing from the object store
  }
  extract::FileInput input;
  input.file = path;
  input.rel = path;
  input.content = *content;
  input.kind = extract::classify(basename(path));
  input.read_dotenv = [&]() -> std::optional<std::string> {
    if (dotenv_blob.empty()) {
      return std::nullopt;
    }
    return repo.read_blob(dotenv_blob);
  };
  const extract::FileResult result = extract::extract_file(input);
  auto cached = std::make_shared<Scanner::Cached>();
  if (result.parse_failed) {
    cached->broken = true;
    for (const auto& p : result.problems) {
      if (p.message.starts_with("YAML: ")) {
        note = path + ":" + std::to_string(p.line) + ": " + p.message;
        break;
      }
    }
  }
  std::map<std::string, int> seen;
  for (const auto& f : result.findings) {
    Scanner::Cached::Item item;
    // Two references at one location key in one file (rare: generic keys) stay apart.
    const int n = ++seen[f.location];
    item.location = n == 1 ? f.location : f.location + "#" + std::to_string(n);
    item.format = f.format;
    item.workload = f.workload;
    item.container = f.container;
    item.ref = f.ref;
    item.input = f.image.input != f.ref ? f.image.input : std::string{};
    item.line = f.line;
    cached->items.push_back(std::move(item));
  }
  return cached;
}

} // namespace

std::string Scanner::cache_key(const std::string& commit, const std::string& path, const std::string& blob,
                               std::string& dotenv_blob) const
{
  dotenv_blob.clear();
  if (extract::classify(basename(path)) == extract::FileKind::compose) {
    // A compose file's references depend on the .env beside it.
    dotenv_blob = m_repo.blob_at(commit, parent_dir(path) + ".env");
    return blob + ":" + dotenv_blob;
  }
  return blob;
}

std::shared_ptr<const Scanner::Cached> Scanner::findings(const std::string& commit, const std::string& path,
                                                         const std::string& blob, CommitEvents& out)
{
  std::string dotenv;
  std::string key = cache_key(commit, path, blob, dotenv);
  auto it = m_cache.find(key);
  if (it == m_cache.end()) {
    // Not prepared by scan_batch (an older version looked up by last_good): extract here.
    std::string note;
    auto cached = extract_blob(m_repo, path, blob, dotenv, note);
    if (!note.empty()) {
      out.notes.push_back("commit " + commit.substr(0, 12) + ": " + note + "; no events for this file in this commit");
      ++out.files_unparsable;
    }
    if (m_cache.size() >= k_cache_limit) {
      m_cache.clear();
    }
    it = m_cache.emplace(std::move(key), std::move(cached)).first;
  }
  if (it->second == nullptr) {
    out.warnings.push_back("commit " + commit.substr(0, 12) + ": " + path + ": blob " + blob.substr(0, 12)
                           + " is missing from the object store (partial clone?); file skipped");
    ++out.files_skipped;
  }
  return it->second;
}

template <typename Work>
void Scanner::in_parallel(unsigned threads, const Work& work)
{
  if (threads <= 1) {
    work(m_repo, 0u);
    return;
  }
  // Each thread has its own handle on the repository (libgit2 objects are not shared between
  // threads), kept from batch to batch.
  while (m_workers.size() + 1 < threads) {
    m_workers.push_back(git::Repository::open(m_repo.git_dir()));
  }
  std::vector<std::exception_ptr> errors(threads);
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        try {
          work(t == 0 ? m_repo : m_workers[t - 1], t);
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    }
  }
  for (const auto& e : errors) {
    if (e) {
      std::rethrow_exception(e);
    }
  }
}

std::vector<CommitEvents> Scanner::scan_batch(const std::vector<std::pair<std::string, std::string>>& commits,
                                              unsigned threads)
{
  struct Job {
    std::size_t commit_index;
    std::string key;
    std::string path;
    std::string blob;
    std::string dotenv;
    std::shared_ptr<Cached> result;
    std::string note;
  };
  // The tree comparisons, on this thread: libgit2 serialises pack reads with one process-wide
  // lock, and comparing on two threads made a 100,000-commit scan slower (13.0 s against 11.9 s).
  // Consecutive commits on one handle share trees (a commit's tree is the next one's parent's).
  std::vector<std::vector<git::Change>> all_changes(commits.size());
  std::vector<git::CommitInfo> infos(commits.size());
  for (std::size_t i = 0; i < commits.size(); ++i) {
    const auto& [commit, parent] = commits[i];
    infos[i] = m_repo.commit_info(commit);
    std::string parent_tree;
    if (!parent.empty()) {
      parent_tree = i > 0 && commits[i - 1].first == parent ? infos[i - 1].tree
                    : parent == m_last.id                   ? m_last.tree
                                                            : m_repo.commit_info(parent).tree;
    }
    all_changes[i] = changes_of(m_repo, commit, parent, infos[i].tree, parent_tree);
  }
  if (!infos.empty()) {
    m_last = infos.back();
  }
  std::vector<Job> jobs;
  std::unordered_map<std::string, std::size_t> queued;
  for (std::size_t i = 0; i < commits.size(); ++i) {
    const auto& [commit, parent] = commits[i];
    for (const auto& c : all_changes[i]) {
      for (const auto& [side_commit, path, blob] : {std::tuple{parent, c.old_path, c.old_blob}, std::tuple{commit, c.new_path, c.new_blob}}) {
        if (blob.empty()) {
          continue;
        }
        std::string dotenv;
        std::string key = cache_key(side_commit, path, blob, dotenv);
        if (m_cache.contains(key) || queued.contains(key)) {
          continue;
        }
        queued.emplace(key, jobs.size());
        jobs.push_back({i, std::move(key), path, blob, std::move(dotenv), nullptr, {}});
      }
    }
  }
  // Extraction is the expensive part: spread it over the threads.
  std::atomic<std::size_t> next{0};
  in_parallel(std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(jobs.size() / 4 + 1))),
              [&](const git::Repository& repo, unsigned) {
                try {
                  for (std::size_t k = next++; k < jobs.size(); k = next++) {
                    auto& j = jobs[k];
                    j.result = extract_blob(repo, j.path, j.blob, j.dotenv, j.note);
                  }
                } catch (...) {
                  next = jobs.size();
                  throw;
                }
              });
  if (m_cache.size() + jobs.size() >= k_cache_limit) {
    m_cache.clear();
  }
  std::vector<CommitEvents> out(commits.size());
  for (auto& j : jobs) {
    if (!j.note.empty()) {
      out[j.commit_index].notes.push_back("commit " + commits[j.commit_index].first.substr(0, 12) + ": " + j.note
                                          + "; no events for this file in this commit");
      ++out[j.commit_index].files_unparsable;
    }
    m_cache.emplace(std::move(j.key), std::move(j.result));
  }
  for (std::size_t i = 0; i < commits.size(); ++i) {
    out[i].commit = std::move(infos[i]);
    events_of(commits[i].first, commits[i].second, all_changes[i], out[i]);
  }
  return out;
}

std::vector<git::Change> Scanner::changes_of(const git::Repository& repo, const std::string& commit,
                                             const std::string& parent, const std::string& tree,
                                             const std::string& parent_tree) const
{
  if (parent.empty()) {
    return repo.tree_changes({}, tree, [this](std::string_view p) { return candidate(p); });
  }
  // A changed .env changes what the compose files beside it deploy: they count as changed too
  // (same blob, but their cache key includes the .env).
  auto changes = repo.tree_changes(parent_tree, tree, [this](std::string_view p) { return candidate(p) || basename(p) == ".env"; });
  std::set<std::string> env_dirs;
  std::set<std::string> changed;
  std::vector<git::Change> out;
  for (auto& c : changes) {
    const std::string& path = c.new_path.empty() ? c.old_path : c.new_path;
    if (basename(path) == ".env") {
      env_dirs.insert(parent_dir(path));
      continue;
    }
    changed.insert(path);
    out.push_back(std::move(c));
  }
  for (const auto& dir : env_dirs) {
    for (const auto& [name, blob] : repo.list_dir(commit, dir)) {
      const std::string path = dir + name;
      if (extract::classify(name) != extract::FileKind::compose || !candidate(path) || changed.contains(path)) {
        continue;
      }
      const std::string old_blob = repo.blob_at(parent, path);
      if (!old_blob.empty()) {
        out.push_back({path, path, old_blob, blob});
      }
    }
  }
  return out;
}

std::shared_ptr<const Scanner::Cached> Scanner::last_good(const std::string& parent, const std::string& path)
{
  if (const auto it = m_last_good.find(path); it != m_last_good.end()) {
    return it->second;
  }
  // Not seen in this run (an incremental scan starting after the file broke): walk back along
  // the first parents to its last readable version that parses.
  constexpr int k_walk_limit = 1000;
  std::string c = parent;
  CommitEvents scratch;
  for (int k = 0; k < k_walk_limit && !c.empty() && m_repo.has_commit(c); ++k) {
    const std::string blob = m_repo.blob_at(c, path);
    if (blob.empty()) {
      return nullptr; // the file did not exist: everything in it is new
    }
    auto f = findings(c, path, blob, scratch);
    if (f && !f->broken) {
      return f;
    }
    c = m_repo.first_parent(c);
  }
  return nullptr;
}

void Scanner::events_of(const std::string& commit, const std::string& parent, const std::vector<git::Change>& changes,
                        CommitEvents& out)
{
  // Old and new findings per path. A new version that is missing or does not parse: no events
  // for the path in this commit. An old version that is missing or does not parse: compared
  // with the last version of the path that was readable and parsed.
  std::map<std::string, std::shared_ptr<const Cached>> before;
  std::map<std::string, std::shared_ptr<const Cached>> after;
  std::set<std::string> unusable_before;
  std::set<std::string> skip;
  for (const auto& c : changes) {
    if (!c.old_blob.empty()) {
      auto f = findings(parent, c.old_path, c.old_blob, out);
      if (f && !f->broken) {
        before[c.old_path] = std::move(f);
      } else {
        unusable_before.insert(c.old_path);
      }
    }
    if (!c.new_blob.empty()) {
      auto f = findings(commit, c.new_path, c.new_blob, out);
      if (f && !f->broken) {
        after[c.new_path] = std::move(f);
      } else {
        skip.insert(c.new_path);
      }
    }
  }
  for (const auto& p : unusable_before) {
    if (auto good = last_good(parent, p)) {
      before[p] = std::move(good);
    }
  }
  for (const auto& p : skip) {
    if (const auto it = before.find(p); it != before.end()) {
      m_last_good[p] = it->second; // what the path deployed before it broke
      before.erase(it);
    }
  }
  for (const auto& c : changes) {
    if (!c.old_path.empty() && c.new_path != c.old_path) {
      m_last_good.erase(c.old_path);
    }
  }
  for (const auto& [path, cached] : after) {
    m_last_good[path] = cached;
  }

  const auto index = [](const std::map<std::string, std::shared_ptr<const Cached>>& side) {
    std::map<std::pair<std::string, std::string>, const Cached::Item*> out_index;
    for (const auto& [path, cached] : side) {
      for (const auto& item : cached->items) {
        out_index.emplace(std::make_pair(path, item.location), &item);
      }
    }
    return out_index;
  };
  const auto old_index = index(before);
  const auto new_index = index(after);
  const auto input_of = [](const Cached::Item& i) -> const std::string& { return i.input.empty() ? i.ref : i.input; };

  const auto make = [&](std::string_view change, const std::string& path, const Cached::Item* from,
                        const Cached::Item* to) {
    Event e;
    e.change = std::string(change);
    e.path = path;
    const Cached::Item& any = to != nullptr ? *to : *from;
    e.format = any.format;
    e.location = any.location;
    e.workload = any.workload;
    e.container = any.container;
    e.line = any.line;
    if (from != nullptr) {
      e.from_ref = from->ref;
      e.from_input = from->input;
    }
    if (to != nullptr) {
      e.to_ref = to->ref;
      e.to_input = to->input;
    }
    e.env = m_options.environment ? m_options.environment(path) : std::string{};
    return e;
  };

  std::vector<Side> removed;
  std::vector<Side> added;
  for (const auto& [key, item] : old_index) {
    const auto it = new_index.find(key);
    if (it == new_index.end()) {
      removed.push_back({key.first, item});
    } else if (input_of(*it->second) != input_of(*item)) {
      out.events.push_back(make(k_changed, key.first, item, it->second));
    }
  }
  for (const auto& [key, item] : new_index) {
    if (!old_index.contains(key)) {
      added.push_back({key.first, item});
    }
  }

  // Moves: a location that disappears from one file and appears in another in the same commit.
  // Same location key, and either the same reference or the same file name (a renamed or moved
  // file keeps one of the two).
  std::vector<bool> removed_used(removed.size(), false);
  for (const auto& a : added) {
    std::size_t best = removed.size();
    for (std::size_t i = 0; i < removed.size(); ++i) {
      const auto& r = removed[i];
      if (removed_used[i] || r.item->location != a.item->location || r.path == a.path) {
        continue;
      }
      const bool same_ref = input_of(*r.item) == input_of(*a.item);
      if (same_ref) {
        best = i;
        break;
      }
      if (best == removed.size() && basename(r.path) == basename(a.path)) {
        best = i;
      }
    }
    if (best == removed.size()) {
      out.events.push_back(make(k_added, a.path, nullptr, a.item));
      continue;
    }
    removed_used[best] = true;
    Event moved = make(k_moved, a.path, removed[best].item, a.item);
    moved.from_path = removed[best].path;
    out.events.push_back(std::move(moved));
    Event away = make(k_moved_away, removed[best].path, removed[best].item, nullptr);
    away.from_path = a.path; // where it went
    out.events.push_back(std::move(away));
  }
  for (std::size_t i = 0; i < removed.size(); ++i) {
    if (!removed_used[i]) {
      out.events.push_back(make(k_removed, removed[i].path, removed[i].item, nullptr));
    }
  }
  std::stable_sort(out.events.begin(), out.events.end(), [](const Event& x, const Event& y) {
    return std::tie(x.path, x.location, x.change) < std::tie(y.path, y.location, y.change);
  });
}

} // namespace changetrail::history
