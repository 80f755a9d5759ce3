// The YAML tree the extractors read (include/changetrail/yaml/yaml.hpp): marks, lookups with
// merge keys, diagnostics, the alias budget (DESIGN.md "libfyaml facts": never expand a
// billion-laughs document), multi-document streams and parse errors.
#include <changetrail/yaml/yaml.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace changetrail::yaml;

namespace {

std::string text(std::string_view s)
{
  if (!s.empty() && s.front() == '\n') {
    s.remove_prefix(1);
  }
  return std::string(s);
}

// Parses a one-document input and runs `check` on it; fails when there is not exactly one.
template <typename F>
void with_document(const std::string& input, F check)
{
  int documents = 0;
  const auto err = parse_stream(input, [&](const Document& doc) {
    ++documents;
    check(doc);
  });
  if (err) {
    FAIL_CHECK("parse error at " << err->mark.line << ":" << err->mark.column << ": " << err->message);
  }
  CHECK(documents == 1);
}

// Visits every node reachable from `v` (aliases followed as the extractors follow them).
void walk(const Value& v, std::uint64_t& visited, int depth = 0)
{
  if (!v || depth > 100) {
    return;
  }
  ++visited;
  if (v.is_mapping()) {
    for (const auto& [k, child] : v.pairs()) {
      walk(child, visited, depth + 1);
    }
  } else if (v.is_sequence()) {
    for (const auto& item : v.items()) {
      walk(item, visited, depth + 1);
    }
  }
}

} // namespace

TEST_CASE("yaml: marks are 1-based, point after an opening quote, and count characters", "[yaml]")
{
  const auto input = text(R"(
key: value
quoted: "dq"
single: 'sq'
flow: {a: b, c: [d, e]}
ключ: значение
block:
  - first
  - second: 2
)");
  with_document(input, [&](const Document& doc) {
    const Value root = doc.root();
    REQUIRE(root.is_mapping());

    const Value key = root.get("key");
    REQUIRE(key.is_scalar());
    CHECK(key.text() == "value");
    CHECK(key.style() == Style::plain);
    CHECK(key.mark().line == 1);
    CHECK(key.mark().column == 6);
    CHECK(key.mark().offset == 5);
    CHECK_FALSE(key.via_alias());

    const Value quoted = root.get("quoted");
    CHECK(quoted.text() == "dq");
    CHECK(quoted.style() == Style::double_quoted);
    CHECK(quoted.mark().line == 2);
    CHECK(quoted.mark().column == 10);
    CHECK(quoted.mark().offset == input.find("dq"));

    const Value single = root.get("single");
    CHECK(single.text() == "sq");
    CHECK(single.style() == Style::single_quoted);
    CHECK(single.mark().line == 3);
    CHECK(single.mark().column == 10);

    const Value flow = root.get("flow");
    REQUIRE(flow.is_mapping());
    CHECK(flow.style() == Style::flow);
    CHECK(flow.get("a").mark().line == 4);
    CHECK(flow.get("a").mark().column == 11);
    const auto c = flow.get("c").items();
    REQUIRE(c.size() == 2);
    CHECK(c[0].text() == "d");
    CHECK(c[0].mark().column == 18);
    CHECK(c[1].text() == "e");
    CHECK(c[1].mark().column == 21);

    // Columns count characters; offsets count bytes.
    const Value cyrillic = root.get("ключ");
    CHECK(cyrillic.text() == "значение");
    CHECK(cyrillic.mark().line == 5);
    CHECK(cyrillic.mark().column == 7);
    CHECK(cyrillic.mark().offset == input.find("значение"));

    const auto block = root.get("block").items();
    REQUIRE(block.size() == 2);
    CHECK(block[0].text() == "first");
    CHECK(block[0].mark().line == 7);
    CHECK(block[0].mark().column == 5);
    CHECK(block[1].is_mapping());
    CHECK(block[1].get("second").text() == "2");
    CHECK(block[1].get("second").mark().line == 8);
    CHECK(block[1].get("second").mark().column == 13);
  });
}

TEST_CASE("yaml: the mark of an anchored or tagged scalar is its value's first character", "[yaml]")
{
  const auto input = text(R"(
anchored: &v hello
tagged: !!str 123
both: &w !!str "world"
alias: *v
)");
  with_document(input, [&](const Document& doc) {
    const Value root = doc.root();
    const Value anchored = root.get("anchored");
    CHECK(anchored.text() == "hello");
    CHECK(anchored.mark().line == 1);
    CHECK(anchored.mark().column == 14);
    CHECK(anchored.mark().offset == input.find("hello"));

    const Value tagged = root.get("tagged");
    CHECK(tagged.text() == "123");
    CHECK(tagged.mark().column == 15);

    const Value both = root.get("both");
    CHECK(both.text() == "world");
    CHECK(both.mark().line == 3);
    CHECK(both.mark().column == 17);

    // Reached through an alias: seen at the alias, its own mark still at the anchor.
    const Value alias = root.get("alias");
    CHECK(alias.text() == "hello");
    CHECK(alias.via_alias());
    CHECK(alias.mark().line == 4);
    CHECK(alias.mark().column == 8);
    CHECK(alias.own_mark().line == 1);
    CHECK(alias.own_mark().column == 14);
  });
}

TEST_CASE("yaml: scalar text, escapes, block scalars, null", "[yaml]")
{
  const auto input = text(R"(
escaped: "a\tb\u00e9"
folded: >
  one
  two
literal: |
  line 1
  line 2
tilde: ~
word: null
empty:
quoted_null: "null"
plain: x
)");
  with_document(input, [&](const Document& doc) {
    const Value root = doc.root();
    CHECK(root.get("escaped").text() == "a\tb\xC3\xA9");
    CHECK(root.get("folded").text() == "one two\n");
    CHECK(root.get("folded").style() == Style::folded);
    CHECK(root.get("literal").text() == "line 1\nline 2\n");
    CHECK(root.get("literal").style() == Style::literal);
    CHECK(root.get("tilde").is_null());
    CHECK(root.get("word").is_null());
    CHECK(root.get("empty").is_null());
    CHECK_FALSE(root.get("quoted_null").is_null());
    CHECK(root.get("quoted_null").text() == "null");
    CHECK_FALSE(root.get("plain").is_null());
    CHECK_FALSE(root.get("missing"));
    CHECK(root.get("missing").text().empty());
    CHECK(root.get_text("plain") == "x");
    // Lookups on a scalar find nothing.
    CHECK_FALSE(root.get("plain").get("x"));
  });
}

TEST_CASE("yaml: get() and pairs() with merge keys", "[yaml]")
{
  const auto input = text(R"(
base: &base {a: 1, b: 2}
other: &other {b: 20, c: 30}
m:
  <<: [*base, *other]
  a: 10
n:
  <<: *base
q:
  "<<": *base
)");
  with_document(input, [&](const Document& doc) {
    const Value root = doc.root();
    const Value m = root.get("m");
    REQUIRE(m.is_mapping());
    SECTION("own keys win")
    {
      CHECK(m.get("a").text() == "10");
      CHECK(m.get("a").mark().line == 5);
      CHECK_FALSE(m.get("a").via_alias());
    }
    SECTION("earlier merge sources win over later ones")
    {
      CHECK(m.get("b").text() == "2");
      CHECK(m.get("c").text() == "30");
      // Reached through the aliases: at their positions.
      CHECK(m.get("b").via_alias());
      CHECK(m.get("b").mark().line == 4);
      CHECK(m.get("b").mark().column == 8);
      CHECK(m.get("c").mark().line == 4);
      CHECK(m.get("c").mark().column == 15);
    }
    SECTION("pairs(): own keys first, merged keys once, no << key")
    {
      const auto pairs = m.pairs();
      REQUIRE(pairs.size() == 3);
      CHECK(pairs[0].first.text() == "a");
      CHECK(pairs[0].second.text() == "10");
      std::vector<std::string> keys;
      for (const auto& [k, v] : pairs) {
        keys.emplace_back(k.text());
      }
      CHECK(std::count(keys.begin(), keys.end(), "b") == 1);
      CHECK(std::count(keys.begin(), keys.end(), "c") == 1);
      CHECK(std::count(keys.begin(), keys.end(), "<<") == 0);
    }
    SECTION("a single merge source")
    {
      CHECK(root.get("n").get("a").text() == "1");
      CHECK(root.get("n").get("b").text() == "2");
      CHECK(root.get("n").get("a").mark().line == 7);
    }
    SECTION("a quoted \"<<\" is an ordinary key")
    {
      CHECK_FALSE(root.get("q").get("a"));
      CHECK(root.get("q").get("<<").is_mapping());
    }
  });
}

TEST_CASE("yaml: duplicate keys warn and the last one is used", "[yaml]")
{
  SECTION("small mapping")
  {
    with_document("a: 1\nb: 2\na: 3\n", [](const Document& doc) {
      REQUIRE(doc.warnings().size() == 1);
      CHECK(doc.warnings()[0].mark.line == 3);
      CHECK(doc.warnings()[0].message.find("\"a\"") != std::string::npos);
      CHECK(doc.root().get("a").text() == "3");
      CHECK(doc.root().get("b").text() == "2");
    });
  }
  SECTION("large mapping")
  {
    std::string input;
    for (int i = 0; i < 50; ++i) {
      input += "key" + std::to_string(i) + ": " + std::to_string(i) + "\n";
    }
    input += "key7: last\n";
    with_document(input, [](const Document& doc) {
      REQUIRE(doc.warnings().size() == 1);
      CHECK(doc.warnings()[0].mark.line == 51);
      CHECK(doc.warnings()[0].message.find("key7") != std::string::npos);
      CHECK(doc.root().get("key7").text() == "last");
    });
  }
  SECTION("no warning without duplicates")
  {
    with_document("x: &x {a: 1}\ny: &y {b: 2}\nz:\n  <<: *x\n  c: 3\n", [](const Document& doc) { CHECK(doc.warnings().empty()); });
  }
}

TEST_CASE("yaml: an unknown anchor is a warning, and reads as missing", "[yaml]")
{
  with_document("a: *nope\nb: 1\n", [](const Document& doc) {
    REQUIRE(doc.warnings().size() == 1);
    CHECK(doc.warnings()[0].message.find("nope") != std::string::npos);
    CHECK(doc.warnings()[0].mark.line == 1);
    CHECK(doc.warnings()[0].mark.column == 4);
    CHECK_FALSE(doc.root().get("a"));
    CHECK(doc.root().get("b").text() == "1");
  });
}

TEST_CASE("yaml: a billion-laughs document parses and its walk stops on the alias budget", "[yaml]")
{
  std::string input = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    const char prev = static_cast<char>(c - 1);
    input += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) {
      input += std::string(i == 0 ? "" : ",") + "*" + prev;
    }
    input += "]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  int documents = 0;
  std::uint64_t visited = 0;
  bool exhausted = false;
  const auto err = parse_stream(input, [&](const Document& doc) {
    ++documents;
    CHECK_FALSE(doc.budget_exhausted());
    CHECK(doc.size() < 1000); // aliases are nodes, not copies
    walk(doc.root(), visited);
    exhausted = doc.budget_exhausted();
  });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK_FALSE(err);
  CHECK(documents == 1);
  CHECK(exhausted);
  // 9^10 nodes if expanded; the walk must stop far earlier.
  CHECK(visited < 10'000'000);
  CHECK(elapsed < std::chrono::seconds(10));
}

TEST_CASE("yaml: a few aliases stay well inside the budget", "[yaml]")
{
  with_document("x: &x {image: a}\ny: [*x, *x, *x]\nz: {<<: *x}\n", [](const Document& doc) {
    std::uint64_t visited = 0;
    walk(doc.root(), visited);
    CHECK_FALSE(doc.budget_exhausted());
    const auto y = doc.root().get("y").items();
    REQUIRE(y.size() == 3);
    for (const auto& item : y) {
      CHECK(item.get("image").text() == "a");
      CHECK(item.via_alias());
    }
    CHECK(doc.root().get("z").get("image").text() == "a");
  });
}

TEST_CASE("yaml: multi-document streams", "[yaml]")
{
  const auto input = text(R"(
a: 1
---
b: 2
---
# only a comment
---
c: 3
...
)");
  std::vector<std::uint32_t> indices;
  std::vector<std::string> values;
  std::vector<std::uint32_t> lines;
  const auto err = parse_stream(input, [&](const Document& doc) {
    indices.push_back(doc.index());
    const Value root = doc.root();
    if (root.is_mapping()) {
      const auto pairs = root.pairs();
      REQUIRE(pairs.size() == 1);
      values.emplace_back(pairs[0].second.text());
      lines.push_back(pairs[0].second.mark().line);
    } else {
      CHECK(root.is_null());
      values.emplace_back("<empty>");
      lines.push_back(0);
    }
  });
  CHECK_FALSE(err);
  CHECK(indices == std::vector<std::uint32_t>{0, 1, 2, 3});
  CHECK(values == std::vector<std::string>{"1", "2", "<empty>", "3"});
  // Lines are positions in the whole stream.
  CHECK(lines == std::vector<std::uint32_t>{1, 3, 0, 7});
}

TEST_CASE("yaml: anchors do not cross documents", "[yaml]")
{
  int documents = 0;
  bool resolved = false;
  const auto err = parse_stream("a: &x 1\n---\nb: *x\n", [&](const Document& doc) {
    ++documents;
    if (doc.root().get("b").text() == "1") {
      resolved = true;
    }
  });
  // An alias to another document's anchor is undefined (a warning, or an error): never "1".
  CHECK_FALSE(resolved);
  if (!err) {
    CHECK(documents == 2);
  }
}

TEST_CASE("yaml: parse errors carry their line; earlier documents are delivered", "[yaml]")
{
  SECTION("a reserved indicator")
  {
    int documents = 0;
    const auto err = parse_stream("x: 1\n---\na: 1\n@b: 2\n", [&](const Document&) { ++documents; });
    REQUIRE(err);
    INFO(err->message);
    // `@` at line 4, column 1.
    CHECK(err->mark.line == 4);
    CHECK(err->mark.column == 1);
    CHECK_FALSE(err->message.empty());
    CHECK(documents == 1);
  }
  SECTION("a tab used for indentation")
  {
    const auto err = parse_stream("a:\n\tb: 1\n", [](const Document&) {});
    REQUIRE(err);
    INFO(err->message);
    CHECK(err->mark.line == 2);
  }
  SECTION("an unclosed flow sequence")
  {
    const auto err = parse_stream("a: 1\nb: [1, 2\nc: 3\n", [](const Document&) {});
    REQUIRE(err);
    CHECK(err->mark.line >= 2);
  }
  SECTION("nesting deeper than 64 is refused")
  {
    const std::string deep = std::string(100, '[') + std::string(100, ']') + "\n";
    const auto err = parse_stream(deep, [](const Document&) {});
    REQUIRE(err);
    CHECK(err->mark.line == 1);
    CHECK(err->message.find("depth") != std::string::npos);
  }
  SECTION("10,000 levels deep: an error, not a crash")
  {
    std::string block;
    for (int i = 0; i < 10000; ++i) {
      block += "- ";
    }
    block += "x\n";
    CHECK(parse_stream(block, [](const Document&) {}));
    const std::string flow = std::string(10000, '{') + std::string(10000, '}');
    CHECK(parse_stream(flow, [](const Document&) {}));
  }
}

TEST_CASE("yaml: CRLF and a byte-order mark", "[yaml]")
{
  with_document("\xEF\xBB\xBF"
                "a: x\r\nb: \"y\"\r\n",
                [](const Document& doc) {
                  const Value a = doc.root().get("a");
                  CHECK(a.text() == "x");
                  CHECK(a.mark().line == 1);
                  CHECK(a.mark().column == 4);
                  const Value b = doc.root().get("b");
                  CHECK(b.text() == "y");
                  CHECK(b.mark().line == 2);
                  CHECK(b.mark().column == 5);
                });
}

TEST_CASE("yaml: library_version names libfyaml's version", "[yaml]")
{
  const auto v = library_version();
  CHECK_FALSE(v.empty());
  CHECK(v != "unknown");
  CHECK(v.find('.') != std::string::npos);
}
