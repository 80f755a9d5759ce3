// `changetrail pin`: unpinned references rewritten to tag@digest in place, every other byte
// kept (include/changetrail/pin/pin.hpp has the decisions), the unified diff of the result and
// the atomic write.
#include <changetrail/pin/pin.hpp>
#include <changetrail/util/error.hpp>
#include <changetrail/util/strings.hpp>
#include <changetrail/yaml/yaml.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <utility>

namespace changetrail::pin {

namespace {

constexpr std::string_view k_bom = "\xEF\xBB\xBF";
constexpr auto k_npos = std::string_view::npos;

std::string at_text(std::uint32_t line, std::uint32_t column)
{
  return std::to_string(line) + ":" + std::to_string(column);
}

// --- positions -----------------------------------------------------------------------------

// Byte offsets of a text's lines, and the extractors' line/column (1-based, columns in code
// points) turned back into a byte offset.
class Lines {
public:
  explicit Lines(std::string_view text) : m_text(text)
  {
    m_starts.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') {
        m_starts.push_back(i + 1);
      }
    }
  }

  // A continuation byte belongs to the character before it, except at the start of a line
  // (the Dockerfile reader counts a stray one there as a character); a UTF-8 BOM is not
  // counted, as neither the YAML nor the Dockerfile reader counts it. npos when the line is
  // shorter.
  [[nodiscard]] std::size_t offset(std::uint32_t line, std::uint32_t column) const
  {
    if (line == 0 || column == 0 || line > m_starts.size()) {
      return k_npos;
    }
    std::size_t i = m_starts[line - 1];
    if (line == 1 && m_text.starts_with(k_bom)) {
      i = k_bom.size();
    }
    for (std::uint32_t c = 1; c < column; ++c) {
      if (i >= m_text.size() || m_text[i] == '\n') {
        return k_npos;
      }
      ++i;
      while (i < m_text.size() && (static_cast<unsigned char>(m_text[i]) & 0xC0) == 0x80) {
        ++i;
      }
    }
    return i;
  }

  [[nodiscard]] std::size_t line_start(std::size_t offset) const
  {
    const auto it = std::upper_bound(m_starts.begin(), m_starts.end(), offset);
    return *(it - 1);
  }

  // The line ending the file uses: that of its first line ("\n" when it has a single line).
  [[nodiscard]] std::string_view file_ending() const
  {
    const auto eol = m_text.find('\n');
    return eol != k_npos && eol > 0 && m_text[eol - 1] == '\r' ? "\r\n" : "\n";
  }

private:
  std::string_view m_text;
  std::vector<std::size_t> m_starts;
};

// --- what is wanted --------------------------------------------------------------------------

std::string templated_reason(const extract::Finding& f)
{
  std::vector<std::string> names = f.image.variables;
  if (!f.image.unresolved) {
    reference::find_template_variables(f.ref, &names);
  }
  std::string shown;
  for (const auto& n : names) {
    shown += shown.empty() ? "" : ", ";
    // Go templates (`{{ .Values.tag }}`) give their expression, shell-style variables a name.
    shown += n.empty() || n.front() == '.' || n.find(' ') != std::string::npos ? "{{ " + n + " }}" : "${" + n + "}";
  }
  return "templated (" + shown + ")";
}

// --- edits -----------------------------------------------------------------------------------

// One replacement in the file's bytes for one finding.
struct Edit {
  std::size_t offset = 0;
  std::size_t erase = 0;
  std::string insert;
  std::size_t finding = 0; // index into the caller's findings
  std::string digest;
};

// A finding pin has a digest for; `edit` or `reason` is filled by the planner.
struct Target {
  std::size_t finding = 0;
  std::string digest;
  std::size_t offset = k_npos; // of the finding's line and column
  bool done = false;
  std::optional<Edit> edit;
  std::string reason;
};

void set_edit(Target& t, std::size_t offset, std::size_t erase, std::string insert)
{
  t.done = true;
  t.edit = Edit{offset, erase, std::move(insert), t.finding, t.digest};
}

void set_reason(Target& t, std::string reason)
{
  t.done = true;
  t.reason = std::move(reason);
}

std::string mismatch_reason(const extract::Finding& f)
{
  return "the text at " + at_text(f.line, f.column) + " is not " + util::quote(f.ref) + " as read; not rewritten";
}

std::string apply_edits(std::string_view text, const std::vector<Edit>& edits)
{
  std::string out;
  out.reserve(text.size() + edits.size() * 80);
  std::size_t pos = 0;
  for (const auto& e : edits) {
    out.append(text.substr(pos, e.offset - pos));
    out += e.insert;
    pos = e.offset + e.erase;
  }
  out.append(text.substr(pos));
  return out;
}

// --- Dockerfile --------------------------------------------------------------------------------

// The image is one whitespace-delimited token of FROM (or the value of COPY --from=); the
// digest goes right after it.
void plan_dockerfile(std::string_view text, const std::vector<extract::Finding>& findings, std::vector<Target>& targets)
{
  for (auto& t : targets) {
    const auto& f = findings[t.finding];
    const auto end = t.offset == k_npos ? k_npos : t.offset + f.ref.size();
    const bool ok = end != k_npos && text.substr(t.offset, f.ref.size()) == f.ref &&
                    (t.offset == 0 || std::string_view(" \t=").find(text[t.offset - 1]) != k_npos) &&
                    (end == text.size() || std::string_view(" \t\r\n").find(text[end]) != k_npos);
    if (ok) {
      set_edit(t, end, 0, "@" + t.digest);
    } else {
      set_reason(t, mismatch_reason(f));
    }
  }
}

// --- YAML --------------------------------------------------------------------------------------

// Where a scalar's text stands in the file: [begin, end) is the text, `after` is past a
// closing quote.
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t after = 0;
};

// The span of a plain or quoted scalar whose bytes are its parsed text verbatim; nullopt for
// escape sequences, folded lines, block scalars and empty plain scalars (which have no mark).
std::optional<Span> verbatim(std::string_view text, const yaml::Node& n)
{
  const std::size_t b = n.mark.offset;
  const std::size_t e = b + n.text.size();
  if (n.kind != yaml::Kind::scalar || n.mark.line == 0 || e > text.size() || text.substr(b, n.text.size()) != n.text) {
    return std::nullopt;
  }
  if (n.style == yaml::Style::plain) {
    return n.text.empty() ? std::nullopt : std::optional<Span>(Span{b, e, e});
  }
  if (n.style == yaml::Style::single_quoted || n.style == yaml::Style::double_quoted) {
    const char q = n.style == yaml::Style::single_quoted ? '\'' : '"';
    if (b == 0 || text[b - 1] != q || e >= text.size() || text[e] != q) {
      return std::nullopt;
    }
    return Span{b, e, e + 1};
  }
  return std::nullopt;
}

bool is_null_text(std::string_view s)
{
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// `s` quoted as `like` is: the new digest key and value follow their siblings' quoting.
std::string styled(std::string_view s, yaml::Style like)
{
  if (like == yaml::Style::single_quoted) {
    return "'" + std::string(s) + "'";
  }
  if (like == yaml::Style::double_quoted) {
    return "\"" + std::string(s) + "\"";
  }
  return std::string(s);
}

class YamlPlanner {
public:
  YamlPlanner(std::string_view text, const Lines& lines, const std::vector<extract::Finding>& findings,
              std::vector<Target>& targets)
      : m_text(text), m_lines(lines), m_findings(findings), m_targets(targets)
  {
  }

  void run()
  {
    // The file parsed when it was extracted (files with a syntax error are refused earlier);
    // an error here leaves the rest of the targets to the "no node" reason below.
    (void)yaml::parse_stream(m_text, [this](const yaml::Document& doc) { document(doc); });
    for (auto& t : m_targets) {
      if (!t.done) {
        const auto& f = m_findings[t.finding];
        set_reason(t, "no YAML value starts at " + at_text(f.line, f.column) +
                          " (inside an embedded YAML string?); not rewritten");
      }
    }
  }

private:
  struct Pair {
    std::uint32_t key = yaml::k_none;
    std::uint32_t value = yaml::k_none;
  };
  // The keys of one mapping that a split form or kustomize entry reads; `merge` when it has
  // a `<<` merge key (what the extractor read may come from elsewhere).
  struct Keys {
    std::vector<std::pair<std::string_view, Pair>> found;
    bool merge = false;
    bool alias = false;
    [[nodiscard]] Pair get(std::string_view name) const
    {
      for (const auto& [k, p] : found) {
        if (k == name) {
          return p;
        }
      }
      return {};
    }
  };

  static std::uint64_t position(std::uint32_t line, std::uint32_t column)
  {
    return (std::uint64_t{line} << 32) | column;
  }

  void document(const yaml::Document& doc)
  {
    m_doc = &doc;
    const auto n = static_cast<std::uint32_t>(doc.size());
    m_key_of.assign(n, yaml::k_none);
    m_parent.assign(n, yaml::k_none);
    m_is_key.assign(n, false);
    m_at.clear();
    std::uint32_t first_line = 0xFFFFFFFFu;
    std::uint32_t last_line = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto& node = doc.node(i);
      if (node.kind == yaml::Kind::mapping) {
        for (std::uint32_t c = 0; c + 1 < node.count; c += 2) {
          const auto key = doc.child(node.first + c);
          const auto value = doc.child(node.first + c + 1);
          m_is_key[key] = true;
          m_key_of[value] = key;
          m_parent[value] = i;
        }
      } else if (node.kind == yaml::Kind::sequence) {
        for (std::uint32_t c = 0; c < node.count; ++c) {
          m_parent[doc.child(node.first + c)] = i;
        }
      }
      if (node.mark.line > 0) {
        m_at.emplace(position(node.mark.line, node.mark.column), i);
        first_line = std::min(first_line, node.mark.line);
        last_line = std::max(last_line, node.mark.line);
      }
    }
    for (auto& t : m_targets) {
      const auto line = m_findings[t.finding].line;
      if (!t.done && line >= first_line && line <= last_line) {
        plan(t);
      }
    }
  }

  [[nodiscard]] const yaml::Node& node(std::uint32_t i) const { return m_doc->node(i); }

  void plan(Target& t)
  {
    const auto& f = m_findings[t.finding];
    std::uint32_t mapping = yaml::k_none;
    std::uint32_t value = yaml::k_none;
    const auto [first, last] = m_at.equal_range(position(f.line, f.column));
    for (auto it = first; it != last; ++it) {
      const auto& n = node(it->second);
      if (n.kind == yaml::Kind::mapping) {
        mapping = it->second;
      } else if ((n.kind == yaml::Kind::scalar || n.kind == yaml::Kind::alias) && !m_is_key[it->second]) {
        value = it->second;
      }
    }
    if (f.format == "kustomize") {
      if (mapping != yaml::k_none) {
        kustomize(t, mapping);
      }
      return;
    }
    if (value == yaml::k_none) {
      contained(t);
      return;
    }
    const auto& v = node(value);
    if (v.kind == yaml::Kind::alias) {
      set_reason(t, "reached through the YAML alias *" + std::string(v.text) +
                        "; the anchored value is pinned where it is written");
    } else if (v.text != f.ref && m_key_of[value] != yaml::k_none && node(m_key_of[value]).text == "repository") {
      split(t, m_parent[value], value);
    } else if (v.text != f.ref && f.format == "argocd" && f.location.find(".helm.parameters") != std::string::npos) {
      set_reason(t, "split across Argo CD helm parameters; not rewritten");
    } else {
      scalar(t, v, 0);
    }
  }

  // A reference that ends a scalar without starting it: Argo CD `kustomize.images: [old=new:tag]`.
  void contained(Target& t)
  {
    const auto& f = m_findings[t.finding];
    if (t.offset == k_npos) {
      return;
    }
    for (std::uint32_t i = 0; i < m_doc->size(); ++i) {
      const auto& n = node(i);
      if (n.kind == yaml::Kind::scalar && !m_is_key[i] && n.mark.line == f.line && n.mark.offset < t.offset &&
          n.mark.offset + n.text.size() == t.offset + f.ref.size()) {
        scalar(t, n, t.offset - n.mark.offset);
        return;
      }
    }
  }

  // `@digest` after the scalar's text (`prefix` bytes of it come before the reference).
  void scalar(Target& t, const yaml::Node& n, std::size_t prefix)
  {
    const auto& f = m_findings[t.finding];
    if (n.style == yaml::Style::literal || n.style == yaml::Style::folded) {
      // The extractor trims a block scalar; the reference is its one content line.
      if (prefix == 0 && t.offset == n.mark.offset && util::trim(n.text) == f.ref && n.text.starts_with(f.ref) &&
          m_text.substr(t.offset, f.ref.size()) == f.ref) {
        set_edit(t, t.offset + f.ref.size(), 0, "@" + t.digest);
      } else {
        set_reason(t, mismatch_reason(f));
      }
      return;
    }
    const auto span = verbatim(m_text, n);
    if (!span) {
      set_reason(t, "written with escape sequences or over several lines at " + at_text(f.line, f.column) +
                        "; not rewritten");
      return;
    }
    if (n.text.substr(prefix) != f.ref || t.offset != span->begin + prefix) {
      set_reason(t, mismatch_reason(f));
      return;
    }
    set_edit(t, span->end, 0, "@" + t.digest);
  }

  Keys keys(std::uint32_t mapping, std::initializer_list<std::string_view> names) const
  {
    Keys out;
    const auto& m = node(mapping);
    for (std::uint32_t c = 0; c + 1 < m.count; c += 2) {
      const auto k = m_doc->child(m.first + c);
      const auto v = m_doc->child(m.first + c + 1);
      const auto& key = node(k);
      if (key.kind != yaml::Kind::scalar || key.shadowed) {
        continue;
      }
      if (key.text == "<<" && key.style == yaml::Style::plain) {
        out.merge = true;
        continue;
      }
      if (std::find(names.begin(), names.end(), key.text) != names.end()) {
        out.found.emplace_back(key.text, Pair{k, v});
        out.alias = out.alias || node(v).kind != yaml::Kind::scalar;
      }
    }
    return out;
  }

  // The text the extractor read for a key: a null or missing value reads as empty.
  std::string_view text_of(const Keys& k, std::string_view name) const
  {
    const auto p = k.get(name);
    if (p.value == yaml::k_none) {
      return {};
    }
    const auto& v = node(p.value);
    return v.style == yaml::Style::plain && is_null_text(v.text) ? std::string_view{} : v.text;
  }

  // Checks that the keys read here give the finding's reference; sets the reason otherwise.
  bool same_reference(Target& t, const Keys& k, const std::string& joined)
  {
    const auto& f = m_findings[t.finding];
    if (k.alias) {
      set_reason(t, "a key of the mapping at " + at_text(f.line, f.column) +
                        " is a YAML alias or collection; not rewritten");
      return false;
    }
    if (joined != f.ref) {
      set_reason(t, "the mapping at " + at_text(f.line, f.column) + " does not read as " + util::quote(f.ref) +
                        (k.merge ? " without its merge key" : "") + "; not rewritten");
      return false;
    }
    return true;
  }

  // Checks that a split form or kustomize entry reads as the finding and starts where it does,
  // and fills its `digest:` key when it has one. True when that settled `t`.
  bool settled_by_digest_key(Target& t, const Keys& k, const std::string& joined, std::size_t start)
  {
    if (!same_reference(t, k, joined)) {
      return true;
    }
    if (start != t.offset) {
      set_reason(t, mismatch_reason(m_findings[t.finding]));
      return true;
    }
    if (const auto d = k.get("digest"); d.key != yaml::k_none) {
      fill_digest(t, d);
      return true;
    }
    return false;
  }

  // Helm's split form: the digest goes into an existing `digest:` key, else after the tag.
  void split(Target& t, std::uint32_t mapping, std::uint32_t repository)
  {
    const auto& f = m_findings[t.finding];
    const Keys k = keys(mapping, {"registry", "repository", "tag", "digest"});
    const std::string joined =
        reference::join(text_of(k, "registry"), text_of(k, "repository"), text_of(k, "tag"), text_of(k, "digest"));
    if (settled_by_digest_key(t, k, joined, node(repository).mark.offset)) {
      return;
    }
    const auto tag = k.get("tag");
    const auto span = tag.value == yaml::k_none ? std::nullopt : verbatim(m_text, node(tag.value));
    if (!span) {
      set_reason(t, "the tag of the mapping at " + at_text(f.line, f.column) +
                        " is written with escape sequences or over several lines; not rewritten");
      return;
    }
    set_edit(t, span->end, 0, "@" + t.digest);
  }

  // An existing, empty `digest:` key (``, `~`, `null`, `""`, `''`) gets the digest.
  void fill_digest(Target& t, Pair d)
  {
    const auto& f = m_findings[t.finding];
    const auto& v = node(d.value);
    if (v.style == yaml::Style::plain && !v.text.empty() && is_null_text(v.text)) {
      if (const auto span = verbatim(m_text, v)) {
        set_edit(t, span->begin, span->end - span->begin, t.digest);
        return;
      }
    } else if ((v.style == yaml::Style::single_quoted || v.style == yaml::Style::double_quoted) && v.text.empty()) {
      if (const auto span = verbatim(m_text, v)) {
        set_edit(t, span->begin, 0, t.digest);
        return;
      }
    } else if (v.style == yaml::Style::plain && v.text.empty()) {
      // An empty value has no position of its own: it follows the key's colon.
      if (const auto key = verbatim(m_text, node(d.key))) {
        std::size_t i = key->after;
        while (i < m_text.size() && (m_text[i] == ' ' || m_text[i] == '\t')) {
          ++i;
        }
        if (i < m_text.size() && m_text[i] == ':') {
          const std::size_t colon = i++;
          while (i < m_text.size() && (m_text[i] == ' ' || m_text[i] == '\t')) {
            ++i;
          }
          if (i == m_text.size() || std::string_view("\r\n#,}").find(m_text[i]) != k_npos) {
            set_edit(t, colon + 1, 0, " " + t.digest);
            return;
          }
        }
      }
    }
    set_reason(t,
               "the digest key of the mapping at " + at_text(f.line, f.column) + " could not be filled; not rewritten");
  }

  // kustomize images entry: a `digest:` key beside newTag, written as newTag is.
  void kustomize(Target& t, std::uint32_t mapping)
  {
    const auto& f = m_findings[t.finding];
    const Keys k = keys(mapping, {"name", "newName", "newTag", "digest"});
    const auto new_name = text_of(k, "newName");
    const std::string joined = reference::join("", new_name.empty() ? text_of(k, "name") : new_name,
                                               text_of(k, "newTag"), text_of(k, "digest"));
    if (settled_by_digest_key(t, k, joined, node(mapping).mark.offset)) {
      return;
    }
    const auto tag = k.get("newTag");
    if (tag.key == yaml::k_none) {
      set_reason(t, "the entry at " + at_text(f.line, f.column) + " has no newTag; not rewritten");
      return;
    }
    const auto& key_node = node(tag.key);
    const auto& value_node = node(tag.value);
    const auto key = verbatim(m_text, key_node);
    const auto value = verbatim(m_text, value_node);
    if (!key || !value) {
      set_reason(t, "the newTag of the entry at " + at_text(f.line, f.column) +
                        " is written with escape sequences or over several lines; not rewritten");
      return;
    }
    const std::size_t key_start = key->begin - (key_node.style == yaml::Style::plain ? 0 : 1);
    const std::size_t value_start = value->begin - (value_node.style == yaml::Style::plain ? 0 : 1);
    const auto separator = m_text.substr(key->after, value_start - key->after);
    if (separator.find_first_not_of(" \t:") != k_npos || separator.find(':') == k_npos) {
      set_reason(t, "the newTag of the entry at " + at_text(f.line, f.column) + " is not on one line; not rewritten");
      return;
    }
    const std::string entry =
        styled("digest", key_node.style) + std::string(separator) + styled(t.digest, value_node.style);
    if (node(mapping).style == yaml::Style::flow) {
      set_edit(t, value->after, 0, ", " + entry);
      return;
    }
    // Block style: a line of its own after newTag's, indented as newTag is (only spaces and
    // the entry's `- ` stand before it).
    const std::size_t line_start = m_lines.line_start(key_start);
    const auto before = m_text.substr(line_start, key_start - line_start);
    if (before.find_first_not_of(" -") != k_npos) {
      set_reason(t, "the newTag key of the entry at " + at_text(f.line, f.column) +
                        " is not in block style; not rewritten");
      return;
    }
    const std::string indent(before.size(), ' ');
    const auto eol = m_text.find('\n', value->after);
    if (eol == k_npos) {
      // The last line without a line ending: the file keeps ending without one.
      set_edit(t, m_text.size(), 0, std::string(m_lines.file_ending()) + indent + entry);
      return;
    }
    const std::string ending = eol > 0 && m_text[eol - 1] == '\r' ? "\r\n" : "\n";
    set_edit(t, eol + 1, 0, indent + entry + ending);
  }

  std::string_view m_text;
  const Lines& m_lines;
  const std::vector<extract::Finding>& m_findings;
  std::vector<Target>& m_targets;
  const yaml::Document* m_doc = nullptr;
  std::vector<std::uint32_t> m_key_of;
  std::vector<std::uint32_t> m_parent;
  std::vector<bool> m_is_key;
  std::unordered_multimap<std::uint64_t, std::uint32_t> m_at;
};

// --- self-check --------------------------------------------------------------------------------

extract::FileResult extract_text(const extract::FileInput& input, std::string_view text)
{
  extract::FileInput in;
  in.file = input.file;
  in.rel = input.rel;
  in.content = text;
  in.kind = input.kind;
  in.read_dotenv = input.read_dotenv;
  return extract::extract_file(in);
}

Skip skip(const extract::Finding& f, const std::string& reason)
{
  return {f.line, f.column, f.location, f.ref, reason.empty() ? "not rewritten" : reason};
}

// The extractors report by structure (containers before initContainers, whatever the file's
// order); changes and skips are listed by position.
PinResult in_file_order(PinResult r)
{
  const auto by_position = [](const auto& a, const auto& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  };
  std::stable_sort(r.changes.begin(), r.changes.end(), by_position);
  std::stable_sort(r.skipped.begin(), r.skipped.end(), by_position);
  return r;
}

std::vector<std::string> problem_messages(const extract::FileResult& r)
{
  std::vector<std::string> out;
  for (const auto& p : r.problems) {
    out.push_back(p.message);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What the rewritten text must read as: every location of the original, in the same order,
// with the same names and tags; the edited ones with their digest; any other one unchanged, or
// pinned to the digest of an edit of the same reference (an alias of a rewritten anchor).
class SelfCheck {
public:
  SelfCheck(const extract::FileInput& input, std::vector<std::size_t> baseline_index, extract::FileResult before)
      : m_input(input), m_index(std::move(baseline_index)), m_before(std::move(before))
  {
  }

  struct Verdict {
    std::string whole;               // why the file as a whole reads differently (empty: it does not)
    std::vector<std::size_t> failed; // indices of the edits that did not read back
  };

  Verdict verify(std::string_view original, const std::vector<Edit>& edits)
  {
    m_text = apply_edits(original, edits);
    m_after = extract_text(m_input, m_text);
    Verdict v;
    v.whole = compare_whole(edits);
    if (!v.whole.empty()) {
      return v;
    }
    for (std::size_t i = 0; i < edits.size(); ++i) {
      const auto& b = before(edits[i].finding);
      const auto& a = after(edits[i].finding);
      if (a.image.digest != edits[i].digest || a.image.name() != b.image.name() || a.image.tag != b.image.tag) {
        v.failed.push_back(i);
      }
    }
    return v;
  }

  [[nodiscard]] const std::string& text() const { return m_text; }
  // The finding `i` of the caller in the last rewritten text, or nullptr.
  [[nodiscard]] const extract::Finding* rewritten(std::size_t i) const
  {
    return m_index[i] == k_npos || m_after.findings.empty() ? nullptr : &m_after.findings[m_index[i]];
  }

private:
  [[nodiscard]] const extract::Finding& before(std::size_t i) const { return m_before.findings[m_index[i]]; }
  [[nodiscard]] const extract::Finding& after(std::size_t i) const { return m_after.findings[m_index[i]]; }

  std::string compare_whole(const std::vector<Edit>& edits) const
  {
    if (m_after.parse_failed != m_before.parse_failed || problem_messages(m_after) != problem_messages(m_before)) {
      return "the rewritten file reads with other problems";
    }
    if (m_after.findings.size() != m_before.findings.size()) {
      return "the rewritten file has " + std::to_string(m_after.findings.size()) + " references instead of " +
             std::to_string(m_before.findings.size());
    }
    for (std::size_t i = 0; i < m_before.findings.size(); ++i) {
      const auto& b = m_before.findings[i];
      const auto& a = m_after.findings[i];
      const bool same = a.location == b.location && a.image.valid == b.image.valid &&
                        a.image.name() == b.image.name() && a.image.tag == b.image.tag;
      const bool digest_ok =
          a.image.digest == b.image.digest ||
          (b.image.digest.empty() && std::any_of(edits.begin(), edits.end(), [&](const Edit& e) {
             return e.digest == a.image.digest && before(e.finding).image.canonical() == b.image.canonical();
           }));
      if (!same || !digest_ok) {
        return "the reference at " + b.location + " reads differently after the rewrite";
      }
    }
    return {};
  }

  const extract::FileInput& m_input;
  std::vector<std::size_t> m_index; // caller's finding -> index in m_before / m_after
  extract::FileResult m_before;
  extract::FileResult m_after;
  std::string m_text;
};

} // namespace

// --- public: wanted ----------------------------------------------------------------------------

std::optional<std::string> not_pinnable(const extract::Finding& f)
{
  if (f.image.has_digest()) {
    return "already pinned";
  }
  if (f.image.unresolved || reference::find_template_variables(f.ref, nullptr)) {
    return templated_reason(f);
  }
  if (!f.image.valid) {
    return "invalid reference: " + f.image.error;
  }
  if (f.format == "oci-artifact") {
    return "OCI artifact (Flux OCIRepository or HelmRelease chart): not rewritten";
  }
  switch (f.tag_source) {
  case extract::TagSource::inherited:
    return "the tag comes from the base manifest (kustomize images entry without newTag)";
  case extract::TagSource::chart:
    return "the tag comes from the chart's appVersion";
  case extract::TagSource::range:
    return "follows the version range " + util::quote(f.tag_note);
  case extract::TagSource::kustomize:
    return "kustomize base image: pin the kustomization's images: entry" +
           (f.tag_note.empty() ? std::string{} : " (" + f.tag_note + ")");
  case extract::TagSource::written:
    break;
  }
  return std::nullopt;
}

std::vector<reference::Reference> wanted(const extract::FileResult& result)
{
  std::vector<reference::Reference> out;
  if (result.parse_failed) {
    return out; // not rewritten (pin_file)
  }
  std::vector<std::string> seen;
  for (const auto& f : result.findings) {
    if (not_pinnable(f)) {
      continue;
    }
    auto canonical = f.image.canonical();
    if (std::find(seen.begin(), seen.end(), canonical) == seen.end()) {
      seen.push_back(std::move(canonical));
      out.push_back(f.image);
    }
  }
  return out;
}

// --- public: pin_file --------------------------------------------------------------------------

PinResult pin_file(const extract::FileInput& input, const extract::FileResult& result, const DigestLookup& digest_for)
{
  const auto& findings = result.findings;
  const std::string_view text = input.content;
  PinResult out;
  out.text = std::string(text);

  // Why each finding without a digest is left alone (empty: it is a target).
  std::vector<std::string> reasons(findings.size());
  std::vector<Target> targets;
  const Lines lines(text);
  // One lookup per reference, however often the file names it.
  std::unordered_map<std::string, DigestAnswer> looked_up;
  const auto lookup = [&](const reference::Reference& r) -> const DigestAnswer& {
    const auto key = r.canonical();
    auto it = looked_up.find(key);
    if (it == looked_up.end()) {
      it = looked_up.emplace(key, digest_for(r)).first;
    }
    return it->second;
  };
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    if (f.image.has_digest()) {
      continue;
    }
    if (result.parse_failed) {
      reasons[i] = "the file has a YAML syntax error; not rewritten";
    } else if (auto why = not_pinnable(f)) {
      reasons[i] = std::move(*why);
    } else if (const auto& answer = lookup(f.image); answer.digest.empty()) {
      reasons[i] = answer.why_not.empty() ? "no digest known" : answer.why_not;
    } else if (auto bad = reference::validate_digest(answer.digest); !bad.empty()) {
      reasons[i] = "the lookup gave an invalid digest: " + bad;
    } else {
      Target t;
      t.finding = i;
      t.digest = answer.digest;
      t.offset = lines.offset(f.line, f.column);
      targets.push_back(std::move(t));
    }
  }

  if (!targets.empty()) {
    if (input.kind == extract::FileKind::dockerfile) {
      plan_dockerfile(text, findings, targets);
    } else {
      YamlPlanner(text, lines, findings, targets).run();
    }
  }
  std::vector<Edit> edits;
  for (auto& t : targets) {
    if (t.edit) {
      edits.push_back(std::move(*t.edit));
    } else {
      reasons[t.finding] = std::move(t.reason);
    }
  }
  std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.offset < b.offset; });
  for (std::size_t i = 1; i < edits.size();) {
    const auto& prev = edits[i - 1];
    if (edits[i].offset < prev.offset + prev.erase || (edits[i].offset == prev.offset && prev.erase == 0)) {
      reasons[edits[i].finding] = "overlaps the rewrite of another reference; not rewritten";
      edits.erase(edits.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }

  // The self-check reads the file again before and after. The caller's findings may have been
  // adjusted across files (resolved charts added): they are matched to a fresh extraction by
  // location and position.
  if (edits.empty()) {
    for (std::size_t i = 0; i < findings.size(); ++i) {
      if (!findings[i].image.has_digest()) {
        out.skipped.push_back(skip(findings[i], reasons[i]));
      }
    }
    return in_file_order(std::move(out));
  }
  extract::FileResult before = extract_text(input, text);
  std::vector<std::size_t> index(findings.size(), k_npos);
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    for (std::size_t j = 0; j < before.findings.size(); ++j) {
      const auto& b = before.findings[j];
      if (b.location == f.location && b.line == f.line && b.column == f.column && b.ref == f.ref) {
        index[i] = j;
        break;
      }
    }
  }
  std::erase_if(edits, [&](const Edit& e) {
    if (index[e.finding] == k_npos) {
      reasons[e.finding] = "not found when the file was read again (changed meanwhile?); not rewritten";
      return true;
    }
    return false;
  });
  SelfCheck check(input, std::move(index), std::move(before));
  // Edits that do not read back are dropped and the rest tried again. When the file as a whole
  // reads differently (an edit changed a reference it was not meant for), each edit is tried
  // alone once and only those that pass alone are kept; if they still fail together, the file
  // is left unchanged.
  bool isolated = false;
  while (!edits.empty()) {
    auto verdict = check.verify(text, edits);
    if (!verdict.whole.empty()) {
      if (isolated || edits.size() == 1) {
        for (const auto& e : edits) {
          reasons[e.finding] = verdict.whole + "; file left unchanged";
        }
        edits.clear();
        break;
      }
      isolated = true;
      std::erase_if(edits, [&](const Edit& e) {
        const auto alone = check.verify(text, {e});
        if (alone.whole.empty() && alone.failed.empty()) {
          return false;
        }
        reasons[e.finding] =
            (alone.whole.empty() ? "did not read back as pinned after the rewrite" : alone.whole) + "; not rewritten";
        return true;
      });
      continue;
    }
    if (verdict.failed.empty()) {
      out.text = check.text();
      break;
    }
    for (auto it = verdict.failed.rbegin(); it != verdict.failed.rend(); ++it) {
      const auto& e = edits[*it];
      reasons[e.finding] = "did not read back as pinned after the rewrite; not rewritten";
      edits.erase(edits.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }

  for (std::size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    if (f.image.has_digest()) {
      continue;
    }
    // Pinned by an edit, or through an alias of an anchor that an edit pinned.
    const auto* now = edits.empty() ? nullptr : check.rewritten(i);
    if (now != nullptr && now->image.has_digest()) {
      out.changes.push_back({f.line, f.column, f.location, f.ref, now->ref});
    } else {
      out.skipped.push_back(skip(f, reasons[i]));
    }
  }
  return in_file_order(std::move(out));
}

// --- public: unified_diff ----------------------------------------------------------------------

namespace {

// Lines with their line ending; the last one has none when the text does not end with '\n'.
std::vector<std::string_view> split_lines(std::string_view s)
{
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const auto eol = s.find('\n', pos);
    const auto end = eol == k_npos ? s.size() : eol + 1;
    out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// Rounds of the shortest-edit search kept for the way back: (D+1)^2 entries, 64 MiB at this
// bound. Beyond it the differing middle is shown as one replacement (still a correct diff).
constexpr std::int64_t k_max_edit_distance = 4096;

// Marks the deleted lines of `a` and the inserted lines of `b` on a shortest edit script
// (E. Myers, "An O(ND) Difference Algorithm and Its Variations", 1986: the greedy forward
// search; each round's frontier is kept to walk the path back), after the common prefix and
// suffix.
void mark_changes(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b,
                  std::vector<char>& deleted, std::vector<char>& inserted)
{
  deleted.assign(a.size(), 0);
  inserted.assign(b.size(), 0);
  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
    ++prefix;
  }
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const auto n = static_cast<std::int64_t>(a.size() - prefix - suffix);
  const auto m = static_cast<std::int64_t>(b.size() - prefix - suffix);
  const auto mark_all = [&] {
    std::fill(deleted.begin() + static_cast<std::ptrdiff_t>(prefix),
              deleted.end() - static_cast<std::ptrdiff_t>(suffix), 1);
    std::fill(inserted.begin() + static_cast<std::ptrdiff_t>(prefix),
              inserted.end() - static_cast<std::ptrdiff_t>(suffix), 1);
  };
  if (n == 0 || m == 0) {
    mark_all();
    return;
  }
  const auto same = [&](std::int64_t x, std::int64_t y) {
    return a[prefix + static_cast<std::size_t>(x)] == b[prefix + static_cast<std::size_t>(y)];
  };
  const std::int64_t max = std::min(n + m, k_max_edit_distance);
  const std::int64_t offset = max + 1;
  std::vector<std::int32_t> v(static_cast<std::size_t>(2 * max + 3), 0);
  const auto at = [&](std::int64_t k) -> std::int32_t& { return v[static_cast<std::size_t>(offset + k)]; };
  std::vector<std::vector<std::int32_t>> rounds; // rounds[d][k + d]: the frontier after round d
  std::int64_t found = -1;
  for (std::int64_t d = 0; d <= max && found < 0; ++d) {
    for (std::int64_t k = -d; k <= d; k += 2) {
      std::int64_t x = k == -d || (k != d && at(k - 1) < at(k + 1)) ? at(k + 1) : at(k - 1) + 1;
      std::int64_t y = x - k;
      while (x < n && y < m && same(x, y)) {
        ++x;
        ++y;
      }
      at(k) = static_cast<std::int32_t>(x);
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found < 0) {
      rounds.emplace_back(v.begin() + offset - d, v.begin() + offset + d + 1);
    }
  }
  if (found < 0) {
    mark_all();
    return;
  }
  std::int64_t x = n;
  std::int64_t y = m;
  for (std::int64_t d = found; d > 0; --d) {
    const auto& prev = rounds[static_cast<std::size_t>(d - 1)];
    const auto before = [&](std::int64_t k) {
      return static_cast<std::int64_t>(prev[static_cast<std::size_t>(k + d - 1)]);
    };
    const std::int64_t k = x - y;
    const bool down = k == -d || (k != d && before(k - 1) < before(k + 1));
    const std::int64_t pk = down ? k + 1 : k - 1;
    const std::int64_t px = before(pk);
    const std::int64_t py = px - pk;
    if (down) {
      inserted[prefix + static_cast<std::size_t>(py)] = 1;
    } else {
      deleted[prefix + static_cast<std::size_t>(px)] = 1;
    }
    x = px;
    y = py;
  }
}

void append_range(std::string& out, std::size_t start, std::size_t count)
{
  // GNU diff: "l" for one line, "l,n" otherwise; an empty range names the line before it.
  out += std::to_string(count == 0 ? start - 1 : start);
  if (count != 1) {
    out += "," + std::to_string(count);
  }
}

} // namespace

std::string unified_diff(std::string_view path, std::string_view before, std::string_view after)
{
  constexpr std::size_t k_context = 3;
  if (before == after) {
    return {};
  }
  const auto a = split_lines(before);
  const auto b = split_lines(after);
  std::vector<char> deleted;
  std::vector<char> inserted;
  mark_changes(a, b, deleted, inserted);

  struct Op {
    char kind;     // ' ', '-', '+'
    std::size_t a; // index of the line in `a` (for ' ' and '-'), else the count of `a` lines before
    std::size_t b;
  };
  std::vector<Op> ops;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && deleted[i] != 0) {
      ops.push_back({'-', i++, j});
    } else if (j < b.size() && inserted[j] != 0) {
      ops.push_back({'+', i, j++});
    } else {
      ops.push_back({' ', i++, j++});
    }
  }

  std::string out = "--- a/" + std::string(path) + "\n+++ b/" + std::string(path) + "\n";
  std::size_t k = 0;
  while (k < ops.size()) {
    if (ops[k].kind == ' ') {
      ++k;
      continue;
    }
    // A hunk: from k, changes closer than twice the context are joined.
    const std::size_t first = k >= k_context ? k - k_context : 0;
    std::size_t last_change = k;
    std::size_t scan = k + 1;
    while (scan < ops.size()) {
      if (ops[scan].kind != ' ') {
        last_change = scan;
      } else if (scan - last_change > 2 * k_context) {
        break;
      }
      ++scan;
    }
    const std::size_t end = std::min(ops.size(), last_change + 1 + k_context);
    std::size_t a_count = 0;
    std::size_t b_count = 0;
    for (std::size_t h = first; h < end; ++h) {
      a_count += ops[h].kind != '+' ? 1 : 0;
      b_count += ops[h].kind != '-' ? 1 : 0;
    }
    out += "@@ -";
    append_range(out, ops[first].a + 1, a_count);
    out += " +";
    append_range(out, ops[first].b + 1, b_count);
    out += " @@\n";
    for (std::size_t h = first; h < end; ++h) {
      const auto line = ops[h].kind == '+' ? b[ops[h].b] : a[ops[h].a];
      out += ops[h].kind;
      out += line;
      if (!line.ends_with('\n')) {
        out += "\n\\ No newline at end of file\n";
      }
    }
    k = end;
  }
  return out;
}

// --- public: write_atomically ------------------------------------------------------------------

namespace {

// The temporary file of write_atomically: removed unless it was renamed into place.
class TempFile {
public:
  TempFile(int fd, std::string path) : m_fd(fd), m_path(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile()
  {
    close();
    if (!m_kept) {
      ::unlink(m_path.c_str());
    }
  }
  [[nodiscard]] int fd() const { return m_fd; }
  [[nodiscard]] const std::string& path() const { return m_path; }
  int close()
  {
    const int rc = m_fd >= 0 ? ::close(m_fd) : 0;
    m_fd = -1;
    return rc;
  }
  void keep() { m_kept = true; }

private:
  int m_fd;
  std::string m_path;
  bool m_kept = false;
};

} // namespace

void write_atomically(const std::string& path, std::string_view content)
{
  namespace fs = std::filesystem;
  const auto fail = [&](const std::string& why) { throw util::Fatal(path + ": cannot write: " + why); };
  const auto fail_errno = [&] { fail(std::strerror(errno)); };

  // A symbolic link stays a link: its target is what gets rewritten.
  std::string target = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    std::error_code ec;
    target = fs::canonical(path, ec).string();
    if (ec) {
      fail(ec.message());
    }
  }
  const bool exists = ::stat(target.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode)) {
    fail("not a regular file");
  }
  mode_t mode = 0;
  if (exists) {
    mode = st.st_mode & 07777;
  } else {
    // A new file gets what open(2) would give it: 0666 less the umask (read by setting it).
    const mode_t mask = ::umask(022);
    ::umask(mask);
    mode = 0666 & ~mask;
  }

  const fs::path p(target);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::string name = (dir / ("." + p.filename().string() + ".changetrail-XXXXXX")).string();
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    fail_errno();
  }
  TempFile tmp(fd, name);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(tmp.fd(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail_errno();
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(tmp.fd(), mode) != 0) {
    fail_errno();
  }
  if (exists && (st.st_uid != ::geteuid() || st.st_gid != ::getegid())) {
    // Only root may give a file away; anyone else keeps their own ownership.
    if (::fchown(tmp.fd(), st.st_uid, st.st_gid) != 0) {
      errno = 0;
    }
  }
  if (::fsync(tmp.fd()) != 0 || tmp.close() != 0) {
    fail_errno();
  }
  if (::rename(tmp.path().c_str(), target.c_str()) != 0) {
    fail_errno();
  }
  tmp.keep();
  // The rename itself is durable once the directory is synced (best effort: some file systems
  // refuse fsync on a directory).
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    if (::fsync(dfd) != 0) {
      errno = 0;
    }
    ::close(dfd);
  }
}

} // namespace changetrail::pin
