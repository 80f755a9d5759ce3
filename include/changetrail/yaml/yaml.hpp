#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::yaml {

// A position in the input: 1-based line and column (columns count characters, not bytes) and
// the byte offset of the node's first character.
struct Mark {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::uint32_t offset = 0;
};

enum class Kind : std::uint8_t { scalar, mapping, sequence, alias };
enum class Style : std::uint8_t { plain, single_quoted, double_quoted, literal, folded, flow, block };

inline constexpr std::uint32_t k_none = 0xFFFFFFFFu;

struct Node {
  Kind kind = Kind::scalar;
  Style style = Style::plain;
  Mark mark;                 // first character of the value (after an opening quote)
  std::string_view text;     // scalar value; anchor name for an alias
  std::uint32_t first = 0;   // children in Document::children(): mapping = key, value, key, value...
  std::uint32_t count = 0;   // number of child slots
  std::uint32_t target = k_none; // alias: the anchored node
  bool shadowed = false;     // a mapping key repeated later in the same mapping: the last one is used
};

struct Diagnostic {
  std::string message;
  Mark mark;
};

class Value;

// One YAML document, parsed from libfyaml's event stream into a compact tree. Anchors are
// recorded, never expanded: an alias is one node pointing at its anchor, so a billion-laughs
// document costs its own size (DESIGN.md "libfyaml facts": never resolve documents).
class Document {
public:
  [[nodiscard]] Value root() const;
  [[nodiscard]] bool empty() const { return m_root == k_none; }
  [[nodiscard]] std::uint32_t index() const { return m_index; }
  [[nodiscard]] const Node& node(std::uint32_t i) const { return m_nodes[i]; }
  [[nodiscard]] std::uint32_t child(std::uint32_t i) const { return m_children[i]; }
  [[nodiscard]] std::size_t size() const { return m_nodes.size(); }
  // Duplicate keys and other things that do not stop parsing.
  [[nodiscard]] const std::vector<Diagnostic>& warnings() const { return m_warnings; }

  // Following aliases consumes a budget; when it runs out, aliases read as missing and
  // budget_exhausted() turns true (the caller reports it).
  bool take_alias_budget() const;
  // Empties the document, keeping the memory it had.
  void clear();
  [[nodiscard]] bool budget_exhausted() const { return m_budget_exhausted; }

private:
  friend class Builder;
  friend class FastParser;
  friend void check_duplicates(Document& doc, std::uint32_t mapping);
  friend void set_alias_budget(Document& doc);
  std::vector<Node> m_nodes;
  std::vector<std::uint32_t> m_children;
  std::deque<std::string> m_arena; // scalar text that libfyaml did not leave in the input buffer
  std::vector<Diagnostic> m_warnings;
  std::uint32_t m_root = k_none;
  std::uint32_t m_index = 0;
  mutable std::uint64_t m_alias_budget = 0;
  mutable bool m_budget_exhausted = false;
};

// A node seen from a path through the document. A value reached through an alias reports the
// alias's position (issue 2: "the same reference reached twice through an alias is reported at
// the alias").
class Value {
public:
  Value() = default;
  Value(const Document* doc, std::uint32_t index, std::optional<Mark> via_alias = std::nullopt);

  [[nodiscard]] explicit operator bool() const { return m_doc != nullptr && m_index != k_none; }
  [[nodiscard]] Kind kind() const { return node().kind; }
  [[nodiscard]] bool is_scalar() const { return *this && node().kind == Kind::scalar; }
  [[nodiscard]] bool is_mapping() const { return *this && node().kind == Kind::mapping; }
  [[nodiscard]] bool is_sequence() const { return *this && node().kind == Kind::sequence; }
  // A plain scalar "null", "~" or empty.
  [[nodiscard]] bool is_null() const;
  [[nodiscard]] std::string_view text() const { return is_scalar() ? node().text : std::string_view{}; }
  [[nodiscard]] Style style() const { return node().style; }
  [[nodiscard]] Mark mark() const { return m_via_alias ? *m_via_alias : node().mark; }
  [[nodiscard]] Mark own_mark() const { return node().mark; }
  [[nodiscard]] bool via_alias() const { return m_via_alias.has_value(); }
  [[nodiscard]] const Document& document() const { return *m_doc; }

  // Mapping lookup; follows `<<` merge keys. Last one wins on duplicate keys.
  [[nodiscard]] Value get(std::string_view key) const;
  [[nodiscard]] std::string_view get_text(std::string_view key) const { return get(key).text(); }
  // Children of a sequence, or key/value pairs of a mapping (merge keys expanded, own keys first).
  [[nodiscard]] std::vector<Value> items() const;
  [[nodiscard]] std::vector<std::pair<Value, Value>> pairs() const;

private:
  [[nodiscard]] const Node& node() const { return m_doc->node(m_index); }
  [[nodiscard]] Value wrap(std::uint32_t index) const;
  void collect_pairs(std::vector<std::pair<Value, Value>>& out, int depth) const;

  const Document* m_doc = nullptr;
  std::uint32_t m_index = k_none;
  std::optional<Mark> m_via_alias;
};

struct ParseError {
  std::string message;
  Mark mark;
};

// Parses a YAML stream document by document and calls `on_document` for each (documents are
// freed after their callback, so memory is bounded by the largest document). Returns the first
// syntax error; the documents without errors have been delivered.
//
// Documents in the common block subset of YAML (block and one-line flow collections, one-line
// plain and quoted scalars, comments) are read by a fast scanner; any document that uses more
// (anchors, tags, block scalars, multi-line scalars, directives, tabs, invalid UTF-8...) is
// parsed by libfyaml. Both produce the same tree (tests/yaml/differential_test.cpp).
std::optional<ParseError> parse_stream(std::string_view input,
                                       const std::function<void(const Document&)>& on_document);

// libfyaml alone, for every document: the reference the fast scanner is compared against.
std::optional<ParseError> parse_stream_libfyaml(std::string_view input,
                                                const std::function<void(const Document&)>& on_document);

// libfyaml's own version string.
[[nodiscard]] std::string library_version();

} // namespace changetrail::yaml
