#include <changetrail/yaml/yaml.hpp>

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

struct ParserDeleter {
  void operator()(fy_parser* p) const { fy_parser_destroy(p); }
};
using ParserPtr = std::unique_ptr<fy_parser, ParserDeleter>;

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

class Builder {
public:
  explicit Builder(std::string_view input) : m_input(input) {}

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
    n.mark = to_mark(fy_event_start_mark(e));
    if (n.style == Style::single_quoted || n.style == Style::double_quoted) {
      ++n.mark.column;
      ++n.mark.offset;
    }
    n.text = keep(token_text(data.value));
    const auto index = add(n);
    if (data.anchor != nullptr) {
      m_anchors[std::string(token_text(data.anchor))] = index;
    }
  }

  void alias(fy_event* e)
  {
    Node n;
    n.kind = Kind::alias;
    n.mark = to_mark(fy_event_start_mark(e));
    n.text = keep(token_text(e->alias.anchor));
    const auto it = m_anchors.find(std::string(n.text));
    if (it == m_anchors.end()) {
      m_doc.m_warnings.push_back({"unknown anchor \"" + std::string(n.text) + "\"", n.mark});
    } else {
      n.target = it->second;
    }
    add(n);
  }

  void open(fy_event* e, Kind kind, fy_token* anchor, bool flow)
  {
    Node n;
    n.kind = kind;
    n.style = flow ? Style::flow : Style::block;
    n.mark = to_mark(fy_event_start_mark(e));
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
      check_duplicates(m_doc.m_nodes[frame.node]);
    }
    // Registered only when complete: an alias inside its own anchor would make a cycle.
    if (!frame.anchor.empty()) {
      m_anchors[frame.anchor] = frame.node;
    }
  }

  void finish_document()
  {
    m_doc.m_alias_budget = std::max(k_min_alias_budget, k_alias_budget_per_node * m_doc.m_nodes.size());
  }

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

  void check_duplicates(const Node& mapping)
  {
    const auto key_at = [&](std::uint32_t i) -> const Node& { return m_doc.m_nodes[m_doc.m_children[mapping.first + i]]; };
    if (mapping.count <= 32) {
      for (std::uint32_t i = 0; i + 1 < mapping.count; i += 2) {
        const Node& a = key_at(i);
        if (a.kind != Kind::scalar) {
          continue;
        }
        for (std::uint32_t j = i + 2; j + 1 < mapping.count; j += 2) {
          const Node& b = key_at(j);
          if (b.kind == Kind::scalar && a.text == b.text && a.text != "<<") {
            report_duplicate(a, b);
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
        report_duplicate(key_at(it->second), k);
      }
    }
  }

  void report_duplicate(const Node& first, const Node& second)
  {
    m_doc.m_warnings.push_back({"duplicate key \"" + std::string(second.text) + "\" (first at line "
                                    + std::to_string(first.mark.line) + "); the last one is used",
                                second.mark});
  }

  std::string_view m_input;
  Document m_doc;
  std::unordered_map<std::string, std::uint32_t> m_anchors;
  std::vector<Frame> m_stack;
  std::vector<std::uint32_t> m_pending;
};

Value Document::root() const
{
  return Value(this, m_root);
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
    if (k) {
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

std::optional<ParseError> parse_stream(std::string_view input,
                                       const std::function<void(const Document&)>& on_document)
{
  fy_parse_cfg cfg{};
  cfg.search_path = "";
  cfg.flags = static_cast<fy_parse_cfg_flags>(FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_AUTO
                                              | FYPCF_DISABLE_RECYCLING);
  ParserPtr parser(fy_parser_create(&cfg));
  if (!parser) {
    return ParseError{"cannot create YAML parser", {}};
  }
  if (fy_parser_set_string(parser.get(), input.data(), input.size()) != 0) {
    return ParseError{"cannot read YAML input", {}};
  }
  if (fy_diag* diag = fy_parser_get_diag(parser.get()); diag != nullptr) {
    fy_diag_set_collect_errors(diag, true);
  }

  Builder builder(input);
  std::uint32_t doc_index = 0;
  bool in_document = false;
  while (fy_event* e = fy_parser_parse(parser.get())) {
    EventGuard guard{parser.get(), e};
    switch (e->type) {
    case FYET_DOCUMENT_START:
      builder.start_document(doc_index++);
      in_document = true;
      break;
    case FYET_DOCUMENT_END:
      builder.finish_document();
      on_document(builder.document());
      in_document = false;
      break;
    case FYET_SCALAR:
      builder.scalar(e);
      break;
    case FYET_ALIAS:
      builder.alias(e);
      break;
    case FYET_MAPPING_START:
      builder.open(e, Kind::mapping, e->mapping_start.anchor,
                   fy_event_get_node_style(e) == FYNS_FLOW);
      break;
    case FYET_SEQUENCE_START:
      builder.open(e, Kind::sequence, e->sequence_start.anchor,
                   fy_event_get_node_style(e) == FYNS_FLOW);
      break;
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
      builder.close();
      break;
    default:
      break;
    }
  }
  (void)in_document;
  if (fy_parser_get_stream_error(parser.get())) {
    ParseError err{"invalid YAML", {}};
    if (fy_diag* diag = fy_parser_get_diag(parser.get()); diag != nullptr) {
      void* iter = nullptr;
      if (fy_diag_error* de = fy_diag_errors_iterate(diag, &iter); de != nullptr) {
        err.message = de->msg != nullptr ? de->msg : "invalid YAML";
        err.mark.line = static_cast<std::uint32_t>(std::max(de->line, 0) + 1);
        err.mark.column = static_cast<std::uint32_t>(std::max(de->column, 0) + 1);
      }
    }
    return err;
  }
  return std::nullopt;
}

std::string library_version()
{
  const char* v = fy_library_version();
  return v == nullptr ? "unknown" : v;
}

} // namespace changetrail::yaml
