// The YAML side of `changetrail extract`: one input is read as a plain manifest/values file, as a
// compose file (with a .env beside it) and as a kustomization, and its YAML tree is walked node
// by node. The extractors must never throw on bad content (extract.hpp) and every position they
// report must lie in the file.
#include "fuzz_check.hpp"

#include <changetrail/extract/extract.hpp>
#include <changetrail/yaml/yaml.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace extract = changetrail::extract;
namespace yaml = changetrail::yaml;
using changetrail::fuzz::show;

// Variables a compose file may use: set, set empty, and a value that is itself a reference part.
constexpr std::string_view k_dotenv = "# .env beside the compose file\n"
                                      "TAG=1.2.3\n"
                                      "REGISTRY=ghcr.io/acme\n"
                                      "EMPTY=\n"
                                      "export DIGEST=\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n"
                                      "QUOTED='x y' # comment\n";

// Upper bound on the line numbers a position in `content` may have. YAML breaks lines at CR,
// LF and CRLF (and YAML 1.1 also at NEL, LS, PS), so every one of them is counted.
std::uint32_t max_line(std::string_view content)
{
  std::uint32_t n = 1;
  for (std::size_t i = 0; i < content.size(); ++i) {
    const auto c = static_cast<unsigned char>(content[i]);
    if (c == '\n' || c == '\r' || c == 0x85 || (c == 0xE2 && i + 2 < content.size() && content[i + 1] == '\x80'
                                                  && (content[i + 2] == '\xA8' || content[i + 2] == '\xA9'))) {
      ++n;
    }
  }
  return n;
}

void check_result(const extract::FileResult& r, std::string_view file, std::uint32_t lines)
{
  CHANGETRAIL_FUZZ_CHECK(r.file == file, show(r.file));
  for (const auto& f : r.findings) {
    const std::string detail = std::string(file) + ":" + std::to_string(f.line) + ":" + std::to_string(f.column) + " ("
                               + std::to_string(lines) + " lines) format=" + f.format + " location=" + show(f.location)
                               + " ref=" + show(f.ref);
    CHANGETRAIL_FUZZ_CHECK(f.file == file, detail);
    CHANGETRAIL_FUZZ_CHECK(f.line >= 1 && f.line <= lines, detail);
    CHANGETRAIL_FUZZ_CHECK(f.column >= 1, detail);
    CHANGETRAIL_FUZZ_CHECK(!f.format.empty(), detail);
    // `extract --format json` serializes every finding, whatever bytes the file held.
    changetrail::fuzz::no_throw("Finding to_json", [&] {
      const nlohmann::json j = f;
      (void)j.dump();
    });
  }
  for (const auto& p : r.problems) {
    CHANGETRAIL_FUZZ_CHECK(p.line <= lines, std::string(file) + ":" + std::to_string(p.line) + ": " + show(p.message));
    CHANGETRAIL_FUZZ_CHECK(!p.message.empty(), std::string(file));
  }
  for (const auto& s : r.suppressions) {
    CHANGETRAIL_FUZZ_CHECK(s.line >= 1 && s.line <= lines, std::to_string(s.line));
  }
}

// Checks the compact tree itself: indexes in range, texts readable, marks inside the input.
void check_document(const yaml::Document& doc, std::string_view input)
{
  const auto size = doc.size();
  volatile unsigned char sink = 0;
  for (std::uint32_t i = 0; i < size; ++i) {
    const yaml::Node& n = doc.node(i);
    const std::string where = "node " + std::to_string(i) + " at " + std::to_string(n.mark.line) + ":"
                              + std::to_string(n.mark.column) + " offset " + std::to_string(n.mark.offset);
    // libfyaml gives an implicit null (an empty plain scalar: `key:` with nothing after it) no
    // token and so no position: Mark{} (line 0). Every other node has one.
    const bool implicit_null = n.kind == yaml::Kind::scalar && n.text.empty() && n.style == yaml::Style::plain;
    CHANGETRAIL_FUZZ_CHECK(implicit_null || (n.mark.line >= 1 && n.mark.column >= 1), where);
    CHANGETRAIL_FUZZ_CHECK(n.mark.offset <= input.size(), where);
    // Every byte of the text must be readable (in the input or in the document's arena).
    for (const char c : n.text) {
      sink = sink ^ static_cast<unsigned char>(c);
    }
    const bool in_input = !n.text.empty() && n.text.data() >= input.data()
                          && n.text.data() + n.text.size() <= input.data() + input.size();
    // A scalar read in place starts where its mark says (the Argo CD helm.values position
    // mapping relies on the offset).
    if (n.kind == yaml::Kind::scalar && in_input) {
      CHANGETRAIL_FUZZ_CHECK(static_cast<std::size_t>(n.text.data() - input.data()) == n.mark.offset,
                             where + " text " + show(n.text, 80) + " starts at offset "
                                 + std::to_string(n.text.data() - input.data()));
    }
    switch (n.kind) {
    case yaml::Kind::mapping:
      CHANGETRAIL_FUZZ_CHECK(n.count % 2 == 0, where + " mapping with an odd number of children");
      [[fallthrough]];
    case yaml::Kind::sequence:
      for (std::uint32_t k = 0; k < n.count; ++k) {
        const auto c = doc.child(n.first + k);
        CHANGETRAIL_FUZZ_CHECK(c > i && c < size, where + " child " + std::to_string(c));
      }
      break;
    case yaml::Kind::alias:
      // Anchors are registered only once complete, so an alias points backwards, at a
      // non-alias node, and never into itself.
      CHANGETRAIL_FUZZ_CHECK(n.target == yaml::k_none || (n.target < i && doc.node(n.target).kind != yaml::Kind::alias),
                             where + " alias target " + std::to_string(n.target));
      break;
    case yaml::Kind::scalar:
      CHANGETRAIL_FUZZ_CHECK(n.count == 0, where);
      break;
    }
  }
  for (const auto& w : doc.warnings()) {
    CHANGETRAIL_FUZZ_CHECK(!w.message.empty() && w.mark.offset <= input.size(), show(w.message));
  }
}

// Walks the Value view the extractors use (aliases, merge keys) with a work budget of its own
// (nodes visited plus children listed), so that the harness stays linear even where the alias
// budget allows a large expansion.
void walk_values(const yaml::Value& v, int depth, std::size_t& budget)
{
  if (!v || depth > 128 || budget == 0) {
    return;
  }
  --budget;
  (void)v.is_null();
  (void)v.mark();
  if (v.is_mapping()) {
    (void)v.get("image");
    (void)v.get_text("kind");
    const auto pairs = v.pairs();
    budget -= std::min(budget, pairs.size());
    for (const auto& [k, child] : pairs) {
      (void)k.text();
      walk_values(child, depth + 1, budget);
    }
  } else if (v.is_sequence()) {
    const auto items = v.items();
    budget -= std::min(budget, items.size());
    for (const auto& item : items) {
      walk_values(item, depth + 1, budget);
    }
  }
}

extract::FileResult run(std::string_view content, extract::FileKind kind, std::string_view file)
{
  extract::FileInput in;
  in.file = file;
  in.rel = file;
  in.content = content;
  in.kind = kind;
  in.read_dotenv = [] { return std::optional<std::string>(std::string(k_dotenv)); };
  extract::FileResult r;
  changetrail::fuzz::no_throw("extract_file", [&] { r = extract::extract_file(in); });
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::uint32_t lines = max_line(input);

  std::vector<extract::FileResult> results;
  results.push_back(run(input, extract::FileKind::yaml, "clusters/prod/apps/values.yaml"));
  results.push_back(run(input, extract::FileKind::compose, "compose.yaml"));
  results.push_back(run(input, extract::FileKind::kustomization, "overlays/prod/kustomization.yaml"));
  for (const auto& r : results) {
    check_result(r, r.file, lines);
  }
  // HelmRelease charts resolve against the HelmRepositories of the same set of files.
  changetrail::fuzz::no_throw("resolve_charts", [&] { extract::resolve_charts(results); });
  for (const auto& r : results) {
    check_result(r, r.file, lines);
  }

  changetrail::fuzz::no_throw("parse_stream", [&] {
    (void)yaml::parse_stream(input, [&](const yaml::Document& doc) {
      check_document(doc, input);
      std::size_t budget = 4 * doc.size() + 10000;
      walk_values(doc.root(), 0, budget);
    });
  });

  // The compose .env format on the same bytes.
  changetrail::fuzz::no_throw("parse_dotenv", [&] { (void)extract::parse_dotenv(input); });
  return 0;
}
