// Black-box test of `changetrail extract` on the HEAD tree of a real GitOps repository (the corpus in
// ../shared/corpora), against references checked by hand in the files (tests/corpus/expected_head.tsv).
//
// The corpus is not part of the project: when ../shared/corpora is absent the tests say so and skip.
#include "support/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using changetrail::test::corpora_dir;
using changetrail::test::run;
using changetrail::test::run_changetrail;
using changetrail::test::TempDir;

namespace {

constexpr const char* k_bundle = "k8s-gitops-yaml.bundle";

// One hand-checked reference: where it is written and what changetrail must say about it.
struct Expected {
  std::string file; // repository-relative
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string format;
  std::string ref;
  std::string location;
  std::size_t tsv_line = 0;
};

std::vector<Expected> load_expected()
{
  const fs::path path = fs::path(CHANGETRAIL_SOURCE_DIR) / "tests" / "corpus" / "expected_head.tsv";
  const auto tsv = changetrail::test::read_tsv(path);
  REQUIRE_FALSE(tsv.empty());
  std::vector<Expected> rows;
  for (const auto& row : tsv) {
    const auto& cols = row.columns;
    const std::size_t n = row.line;
    const std::string& line = row.text;
    INFO("expected_head.tsv line " << n << ": " << line);
    REQUIRE(cols.size() == 6);
    Expected e;
    e.file = cols[0];
    e.line = static_cast<std::uint32_t>(std::stoul(cols[1]));
    e.column = static_cast<std::uint32_t>(std::stoul(cols[2]));
    e.format = cols[3];
    e.ref = cols[4];
    e.location = cols[5];
    e.tsv_line = n;
    rows.push_back(std::move(e));
  }
  return rows;
}

struct Corpus {
  bool available = false;
  nlohmann::json findings; // the JSON array printed by `extract --format json`
  std::string err;         // stderr of extract (warnings: parse errors and the like)
  int exit_code = -1;
};

// Clones the bundle into `tmp` and runs extract on the clone. Skips (with a visible warning)
// when the corpus is absent.
Corpus extract_corpus(const TempDir& tmp)
{
  Corpus c;
  const fs::path corpora = corpora_dir();
  if (corpora.empty() || !fs::exists(corpora / k_bundle)) {
    WARN("SKIPPED: ../shared/corpora (with " << k_bundle
                                             << ") is absent beside the project; the corpus test did not run");
    return c;
  }
  const fs::path clone = tmp / "corpus";
  const auto git = run({"git", "clone", "-q", (corpora / k_bundle).string(), clone.string()}, {}, {}, {}, 600);
  INFO("git clone: " << git.err);
  REQUIRE(git.exit_code == 0);
  REQUIRE(fs::is_directory(clone / "kubernetes"));

  // Run from inside the clone so that the reported paths are repository-relative.
  const auto r = run_changetrail({"extract", "--format", "json", "."}, clone.string());
  c.exit_code = r.exit_code;
  c.err = r.err;
  INFO("extract stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  c.findings = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  REQUIRE(c.findings.is_array());
  c.available = true;
  return c;
}

std::string str(const nlohmann::json& j, const char* key)
{
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::uint32_t num(const nlohmann::json& j, const char* key)
{
  const auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint32_t>() : 0U;
}

std::string describe(const nlohmann::json& f)
{
  std::ostringstream os;
  os << str(f, "file") << ':' << num(f, "line") << ':' << num(f, "column") << " [" << str(f, "format") << "] "
     << str(f, "ref") << "  @ " << str(f, "location");
  return os.str();
}

} // namespace

TEST_CASE("corpus: extract on the HEAD tree finds every hand-checked reference", "[corpus]")
{
  const auto expected = load_expected();
  REQUIRE(expected.size() >= 45);

  TempDir tmp;
  const Corpus c = extract_corpus(tmp);
  if (!c.available) {
    return; // skipped, warned above
  }

  // Index the findings by file and line.
  std::multimap<std::pair<std::string, std::uint32_t>, const nlohmann::json*> by_position;
  for (const auto& f : c.findings) {
    by_position.emplace(std::make_pair(str(f, "file"), num(f, "line")), &f);
  }

  std::size_t matched = 0;
  for (const auto& e : expected) {
    INFO("expected_head.tsv line " << e.tsv_line << ": " << e.file << ':' << e.line << ':' << e.column << ' ' << e.ref
                                   << "  @ " << e.location);
    const auto [first, last] = by_position.equal_range({e.file, e.line});
    std::vector<const nlohmann::json*> here;
    for (auto it = first; it != last; ++it) {
      here.push_back(it->second);
    }
    std::string seen;
    for (const auto* f : here) {
      seen += "\n  changetrail: " + describe(*f);
    }
    INFO("findings on that line:" << (seen.empty() ? std::string(" none") : seen));
    REQUIRE(here.size() == 1);
    const auto& f = *here.front();
    CHECK(num(f, "column") == e.column);
    CHECK(str(f, "format") == e.format);
    CHECK(str(f, "ref") == e.ref);
    CHECK(str(f, "location") == e.location);
    CHECK(f["image"]["valid"] == true);
    ++matched;
  }
  CHECK(matched == expected.size());
}

TEST_CASE("corpus: aggregate facts of the HEAD tree", "[corpus]")
{
  const auto expected = load_expected();

  TempDir tmp;
  const Corpus c = extract_corpus(tmp);
  if (!c.available) {
    return; // skipped, warned above
  }
  const auto& findings = c.findings;

  // Counted by hand (grep of the clone, every hit read): 34 Flux OCIRepository documents with
  // `url: oci://` and a ref; 48 split `repository:` (+ `tag:`) image blocks in HelmRelease
  // values; one `image:` scalar in a custom resource (EnvoyProxy). Nothing else in HEAD is an
  // image reference changetrail is specified to read.
  CHECK(findings.size() >= 83);
  std::map<std::string, std::size_t> per_format;
  for (const auto& f : findings) {
    ++per_format[str(f, "format")];
  }
  CHECK(per_format["oci-artifact"] == 34);
  CHECK(per_format["helmrelease"] == 48);
  // No plain Kubernetes workloads, kustomizations, compose files or Dockerfiles in HEAD.
  CHECK(per_format["kubernetes"] == 0);
  CHECK(per_format["kustomize"] == 0);
  CHECK(per_format["compose"] == 0);
  CHECK(per_format["dockerfile"] == 0);

  // Every finding is at a real position, in a file of the repository (not .git).
  const std::regex digest_re("^sha256:[0-9a-f]{64}$");
  std::size_t with_digest = 0;
  for (const auto& f : findings) {
    INFO(describe(f));
    CHECK(num(f, "line") > 0);
    CHECK(num(f, "column") > 0);
    const auto file = str(f, "file");
    CHECK(!file.empty());
    CHECK(file.rfind(".git/", 0) != 0);
    CHECK(file.find("/.git/") == std::string::npos);
    CHECK(!str(f, "location").empty());
    const auto& image = f["image"];
    const auto digest = str(image, "digest");
    if (!digest.empty()) {
      ++with_digest;
      CHECK(std::regex_match(digest, digest_re));
      CHECK(image["valid"] == true);
      // The digest is the one written after the `@` of the reference.
      const auto ref = str(f, "ref");
      CHECK(ref.size() > digest.size());
      CHECK(ref.compare(ref.size() - digest.size(), digest.size(), digest) == 0);
    }
  }
  // 47 of the split blocks pin `tag: x@sha256:...` and one OCIRepository pins ref.digest.
  CHECK(with_digest >= 48);

  // The corpus parses: no file produced a warning (in particular no Helm chart template with
  // `{{` under a templates/ directory, and no parse error).
  CHECK(c.err.find("templates/") == std::string::npos);
  CHECK(c.err.find("YAML:") == std::string::npos);

  // Nothing beyond the hand-checked list: the TSV holds every reference of HEAD that changetrail
  // is specified to read, so any other finding is a false positive (or a new capability: then
  // check it by hand and add it to expected_head.tsv).
  std::set<std::pair<std::string, std::uint32_t>> listed;
  for (const auto& e : expected) {
    listed.emplace(e.file, e.line);
  }
  std::string unexpected;
  for (const auto& f : findings) {
    if (listed.count({str(f, "file"), num(f, "line")}) == 0) {
      unexpected += "\n  " + describe(f);
    }
  }
  INFO("findings not in expected_head.tsv:" << (unexpected.empty() ? std::string(" none") : unexpected));
  CHECK(unexpected.empty());
  CHECK(findings.size() == expected.size());
  CHECK(per_format["yaml"] == 1);

  // Every hand-checked row is reported exactly once (no duplicate at the same position).
  std::set<std::string> positions;
  std::size_t duplicates = 0;
  for (const auto& f : findings) {
    const std::string key =
        str(f, "file") + ':' + std::to_string(num(f, "line")) + ':' + std::to_string(num(f, "column"));
    if (!positions.insert(key).second) {
      ++duplicates;
      WARN("duplicate finding position: " << describe(f));
    }
  }
  CHECK(duplicates == 0);
}
