// The fast scanner and libfyaml must build the same tree for every input: same documents, node
// kinds, styles, texts, positions, children, warnings and errors.
#include "support/support.hpp"

#include <changetrail/yaml/yaml.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace fs = std::filesystem;
using namespace changetrail::yaml;

namespace {

void dump_node(std::ostringstream& os, const Document& d, std::uint32_t i, int depth)
{
  const Node& n = d.node(i);
  os << std::string(static_cast<std::size_t>(depth) * 2, ' ') << static_cast<int>(n.kind) << ' '
     << static_cast<int>(n.style) << ' ' << n.mark.line << ':' << n.mark.column << '@' << n.mark.offset << " ["
     << n.text << "]\n";
  if (n.kind == Kind::mapping || n.kind == Kind::sequence) {
    for (std::uint32_t k = 0; k < n.count; ++k) {
      dump_node(os, d, d.child(n.first + k), depth + 1);
    }
  }
}

std::string dump(const std::string& input, bool fast)
{
  std::ostringstream os;
  const auto on_doc = [&](const Document& d) {
    os << "doc " << d.index() << '\n';
    if (!d.empty()) {
      dump_node(os, d, 0, 0);
    }
    for (const auto& w : d.warnings()) {
      os << "warning " << w.mark.line << ": " << w.message << '\n';
    }
  };
  const auto err = fast ? parse_stream(input, on_doc) : parse_stream_libfyaml(input, on_doc);
  if (err) {
    // parse_stream moves a mark past the end of input (an unclosed flow collection at the end
    // of the file) onto the last line; libfyaml's own mark is one line further.
    const auto lines = static_cast<std::uint32_t>(std::count(input.begin(), input.end(), '\n')
                                                  + (input.empty() || input.back() != '\n' ? 1 : 0));
    os << "error at line " << std::min(err->mark.line, std::max<std::uint32_t>(lines, 1)) << '\n';
  }
  return os.str();
}

} // namespace

TEST_CASE("yaml::fast scanner matches libfyaml on crafted inputs", "[yaml]")
{
  const char* inputs[] = {
    "a: 1\nb:\n  - x: 1\n    y: \"q\"\n  -\n  - [1, {z: 2}]\nc:\n",
    "seq:\n- a\n- b\nnext: 1\n",
    "---\na: b\n---\n---\nc: d\n...\n# trailing\n",
    "a: 1\n---\n",
    "# only a comment\n",
    "",
    "key: 'it''s'\n",
    "k: v # comment\n# full line\n  # indented comment\nk2: \"v2\"   # c\n",
    "- name: app\n  image: nginx:1.25\n-   name: side\n    image: envoy\n",
    "\xC3\xA9t\xC3\xA9: caf\xC3\xA9\nx: \"\xC3\xA9\"\n",
    "a: b\r\nc:\r\n  - d\r\n",
    "dup: 1\ndup: 2\n",
    "url: http://example.com:8080/x\nt: a:b\n",
    "a:\n  b:\n    c:\n      d: [x, y, {e: f, g: [h]}]\n",
    "- - nested\n",
    "a: &anchor 1\nb: *anchor\n",
    "text: |\n  block\n",
    "plain: multi\n  line\n",
    "bad: [unclosed\n",
    "a: b: c\n",
    "\ta: tab\n",
    "--- {a: 1}\n",
    "- \n- x\n",
    "e: {}\nf: []\ng: [ ]\n",
    "'quoted key': 1\n\"dq\": 2\n",
    "a: \"esc\\n\"\n",
    "list:\n  - a\n  # comment between items\n  - b\n",
    "k: v\n  extra: indented\n",
  };
  for (const char* in : inputs) {
    INFO("input: " << in);
    CHECK(dump(in, true) == dump(in, false));
  }
}

TEST_CASE("yaml::fast scanner matches libfyaml on every YAML file of the examples and the corpus", "[yaml]")
{
  std::vector<fs::path> roots;
  roots.emplace_back(fs::path(CHANGETRAIL_SOURCE_DIR) / "examples");
  changetrail::test::TempDir tmp;
  if (const auto corpora = changetrail::test::corpora_dir(); !corpora.empty()) {
    const auto r = changetrail::test::run(
      {"git", "clone", "-q", (corpora / "k8s-gitops-yaml.bundle").string(), (tmp.path() / "corpus").string()});
    REQUIRE(r.exit_code == 0);
    roots.push_back(tmp.path() / "corpus");
  } else {
    WARN("../shared/corpora is absent: compared on the examples only");
  }
  std::size_t files = 0;
  for (const auto& root : roots) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
      const auto ext = it->path().extension().string();
      if (!it->is_regular_file() || (ext != ".yaml" && ext != ".yml") || it->path().string().find("/.git/") != std::string::npos) {
        continue;
      }
      const std::string content = changetrail::test::read_file(it->path());
      INFO("file: " << it->path());
      CHECK(dump(content, true) == dump(content, false));
      ++files;
    }
  }
  CHECK(files > 5);
}
