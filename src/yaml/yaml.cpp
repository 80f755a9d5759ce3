#include <changetrail/yaml/yaml.hpp>

#include <changetrail/util/strings.hpp>

#include <libfyaml.h>

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace changetrail::yaml {

namespace {

// Alias dereferences allowed per document: enough for any real manifest (compose files share
// a few anchors), far too few to expand a billion-laughs bomb.
constexpr std::uint64_t k_min_alias_budget = 10000;
constexpr std::uint64_t k_alias_budget_per_node = 4;
constexpr int k_max_merge_depth = 16;
constexpr std::size_t k_max_depth = 64;

struct ParserDeleter {
  void operator()(fy_parser* p) const { fy_parser_destroy(p); }
};
using ParserPtr = std::unique_ptr<fy_parser, ParserDeleter>;

struct DiagDeleter {
  void operator()(fy_diag* d) const { fy_diag_unref(d); }
};

struct EventGuard {
  fy_parser* parser;
  fy_event* event;
  EventGuard(fy_parser* p, fy_event* e) : parser(p), event(e) {}
  EventGuard(const EventGuard&) = delete;
  EventGuard& operator=(const EventGuard&) = delete;
  ~EventGuard() { fy_parser_event_free(parser, event); }
};

Style scalar_style(fy_token* token)
{
  switch (fy_token_scalar_style(token)) {
  case FYSS_SINGLE_QUOTED:
    return Style::single_quoted;
  case FYSS_DOUBLE_QUOTED:
    return Style::double_quoted;
  case FYSS_LITERAL:
    return Style::literal;
  case FYSS_FOLDED:
    return Style::folded;
  default:
    return Style::plain;
  }
}

Mark to_mark(const fy_mark* m)
{
  if (m == nullptr) {
    return {};
  }
  return Mark{static_cast<std::uint32_t>(m->line + 1), static_cast<std::uint32_t>(m->column + 1),
              static_cast<std::uint32_t>(m->input_pos)};
}

std::string_view token_text(fy_token* token)
{
  if (token == nullptr) {
    return {};
  }
  std::size_t len = 0;
  const char* text = fy_token_get_text(token, &len);
  return text == nullptr ? std::string_view{} : std::string_view(text, len);
}

} // namespace

void set_alias_budget(Document& doc)
{
  doc.m_alias_budget = std::max(k_min_alias_budget, k_alias_budget_per_node * doc.m_nodes.size());
}

void check_duplicates(Document& doc, std::uint32_t index)
{
  const Node mapping = doc.m_nodes[index];
  const auto key_at = [&](std::uint32_t i) -> Node& { return doc.m_nodes[doc.m_children[mapping.first + i]]; };
  const auto report = [&](Node& first, const Node& second) {
    first.shadowed = true;
    doc.m_warnings.push_back({"duplicate key \"" + std::string(second.text) + "\" (first at line "
                                  + std::to_string(first.mark.line) + "); the last one is used",
                              second.mark});
  };
  if (mapping.count <= 32) {
    for (std::uint32_t i = 0; i + 1 < mapping.count; i += 2) {
      Node& a = key_at(i);
      if (a.kind != Kind::scalar || a.text == "<<") {
        continue;
      }
      for (std::uint32_t j = i + 2; j + 1 < mapping.count; j += 2) {
        const Node& b = key_at(j);
        if (b.kind == Kind::scalar && a.text == b.text) {
          report(a, b);
          break; // b, if repeated again, is reported when the outer loop reaches it
        }
      }
    }
    return;
  }
  std::unordered_map<std::string_view, std::uint32_t> seen;
  for (std::uint32_t i = 0; i + 1 < mapping.count; i += 2) {
    const Node& k = key_at(i);
    if (k.kind != Kind::scalar || k.text == "<<") {
      continue;
    }
    const auto [it, inserted] = seen.emplace(k.text, i);
    if (!inserted) {
      report(key_at(it->second), k);
      it->second = i;
    }
  }
}

class Builder {
public:
  Builder(std::string_view input, std::uint32_t base_line, std::uint32_t base_offset)
    : m_input(input), m_base_line(base_line), m_base_offset(base_offset)
  {
  }

  // Marks relative to a document slice, moved to the whole input (a mark without a token,
  // 0:0, stays 0:0 as libfyaml gives it).
  Mark shift(Mark m) const
  {
    if (m.line == 0) {
      return m;
    }
    return Mark{m.line + m_base_line, m.column, m.offset + m_base_offset};
  }

  void start_document(std::uint32_t index)
  {
    m_doc = Document{};
    m_doc.m_index = index;
    m_anchors.clear();
    m_stack.clear();
    m_pending.clear();
  }

  Document& document() { return m_doc; }

  void scalar(fy_event* e)
  {
    auto& data = e->scalar;
    Node n;
    n.kind = Kind::scalar;
    n.style = scalar_style(data.value);
    // libfyaml's mark of a quoted scalar is already its first character after the quote; a
    // block scalar (| or >) is marked at the start of its first content line: move to the text.
    n.mark = shift(to_mark(fy_event_start_mark(e)));
    if ((n.style == Style::literal || n.style == Style::folded) && n.mark.line != 0) {
      std::size_t at = n.mark.offset - m_base_offset;
      while (at < m_input.size() && m_input[at] == ' ') {
        ++at;
        ++n.mark.column;
        ++n.mark.offset;
      }
    }
    auto text = token_text(data.value);
    if (n.style == Style::literal || n.style == Style::folded) {
      // libfyaml 0.7.12 gives an empty block scalar that ends its input the text "\0". Block
      // scalars have no escapes and the input holds no NUL (parse_stream checks), so a NUL
      // here is never content.
      text = text.substr(0, text.find('\0'));
    }
    n.text = keep(text);
    const auto index = add(n);
    if (data.anchor != nullptr) {
      m_anchors[std::string(token_text(data.anchor))] = index;
    }
  }

  void alias(fy_event* e)
  {
    Node n;
    n.kind = Kind::alias;
    n.mark = shift(to_mark(fy_event_start_mark(e)));
    // libfyaml marks the anchor name after the '*'; the alias starts at the '*'.
    if (n.mark.column > 1) {
      --n.mark.column;
      --n.mark.offset;
    }
    n.text = keep(token_text(e->alias.anchor));
    const auto it = m_anchors.find(std::string(n.text));
    if (it == m_anchors.end()) {
      m_doc.m_warnings.push_back({"unknown anchor \"" + std::string(n.text) + "\"", n.mark});
    } else {
      n.target = it->second;
    }
    add(n);
  }

  // DESIGN.md: keep libfyaml's depth limit of 64 and report it as a parse error. In event mode
  // libfyaml does not enforce it, so the builder does.
  [[nodiscard]] std::optional<Mark> too_deep() const { return m_too_deep; }

  void open(fy_event* e, Kind kind, fy_token* anchor, bool flow)
  {
    if (m_stack.size() >= k_max_depth && !m_too_deep) {
      m_too_deep = shift(to_mark(fy_event_start_mark(e)));
    }
    Node n;
    n.kind = kind;
    n.style = flow ? Style::flow : Style::block;
    n.mark = shift(to_mark(fy_event_start_mark(e)));
    const auto index = add(n);
    m_stack.push_back(Frame{index, static_cast<std::uint32_t>(m_pending.size()),
                            anchor == nullptr ? std::string{} : std::string(token_text(anchor))});
  }

  void close()
  {
    if (m_stack.empty()) {
      return;
    }
    const Frame frame = m_stack.back();
    m_stack.pop_back();
    Node& n = m_doc.m_nodes[frame.node];
    n.first = static_cast<std::uint32_t>(m_doc.m_children.size());
    n.count = static_cast<std::uint32_t>(m_pending.size() - frame.start);
    m_doc.m_children.insert(m_doc.m_children.end(), m_pending.begin() + frame.start, m_pending.end());
    m_pending.resize(frame.start);
    if (n.kind == Kind::mapping) {
      check_duplicates(m_doc, frame.node);
    }
    // Registered only when complete: an alias inside its own anchor would make a cycle.
    if (!frame.anchor.empty()) {
      m_anchors[frame.anchor] = frame.node;
    }
  }

  void finish_document() { set_alias_budget(m_doc); }

private:
  struct Frame {
    std::uint32_t node;
    std::uint32_t start;
    std::string anchor;
  };

  std::uint32_t add(const Node& n)
  {
    const auto index = static_cast<std::uint32_t>(m_doc.m_nodes.size());
    m_doc.m_nodes.push_back(n);
    if (m_stack.empty()) {
      if (m_doc.m_root == k_none) {
        m_doc.m_root = index;
      }
    } else {
      m_pending.push_back(index);
    }
    return index;
  }

  // Text that lies inside the input buffer is used in place; text libfyaml had to build
  // (escapes, folded lines) is copied before the event is freed.
  std::string_view keep(std::string_view text)
  {
    if (text.empty()) {
      return {};
    }
    if (text.data() >= m_input.data() && text.data() + text.size() <= m_input.data() + m_input.size()) {
      return text;
    }
    return m_doc.m_arena.emplace_back(text);
  }

  std::optional<Mark> m_too_deep;
  std::string_view m_input;
  std::uint32_t m_base_line = 0;
  std::uint32_t m_base_offset = 0;
  Document m_doc;
  std::unordered_map<std::string, std::uint32_t> m_anchors;
  std::vector<Frame> m_stack;
  std::vector<std::uint32_t> m_pending;
};

Value Document::root() const
{
  return Value(this, m_root);
}

void Document::clear()
{
  m_nodes.clear();
  m_children.clear();
  m_arena.clear();
  m_warnings.clear();
  m_root = k_none;
  m_index = 0;
  m_alias_budget = 0;
  m_budget_exhausted = false;
}

bool Document::take_alias_budget() const
{
  if (m_alias_budget == 0) {
    m_budget_exhausted = true;
    return false;
  }
  --m_alias_budget;
  return true;
}

Value::Value(const Document* doc, std::uint32_t index, std::optional<Mark> via_alias)
  : m_doc(doc), m_index(index), m_via_alias(via_alias)
{
  // Values are always dereferenced: an alias becomes its target, seen at the alias's position.
  if (m_doc == nullptr || m_index == k_none) {
    return;
  }
  const Node& n = m_doc->node(m_index);
  if (n.kind == Kind::alias) {
    if (!m_via_alias) {
      m_via_alias = n.mark;
    }
    if (n.target == k_none || !m_doc->take_alias_budget()) {
      m_index = k_none;
      return;
    }
    m_index = n.target;
  }
}

Value Value::wrap(std::uint32_t index) const
{
  return Value(m_doc, index, m_via_alias);
}

bool Value::is_null() const
{
  if (!is_scalar()) {
    return !*this;
  }
  if (node().style != Style::plain) {
    return false;
  }
  const auto t = node().text;
  return t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL";
}

Value Value::get(std::string_view key) const
{
  if (!is_mapping()) {
    return {};
  }
  const Node& n = node();
  Value found;
  bool has_merge = false;
  for (std::uint32_t i = 0; i + 1 < n.count; i += 2) {
    const Node& k = m_doc->node(m_doc->child(n.first + i));
    if (k.kind == Kind::scalar && k.text == key) {
      found = wrap(m_doc->child(n.first + i + 1));
    } else if (k.kind == Kind::scalar && k.text == "<<") {
      has_merge = true;
    }
  }
  if (found || !has_merge) {
    return found;
  }
  // YAML merge keys (<<: *base or <<: [*a, *b]): own keys win, then sources in order.
  for (const auto& [k, v] : pairs()) {
    if (k.text() == key) {
      return v;
    }
  }
  return {};
}

std::vector<Value> Value::items() const
{
  std::vector<Value> out;
  if (!is_sequence()) {
    return out;
  }
  const Node& n = node();
  out.reserve(n.count);
  for (std::uint32_t i = 0; i < n.count; ++i) {
    if (auto v = wrap(m_doc->child(n.first + i))) {
      out.push_back(v);
    }
  }
  return out;
}

void Value::collect_pairs(std::vector<std::pair<Value, Value>>& out, int depth) const
{
  const Node& n = node();
  std::vector<Value> merges;
  for (std::uint32_t i = 0; i + 1 < n.count; i += 2) {
    Value k = wrap(m_doc->child(n.first + i));
    Value v = wrap(m_doc->child(n.first + i + 1));
    if (k.is_scalar() && k.text() == "<<" && k.style() == Style::plain) {
      if (v.is_mapping()) {
        merges.push_back(v);
      } else if (v.is_sequence()) {
        for (const auto& item : v.items()) {
          if (item.is_mapping()) {
            merges.push_back(item);
          }
        }
      }
      continue;
    }
    if (k && !k.node().shadowed) {
      out.emplace_back(k, v);
    }
  }
  if (depth >= k_max_merge_depth) {
    return;
  }
  for (const auto& m : merges) {
    std::vector<std::pair<Value, Value>> inherited;
    m.collect_pairs(inherited, depth + 1);
    for (auto& p : inherited) {
      const bool shadowed = std::any_of(out.begin(), out.end(), [&](const auto& own) {
        return own.first.is_scalar() && p.first.is_scalar() && own.first.text() == p.first.text();
      });
      if (!shadowed) {
        out.push_back(std::move(p));
      }
    }
  }
}

std::vector<std::pair<Value, Value>> Value::pairs() const
{
  std::vector<std::pair<Value, Value>> out;
  if (is_mapping()) {
    collect_pairs(out, 0);
  }
  return out;
}

namespace {

// Runs libfyaml over `slice` (a whole stream, or one document of it that starts at line
// base_line + 1 and byte base_offset of the input). Document indexes continue from `next_index`.
std::optional<ParseError> parse_libfyaml_slice(std::string_view slice, std::uint32_t base_line,
                                               std::uint32_t base_offset, std::uint32_t& next_index,
                                               const std::function<void(const Document&)>& on_document)
{
  fy_parse_cfg cfg{};
  cfg.search_path = "";
  cfg.flags = static_cast<fy_parse_cfg_flags>(FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_AUTO);
  ParserPtr parser(fy_parser_create(&cfg));
  if (!parser) {
    return ParseError{"cannot create YAML parser", {}};
  }
  if (fy_parser_set_string(parser.get(), slice.data(), slice.size()) != 0) {
    return ParseError{"cannot read YAML input", {}};
  }
  // fy_parser_get_diag takes a reference that the caller must drop.
  const std::unique_ptr<fy_diag, DiagDeleter> diag(fy_parser_get_diag(parser.get()));
  if (diag) {
    fy_diag_set_collect_errors(diag.get(), true);
  }

  Builder builder(slice, base_line, base_offset);
  while (fy_event* e = fy_parser_parse(parser.get())) {
    EventGuard guard(parser.get(), e);
    switch (e->type) {
    case FYET_DOCUMENT_START:
      builder.start_document(next_index++);
      break;
    case FYET_DOCUMENT_END:
      builder.finish_document();
      on_document(builder.document());
      break;
    case FYET_SCALAR:
      builder.scalar(e);
      break;
    case FYET_ALIAS:
      builder.alias(e);
      break;
    case FYET_MAPPING_START:
      builder.open(e, Kind::mapping, e->mapping_start.anchor, fy_event_get_node_style(e) == FYNS_FLOW);
      break;
    case FYET_SEQUENCE_START:
      builder.open(e, Kind::sequence, e->sequence_start.anchor, fy_event_get_node_style(e) == FYNS_FLOW);
      break;
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
      builder.close();
      break;
    default:
      break;
    }
    if (const auto deep = builder.too_deep()) {
      return ParseError{"Max depth (" + std::to_string(k_max_depth) + ") exceeded", *deep};
    }
  }
  if (fy_parser_get_stream_error(parser.get())) {
    ParseError err{"invalid YAML", {}};
    if (diag) {
      void* iter = nullptr;
      if (fy_diag_error* de = fy_diag_errors_iterate(diag.get(), &iter); de != nullptr) {
        err.message = de->msg != nullptr ? de->msg : "invalid YAML";
        // Collected diagnostics are 1-based already (unlike marks).
        err.mark.line = static_cast<std::uint32_t>(std::max(de->line, 1)) + base_line;
        err.mark.column = static_cast<std::uint32_t>(std::max(de->column, 1));
      }
    }
    if (err.mark.line == 0) {
      // Some errors come without a position (">0: 0\n..." in a block scalar header): point at
      // the start of the slice, the document that failed.
      err.mark.line = base_line + 1;
      err.mark.column = 1;
    }
    return err;
  }
  return std::nullopt;
}

struct Line {
  std::string_view text;   // without the line break (and a trailing \r)
  std::uint32_t number;    // 1-based, in the whole input
  std::uint32_t offset;    // byte offset of text[0] in the whole input
  std::uint32_t indent;    // leading spaces; inside "- " the column of the item (virtual)
  bool ascii;
  bool blank;              // empty, spaces only, or a comment
};

bool is_document_marker(std::string_view t, char c)
{
  return t.size() >= 3 && t[0] == c && t[1] == c && t[2] == c && (t.size() == 3 || t[3] == ' ' || t[3] == '\t');
}

bool rest_after_marker_empty(std::string_view t)
{
  std::size_t i = 3;
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) {
    ++i;
  }
  return i == t.size() || t[i] == '#';
}

} // namespace

// The fast path: a recursive-descent reader of the block subset of YAML that real manifests use.
// Anything outside it throws Unsupported and the document goes to libfyaml; it never guesses.
class FastParser {
public:
  struct Unsupported {};

  FastParser(std::vector<Line>& lines, std::size_t begin, std::size_t end, Document& doc, std::uint32_t index)
    : m_lines(lines), m_i(begin), m_end(end), m_doc(doc)
  {
    m_doc.m_index = index;
  }

  // Throws Unsupported.
  void run()
  {
    skip_blank();
    if (m_i >= m_end) {
      // An explicit empty document: libfyaml gives an empty plain scalar without a mark.
      m_doc.m_root = add(Node{});
      return;
    }
    const std::uint32_t indent = m_lines[m_i].indent;
    m_doc.m_root = block_node(indent);
    skip_blank();
    if (m_i < m_end) {
      throw Unsupported{};
    }
  }

private:
  void skip_blank()
  {
    while (m_i < m_end && m_lines[m_i].blank) {
      ++m_i;
    }
  }
  bool has_line()
  {
    skip_blank();
    return m_i < m_end;
  }
  Line& cur() { return m_lines[m_i]; }
  void advance() { ++m_i; }

  std::uint32_t add(const Node& n)
  {
    const auto index = static_cast<std::uint32_t>(m_doc.m_nodes.size());
    m_doc.m_nodes.push_back(n);
    if (m_open > 0) {
      m_pending.push_back(index);
    }
    return index;
  }

  std::uint32_t open(Kind kind, Style style, Mark mark)
  {
    Node n;
    n.kind = kind;
    n.style = style;
    n.mark = mark;
    const auto index = add(n);
    ++m_open;
    m_starts.push_back(static_cast<std::uint32_t>(m_pending.size()));
    return index;
  }

  void close(std::uint32_t index)
  {
    const std::uint32_t start = m_starts.back();
    m_starts.pop_back();
    --m_open;
    Node& n = m_doc.m_nodes[index];
    n.first = static_cast<std::uint32_t>(m_doc.m_children.size());
    n.count = static_cast<std::uint32_t>(m_pending.size() - start);
    m_doc.m_children.insert(m_doc.m_children.end(), m_pending.begin() + start, m_pending.end());
    m_pending.resize(start);
    if (n.kind == Kind::mapping) {
      check_duplicates(m_doc, index);
    }
  }

  static Mark mark_at(const Line& l, std::size_t pos)
  {
    std::uint32_t column = static_cast<std::uint32_t>(pos) + 1;
    if (!l.ascii) {
      column = 1;
      for (std::size_t i = 0; i < pos; ++i) {
        if ((static_cast<unsigned char>(l.text[i]) & 0xC0) != 0x80) {
          ++column;
        }
      }
    }
    return Mark{l.number, column, l.offset + static_cast<std::uint32_t>(pos)};
  }

  std::uint32_t scalar(const Line& l, std::size_t pos, std::string_view text, Style style)
  {
    Node n;
    n.kind = Kind::scalar;
    n.style = style;
    n.mark = mark_at(l, pos);
    n.text = text;
    return add(n);
  }

  static bool seq_item(const Line& l, std::size_t p)
  {
    return p < l.text.size() && l.text[p] == '-' && (p + 1 == l.text.size() || l.text[p + 1] == ' ');
  }

  static bool rest_is_empty(const Line& l, std::size_t p)
  {
    while (p < l.text.size() && l.text[p] == ' ') {
      ++p;
    }
    return p == l.text.size() || l.text[p] == '#';
  }

  static bool indicator(char c)
  {
    switch (c) {
    case '&':
    case '*':
    case '!':
    case '|':
    case '>':
    case '%':
    case '@':
    case '`':
    case '\t':
      return true;
    default:
      return false;
    }
  }

  static void append_utf8(std::string& s, std::uint32_t cp)
  {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // The escapes of a double-quoted scalar (YAML 1.2 section 5.7); anything unusual (an invalid
  // escape, a surrogate) is left to libfyaml, which reports it.
  static std::string unescape(std::string_view in)
  {
    std::string s;
    s.reserve(in.size());
    for (std::size_t k = 0; k < in.size(); ++k) {
      if (in[k] != '\\') {
        s += in[k];
        continue;
      }
      const char e = in[++k];
      std::size_t hex = 0;
      switch (e) {
      case '0': s += '\0'; break;
      case 'a': s += '\a'; break;
      case 'b': s += '\b'; break;
      case 't': case '\t': s += '\t'; break;
      case 'n': s += '\n'; break;
      case 'v': s += '\v'; break;
      case 'f': s += '\f'; break;
      case 'r': s += '\r'; break;
      case 'e': s += '\x1b'; break;
      case ' ': s += ' '; break;
      case '"': s += '"'; break;
      case '/': s += '/'; break;
      case '\\': s += '\\'; break;
      case 'N': append_utf8(s, 0x85); break;
      case '_': append_utf8(s, 0xA0); break;
      case 'L': append_utf8(s, 0x2028); break;
      case 'P': append_utf8(s, 0x2029); break;
      case 'x': hex = 2; break;
      case 'u': hex = 4; break;
      case 'U': hex = 8; break;
      default: throw Unsupported{};
      }
      if (hex == 0) {
        continue;
      }
      if (k + hex >= in.size()) {
        throw Unsupported{};
      }
      std::uint32_t cp = 0;
      for (std::size_t h = 1; h <= hex; ++h) {
        const char d = in[k + h];
        cp <<= 4;
        if (d >= '0' && d <= '9') {
          cp |= static_cast<std::uint32_t>(d - '0');
        } else if (d >= 'a' && d <= 'f') {
          cp |= static_cast<std::uint32_t>(d - 'a' + 10);
        } else if (d >= 'A' && d <= 'F') {
          cp |= static_cast<std::uint32_t>(d - 'A' + 10);
        } else {
          throw Unsupported{};
        }
      }
      if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        throw Unsupported{};
      }
      append_utf8(s, cp);
      k += hex;
    }
    return s;
  }

  // A one-line quoted scalar starting at l.text[p] (the quote). Returns the position after the
  // closing quote; the text goes to `out` (arena when unescaping was needed).
  std::size_t quoted(const Line& l, std::size_t p, std::string_view& out)
  {
    const auto t = l.text;
    const char q = t[p];
    std::size_t i = p + 1;
    bool doubled = false;
    bool escaped = false;
    for (; i < t.size(); ++i) {
      if (q == '"' && t[i] == '\\') {
        escaped = true;
        if (++i >= t.size()) {
          throw Unsupported{}; // an escaped line break: libfyaml folds it
        }
        continue;
      }
      if (t[i] == q) {
        if (q == '\'' && i + 1 < t.size() && t[i + 1] == '\'') {
          doubled = true;
          ++i;
          continue;
        }
        break;
      }
    }
    if (i >= t.size()) {
      throw Unsupported{}; // continues on the next line
    }
    out = t.substr(p + 1, i - p - 1);
    if (escaped) {
      out = m_doc.m_arena.emplace_back(unescape(out));
    }
    if (doubled) {
      std::string s;
      for (std::size_t k = 0; k < out.size(); ++k) {
        s += out[k];
        if (out[k] == '\'') {
          ++k;
        }
      }
      out = m_doc.m_arena.emplace_back(std::move(s));
    }
    return i + 1;
  }

  struct Key {
    std::size_t pos;      // first character (after a quote)
    std::string_view text;
    Style style;
    std::size_t value;    // position after ':' and spaces
  };

  // A block mapping key at l.text[p], or false when the line is not "key: ...".
  bool find_key(const Line& l, std::size_t p, Key& k)
  {
    const auto t = l.text;
    const char c = t[p];
    if (c == '"' || c == '\'') {
      std::string_view text;
      std::size_t after = quoted(l, p, text);
      std::size_t q = after;
      while (q < t.size() && t[q] == ' ') {
        ++q;
      }
      if (q < t.size() && t[q] == ':' && (q + 1 == t.size() || t[q + 1] == ' ')) {
        k = Key{p + 1, text, c == '"' ? Style::double_quoted : Style::single_quoted, q + 1};
      } else {
        return false;
      }
    } else {
      if (indicator(c) || c == '[' || c == '{' || c == ']' || c == '}' || c == ',' || c == '#'
          || ((c == '?' || c == ':' || c == '-') && (p + 1 == t.size() || t[p + 1] == ' '))) {
        if (c == '[' || c == '{' || c == '&' || c == '*' || c == '|' || c == '>') {
          return false; // a value, not a key: inline_value decides
        }
        throw Unsupported{};
      }
      std::size_t j = p;
      for (; j < t.size(); ++j) {
        if (t[j] == ':' && (j + 1 == t.size() || t[j + 1] == ' ')) {
          break;
        }
        if (t[j] == '#' && t[j - 1] == ' ') {
          return false;
        }
        if (t[j] == '\t') {
          throw Unsupported{};
        }
      }
      if (j >= t.size()) {
        return false;
      }
      std::size_t e = j;
      while (e > p && t[e - 1] == ' ') {
        --e;
      }
      if (e - p > 1024) {
        throw Unsupported{}; // implicit keys are limited to 1024 characters
      }
      k = Key{p, t.substr(p, e - p), Style::plain, j + 1};
    }
    while (k.value < t.size() && t[k.value] == ' ') {
      ++k.value;
    }
    return true;
  }

  // The rest of the line after a value: spaces and an optional comment.
  static void expect_line_end(const Line& l, std::size_t p)
  {
    if (p < l.text.size() && l.text[p] != ' ') {
      throw Unsupported{};
    }
    if (!rest_is_empty(l, p)) {
      throw Unsupported{};
    }
  }

  // "&name" at l.text[p]: the name, and p moved to what follows (spaces skipped).
  static std::string_view anchor_name(const Line& l, std::size_t& p)
  {
    const auto t = l.text;
    std::size_t j = p + 1;
    while (j < t.size() && t[j] != ' ') {
      const char d = t[j];
      if (d == '[' || d == ']' || d == '{' || d == '}' || d == ',' || d == '&' || d == '*' || d == '\t') {
        throw Unsupported{}; // (a tab ends the name for libfyaml; rare enough to leave to it)
      }
      ++j;
    }
    if (j == p + 1) {
      throw Unsupported{};
    }
    const auto name = t.substr(p + 1, j - p - 1);
    p = j;
    while (p < t.size() && t[p] == ' ') {
      ++p;
    }
    return name;
  }

  // "key: &name" with the anchored node on the next lines: true, and `name` set.
  static bool anchor_alone(const Line& l, std::size_t p, std::string_view& name)
  {
    if (p >= l.text.size() || l.text[p] != '&') {
      return false;
    }
    name = anchor_name(l, p);
    return p >= l.text.size() || l.text[p] == '#';
  }

  // The anchored node of "key: &name" must not carry an anchor of its own or be an alias.
  static bool starts_with_property(const Line& l)
  {
    const std::size_t p = l.indent;
    return p < l.text.size() && (l.text[p] == '&' || l.text[p] == '*' || l.text[p] == '!');
  }

  // "*name" at l.text[p]: an alias node pointing at the anchored node (never expanded).
  std::uint32_t alias_value(const Line& l, std::size_t p)
  {
    const auto t = l.text;
    std::size_t j = p + 1;
    while (j < t.size() && t[j] != ' ') {
      const char d = t[j];
      if (d == '[' || d == ']' || d == '{' || d == '}' || d == ',' || d == '\t') {
        throw Unsupported{};
      }
      ++j;
    }
    if (j == p + 1) {
      throw Unsupported{};
    }
    expect_line_end(l, j);
    Node n;
    n.kind = Kind::alias;
    n.mark = mark_at(l, p);
    n.text = t.substr(p + 1, j - p - 1);
    if (const auto it = m_anchors.find(n.text); it != m_anchors.end()) {
      n.target = it->second;
    } else {
      m_doc.m_warnings.push_back({"unknown anchor \"" + std::string(n.text) + "\"", n.mark});
    }
    return add(n);
  }

  // A block scalar ("|", "|-", "|+", ">", ">-", ">+") whose header is at l.text[p]; its content
  // lines follow the current line and must be indented more than `parent`. Leaves m_i on the
  // last line it consumed. Indentation indicators and the unusual cases go to libfyaml.
  std::uint32_t block_scalar(const Line& l, std::size_t p, std::uint32_t parent)
  {
    const bool folded = l.text[p] == '>';
    const auto t = l.text;
    std::size_t q = p + 1;
    char chomp = 'c';
    if (q < t.size() && (t[q] == '-' || t[q] == '+')) {
      chomp = t[q] == '-' ? 's' : 'k';
      ++q;
    }
    expect_line_end(l, q);
    if (parent == 0xFFFFFFu) {
      throw Unsupported{};
    }
    const auto spaces = [](std::string_view s) {
      std::size_t n = 0;
      while (n < s.size() && s[n] == ' ') {
        ++n;
      }
      return n;
    };
    const std::size_t first = m_i + 1;
    std::size_t block_indent = 0;
    std::size_t k = first;
    std::size_t leading_max = 0;
    for (; k < m_end; ++k) {
      const auto s = m_lines[k].text;
      const auto n = spaces(s);
      if (n == s.size()) {
        leading_max = std::max(leading_max, n);
        continue;
      }
      block_indent = n;
      break;
    }
    if (k >= m_end || block_indent <= parent || leading_max > block_indent) {
      throw Unsupported{}; // empty, or more-indented leading lines: libfyaml decides
    }
    std::string text;
    std::size_t last_content = k;
    std::size_t trailing_empty = 0;
    bool previous_normal = false; // folding: the last content line was not more indented
    for (std::size_t i = first; i < m_end; ++i) {
      const auto s = m_lines[i].text;
      const auto n = spaces(s);
      if (n == s.size()) {
        if (n > block_indent) {
          throw Unsupported{};
        }
        if (i > k) {
          ++trailing_empty;
        } else {
          text += '\n';
        }
        continue;
      }
      if (n < block_indent) {
        break;
      }
      const auto content = s.substr(block_indent);
      const bool normal = content.front() != ' ' && content.front() != '\t';
      if (folded && !normal) {
        // More-indented lines in a folded scalar: libfyaml 0.7.12 and the specification
        // disagree on the line breaks around them; libfyaml decides, as for other files.
        throw Unsupported{};
      }
      if (i > k) {
        // Folded: a single line break between two normal lines becomes a space, and of several
        // line breaks the first is dropped; around more-indented lines all of them stay.
        if (folded && previous_normal && normal) {
          if (trailing_empty == 0) {
            text += ' ';
          } else {
            text.append(trailing_empty, '\n');
          }
        } else {
          text.append(trailing_empty + 1, '\n');
        }
      }
      previous_normal = normal;
      trailing_empty = 0;
      text.append(content);
      last_content = i;
    }
    if (chomp == 'k') {
      if (last_content + trailing_empty + 1 >= m_lines.size()) {
        throw Unsupported{}; // kept line breaks at the end of input
      }
      text.append(trailing_empty + 1, '\n');
    } else if (chomp == 'c') {
      text += '\n';
    }
    // libfyaml marks a block scalar at the start of the line after its header; the builder
    // then moves past that line's leading spaces.
    const Line& start = m_lines[first];
    Node n;
    n.kind = Kind::scalar;
    n.style = folded ? Style::folded : Style::literal;
    n.mark = mark_at(start, spaces(start.text));
    n.text = m_doc.m_arena.emplace_back(std::move(text));
    m_i = last_content;
    return add(n);
  }

  // A value that fills the rest of the line from l.text[p]: an anchored or plain node, an
  // alias, a literal block scalar. `parent`: the indentation of the collection it is in.
  std::uint32_t inline_value(const Line& l, std::size_t p, std::uint32_t parent = 0xFFFFFFu)
  {
    const char c = l.text[p];
    if (c == '&') {
      std::size_t q = p;
      const auto name = anchor_name(l, q);
      if (q >= l.text.size() || l.text[q] == '&' || l.text[q] == '*' || l.text[q] == '#' || l.text[q] == '|' || l.text[q] == '>') {
        throw Unsupported{};
      }
      const auto index = plain_inline_value(l, q);
      m_anchors[name] = index;
      return index;
    }
    if (c == '*') {
      return alias_value(l, p);
    }
    if (c == '|' || c == '>') {
      return block_scalar(l, p, parent);
    }
    return plain_inline_value(l, p);
  }

  // A scalar or flow collection that fills the rest of the line from l.text[p].
  std::uint32_t plain_inline_value(const Line& l, std::size_t p)
  {
    const auto t = l.text;
    const char c = t[p];
    if (c == '"' || c == '\'') {
      std::string_view text;
      const std::size_t after = quoted(l, p, text);
      expect_line_end(l, after);
      return scalar(l, p + 1, text, c == '"' ? Style::double_quoted : Style::single_quoted);
    }
    if (c == '[' || c == '{') {
      std::size_t q = p;
      const auto index = flow_node(l, q);
      expect_line_end(l, q);
      return index;
    }
    if (indicator(c) || c == ']' || c == '}' || c == ',' || c == '#'
        || ((c == '?' || c == ':' || c == '-') && (p + 1 == t.size() || t[p + 1] == ' '))) {
      throw Unsupported{};
    }
    std::size_t j = p;
    for (; j < t.size(); ++j) {
      const char d = t[j];
      if (d == ':' && (j + 1 == t.size() || t[j + 1] == ' ')) {
        throw Unsupported{}; // "a: b: c": libfyaml reports the error
      }
      if (d == '#' && t[j - 1] == ' ') {
        break;
      }
      if (d == '\t') {
        throw Unsupported{};
      }
    }
    std::size_t e = j;
    while (e > p && t[e - 1] == ' ') {
      --e;
    }
    return scalar(l, p, t.substr(p, e - p), Style::plain);
  }

  static void skip_spaces(const Line& l, std::size_t& p)
  {
    while (p < l.text.size() && l.text[p] == ' ') {
      ++p;
    }
    if (p >= l.text.size()) {
      throw Unsupported{}; // a flow collection continued on the next line
    }
  }

  // One flow node at l.text[p]; p moves past it. Single-line only.
  std::uint32_t flow_node(const Line& l, std::size_t& p)
  {
    if (++m_depth > 64) {
      throw Unsupported{}; // libfyaml reports the depth limit
    }
    const auto t = l.text;
    skip_spaces(l, p);
    std::uint32_t index = 0;
    const char c = t[p];
    if (c == '[') {
      index = open(Kind::sequence, Style::flow, mark_at(l, p));
      ++p;
      while (true) {
        skip_spaces(l, p);
        if (t[p] == ']') {
          ++p;
          break;
        }
        flow_node(l, p);
        skip_spaces(l, p);
        if (t[p] == ',') {
          ++p;
        } else if (t[p] != ']') {
          throw Unsupported{};
        }
      }
      close(index);
    } else if (c == '{') {
      index = open(Kind::mapping, Style::flow, mark_at(l, p));
      ++p;
      while (true) {
        skip_spaces(l, p);
        if (t[p] == '}') {
          ++p;
          break;
        }
        if (t[p] == '[' || t[p] == '{') {
          throw Unsupported{}; // complex keys
        }
        flow_scalar(l, p, true);
        skip_spaces(l, p);
        if (t[p] != ':') {
          throw Unsupported{};
        }
        ++p;
        skip_spaces(l, p);
        if (t[p] == ',' || t[p] == '}') {
          throw Unsupported{}; // empty value: leave the details to libfyaml
        }
        flow_node(l, p);
        skip_spaces(l, p);
        if (t[p] == ',') {
          ++p;
        } else if (t[p] != '}') {
          throw Unsupported{};
        }
      }
      close(index);
    } else {
      index = flow_scalar(l, p, false);
    }
    --m_depth;
    return index;
  }

  std::uint32_t flow_scalar(const Line& l, std::size_t& p, bool key)
  {
    const auto t = l.text;
    const char c = t[p];
    if (c == '"' || c == '\'') {
      std::string_view text;
      const std::size_t after = quoted(l, p, text);
      const auto index = scalar(l, p + 1, text, c == '"' ? Style::double_quoted : Style::single_quoted);
      p = after;
      return index;
    }
    if (indicator(c) || c == ']' || c == '}' || c == ',' || c == '#' || c == '[' || c == '{' || c == '?' || c == ':'
        || (c == '-' && p + 1 < t.size() && t[p + 1] == ' ')) {
      throw Unsupported{};
    }
    std::size_t j = p;
    for (; j < t.size(); ++j) {
      const char d = t[j];
      if (d == ',' || d == '[' || d == ']' || d == '{' || d == '}') {
        break;
      }
      if (d == ':' && (j + 1 == t.size() || t[j + 1] == ' ' || t[j + 1] == ',' || t[j + 1] == '}' || t[j + 1] == ']')) {
        if (!key) {
          throw Unsupported{}; // a single-pair mapping inside a sequence ([a: b])
        }
        break;
      }
      if (d == '#' && t[j - 1] == ' ') {
        throw Unsupported{};
      }
      if (d == '\t') {
        throw Unsupported{};
      }
    }
    std::size_t e = j;
    while (e > p && t[e - 1] == ' ') {
      --e;
    }
    if (e == p) {
      throw Unsupported{};
    }
    const auto index = scalar(l, p, t.substr(p, e - p), Style::plain);
    p = j;
    return index;
  }

  std::uint32_t block_node(std::uint32_t indent)
  {
    if (++m_depth > 64) {
      throw Unsupported{};
    }
    Line& l = cur();
    const std::size_t p = indent;
    std::uint32_t index = 0;
    Key k;
    if (seq_item(l, p)) {
      index = block_sequence(indent);
    } else if (find_key(l, p, k)) {
      index = block_mapping(indent);
    } else {
      index = inline_value(l, p);
      advance();
      if (has_line() && cur().indent > indent) {
        throw Unsupported{};
      }
    }
    --m_depth;
    return index;
  }

  std::uint32_t null_value() { return add(Node{}); }

  std::uint32_t block_mapping(std::uint32_t indent)
  {
    const std::uint32_t index = open(Kind::mapping, Style::block, mark_at(cur(), indent));
    while (has_line()) {
      Line& l = cur();
      if (l.indent < indent) {
        break;
      }
      if (l.indent > indent || seq_item(l, indent)) {
        throw Unsupported{};
      }
      Key k;
      if (!find_key(l, indent, k)) {
        throw Unsupported{};
      }
      scalar(l, k.pos, k.text, k.style);
      std::string_view anchor;
      if (anchor_alone(l, k.value, anchor)) {
        advance();
        if (!has_line() || cur().indent <= indent || starts_with_property(cur())) {
          throw Unsupported{}; // an anchored null, indentless sequence, alias or second anchor
        }
        m_anchors[anchor] = block_node(cur().indent);
        continue;
      }
      if (k.value >= l.text.size() || l.text[k.value] == '#') {
        advance();
        if (!has_line()) {
          null_value();
        } else if (cur().indent > indent) {
          block_node(cur().indent);
        } else if (cur().indent == indent && seq_item(cur(), indent)) {
          block_sequence(indent, true);
        } else {
          null_value();
        }
      } else {
        inline_value(l, k.value, indent);
        advance();
        if (has_line() && cur().indent > indent) {
          throw Unsupported{}; // a multi-line plain scalar, or an error
        }
      }
    }
    close(index);
    return index;
  }

  // `indentless`: the value of a mapping key at the key's own indentation ("a:\n- x").
  std::uint32_t block_sequence(std::uint32_t indent, bool indentless = false)
  {
    const std::uint32_t index = open(Kind::sequence, Style::block, mark_at(cur(), indent));
    while (has_line()) {
      Line& l = cur();
      if (l.indent < indent) {
        break;
      }
      if (l.indent > indent) {
        throw Unsupported{};
      }
      if (!seq_item(l, indent)) {
        break; // the next key of a mapping whose value this sequence was
      }
      std::size_t q = indent + 1;
      while (q < l.text.size() && l.text[q] == ' ') {
        ++q;
      }
      if (q >= l.text.size() || l.text[q] == '#') {
        advance();
        if (has_line() && cur().indent > indent) {
          block_node(cur().indent);
        } else if (indentless) {
          // libfyaml 0.7.12 rejects an empty entry of an indentless sequence ("a:\n-\n"); both
          // paths must agree, so the document goes to libfyaml.
          throw Unsupported{};
        } else {
          null_value();
        }
        continue;
      }
      if (seq_item(l, q)) {
        throw Unsupported{}; // "- - x"
      }
      std::string_view anchor;
      if (anchor_alone(l, q, anchor)) {
        advance();
        if (!has_line() || cur().indent <= indent || starts_with_property(cur())) {
          throw Unsupported{};
        }
        m_anchors[anchor] = block_node(cur().indent);
        continue;
      }
      Key k;
      if (find_key(l, q, k)) {
        l.indent = static_cast<std::uint32_t>(q); // the item's mapping starts inside the line
        block_mapping(static_cast<std::uint32_t>(q));
      } else {
        inline_value(l, q, indent);
        advance();
        if (has_line() && cur().indent > indent) {
          throw Unsupported{};
        }
      }
    }
    close(index);
    return index;
  }

  std::vector<Line>& m_lines;
  std::size_t m_i;
  std::size_t m_end;
  Document& m_doc;
  std::vector<std::uint32_t> m_pending;
  std::vector<std::uint32_t> m_starts;
  std::unordered_map<std::string_view, std::uint32_t> m_anchors;
  int m_open = 0;
  int m_depth = 0;
};

namespace {

// Splits the input into lines and documents (at "---" and "..." lines, which YAML forbids
// anywhere else at the start of a line) and parses each document, fast path first.
std::optional<ParseError> parse_documents(std::string_view input, const std::function<void(const Document&)>& on_document)
{
  std::vector<Line> lines;
  lines.reserve(input.size() / 24 + 1);
  std::size_t pos = 0;
  std::uint32_t number = 0;
  while (pos < input.size()) {
    auto nl = input.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = input.size();
    }
    std::string_view text = input.substr(pos, nl - pos);
    if (!text.empty() && text.back() == '\r') {
      text.remove_suffix(1);
    }
    Line l{text, ++number, static_cast<std::uint32_t>(pos), 0, true, false};
    // Branch-free so that the compiler vectorizes it: any byte >= 0x80, any control byte other
    // than a tab (0x7F included).
    unsigned high = 0;
    unsigned control = 0;
    for (const char c : text) {
      const auto u = static_cast<unsigned char>(c);
      high |= u;
      control |= static_cast<unsigned>((u < 0x20) & (u != '\t')) | static_cast<unsigned>(u == 0x7F);
    }
    l.ascii = (high & 0x80u) == 0;
    const bool bad = control != 0;
    std::size_t i = 0;
    while (i < text.size() && text[i] == ' ') {
      ++i;
    }
    l.indent = static_cast<std::uint32_t>(i);
    l.blank = i == text.size() || text[i] == '#';
    // (UTF-8 was checked for the whole input by parse_stream.)
    if (bad || (i < text.size() && text[i] == '\t')) {
      // A comment line (after spaces or tabs) stays blank: it must not make a document.
      std::size_t j = i;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) {
        ++j;
      }
      // (A whitespace line with a tab is not blank: libfyaml may reject the tab.)
      l.blank = j < text.size() && text[j] == '#';
      l.indent = 0xFFFFFFu; // makes the fast path refuse this document
    }
    lines.push_back(l);
    pos = nl + 1;
  }

  std::optional<ParseError> first_error;
  std::uint32_t next_index = 0;
  Document doc; // reused: its vectors keep their capacity from one document to the next
  const auto deliver = [&](std::size_t begin, std::size_t end, std::size_t slice_begin, bool explicit_document) {
    doc.clear();
    bool fast = true;
    for (std::size_t k = begin; k < end && fast; ++k) {
      fast = lines[k].indent != 0xFFFFFFu;
    }
    if (fast) {
      try {
        FastParser(lines, begin, end, doc, next_index).run();
      } catch (const FastParser::Unsupported&) {
        fast = false;
      }
    }
    if (fast) {
      ++next_index;
      set_alias_budget(doc);
      on_document(doc);
      return;
    }
    const std::size_t from = slice_begin < lines.size() ? lines[slice_begin].offset : input.size();
    const std::size_t to = end < lines.size() ? lines[end].offset : input.size();
    const std::uint32_t base_line = slice_begin < lines.size() ? lines[slice_begin].number - 1 : number;
    std::uint32_t index = next_index;
    auto err = parse_libfyaml_slice(input.substr(from, to - from), base_line, static_cast<std::uint32_t>(from), index,
                                    on_document);
    // An explicit document that libfyaml found empty still counts once.
    next_index = explicit_document ? std::max(index, next_index + 1) : index;
    if (err && !first_error) {
      first_error = std::move(err);
    }
  };

  std::size_t begin = 0;    // first line of the current document's content
  std::size_t slice = 0;    // first line handed to libfyaml (includes a "---" line)
  bool explicit_start = false;
  bool has_content = false;
  for (std::size_t k = 0; k <= lines.size(); ++k) {
    const bool at_end = k == lines.size();
    const bool start_marker = !at_end && is_document_marker(lines[k].text, '-');
    const bool end_marker = !at_end && is_document_marker(lines[k].text, '.');
    if (at_end || start_marker || end_marker) {
      if (explicit_start || has_content) {
        deliver(begin, k, slice, explicit_start);
      }
      if (end_marker) {
        explicit_start = false;
        has_content = false;
        begin = k + 1;
        slice = k + 1;
        // Content after "... " on the same line is an error that libfyaml reports.
        if (!rest_after_marker_empty(lines[k].text)) {
          lines[k].indent = 0xFFFFFFu;
          lines[k].blank = false;
          begin = k;
          slice = k;
          has_content = true;
        }
        continue;
      }
      if (start_marker) {
        explicit_start = true;
        has_content = false;
        slice = k;
        begin = k + 1;
        // Content after "--- " on the same line: leave the document to libfyaml.
        if (!rest_after_marker_empty(lines[k].text)) {
          lines[k].indent = 0xFFFFFFu;
          lines[k].blank = false;
          begin = k;
        }
      }
      continue;
    }
    if (!lines[k].blank) {
      has_content = true;
    }
  }
  return first_error;
}

} // namespace

std::optional<ParseError> parse_stream_libfyaml(std::string_view input,
                                                const std::function<void(const Document&)>& on_document)
{
  std::uint32_t next_index = 0;
  return parse_libfyaml_slice(input, 0, 0, next_index, on_document);
}

namespace {

// A CR not followed by LF is a line break to YAML (old Mac line ends): the line splitter of the
// fast path knows only LF and CRLF, so such a stream goes to libfyaml whole.
bool has_lone_cr(std::string_view input)
{
  for (auto cr = input.find('\r'); cr != std::string_view::npos; cr = input.find('\r', cr + 1)) {
    if (cr + 1 == input.size() || input[cr + 1] != '\n') {
      return true;
    }
  }
  return false;
}

std::optional<ParseError> parse_stream_checked(std::string_view input,
                                               const std::function<void(const Document&)>& on_document)
{
  // Directives (%YAML, %TAG) and a byte-order mark change how the whole stream reads: libfyaml.
  const bool directives = input.starts_with('%') || input.find("\n%") != std::string_view::npos;
  if (directives || input.starts_with("\xEF\xBB\xBF") || input.size() >= 0xFFFFFF00u || has_lone_cr(input)) {
    return parse_stream_libfyaml(input, on_document);
  }
  return parse_documents(input, on_document);
}

} // namespace

std::optional<ParseError> parse_stream(std::string_view input, const std::function<void(const Document&)>& on_document)
{
  // YAML is Unicode text without NUL. libfyaml ends the stream silently at a NUL or a bad byte
  // (everything after it would be dropped without a word) and can loop on a bad byte in a
  // directive, so the encoding is checked here, first.
  if (const auto bad = util::first_invalid_utf8_or_nul(input); bad != std::string_view::npos) {
    const auto line_start = input.rfind('\n', bad == 0 ? std::string_view::npos : bad - 1);
    const std::size_t from = line_start == std::string_view::npos || bad == 0 ? 0 : line_start + 1;
    Mark m;
    m.line = static_cast<std::uint32_t>(std::count(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(from), '\n')) + 1;
    m.column = util::utf8_length(input.substr(from, bad - from)) + 1;
    m.offset = static_cast<std::uint32_t>(std::min<std::size_t>(bad, 0xFFFFFFFFu));
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(input[bad]));
    return ParseError{input[bad] == '\0' ? std::string("NUL byte (not allowed in YAML)")
                                          : std::string("invalid UTF-8 byte ") + byte,
                      m};
  }
  auto err = parse_stream_checked(input, on_document);
  if (err && err->mark.line > 0) {
    // Errors found at the end of input (an unclosed flow collection) carry a mark one line past
    // the last; an editor cannot go there.
    std::uint32_t last = static_cast<std::uint32_t>(std::count(input.begin(), input.end(), '\n'));
    if (input.empty() || input.back() != '\n') {
      ++last;
    }
    last = std::max<std::uint32_t>(last, 1);
    if (err->mark.line > last) {
      err->mark.line = last;
      const auto nl = input.size() >= 2 ? input.rfind('\n', input.size() - 2) : std::string_view::npos;
      const auto start = nl == std::string_view::npos ? 0 : nl + 1;
      auto text = input.substr(start);
      if (!text.empty() && text.back() == '\n') {
        text.remove_suffix(1);
      }
      err->mark.column = std::max<std::uint32_t>(1, std::min(err->mark.column, util::utf8_length(text) + 1));
    }
  }
  return err;
}

std::string library_version()
{
  const char* v = fy_library_version();
  return v == nullptr ? "unknown" : v;
}

} // namespace changetrail::yaml
