#include <changetrail/extract/walk.hpp>

#include <changetrail/extract/extract.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;

namespace changetrail::extract {

namespace {

struct Candidate {
  std::string display;
  fs::path path;
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
    m_candidates.push_back({arg, p, rel, kind, {}});
  }

  std::vector<Candidate>& candidates() { return m_candidates; }

private:
  void walk_directory(const fs::path& dir, const std::string& display, int depth)
  {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      m_candidates.push_back({display, dir, relative_to(m_root, dir), FileKind::none,
                              "cannot read directory: " + ec.message()});
      return;
    }
    std::vector<fs::directory_entry> entries;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) {
        m_candidates.push_back({display, dir, relative_to(m_root, dir), FileKind::none,
                                "cannot read directory: " + ec.message()});
        break;
      }
      entries.push_back(*it);
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
    for (const auto& entry : entries) {
      const std::string name = entry.path().filename().string();
      const std::string child_display = join_display(display, name);
      std::error_code sec;
      const auto st = entry.symlink_status(sec);
      if (sec || fs::is_symlink(st)) {
        continue;
      }
      const std::string rel = relative_to(m_root, entry.path());
      if (fs::is_directory(st)) {
        if (name == ".git" || depth > 256) {
          continue;
        }
        if (m_options.ignored && (m_options.ignored(rel) || m_options.ignored(rel + "/"))) {
          continue;
        }
        walk_directory(entry.path(), child_display, depth + 1);
        continue;
      }
      if (!fs::is_regular_file(st)) {
        continue;
      }
      const auto kind = classify(name);
      if (kind == FileKind::none) {
        continue;
      }
      if (m_options.ignored && m_options.ignored(rel)) {
        continue;
      }
      m_candidates.push_back({child_display, entry.path(), rel, kind, {}});
    }
  }

  const WalkOptions& m_options;
  fs::path m_root;
  std::vector<Candidate> m_candidates;
};

bool read_file(const fs::path& p, std::uintmax_t limit, std::string& out, std::string& error)
{
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    error = std::string("cannot read: ") + std::strerror(errno);
    return false;
  }
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0) {
    error = "cannot read: not a seekable file";
    return false;
  }
  if (static_cast<std::uintmax_t>(size) > limit) {
    error = "file is " + std::to_string(static_cast<std::uintmax_t>(size) >> 20) + " MiB, over the "
            + std::to_string(limit >> 20) + " MiB limit; not read";
    return false;
  }
  out.resize(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(out.data(), size);
  if (!in) {
    error = std::string("cannot read: ") + std::strerror(errno);
    return false;
  }
  return true;
}

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
  if (!read_file(c.path, options.max_file_size, content, error)) {
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
  const fs::path dotenv = c.path.parent_path() / ".env";
  input.read_dotenv = [&dotenv, &options]() -> std::optional<std::string> {
    std::string text;
    std::string err;
    std::error_code ec;
    if (!fs::is_regular_file(dotenv, ec) || !read_file(dotenv, std::min<std::uintmax_t>(options.max_file_size, 1u << 20), text, err)) {
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
