#include <changetrail/git/git.hpp>

#include <changetrail/util/error.hpp>

#include <git2.h>

#include <algorithm>
#include <mutex>
#include <utility>

namespace changetrail::git {

namespace {

// libgit2 must be initialised once per process before any call.
void ensure_init()
{
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
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

} // namespace

Repository::Repository(git_repository* repo) : m_repo(repo) {}

Repository::Repository(Repository&& other) noexcept : m_repo(std::exchange(other.m_repo, nullptr)) {}

Repository& Repository::operator=(Repository&& other) noexcept
{
  if (this != &other) {
    git_repository_free(m_repo);
    m_repo = std::exchange(other.m_repo, nullptr);
  }
  return *this;
}

Repository::~Repository()
{
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
  return git_repository_is_empty(m_repo) == 1;
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
                                                       bool& boundary) const
{
  boundary = false;
  std::vector<std::string> line;
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
      break;
    }
    current = *git_commit_parent_id(c, 0);
  }
  std::reverse(line.begin(), line.end());
  return line;
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
  return info;
}

std::vector<Change> Repository::changes(const std::string& parent, const std::string& commit,
                                        const std::function<bool(std::string_view)>& interesting) const
{
  const TreePtr new_tree = commit_tree(m_repo, commit);
  TreePtr old_tree;
  if (!parent.empty()) {
    old_tree = commit_tree(m_repo, parent);
  }
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_SKIP_BINARY_CHECK | GIT_DIFF_IGNORE_SUBMODULES;
  git_diff* diff = nullptr;
  if (git_diff_tree_to_tree(&diff, m_repo, old_tree.get(), new_tree.get(), &opts) != 0) {
    throw util::Fatal(last_error("diff of commit " + commit.substr(0, 12)));
  }
  const DiffPtr guard(diff);
  std::vector<Change> out;
  const std::size_t n = git_diff_num_deltas(diff);
  for (std::size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    Change c;
    if (d->status != GIT_DELTA_ADDED && is_file_mode(d->old_file.mode) && interesting(d->old_file.path)) {
      c.old_path = d->old_file.path;
      c.old_blob = hex(&d->old_file.id);
    }
    if (d->status != GIT_DELTA_DELETED && is_file_mode(d->new_file.mode) && interesting(d->new_file.path)) {
      c.new_path = d->new_file.path;
      c.new_blob = hex(&d->new_file.id);
    }
    if (!c.old_path.empty() || !c.new_path.empty()) {
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<Change> Repository::tree_files(const std::string& commit,
                                           const std::function<bool(std::string_view)>& interesting) const
{
  const TreePtr tree = commit_tree(m_repo, commit);
  struct Walk {
    const std::function<bool(std::string_view)>* interesting;
    std::vector<Change> out;
  } walk{&interesting, {}};
  const auto callback = [](const char* root, const git_tree_entry* entry, void* payload) -> int {
    auto* w = static_cast<Walk*>(payload);
    if (!is_file_mode(git_tree_entry_filemode(entry))) {
      return 0;
    }
    std::string path = std::string(root) + git_tree_entry_name(entry);
    if ((*w->interesting)(path)) {
      Change c;
      c.new_path = std::move(path);
      c.new_blob = hex(git_tree_entry_id(entry));
      w->out.push_back(std::move(c));
    }
    return 0;
  };
  if (git_tree_walk(tree.get(), GIT_TREEWALK_PRE, callback, &walk) != 0) {
    throw util::Fatal(last_error("tree of commit " + commit.substr(0, 12)));
  }
  return std::move(walk.out);
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

std::string library_version()
{
  int major = 0;
  int minor = 0;
  int rev = 0;
  git_libgit2_version(&major, &minor, &rev);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(rev);
}

} // namespace changetrail::git
