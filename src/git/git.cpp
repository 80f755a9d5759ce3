#include <changetrail/git/git.hpp>

#include <changetrail/util/error.hpp>

#include <git2.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace changetrail::git {

namespace {

// libgit2 must be initialised once per process before any call.
void ensure_init()
{
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    // Like git itself, do not re-hash every object read: the scan reads every changed blob
    // of the history, and hashing them again cost 7% of it. `git fsck` checks integrity.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
    // No object cache. It defaults to 256 MB per repository handle (a scan has one per thread;
    // a 100,000-commit scan peaked at 786 MB), and capped at 16 MB its constant evictions cost
    // more than they saved (19.5 s against 14.4 s without it). A scan reads each blob about
    // once, and keeps the trees it needs between consecutive commits itself (TreeCache).
    git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
    // Pack files are mapped in windows; every page touched counts in the resident size, so
    // bound the mapped total (8 GB by default on 64-bit) as git's core.packedGitLimit would.
    // Windows stay 1 GB (the default on 64-bit, as git's packedGitWindowSize), so a pack is
    // usually mapped whole and this limit only bounds repositories of several packs. Its pages
    // count in the resident size (326 MB of a 578 MB pack in one scan) but are the page cache,
    // not memory of ours. Windows of 32 MB kept it to 96 MB and made that scan 2.6 times slower.
    git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, static_cast<std::size_t>(96) << 20);
  });
}

std::string last_error(const std::string& what)
{
  const git_error* e = git_error_last();
  return what + ": " + (e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error");
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using CommitPtr = std::unique_ptr<git_commit, Deleter<git_commit, git_commit_free>>;
using TreePtr = std::unique_ptr<git_tree, Deleter<git_tree, git_tree_free>>;
using DiffPtr = std::unique_ptr<git_diff, Deleter<git_diff, git_diff_free>>;
using BlobPtr = std::unique_ptr<git_blob, Deleter<git_blob, git_blob_free>>;
using ObjectPtr = std::unique_ptr<git_object, Deleter<git_object, git_object_free>>;
using ReferencePtr = std::unique_ptr<git_reference, Deleter<git_reference, git_reference_free>>;
using RemotePtr = std::unique_ptr<git_remote, Deleter<git_remote, git_remote_free>>;
using EntryPtr = std::unique_ptr<git_tree_entry, Deleter<git_tree_entry, git_tree_entry_free>>;

std::string hex(const git_oid* oid)
{
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

git_oid parse_oid(const std::string& id)
{
  git_oid oid;
  if (id.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, id.c_str()) != 0) {
    throw util::Fatal("invalid object id " + id);
  }
  return oid;
}

CommitPtr lookup_commit(git_repository* repo, const std::string& id)
{
  const git_oid oid = parse_oid(id);
  git_commit* c = nullptr;
  if (git_commit_lookup(&c, repo, &oid) != 0) {
    throw util::Fatal(last_error("commit " + id.substr(0, 12)));
  }
  return CommitPtr(c);
}

TreePtr commit_tree(git_repository* repo, const std::string& id)
{
  const CommitPtr c = lookup_commit(repo, id);
  git_tree* t = nullptr;
  if (git_commit_tree(&t, c.get()) != 0) {
    throw util::Fatal(last_error("tree of commit " + id.substr(0, 12)));
  }
  return TreePtr(t);
}

bool is_file_mode(std::uint32_t mode)
{
  return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

struct OidHash {
  std::size_t operator()(const git_oid& oid) const noexcept
  {
    std::size_t h = 0;
    std::memcpy(&h, oid.id, sizeof h);
    return h;
  }
};

struct OidEqual {
  bool operator()(const git_oid& a, const git_oid& b) const noexcept { return git_oid_equal(&a, &b) == 1; }
};

} // namespace

// The trees that the last call of changes() read. Consecutive commits of a scan share most of
// them (a commit's tree is the next commit's parent tree), so each is read from the pack once.
struct Repository::TreeCache {
  using Map = std::unordered_map<git_oid, TreePtr, OidHash, OidEqual>;
  Map previous;
  Map current;

  const git_tree* get(git_repository* repo, const git_oid& id)
  {
    if (const auto it = current.find(id); it != current.end()) {
      return it->second.get();
    }
    if (auto it = previous.find(id); it != previous.end()) {
      return current.emplace(id, std::move(it->second)).first->second.get();
    }
    git_tree* t = nullptr;
    if (git_tree_lookup(&t, repo, &id) != 0) {
      throw util::Fatal(last_error("tree " + hex(&id).substr(0, 12)));
    }
    return current.emplace(id, TreePtr(t)).first->second.get();
  }

  // Called after each comparison: what it read is what the next one will want.
  void next_generation()
  {
    previous = std::move(current);
    current = Map{};
  }
};

Repository::Repository(git_repository* repo) : m_repo(repo), m_trees(std::make_unique<TreeCache>()) {}

Repository::Repository(Repository&& other) noexcept
  : m_repo(std::exchange(other.m_repo, nullptr)), m_trees(std::move(other.m_trees))
{
}

Repository& Repository::operator=(Repository&& other) noexcept
{
  if (this != &other) {
    m_trees.reset(); // trees before the repository they belong to
    git_repository_free(m_repo);
    m_repo = std::exchange(other.m_repo, nullptr);
    m_trees = std::move(other.m_trees);
  }
  return *this;
}

Repository::~Repository()
{
  m_trees.reset();
  git_repository_free(m_repo);
}

Repository Repository::open(const std::string& path)
{
  ensure_init();
  git_repository* repo = nullptr;
  const int rc = git_repository_open_ext(&repo, path.c_str(), 0, nullptr);
  if (rc == GIT_ENOTFOUND) {
    throw util::InputError(path + ": not a git repository (or any of its parent directories)");
  }
  if (rc != 0) {
    throw util::InputError(last_error(path + ": cannot open the git repository"));
  }
  return Repository(repo);
}

std::string Repository::path() const
{
  const char* wd = git_repository_workdir(m_repo);
  std::string p = wd != nullptr ? wd : git_repository_path(m_repo);
  while (p.size() > 1 && p.back() == '/') {
    p.pop_back();
  }
  return p;
}

std::string Repository::git_dir() const
{
  return git_repository_path(m_repo);
}

bool Repository::is_bare() const
{
  return git_repository_is_bare(m_repo) == 1;
}

bool Repository::is_shallow() const
{
  return git_repository_is_shallow(m_repo) == 1;
}

bool Repository::is_empty() const
{
  // git_repository_is_empty only knows the configured default branch name; an unborn HEAD on
  // any branch ("main" in a repository made with init.defaultBranch unset) is empty too.
  return git_repository_is_empty(m_repo) == 1 || git_repository_head_unborn(m_repo) == 1;
}

std::string Repository::current_branch() const
{
  git_reference* head = nullptr;
  if (git_repository_head(&head, m_repo) != 0) {
    // Unborn HEAD: the branch it will create.
    git_reference* sym = nullptr;
    if (git_reference_lookup(&sym, m_repo, "HEAD") == 0) {
      const ReferencePtr guard(sym);
      if (git_reference_type(sym) == GIT_REFERENCE_SYMBOLIC) {
        std::string target = git_reference_symbolic_target(sym);
        constexpr std::string_view k_heads = "refs/heads/";
        if (target.starts_with(k_heads)) {
          return target.substr(k_heads.size());
        }
      }
    }
    return {};
  }
  const ReferencePtr guard(head);
  if (git_reference_is_branch(head) != 1) {
    return {};
  }
  const char* name = nullptr;
  if (git_branch_name(&name, head) != 0 || name == nullptr) {
    return {};
  }
  return name;
}

std::string Repository::remote_url(const std::string& remote) const
{
  git_remote* r = nullptr;
  if (git_remote_lookup(&r, m_repo, remote.c_str()) != 0) {
    return {};
  }
  const RemotePtr guard(r);
  const char* url = git_remote_url(r);
  return url != nullptr ? url : "";
}

std::string Repository::hooks_dir() const
{
  git_config* snapshot = nullptr;
  if (git_repository_config_snapshot(&snapshot, m_repo) != 0) {
    throw util::Fatal(last_error("reading the configuration of " + path()));
  }
  const std::unique_ptr<git_config, Deleter<git_config, git_config_free>> guard(snapshot);
  git_buf value = GIT_BUF_INIT;
  if (git_config_get_path(&value, snapshot, "core.hooksPath") == 0) {
    std::string configured(value.ptr, value.size);
    git_buf_dispose(&value);
    if (!configured.empty()) {
      if (configured.front() == '/') {
        return configured;
      }
      std::string base = path();
      if (!base.empty() && base.back() != '/') {
        base += '/';
      }
      return base + configured;
    }
  }
  git_buf_dispose(&value);
  std::string common = git_repository_commondir(m_repo);
  if (!common.empty() && common.back() != '/') {
    common += '/';
  }
  return common + "hooks";
}

std::optional<std::string> Repository::resolve_commit(const std::string& revision) const
{
  git_object* obj = nullptr;
  if (git_revparse_single(&obj, m_repo, revision.c_str()) != 0) {
    return std::nullopt;
  }
  const ObjectPtr guard(obj);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) != 0) {
    return std::nullopt;
  }
  const ObjectPtr peeled_guard(peeled);
  return hex(git_object_id(peeled));
}

bool Repository::has_commit(const std::string& id) const
{
  git_oid oid;
  if (id.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, id.c_str()) != 0) {
    return false;
  }
  git_commit* c = nullptr;
  if (git_commit_lookup(&c, m_repo, &oid) != 0) {
    return false;
  }
  git_commit_free(c);
  return true;
}

bool Repository::is_ancestor(const std::string& ancestor, const std::string& descendant) const
{
  if (ancestor == descendant) {
    return true;
  }
  const git_oid a = parse_oid(ancestor);
  const git_oid d = parse_oid(descendant);
  return git_graph_descendant_of(m_repo, &d, &a) == 1;
}

std::optional<std::string> Repository::merge_base(const std::string& a, const std::string& b) const
{
  const git_oid oa = parse_oid(a);
  const git_oid ob = parse_oid(b);
  git_oid out;
  if (git_merge_base(&out, m_repo, &oa, &ob) != 0) {
    return std::nullopt;
  }
  return hex(&out);
}

std::vector<std::string> Repository::first_parent_line(const std::string& tip, const std::string& stop,
                                                       bool& boundary, std::vector<std::string>* parents) const
{
  boundary = false;
  std::vector<std::string> line;
  if (parents != nullptr) {
    parents->clear();
  }
  git_oid current = parse_oid(tip);
  const std::optional<git_oid> stop_oid = stop.empty() ? std::nullopt : std::optional<git_oid>(parse_oid(stop));
  for (;;) {
    if (stop_oid && git_oid_equal(&current, &*stop_oid) == 1) {
      break;
    }
    git_commit* c = nullptr;
    if (git_commit_lookup(&c, m_repo, &current) != 0) {
      if (line.empty()) {
        throw util::Fatal(last_error("commit " + hex(&current).substr(0, 12)));
      }
      boundary = true; // the parent of the last commit is not in the object store (shallow)
      break;
    }
    const CommitPtr guard(c);
    line.push_back(hex(&current));
    if (git_commit_parentcount(c) == 0) {
      if (parents != nullptr) {
        parents->emplace_back();
      }
      break;
    }
    current = *git_commit_parent_id(c, 0);
    if (parents != nullptr) {
      parents->push_back(hex(&current));
    }
  }
  std::reverse(line.begin(), line.end());
  if (parents != nullptr) {
    std::reverse(parents->begin(), parents->end());
  }
  return line;
}

bool Repository::first_parent_reaches(const std::string& tip, const std::string& ancestor, int limit) const
{
  git_oid target;
  git_oid current;
  if (ancestor.size() != GIT_OID_HEXSZ || git_oid_fromstr(&target, ancestor.c_str()) != 0
      || tip.size() != GIT_OID_HEXSZ || git_oid_fromstr(&current, tip.c_str()) != 0) {
    return false;
  }
  for (int k = 0; k <= limit; ++k) {
    if (git_oid_equal(&current, &target) == 1) {
      return true;
    }
    git_commit* c = nullptr;
    if (git_commit_lookup(&c, m_repo, &current) != 0) {
      return false;
    }
    const CommitPtr guard(c);
    if (git_commit_parentcount(c) == 0) {
      return false;
    }
    current = *git_commit_parent_id(c, 0);
  }
  return false;
}

std::string Repository::first_parent(const std::string& id) const
{
  const CommitPtr c = lookup_commit(m_repo, id);
  return git_commit_parentcount(c.get()) > 0 ? hex(git_commit_parent_id(c.get(), 0)) : std::string{};
}

CommitInfo Repository::commit_info(const std::string& id) const
{
  const CommitPtr c = lookup_commit(m_repo, id);
  CommitInfo info;
  info.id = id;
  if (git_commit_parentcount(c.get()) > 0) {
    info.parent = hex(git_commit_parent_id(c.get(), 0));
  }
  const git_signature* committer = git_commit_committer(c.get());
  const git_signature* author = git_commit_author(c.get());
  info.time = committer != nullptr ? committer->when.time : git_commit_time(c.get());
  info.author_time = author != nullptr ? author->when.time : info.time;
  if (author != nullptr) {
    info.author = std::string(author->name != nullptr ? author->name : "") + " <" + (author->email != nullptr ? author->email : "") + ">";
  }
  const char* summary = git_commit_summary(c.get());
  info.summary = summary != nullptr ? summary : "";
  info.tree = hex(git_commit_tree_id(c.get()));
  return info;
}

namespace {

// Tree-to-tree comparison by hand: identical subtrees (same id) are skipped without being read,
// and nothing else is set up per call (git_diff_tree_to_tree takes a config snapshot each time,
// which cost a quarter of a scan). Entries of a git tree are sorted, so one merge walk finds the
// added, removed and changed ones.
class TreeDiff {
public:
  TreeDiff(git_repository* repo, Repository::TreeCache& trees, const std::function<bool(std::string_view)>& interesting)
    : m_repo(repo), m_trees(trees), m_interesting(interesting)
  {
  }

  void compare(const git_tree* a, const git_tree* b, const std::string& prefix)
  {
    const std::size_t na = a != nullptr ? git_tree_entrycount(a) : 0;
    const std::size_t nb = b != nullptr ? git_tree_entrycount(b) : 0;
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < na || j < nb) {
      const git_tree_entry* ea = i < na ? git_tree_entry_byindex(a, i) : nullptr;
      const git_tree_entry* eb = j < nb ? git_tree_entry_byindex(b, j) : nullptr;
      const int cmp = ea == nullptr ? 1 : eb == nullptr ? -1 : git_tree_entry_cmp(ea, eb);
      if (cmp < 0) {
        side(ea, prefix, true);
        ++i;
      } else if (cmp > 0) {
        side(eb, prefix, false);
        ++j;
      } else {
        ++i;
        ++j;
        const auto ma = git_tree_entry_filemode(ea);
        const auto mb = git_tree_entry_filemode(eb);
        if (ma == mb && git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)) == 1) {
          continue;
        }
        if (ma == GIT_FILEMODE_TREE && mb == GIT_FILEMODE_TREE) {
          const git_tree* ta = subtree(ea);
          const git_tree* tb = subtree(eb);
          compare(ta, tb, prefix + git_tree_entry_name(ea) + "/");
        } else if (is_file_mode(ma) && is_file_mode(mb)) {
          const std::string path = prefix + git_tree_entry_name(ea);
          if (m_interesting(path)) {
            m_out.push_back({path, path, hex(git_tree_entry_id(ea)), hex(git_tree_entry_id(eb))});
          }
        } else {
          side(ea, prefix, true);
          side(eb, prefix, false);
        }
      }
    }
  }

  std::vector<Change> take() { return std::move(m_out); }

private:
  const git_tree* subtree(const git_tree_entry* e) { return m_trees.get(m_repo, *git_tree_entry_id(e)); }

  // An entry only on one side: a file, or every file below a directory.
  void side(const git_tree_entry* e, const std::string& prefix, bool old_side)
  {
    const auto mode = git_tree_entry_filemode(e);
    if (mode == GIT_FILEMODE_TREE) {
      const git_tree* t = subtree(e);
      if (old_side) {
        compare(t, nullptr, prefix + git_tree_entry_name(e) + "/");
      } else {
        compare(nullptr, t, prefix + git_tree_entry_name(e) + "/");
      }
      return;
    }
    if (!is_file_mode(mode)) {
      return; // submodule (a commit id) or symbolic link
    }
    std::string path = prefix + git_tree_entry_name(e);
    if (!m_interesting(path)) {
      return;
    }
    Change c;
    if (old_side) {
      c.old_path = std::move(path);
      c.old_blob = hex(git_tree_entry_id(e));
    } else {
      c.new_path = std::move(path);
      c.new_blob = hex(git_tree_entry_id(e));
    }
    m_out.push_back(std::move(c));
  }

  git_repository* m_repo;
  Repository::TreeCache& m_trees;
  const std::function<bool(std::string_view)>& m_interesting;
  std::vector<Change> m_out;
};

} // namespace

std::vector<Change> Repository::tree_changes(const std::string& old_tree, const std::string& new_tree,
                                             const std::function<bool(std::string_view)>& interesting) const
{
  const git_tree* b = m_trees->get(m_repo, parse_oid(new_tree));
  const git_tree* a = old_tree.empty() ? nullptr : m_trees->get(m_repo, parse_oid(old_tree));
  TreeDiff diff(m_repo, *m_trees, interesting);
  diff.compare(a, b, "");
  m_trees->next_generation();
  return diff.take();
}

std::optional<std::string> Repository::read_blob(const std::string& id) const
{
  const git_oid oid = parse_oid(id);
  git_blob* b = nullptr;
  if (git_blob_lookup(&b, m_repo, &oid) != 0) {
    return std::nullopt;
  }
  const BlobPtr guard(b);
  const auto size = static_cast<std::size_t>(git_blob_rawsize(b));
  const auto* data = static_cast<const char*>(git_blob_rawcontent(b));
  return std::string(data, size);
}

std::vector<std::pair<std::string, std::string>> Repository::list_dir(const std::string& commit,
                                                                      const std::string& dir) const
{
  const TreePtr root = commit_tree(m_repo, commit);
  TreePtr sub;
  const git_tree* tree = root.get();
  if (!dir.empty()) {
    git_tree_entry* entry = nullptr;
    const std::string path = dir.back() == '/' ? dir.substr(0, dir.size() - 1) : dir;
    if (git_tree_entry_bypath(&entry, root.get(), path.c_str()) != 0) {
      return {};
    }
    const EntryPtr guard(entry);
    if (git_tree_entry_filemode(entry) != GIT_FILEMODE_TREE) {
      return {};
    }
    git_tree* t = nullptr;
    if (git_tree_lookup(&t, m_repo, git_tree_entry_id(entry)) != 0) {
      return {};
    }
    sub.reset(t);
    tree = t;
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < git_tree_entrycount(tree); ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(tree, i);
    if (is_file_mode(git_tree_entry_filemode(e))) {
      out.emplace_back(git_tree_entry_name(e), hex(git_tree_entry_id(e)));
    }
  }
  return out;
}

std::string Repository::blob_at(const std::string& commit, const std::string& path) const
{
  const TreePtr tree = commit_tree(m_repo, commit);
  git_tree_entry* entry = nullptr;
  if (git_tree_entry_bypath(&entry, tree.get(), path.c_str()) != 0) {
    return {};
  }
  const EntryPtr guard(entry);
  if (!is_file_mode(git_tree_entry_filemode(entry))) {
    return {};
  }
  return hex(git_tree_entry_id(entry));
}

std::vector<Change> Repository::index_changes(const std::function<bool(std::string_view)>& interesting) const
{
  git_index* raw = nullptr;
  // In a pre-commit hook of `git commit -a` or `git commit PATH`, git hands the hook a temporary
  // index in GIT_INDEX_FILE (relative paths are relative to the work tree, the hook's directory):
  // that is what is being committed, not .git/index.
  const char* env_index = std::getenv("GIT_INDEX_FILE");
  if (env_index != nullptr && *env_index != '\0') {
    std::string file = env_index;
    if (file.front() != '/') {
      file = path() + "/" + file;
    }
    if (git_index_open(&raw, file.c_str()) != 0) {
      throw util::Fatal(last_error("reading the index " + file + " (GIT_INDEX_FILE)"));
    }
  } else if (git_repository_index(&raw, m_repo) != 0) {
    throw util::Fatal(last_error("reading the index of " + path()));
  }
  const std::unique_ptr<git_index, Deleter<git_index, git_index_free>> index(raw);
  TreePtr head;
  if (const auto id = resolve_commit("HEAD")) {
    head = commit_tree(m_repo, *id);
  }
  std::vector<Change> out;
  const std::size_t n = git_index_entrycount(index.get());
  for (std::size_t i = 0; i < n; ++i) {
    const git_index_entry* e = git_index_get_byindex(index.get(), i);
    // Stage 0 only: during a merge conflict the staged result is not known yet.
    if (e == nullptr || GIT_INDEX_ENTRY_STAGE(e) != 0 || !is_file_mode(static_cast<git_filemode_t>(e->mode))
        || !interesting(e->path)) {
      continue;
    }
    std::string old_blob;
    if (head) {
      git_tree_entry* entry = nullptr;
      if (git_tree_entry_bypath(&entry, head.get(), e->path) == 0) {
        const EntryPtr guard(entry);
        if (is_file_mode(git_tree_entry_filemode(entry))) {
          old_blob = hex(git_tree_entry_id(entry));
        }
      }
    }
    std::string new_blob = hex(&e->id);
    if (new_blob == old_blob) {
      continue;
    }
    out.push_back(Change{old_blob.empty() ? std::string() : std::string(e->path), e->path, old_blob, new_blob});
  }
  return out;
}

std::string library_version()
{
  int major = 0;
  int minor = 0;
  int rev = 0;
  git_libgit2_version(&major, &minor, &rev);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(rev);
}

std::string Repository::notes_tip(const std::string& notes_ref) const
{
  git_oid oid;
  if (git_reference_name_to_id(&oid, m_repo, notes_ref.c_str()) != 0) {
    return {};
  }
  return hex(&oid);
}

std::optional<std::string> Repository::read_note(const std::string& notes_ref, const std::string& commit) const
{
  const git_oid oid = parse_oid(commit);
  git_note* note = nullptr;
  const int rc = git_note_read(&note, m_repo, notes_ref.c_str(), &oid);
  if (rc == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  if (rc != 0) {
    throw util::Fatal(last_error("reading the note " + notes_ref + " of " + commit));
  }
  std::string text = git_note_message(note) != nullptr ? git_note_message(note) : "";
  git_note_free(note);
  return text;
}

void Repository::write_note(const std::string& notes_ref, const std::string& commit, const std::string& content)
{
  const git_oid target = parse_oid(commit);
  git_signature* sig = nullptr;
  if (git_signature_default(&sig, m_repo) != 0) {
    if (git_signature_now(&sig, "changetrail", "changetrail@localhost") != 0) {
      throw util::Fatal(last_error("creating a signature for the note"));
    }
  }
  std::unique_ptr<git_signature, Deleter<git_signature, git_signature_free>> guard(sig);
  git_oid note_id;
  if (git_note_create(&note_id, m_repo, notes_ref.c_str(), sig, sig, &target, content.c_str(), 1) != 0) {
    throw util::Fatal(last_error("writing the note " + notes_ref + " of " + commit));
  }
}

void Repository::each_note(const std::string& notes_ref,
                           const std::function<void(const std::string& commit, const std::string& content)>& visit) const
{
  if (notes_tip(notes_ref).empty()) {
    return;
  }
  struct Context {
    const Repository* self;
    const std::string* ref;
    const std::function<void(const std::string&, const std::string&)>* visit;
  } ctx{this, &notes_ref, &visit};
  const int rc = git_note_foreach(
    m_repo, notes_ref.c_str(),
    [](const git_oid* blob_id, const git_oid* annotated, void* payload) -> int {
      auto* c = static_cast<Context*>(payload);
      git_blob* blob = nullptr;
      if (git_blob_lookup(&blob, c->self->m_repo, blob_id) != 0) {
        return 0; // a note whose blob is missing (partial clone): skipped
      }
      const BlobPtr guard(blob);
      const std::string text(static_cast<const char*>(git_blob_rawcontent(blob)),
                             static_cast<std::size_t>(git_blob_rawsize(blob)));
      (*c->visit)(hex(annotated), text);
      return 0;
    },
    &ctx);
  if (rc != 0 && rc != GIT_ENOTFOUND) {
    throw util::Fatal(last_error("reading the notes of " + notes_ref));
  }
}

} // namespace changetrail::git
