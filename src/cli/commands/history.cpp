// scan, timeline, at, diff, ledger: the history ledger commands.
#include "history.hpp"

#include <changetrail/git/git.hpp>
#include <changetrail/ledger/ledger.hpp>
#include <changetrail/ledger/scan.hpp>
#include <changetrail/reference/reference.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/json_text.hpp>
#include <changetrail/util/strings.hpp>
#include <changetrail/util/time.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <unordered_map>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace changetrail::cli {

namespace {

const std::vector<std::string> k_formats{"table", "json", "jsonl", "csv", "markdown"};

void add_format(CLI::App& sub, std::string& format)
{
  sub.add_option("--format", format, "Output format")->check(CLI::IsMember(k_formats))->capture_default_str();
}

void add_filters(CLI::App& sub, QueryOptions& o)
{
  sub.add_option("--env", o.env, "Only this environment");
  sub.add_option("--repo", o.repo,
                 "Only this repository (its ledger name); a repository directory is scanned first, incrementally");
  sub.add_option("--image", o.image, "Only references containing this text (before or after)");
  sub.add_option("--path", o.path, "Only files matching this glob (repository-relative)");
  sub.add_option("--workload", o.workload, "Only workloads containing this text");
  sub.add_flag("--local", o.local, "Times in the local time zone instead of UTC");
  add_format(sub, o.format);
}

std::string format_time(std::int64_t t, bool local)
{
  return local ? util::format_local(t) : util::format_table_utc(t);
}

class Progress {
public:
  explicit Progress(bool enabled) : m_enabled(enabled && isatty(STDERR_FILENO) != 0) {}
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(std::int64_t done, std::int64_t total)
  {
    if (!m_enabled) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - m_start).count();
    if (elapsed < 1.0 || now - m_last < std::chrono::milliseconds(200)) {
      return;
    }
    m_last = now;
    const double rate = static_cast<double>(done) / elapsed;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
    std::fprintf(stderr, "\rscan: %lld/%lld commits, %.0f commits/s, ETA %.0fs   ", static_cast<long long>(done),
                 static_cast<long long>(total), rate, eta);
    m_shown = true;
  }

  void finish()
  {
    if (m_shown) {
      std::fputs("\r\033[K", stderr);
      m_shown = false;
    }
  }

private:
  bool m_enabled;
  bool m_shown = false;
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point m_last{};
};

ledger::ScanSummary run_scan_into(const Globals& globals, ledger::Ledger& led, const std::string& repo_dir,
                                  const std::string& branch, const std::string& name, bool show_progress)
{
  ledger::ScanRequest request;
  request.repo_dir = repo_dir;
  request.branch = branch;
  request.name = name;
  const auto repo_root = git::Repository::open(repo_dir).path();
  const Workspace ws = open_workspace(globals, {repo_root});
  const policy::Config config = ws.config;
  request.options.ignored = [config](std::string_view rel) { return config.ignored(rel); };
  request.options.environment = [config](std::string_view rel) { return config.environment_for(rel); };
  request.warn = [&globals](const std::string& w) { warn(globals, w); };
  if (globals.verbose > 0) {
    request.note = [&globals](const std::string& w) { warn(globals, w); };
  }
  Progress progress(show_progress && !globals.quiet);
  request.progress = [&progress](std::int64_t done, std::int64_t total) { progress.update(done, total); };
  request.threads = std::max(1u, std::thread::hardware_concurrency());
  // Commits per transaction; smaller batches make a killed scan lose less (the tests use it).
  if (const char* b = std::getenv("CHANGETRAIL_SCAN_BATCH"); b != nullptr && *b != '\0') {
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(b, &end, 10);
    if (errno != 0 || end == b || *end != '\0' || n < 1 || n > 1000000) {
      throw util::InputError("CHANGETRAIL_SCAN_BATCH=" + std::string(b) + ": expected a number of commits from 1 to 1000000");
    }
    request.batch_commits = static_cast<std::size_t>(n);
  }
  auto summary = ledger::scan(led, request);
  progress.finish();
  return summary;
}

// --- JSON ------------------------------------------------------------------------------------

// Appends a reference's JSON object (null when there is none); returns whether it is pinned.
// (A cache of these by reference text was tried: with mostly distinct references, as in a busy
// timeline, its copies and fresh memory cost 40% of the query.)
class RefWriter {
public:
  bool append(std::string& out, const std::string& written, const std::string& input)
  {
    if (written.empty()) {
      out += "null";
      return false;
    }
    m_ref = reference::parse(input.empty() ? written : input);
    m_ref.input = written;
    reference::append_json(out, m_ref);
    return m_ref.has_digest();
  }

  // With a ledger: the DESIGN.md `observed` object of the reference last appended, deployed at
  // `since`: the first successful registry observation at or after that moment, with the
  // metadata of the digest that runs; null when there is none. A ledger without observations
  // costs nothing per row; otherwise each distinct reference and digest is read once.
  void append_observed(std::string& out, std::int64_t since)
  {
    const Seen seen = find_observed(since);
    if (seen.observation == nullptr) {
      out += "null";
      return;
    }
    const auto& m = seen.image;
    out += "{\"digest\":";
    util::append_json_string(out, seen.digest);
    out += ",\"observed_at\":";
    util::append_json_string(out, util::format_rfc3339_utc(seen.observation->observed_at));
    out += ",\"platforms\":[";
    const auto& platforms = m ? m->platforms : seen.observation->platforms;
    for (std::size_t i = 0; i < platforms.size(); ++i) {
      out += i == 0 ? "{\"platform\":" : ",{\"platform\":";
      util::append_json_string(out, platforms[i].platform);
      out += ",\"digest\":";
      util::append_json_string(out, platforms[i].digest);
      out += '}';
    }
    out += "],\"revision\":";
    util::append_json_string_or_null(out, m ? m->revision : std::string());
    out += ",\"source\":";
    util::append_json_string_or_null(out, m ? m->source : std::string());
    out += '}';
  }

  // The same for people: "sha256:0123456789ab rev 8c1f0a6e2d7b" (the revision when the image's
  // labels carry one), "?" when nothing was observed, empty when the ledger has no observations.
  // Parses `written` (the reference of the row) itself.
  std::string observed_text(const std::string& written, const std::string& input, std::int64_t since)
  {
    if (m_ledger == nullptr || written.empty()) {
      return {};
    }
    m_ref = reference::parse(input.empty() ? written : input);
    const Seen seen = find_observed(since);
    if (seen.observation == nullptr) {
      return "?";
    }
    const auto colon = seen.digest.find(':');
    std::string text = seen.digest.substr(0, colon == std::string::npos ? 19 : colon + 13);
    if (seen.image && !seen.image->revision.empty()) {
      text += " rev " + seen.image->revision.substr(0, 12);
    }
    return text;
  }

  [[nodiscard]] bool observing() const { return m_ledger != nullptr; }

  // Reads observations from `led` for append_observed (none: every `observed` is null).
  void observe(const ledger::Ledger& led)
  {
    m_ledger = led.observation_count() > 0 ? &led : nullptr;
  }

private:
  struct Seen {
    const ledger::Observation* observation = nullptr;
    std::string digest; // the digest that runs: the pinned one, else the tag's
    std::shared_ptr<const registry::ImageMetadata> image;
  };

  // The first successful observation of m_ref at or after `since`. A ledger without observations
  // costs nothing; otherwise each distinct reference and digest is read once per query.
  Seen find_observed(std::int64_t since)
  {
    Seen seen;
    if (m_ledger == nullptr || !m_ref.valid) {
      return seen;
    }
    const std::string key = m_ref.canonical();
    auto it = m_observations.find(key);
    if (it == m_observations.end()) {
      it = m_observations.emplace(key, m_ledger->observations(key)).first;
    }
    for (const auto& o : it->second) {
      // A pinned reference is observed when its own digest was found; a tag when it resolved.
      const bool ok = m_ref.has_digest() ? o.pinned_status == "ok" : o.status == "ok";
      if (o.observed_at >= since && ok) {
        seen.observation = &o;
        break;
      }
    }
    if (seen.observation == nullptr) {
      return seen;
    }
    seen.digest = m_ref.has_digest() ? m_ref.digest : seen.observation->digest;
    auto img = m_images.find(seen.digest);
    if (img == m_images.end()) {
      img = m_images.emplace(seen.digest, m_ledger->image(seen.digest)).first;
    }
    seen.image = img->second;
    return seen;
  }

  reference::Reference m_ref;
  const ledger::Ledger* m_ledger = nullptr;
  std::unordered_map<std::string, std::vector<ledger::Observation>> m_observations;
  std::unordered_map<std::string, std::shared_ptr<const registry::ImageMetadata>> m_images;
};

bool pinned(const std::string& written, const std::string& input)
{
  if (written.empty()) {
    return false;
  }
  return reference::parse(input.empty() ? written : input).has_digest();
}

void field(std::string& out, const char* name, std::string_view value, bool first = false)
{
  if (!first) {
    out += ',';
  }
  out += '"';
  out += name;
  out += "\":";
  util::append_json_string(out, value);
}

void event_json(std::string& out, RefWriter& refs, const ledger::EventRow& row)
{
  const auto& e = row.event;
  out += '{';
  field(out, "repo", row.repo, true);
  field(out, "branch", row.branch);
  field(out, "commit", row.commit);
  field(out, "time", util::format_rfc3339_utc(row.time));
  field(out, "author_time", util::format_rfc3339_utc(row.author_time));
  field(out, "author", row.author);
  field(out, "summary", row.summary);
  field(out, "path", e.path);
  if (!e.from_path.empty()) {
    field(out, "from_path", e.from_path);
  }
  field(out, "env", e.env);
  field(out, "format", e.format);
  field(out, "location", e.location);
  field(out, "workload", e.workload);
  field(out, "container", e.container);
  field(out, "change", e.change);
  if (e.change == history::k_history_rewritten) {
    out += ",\"from\":null,\"to\":null,\"pinned\":false,\"observed\":null,\"old_tip\":";
    util::append_json_string(out, e.from_ref);
    out += '}';
    return;
  }
  out += ",\"from\":";
  refs.append(out, e.from_ref, e.from_input);
  out += ",\"to\":";
  const bool to_pinned = refs.append(out, e.to_ref, e.to_input);
  out += ",\"pinned\":";
  out += to_pinned ? "true" : "false";
  out += ",\"observed\":";
  if (e.to_ref.empty()) {
    out += "null";
  } else {
    refs.append_observed(out, row.time);
  }
  out += '}';
}

void state_json(std::string& out, RefWriter& refs, const ledger::StateRow& s)
{
  out += '{';
  field(out, "repo", s.repo, true);
  field(out, "env", s.env);
  field(out, "path", s.path);
  field(out, "location", s.location);
  field(out, "workload", s.workload);
  field(out, "container", s.container);
  field(out, "format", s.format);
  out += ",\"ref\":";
  refs.append(out, s.ref, s.input);
  field(out, "since", util::format_rfc3339_utc(s.since));
  field(out, "commit", s.commit);
  out += ",\"observed\":";
  refs.append_observed(out, s.since);
  out += '}';
}

// Output is handed to the stream in pieces of about this size, so a large answer is never held
// (and copied) whole.
constexpr std::size_t k_output_chunk = 64 * 1024;

// Writes `out` and empties it; with `when_full`, only once it holds a chunk.
void flush(std::ostream& os, std::string& out, bool when_full = false)
{
  if (when_full && out.size() < k_output_chunk) {
    return;
  }
  os.write(out.data(), static_cast<std::streamsize>(out.size()));
  out.clear();
}

// A JSON array (json) or one object per line (jsonl) of `count` items; item(out, i) appends the
// i-th.
template <typename Item>
void write_json_list(std::ostream& os, const std::string& format, std::size_t count, const Item& item)
{
  const bool lines = format == "jsonl";
  std::string out;
  out.reserve(k_output_chunk + 4096);
  out += lines ? "" : "[";
  for (std::size_t i = 0; i < count; ++i) {
    if (!lines && i > 0) {
      out += ',';
    }
    item(out, i);
    if (lines) {
      out += '\n';
    }
    flush(os, out, true);
  }
  out += lines ? "" : "]\n";
  flush(os, out);
}

// --- tables ----------------------------------------------------------------------------------

std::string csv_cell(std::string_view s)
{
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) {
    return std::string(s);
  }
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  return out + "\"";
}

std::string md_cell(std::string_view s)
{
  std::string out;
  for (const char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// One row of CSV or Markdown (neither aligns columns, so rows can be written as they come).
void append_grid_row(std::string& out, const std::string& format, const std::vector<std::string>& cells)
{
  if (format == "csv") {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += i ? "," : "";
      out += csv_cell(cells[i]);
    }
  } else {
    out += '|';
    for (const auto& c : cells) {
      out += ' ';
      out += md_cell(c);
      out += " |";
    }
  }
  out += '\n';
}

// The header of CSV or Markdown.
void append_grid_header(std::string& out, const std::string& format, const std::vector<std::string>& header)
{
  append_grid_row(out, format, header);
  if (format == "markdown") {
    out += '|';
    for (std::size_t i = 0; i < header.size(); ++i) {
      out += " --- |";
    }
    out += '\n';
  }
}

// Prints rows as an aligned table, CSV or Markdown.
void write_grid(std::ostream& os, const std::string& format, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows)
{
  if (format == "csv" || format == "markdown") {
    std::string out;
    append_grid_header(out, format, header);
    for (const auto& r : rows) {
      append_grid_row(out, format, r);
    }
    os << out;
    return;
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) {
    width[i] = util::utf8_length(header[i]);
  }
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max<std::size_t>(width[i], util::utf8_length(r[i]));
    }
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) {
        out += std::string(width[i] - util::utf8_length(cells[i]) + 2, ' ');
      }
    }
    os << util::sanitize_utf8(out) << '\n';
  };
  line(header);
  for (const auto& r : rows) {
    line(r);
  }
}

void drop_column(std::vector<std::string>& header, std::vector<std::vector<std::string>>& rows, std::size_t column)
{
  header.erase(header.begin() + static_cast<std::ptrdiff_t>(column));
  for (auto& r : rows) {
    r.erase(r.begin() + static_cast<std::ptrdiff_t>(column));
  }
}

std::string shown_ref(const std::string& written)
{
  return written.empty() ? "-" : written;
}

std::string unpinned_mark(const std::string& written, const std::string& input)
{
  return !written.empty() && !pinned(written, input) ? " (unpinned)" : "";
}

template <typename Rows>
bool one_repo(const Rows& rows)
{
  return std::all_of(rows.begin(), rows.end(), [&](const auto& r) { return r.repo == rows.front().repo; });
}

// The timeline table, streamed from the ledger: one line per commit (time, short id, author,
// summary, and "[repo]" when the window spans several repositories), then one line per location.
void write_timeline_table(std::ostream& os, const ledger::Ledger& led, const ledger::Filter& f, bool local,
                          RefWriter& refs)
{
  std::string out;
  // Where each commit line ends, and its repository: the "[repo]" tags go there when the window
  // turns out to span more than one.
  std::vector<std::pair<std::size_t, std::string>> tags;
  bool several = false;
  std::string current_repo;
  std::string current_commit;
  led.each_event(f, [&](const ledger::EventRow& row) {
    const auto& e = row.event;
    if (tags.empty() || row.repo != current_repo || row.commit != current_commit) {
      several = several || (!tags.empty() && row.repo != tags.front().second);
      current_repo = row.repo;
      current_commit = row.commit;
      out += format_time(row.time, local);
      out += "  ";
      out.append(row.commit, 0, 12);
      out += "  ";
      out += util::sanitize_utf8(row.author);
      out += "  ";
      out += util::sanitize_utf8(row.summary);
      tags.emplace_back(out.size(), row.repo);
      out += '\n';
    }
    if (e.change == history::k_history_rewritten) {
      out += "    history rewritten: " + e.from_ref.substr(0, 12) + " is no longer on " + row.branch + "\n";
      return;
    }
    std::string what;
    if (e.change == history::k_added) {
      what = "+ " + e.to_ref + unpinned_mark(e.to_ref, e.to_input);
    } else if (e.change == history::k_removed) {
      what = "- " + e.from_ref;
    } else if (e.change == history::k_moved) {
      what = "moved from " + e.from_path + ": "
             + (e.from_ref == e.to_ref ? std::string{} : shown_ref(e.from_ref) + " -> ") + e.to_ref
             + unpinned_mark(e.to_ref, e.to_input);
    } else {
      what = e.from_ref + " -> " + e.to_ref + unpinned_mark(e.to_ref, e.to_input);
    }
    if (refs.observing() && !e.to_ref.empty()) {
      what += "  (" + refs.observed_text(e.to_ref, e.to_input, row.time) + ")";
    }
    out += "    ";
    out += e.env.empty() ? "-" : e.env;
    out += "  ";
    out += e.path;
    out += "  ";
    out += e.location;
    out += "  ";
    out += util::sanitize_utf8(what);
    out += '\n';
  });
  if (tags.empty()) {
    os << "no changes in this window\n";
    return;
  }
  if (!several) {
    os << out;
    return;
  }
  std::size_t from = 0;
  for (const auto& [at, repo] : tags) {
    os.write(out.data() + from, static_cast<std::streamsize>(at - from));
    os << "  [" << repo << "]";
    from = at;
  }
  os.write(out.data() + from, static_cast<std::streamsize>(out.size() - from));
}

std::vector<std::string> event_cells(const ledger::EventRow& row, bool local)
{
  const auto& e = row.event;
  return {format_time(row.time, local), row.repo, row.commit.substr(0, 12), row.author, e.env, e.path, e.location,
          e.change, e.from_ref, e.to_ref, pinned(e.to_ref, e.to_input) ? "yes" : "no", row.summary};
}

const std::vector<std::string> k_event_header{"time", "repo", "commit", "author", "env", "path", "location",
                                              "change", "from", "to", "pinned", "summary"};
const std::vector<std::string> k_state_header{"repo", "env", "path", "location", "ref", "since", "commit"};

std::vector<std::string> state_cells(const ledger::StateRow& s, bool local)
{
  return {s.repo, s.env.empty() ? "-" : s.env, s.path, s.location, s.ref + unpinned_mark(s.ref, s.input),
          format_time(s.since, local), s.commit.substr(0, 12)};
}

ledger::Filter make_filter(const QueryOptions& o, const std::string& repo_name)
{
  ledger::Filter f;
  f.env = o.env;
  f.repo = repo_name;
  f.image = o.image;
  f.path = o.path;
  f.workload = o.workload;
  return f;
}

// A point for `at` and `diff`: a time, else a git revision of a scanned repository.
struct Point {
  std::optional<std::int64_t> time;
  ledger::Repo repo;
  std::int64_t seq = 0;
  std::string label;
};

Point resolve_point(const ledger::Ledger& led, const std::string& text, const std::string& repo_name)
{
  Point p;
  p.label = text;
  const auto now = util::now_seconds();
  if (auto t = util::try_parse_time(text, now)) {
    p.time = *t;
    return p;
  }
  for (const auto& r : led.repos()) {
    if (!repo_name.empty() && r.name != repo_name) {
      continue;
    }
    std::optional<std::string> id;
    try {
      id = git::Repository::open(r.path).resolve_commit(text);
    } catch (const util::InputError&) {
      continue;
    }
    if (!id) {
      continue;
    }
    const auto seq = led.seq_of_commit(r, *id);
    if (!seq) {
      throw util::InputError("revision " + text + " (" + id->substr(0, 12) + ") is not a scanned commit of the branch "
                             + r.branch + " of " + r.name);
    }
    p.repo = r;
    p.seq = *seq;
    return p;
  }
  // Let parse_time explain the accepted forms.
  try {
    (void)util::parse_time(text, now);
  } catch (const util::InputError& e) {
    throw util::InputError(std::string(e.what()) + "; nor is it a revision of a scanned repository");
  }
  throw util::InputError("cannot read " + util::quote(text) + " as a time or a revision");
}

std::vector<ledger::StateRow> state_of(const ledger::Ledger& led, const Point& p, const ledger::Filter& f)
{
  if (p.time) {
    return led.state_at(*p.time, f);
  }
  return led.state_at_commit(p.repo, p.seq, f);
}

} // namespace

void print_grid(std::ostream& os, const std::string& format, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows)
{
  write_grid(os, format, header, rows);
}

std::string ledger_path(const Globals& globals)
{
  return globals.ledger.empty() ? ledger::default_path() : globals.ledger;
}

// --repo on a query: a directory that is a git repository is scanned first and filtered by its
// ledger name; anything else is a ledger name.
std::string prepare_repo(const Globals& globals, const std::string& repo)
{
  std::error_code ec;
  if (repo.empty() || !fs::is_directory(repo, ec)) {
    return repo;
  }
  auto led = ledger::Ledger::open(ledger_path(globals), ledger::Ledger::Mode::write);
  const auto summary = run_scan_into(globals, led, repo, "", "", true);
  return summary.name;
}

CLI::App* register_scan(CLI::App& app, ScanOptions& options)
{
  auto* sub = app.add_subcommand("scan", "Record the image history of a deployment repository into the ledger");
  sub->add_option("--repo", options.repo, "Repository directory (default: the one containing the current directory)");
  sub->add_option("--branch", options.branch, "Branch to follow (default: the checked-out branch; origin/main allowed)");
  sub->add_option("--name", options.name, "Name in the ledger (default: the origin URL, else the path)");
  return sub;
}

CLI::App* register_timeline(CLI::App& app, QueryOptions& options)
{
  auto* sub = app.add_subcommand("timeline", "Image changes in a time window, grouped by commit");
  sub->add_option("--since", options.since, "Start: RFC 3339, YYYY-MM-DD[ HH:MM[:SS]], 3h, 2d, 1w (default: 24h)");
  sub->add_option("--until", options.until, "End (default: now)");
  add_filters(*sub, options);
  return sub;
}

CLI::App* register_at(CLI::App& app, QueryOptions& options)
{
  auto* sub = app.add_subcommand("at", "What was deployed at a time: one row per location");
  sub->add_option("TIME", options.times, "A time or a revision of the scanned branch")->required()->expected(1);
  add_filters(*sub, options);
  return sub;
}

CLI::App* register_diff(CLI::App& app, QueryOptions& options)
{
  auto* sub = app.add_subcommand("diff", "What changed between two times or revisions, per location");
  sub->add_option("FROM TO", options.times, "Two times or revisions")->required()->expected(2);
  add_filters(*sub, options);
  return sub;
}

CLI::App* register_ledger(CLI::App& app, LedgerOptions& options)
{
  auto* sub = app.add_subcommand("ledger", "The ledger: stats, dump (every event, JSON lines), rebuild (rescan every repository)");
  sub->add_option("ACTION", options.action, "stats | dump | rebuild")
    ->required()
    ->check(CLI::IsMember({"stats", "dump", "rebuild"}));
  sub->add_option("--format", options.format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  return sub;
}

int run_scan(const Globals& globals, const ScanOptions& options)
{
  const auto start = std::chrono::steady_clock::now();
  auto led = ledger::Ledger::open(ledger_path(globals), ledger::Ledger::Mode::write);
  const auto s = run_scan_into(globals, led, options.repo, options.branch, options.name, true);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (s.empty) {
    warn(globals, options.repo + ": the repository has no commits yet; nothing to scan");
  }
  if (!globals.quiet) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f s", elapsed);
    std::cerr << "scanned " << s.name << " " << s.branch << ": " << s.commits << " commits, " << s.events << " events"
              << (s.files_skipped > 0 ? ", " + std::to_string(s.files_skipped) + " files skipped (blobs missing)" : "")
              << (s.files_unparsable > 0
                    ? ", " + std::to_string(s.files_unparsable) + " file versions unparsable (-v lists them)"
                    : "")
              << (s.boundary ? ", shallow boundary" : "") << (s.rewritten ? ", history rewritten" : "")
              << (s.observations_imported > 0
                    ? ", " + std::to_string(s.observations_imported) + " registry observations read from git notes"
                    : "")
              << " in " << secs
              << "\n";
  }
  return util::k_exit_clean;
}

int run_timeline(const Globals& globals, const QueryOptions& options)
{
  const std::string repo_name = prepare_repo(globals, options.repo);
  const auto led = ledger::Ledger::open(ledger_path(globals), ledger::Ledger::Mode::read);
  const auto now = util::now_seconds();
  ledger::Filter f = make_filter(options, repo_name);
  f.since = util::parse_time(options.since.empty() ? "24h" : options.since, now);
  f.until = options.until.empty() ? now : util::parse_time(options.until, now);
  if (*f.since > *f.until) {
    throw util::InputError("--since is after --until");
  }
  if (options.format == "json" || options.format == "jsonl") {
    // Streamed: each event is written as it is read.
    const bool lines = options.format == "jsonl";
    RefWriter refs;
    refs.observe(led);
    std::string out = lines ? "" : "[";
    bool first = true;
    led.each_event(f, [&](const ledger::EventRow& row) {
      if (!lines && !first) {
        out += ',';
      }
      first = false;
      event_json(out, refs, row);
      if (lines) {
        out += '\n';
      }
      flush(std::cout, out, true);
    });
    out += lines ? "" : "]\n";
    flush(std::cout, out);
    std::cout.flush();
    return util::k_exit_clean;
  }
  // With registry observations in the ledger, each reference gets the digest observed after
  // it was deployed (and the image's source revision); without, the output is as before.
  RefWriter refs;
  refs.observe(led);
  if (options.format == "table") {
    write_timeline_table(std::cout, led, f, options.local, refs);
  } else {
    // CSV and Markdown, streamed like JSON.
    std::string out;
    auto header = k_event_header;
    if (refs.observing()) {
      header.emplace_back("observed");
    }
    append_grid_header(out, options.format, header);
    led.each_event(f, [&](const ledger::EventRow& row) {
      auto cells = event_cells(row, options.local);
      if (refs.observing()) {
        cells.push_back(refs.observed_text(row.event.to_ref, row.event.to_input, row.time));
      }
      append_grid_row(out, options.format, cells);
      flush(std::cout, out, true);
    });
    flush(std::cout, out);
  }
  std::cout.flush();
  return util::k_exit_clean;
}

int run_at(const Globals& globals, const QueryOptions& options)
{
  const std::string repo_name = prepare_repo(globals, options.repo);
  const auto led = ledger::Ledger::open(ledger_path(globals), ledger::Ledger::Mode::read);
  const Point p = resolve_point(led, options.times.at(0), repo_name);
  const auto rows = state_of(led, p, make_filter(options, repo_name));
  if (options.format == "json" || options.format == "jsonl") {
    RefWriter refs;
    refs.observe(led);
    write_json_list(std::cout, options.format, rows.size(),
                    [&](std::string& out, std::size_t i) { state_json(out, refs, rows[i]); });
  } else {
    RefWriter refs;
    refs.observe(led);
    std::vector<std::vector<std::string>> cells;
    for (const auto& r : rows) {
      cells.push_back(state_cells(r, options.local));
      if (refs.observing()) {
        cells.back().push_back(refs.observed_text(r.ref, r.input, r.since));
      }
    }
    auto header = k_state_header;
    if (refs.observing()) {
      header.emplace_back("observed");
    }
    if (options.format == "table" && one_repo(rows)) {
      drop_column(header, cells, 0); // one repository: its name on every line says nothing
    }
    write_grid(std::cout, options.format, header, cells);
  }
  std::cout.flush();
  return util::k_exit_clean;
}

int run_diff(const Globals& globals, const QueryOptions& options)
{
  const std::string repo_name = prepare_repo(globals, options.repo);
  const auto led = ledger::Ledger::open(ledger_path(globals), ledger::Ledger::Mode::read);
  const auto f = make_filter(options, repo_name);
  const Point from = resolve_point(led, options.times.at(0), repo_name);
  const Point to = resolve_point(led, options.times.at(1), repo_name);
  const auto cut = [](const Point& p) {
    ledger::Ledger::Cut c;
    c.time = p.time;
    c.repo_id = p.repo.id;
    c.seq = p.seq;
    return c;
  };
  const auto pairs = led.state_changes(cut(from), cut(to), f);
  struct Change {
    std::string change;
    const ledger::StateRow* from;
    const ledger::StateRow* to;
  };
  std::vector<Change> changes;
  for (const auto& [a, b] : pairs) {
    changes.push_back({!a ? "added" : !b ? "removed" : "changed", a ? &*a : nullptr, b ? &*b : nullptr});
  }
  // In path order (repository, environment, path, location): the pairing of moves below
  // depends on it.
  const auto order = [](const Change& x, const Change& y) {
    const auto* p = x.to != nullptr ? x.to : x.from;
    const auto* q = y.to != nullptr ? y.to : y.from;
    return std::tie(p->repo, p->env, p->path, p->location) < std::tie(q->repo, q->env, q->path, q->location);
  };
  std::sort(changes.begin(), changes.end(), order);
  // Removed ones are paired in path order, first come first paired.
  std::map<std::pair<std::string_view, std::string_view>, std::vector<std::size_t>> removed_at;
  for (std::size_t i = changes.size(); i-- > 0;) {
    if (changes[i].change == "removed") {
      removed_at[{changes[i].from->repo, changes[i].from->location}].push_back(i);
    }
  }
  for (auto& added : changes) {
    if (added.change != "added") {
      continue;
    }
    const auto it = removed_at.find({added.to->repo, added.to->location});
    if (it == removed_at.end() || it->second.empty()) {
      continue;
    }
    auto& removed = changes[it->second.back()];
    it->second.pop_back();
    added.change = "moved";
    added.from = removed.from;
    removed.change.clear();
  }
  std::erase_if(changes, [](const Change& c) { return c.change.empty(); });
  std::sort(changes.begin(), changes.end(), order); // a moved location sorts at its new path
  if (options.format == "json" || options.format == "jsonl") {
    RefWriter refs;
    refs.observe(led);
    write_json_list(std::cout, options.format, changes.size(), [&](std::string& out, std::size_t i) {
      out += "{\"change\":";
      util::append_json_string(out, changes[i].change);
      out += ",\"from\":";
      if (changes[i].from != nullptr) {
        state_json(out, refs, *changes[i].from);
      } else {
        out += "null";
      }
      out += ",\"to\":";
      if (changes[i].to != nullptr) {
        state_json(out, refs, *changes[i].to);
      } else {
        out += "null";
      }
      out += '}';
    });
  } else {
    RefWriter refs;
    refs.observe(led);
    const auto observed = [&refs](const ledger::StateRow* r) {
      return r == nullptr ? std::string("-") : refs.observed_text(r->ref, r->input, r->since);
    };
    std::vector<std::vector<std::string>> cells;
    for (const auto& c : changes) {
      const auto* s = c.to != nullptr ? c.to : c.from;
      cells.push_back({c.change, s->repo, s->env.empty() ? "-" : s->env,
                       c.change == "moved" ? c.from->path + " -> " + c.to->path : s->path, s->location,
                       c.from != nullptr ? c.from->ref : "-",
                       c.to != nullptr ? c.to->ref + unpinned_mark(c.to->ref, c.to->input) : "-"});
      if (refs.observing()) {
        cells.back().push_back(observed(c.from));
        cells.back().push_back(observed(c.to));
      }
    }
    if (options.format == "table" && cells.empty()) {
      std::cout << "no differences\n";
    } else {
      std::vector<std::string> header{"change", "repo", "env", "path", "location", "from", "to"};
      if (refs.observing()) {
        header.emplace_back("from observed");
        header.emplace_back("to observed");
      }
      const bool single_repo = std::all_of(cells.begin(), cells.end(), [&](const auto& row) { return row[1] == cells.front()[1]; });
      if (options.format == "table" && single_repo) {
        drop_column(header, cells, 1);
      }
      write_grid(std::cout, options.format, header, cells);
    }
  }
  std::cout.flush();
  return util::k_exit_clean;
}

namespace {

// Rescans every recorded repository from scratch into a new file beside the ledger, then
// renames it over the old one: a reader sees the old ledger or the new one, never a mix.
int rebuild_ledger(const Globals& globals)
{
  const std::string path = ledger_path(globals);
  std::vector<ledger::Repo> repos;
  {
    auto old = ledger::Ledger::open(path, ledger::Ledger::Mode::write);
    repos = old.repos();
    old.checkpoint_and_close_wal();
  }
  const std::string fresh = path + ".rebuild-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(fresh, ec);
  try {
    auto led = ledger::Ledger::open(fresh, ledger::Ledger::Mode::write);
    for (const auto& r : repos) {
      const auto s = run_scan_into(globals, led, r.path, r.branch, r.name, true);
      if (!globals.quiet) {
        std::cerr << "rebuilt " << s.name << " " << s.branch << ": " << s.commits << " commits, " << s.events
                  << " events\n";
      }
    }
    // What registries said cannot be rebuilt from git: it is carried over.
    led.copy_observations_from(path);
    led.checkpoint_and_close_wal();
  } catch (...) {
    fs::remove(fresh, ec);
    fs::remove(fresh + "-wal", ec);
    fs::remove(fresh + "-shm", ec);
    throw;
  }
  fs::rename(fresh, path, ec);
  if (ec) {
    throw util::Fatal("ledger " + path + ": cannot replace it with the rebuilt " + fresh + ": " + ec.message());
  }
  fs::remove(path + "-wal", ec);
  fs::remove(path + "-shm", ec);
  return util::k_exit_clean;
}

} // namespace

int run_ledger(const Globals& globals, const LedgerOptions& options)
{
  if (options.action == "rebuild") {
    return rebuild_ledger(globals);
  }
  const auto led = ledger::Ledger::open(ledger_path(globals), ledger::Ledger::Mode::read);
  if (options.action == "dump") {
    // Streamed: a ledger of a million events is dumped in constant memory.
    RefWriter refs;
    std::string out;
    led.each_dumped([&](const ledger::EventRow& row) {
      event_json(out, refs, row);
      out += '\n';
      flush(std::cout, out, true);
    });
    flush(std::cout, out);
    std::cout.flush();
    return util::k_exit_clean;
  }
  const auto st = led.stats();
  if (options.format == "json") {
    std::string out = "{\"ledger\":";
    util::append_json_string(out, led.path());
    out += ",\"schema\":" + std::to_string(ledger::k_schema_version) + ",\"repos\":" + std::to_string(st.repos)
           + ",\"commits\":" + std::to_string(st.commits) + ",\"events\":" + std::to_string(st.events)
           + ",\"bytes\":" + std::to_string(st.bytes) + ",\"repositories\":[";
    for (std::size_t i = 0; i < st.repositories.size(); ++i) {
      const auto& r = st.repositories[i];
      out += i ? "," : "";
      out += "{";
      field(out, "name", r.name, true);
      field(out, "path", r.path);
      field(out, "branch", r.branch);
      field(out, "last_commit", r.last_commit);
      field(out, "last_scan", r.last_scan != 0 ? util::format_rfc3339_utc(r.last_scan) : "");
      out += "}";
    }
    out += "]}\n";
    std::cout << out;
    return util::k_exit_clean;
  }
  std::cout << "ledger   " << led.path() << " (schema " << ledger::k_schema_version << ", " << (st.bytes >> 10)
            << " KiB)\nrepos    " << st.repos << "\ncommits  " << st.commits << "\nevents   " << st.events << "\n";
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : st.repositories) {
    cells.push_back({r.name, r.branch, r.last_commit.substr(0, 12),
                     r.last_scan != 0 ? util::format_table_utc(r.last_scan) : "-"});
  }
  if (!cells.empty()) {
    std::cout << '\n';
    write_grid(std::cout, "table", {"repo", "branch", "last commit", "last scan"}, cells);
  }
  return util::k_exit_clean;
}

} // namespace changetrail::cli
