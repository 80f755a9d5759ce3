#pragma once

// RAII over the libgit2 handles changetrail uses: opening a repository, the first-parent line of
// a branch, tree-to-tree changes, blob reads. Commit and blob ids are 40-hex strings at this
// interface; libgit2 types stay in git.cpp.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct git_repository;

namespace changetrail::git {

struct CommitInfo {
  std::string id;           // 40 hex
  std::string parent;       // first parent (40 hex), empty for a root commit
  std::int64_t time = 0;    // committer time, Unix seconds
  std::int64_t author_time = 0;
  std::string author;       // "Name <email>"
  std::string summary;      // first line of the message
  std::string tree;         // the commit's tree (40 hex)
};

// One file that differs between a commit's first parent and the commit. For an added file
// old_path is empty; for a deleted one new_path is empty. Submodules and symbolic links are not
// reported (git records a commit id or a link target, not a file).
struct Change {
  std::string old_path;
  std::string new_path;
  std::string old_blob; // 40 hex, empty when absent
  std::string new_blob;
};

class Repository {
public:
  // Opens the repository containing `path` (a work tree, a worktree or a bare repository).
  // Throws util::InputError "<path>: not a git repository" when there is none.
  static Repository open(const std::string& path);
  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  ~Repository();

  [[nodiscard]] std::string path() const;    // work tree, or the git directory when bare
  [[nodiscard]] std::string git_dir() const; // the .git directory (of this worktree)
  [[nodiscard]] bool is_bare() const;
  [[nodiscard]] bool is_shallow() const;
  [[nodiscard]] bool is_empty() const; // no commit on HEAD yet (unborn)
  // Short name of the checked-out branch ("main"); empty when HEAD is detached or unborn.
  [[nodiscard]] std::string current_branch() const;
  [[nodiscard]] std::string remote_url(const std::string& remote) const; // empty when absent
  // The directory git runs hooks from: core.hooksPath when set (a relative one is relative to the
  // work tree root, or the git directory when bare, as git resolves it), else <common git dir>/hooks.
  [[nodiscard]] std::string hooks_dir() const;
  // The commit a revision names (branch, remote-tracking ref, tag, hex id, HEAD~2 ...).
  [[nodiscard]] std::optional<std::string> resolve_commit(const std::string& revision) const;
  [[nodiscard]] bool is_ancestor(const std::string& ancestor, const std::string& descendant) const;
  [[nodiscard]] std::optional<std::string> merge_base(const std::string& a, const std::string& b) const;
  [[nodiscard]] bool has_commit(const std::string& id) const;

  // The first-parent line from `tip` back to, not including, `stop` (all of it when `stop` is
  // empty or not on the line), oldest first. `boundary` is set when the line ends at a commit
  // whose parent is missing (a shallow clone).
  // `parents`, when given, receives the first parent of each commit of the line ("" for a root).
  [[nodiscard]] std::vector<std::string> first_parent_line(const std::string& tip, const std::string& stop,
                                                           bool& boundary,
                                                           std::vector<std::string>* parents = nullptr) const;
  [[nodiscard]] CommitInfo commit_info(const std::string& id) const;
  // True when `ancestor` is on the first-parent line of `tip` within `limit` steps.
  [[nodiscard]] bool first_parent_reaches(const std::string& tip, const std::string& ancestor, int limit) const;
  [[nodiscard]] std::string first_parent(const std::string& id) const; // empty for a root commit
  // Files changed between two trees (CommitInfo::tree; old_tree empty: the whole new tree is
  // added). `interesting` filters paths before anything is compared in detail.
  [[nodiscard]] std::vector<Change> tree_changes(const std::string& old_tree, const std::string& new_tree,
                                                 const std::function<bool(std::string_view path)>& interesting) const;
  // The regular files directly in directory `dir` ("" or "a/b/") of the commit's tree: name and
  // blob id.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> list_dir(const std::string& commit,
                                                                          const std::string& dir) const;
  // A blob's content; nullopt when the object is missing (a partial clone).
  [[nodiscard]] std::optional<std::string> read_blob(const std::string& id) const;
  // Files of the index (staged content, stage 0) whose blob differs from HEAD's at the same path,
  // for `check --staged`: old_blob is HEAD's (empty when the file is new or HEAD is unborn).
  // Files deleted from the index are not listed (they add nothing).
  [[nodiscard]] std::vector<Change> index_changes(const std::function<bool(std::string_view path)>& interesting) const;
  // The blob id at `path` in the tree of `commit`; empty when there is none.
  [[nodiscard]] std::string blob_at(const std::string& commit, const std::string& path) const;

  // --- notes (refs/notes/changetrail: registry observations that travel with the repository) ---
  // The commit the notes ref points at; empty when the ref does not exist.
  [[nodiscard]] std::string notes_tip(const std::string& notes_ref) const;
  // The note on `commit`, or nullopt.
  [[nodiscard]] std::optional<std::string> read_note(const std::string& notes_ref, const std::string& commit) const;
  // Writes (replaces) the note on `commit`, as a new commit of the notes ref. The author is the
  // repository's user.name/user.email, else "changetrail".
  void write_note(const std::string& notes_ref, const std::string& commit, const std::string& content);
  // Every note of the ref: annotated commit id and content.
  void each_note(const std::string& notes_ref,
                 const std::function<void(const std::string& commit, const std::string& content)>& visit) const;

  struct TreeCache; // trees kept between consecutive calls of changes()

private:
  explicit Repository(git_repository* repo);
  git_repository* m_repo = nullptr;
  std::unique_ptr<TreeCache> m_trees;
};

// libgit2 version "1.5.1".
[[nodiscard]] std::string library_version();

} // namespace changetrail::git
