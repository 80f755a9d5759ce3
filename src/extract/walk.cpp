#include <changetrail/extract/walk.hpp>

#include <changetrail/extract/extract.hpp>
#include <changetrail/util/file.hpp>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

namespace fs = std::filesystem;

namespace changetrail::extract {

namespace {

struct Candidate {
  std::string display;
  std::string path;
  std::string rel;
  FileKind kind;
  std::string error; // set when the walk itself failed here (unreadable directory)
};

std::string relative_to(const fs::path& root, const fs::path& p)
{
  std::error_code ec;
  const fs::path abs = fs::absolute(p, ec).lexically_normal();
  const fs::path rel = abs.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") {
    return p.generic_string();
  }
  return rel.generic_string();
}

std::string join_display(const std::string& base, const std::string& name)
{
  if (base.empty() || base == ".") {
    return name;
  }
  return base.back() == '/' ? base + name : base + "/" + name;
}

class Walker {
public:
  Walker(const WalkOptions& options) : m_options(options)
  {
    std::error_code ec;
    m_root = fs::absolute(options.root.empty() ? fs::path(".") : fs::path(options.root), ec).lexically_normal();
  }

  void add_argument(const std::string& arg, std::vector<std::string>& errors)
  {
    std::error_code ec;
    const fs::path p(arg);
    const auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      const auto lst = fs::symlink_status(p, ec);
      errors.push_back(arg + ": " + (fs::is_symlink(lst) ? "broken symbolic link" : "no such file or directory"));
      return;
    }
    if (fs::is_directory(st)) {
      walk_directory(p, arg, 0);
      return;
    }
    const std::string rel = relative_to(m_root, p);
    if (m_options.ignored && m_options.ignored(rel)) {
      return;
    }
    auto kind = classify(p.filename().string());
    if (kind == FileKind::none) {
      kind = FileKind::yaml; // named explicitly: read it as YAML (JSON is YAML too)
    }
    m_candidates.push_back({arg, arg, rel, kind, {}});
  }

  std::vector<Candidate>& candidates() { return m_candidates; }

private:
  // POSIX readdir with d_type: no stat per entry on the file systems that fill it in, and the
  // root-relative path is built by concatenation instead of being recomputed per entry.
  void walk_directory(const fs::path& top, const std::string& top_display, int top_depth)
  {
    walk_directory(top.string(), top_display, relative_to(m_root, top), top_depth);
  }

  void walk_directory(const std::string& dir, const std::string& display, const std::string& rel, int depth)
  {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      m_candidates.push_back({display, dir, rel, FileKind::none, std::string("cannot read directory: ") + std::strerror(errno)});
      return;
    }
    struct Entry {
      std::string name;
      unsigned char type;
    };
    std::vector<Entry> entries;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name(e->d_name);
      if (name != "." && name != "..") {
        entries.push_back({std::string(name), e->d_type});
      }
      errno = 0;
    }
    const int read_errno = errno;
    ::closedir(d);
    if (read_errno != 0) {
      m_candidates.push_back({display, dir, rel, FileKind::none, std::string("cannot read directory: ") + std::strerror(read_errno)});
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    const bool rel_here = rel.empty() || rel == ".";
    for (auto& entry : entries) {
      const std::string& name = entry.name;
      std::string path = dir.back() == '/' ? dir + name : dir + "/" + name;
      unsigned char type = entry.type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
          continue;
        }
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : DT_FIFO;
      }
      if (type == DT_LNK) {
        continue;
      }
      std::string child_rel = rel_here ? name : rel + "/" + name;
      if (type == DT_DIR) {
        if (name == ".git") {
          continue;
        }
        if (m_options.ignored && (m_options.ignored(child_rel) || m_options.ignored(child_rel + "/"))) {
          continue;
        }
        const std::string child_display = join_display(display, name);
        if (depth >= k_max_depth) {
          m_candidates.push_back({child_display, std::move(path), std::move(child_rel), FileKind::none,
                                  "directories nested deeper than " + std::to_string(k_max_depth) + " levels; not walked"});
          continue;
        }
        walk_directory(path, child_display, child_rel, depth + 1);
        continue;
      }
      if (type != DT_REG) {
        continue;
      }
      const auto kind = classify(name);
      if (kind == FileKind::none) {
        continue;
      }
      if (m_options.ignored && m_options.ignored(child_rel)) {
        continue;
      }
      m_candidates.push_back({join_display(display, name), std::move(path), std::move(child_rel), kind, {}});
    }
  }

  static constexpr int k_max_depth = 256;
  const WalkOptions& m_options;
  fs::path m_root;
  std::vector<Candidate> m_candidates;
};

FileResult process(const Candidate& c, const WalkOptions& options)
{
  FileResult result;
  if (!c.error.empty()) {
    result.file = c.display;
    result.rel = c.rel;
    result.checked = true;
    result.problems.push_back({0, 0, c.error});
    return result;
  }
  std::string content;
  std::string error;
  if (!util::read_regular_file(c.path, options.max_file_size, content, error)) {
    result.file = c.display;
    result.rel = c.rel;
    result.checked = true;
    result.problems.push_back({0, 0, error});
    return result;
  }
  FileInput input;
  input.file = c.display;
  input.rel = c.rel;
  input.content = content;
  input.kind = c.kind;
  input.read_dotenv = [&c, &options]() -> std::optional<std::string> {
    const auto slash = c.path.rfind('/');
    const std::string dotenv = slash == std::string::npos ? std::string(".env") : c.path.substr(0, slash + 1) + ".env";
    std::string text;
    std::string err;
    if (!util::read_regular_file(dotenv, std::min<std::uintmax_t>(options.max_file_size, 1u << 20), text, err)) {
      return std::nullopt;
    }
    return text;
  };
  return extract_file(input);
}

} // namespace

WalkResult extract_paths(const std::vector<std::string>& paths, const WalkOptions& options)
{
  WalkResult out;
  Walker walker(options);
  for (const auto& p : paths) {
    walker.add_argument(p, out.errors);
  }
  auto& candidates = walker.candidates();
  // The same file named twice (a file and its directory) is read once.
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) { return a.display < b.display; });
  candidates.erase(std::unique(candidates.begin(), candidates.end(),
                               [](const Candidate& a, const Candidate& b) { return a.display == b.display; }),
                   candidates.end());

  std::vector<FileResult> results(candidates.size());
  unsigned threads = options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<unsigned>(threads, static_cast<unsigned>(std::max<std::size_t>(1, candidates.size())));
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < candidates.size(); i = next++) {
      try {
        results[i] = process(candidates[i], options);
      } catch (const std::exception& e) {
        // One file must never stop the others (issue 2 "bad input").
        results[i] = FileResult{};
        results[i].file = candidates[i].display;
        results[i].rel = candidates[i].rel;
        results[i].checked = true;
        results[i].problems.push_back({0, 0, std::string("internal error while reading: ") + e.what()});
      }
    }
  };
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back(work);
    }
  }
  resolve_charts(results);
  apply_kustomize_overrides(results);
  for (auto& r : results) {
    const std::string env = options.environment ? options.environment(r.rel) : std::string{};
    for (auto& f : r.findings) {
      f.env = env;
    }
    std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
  }
  std::erase_if(results, [](const FileResult& r) { return !r.checked; });
  out.files = std::move(results);
  return out;
}

} // namespace changetrail::extract
