// Black-box tests of `changetrail ref REF...` (issue 2 section 2, DESIGN.md "ref" JSON fields and
// exit codes): every output format, exit 0 when all inputs are valid, 2 when any is not.

#include "support/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

using changetrail::test::run;
using changetrail::test::run_changetrail;
using nlohmann::json;

namespace {

const std::string k_hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string k_digest = "sha256:" + k_hex;

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

json parse_json(const std::string& text)
{
  json j;
  INFO(text);
  REQUIRE_NOTHROW(j = json::parse(text));
  return j;
}

// Rows of a CSV text, read by Python's csv module (an independent RFC 4180 reader).
json csv_rows(const std::string& text)
{
  const auto r = run({"python3", "-c", "import csv,json,sys; print(json.dumps(list(csv.reader(sys.stdin))))"}, {}, text);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return parse_json(r.out);
}

int count_lines(const std::string& s)
{
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

} // namespace

TEST_CASE("cli::ref json has the DESIGN.md fields", "[cli][ref]")
{
  const auto r = run_changetrail({"ref", "--format", "json", "nginx", "ghcr.io/acme/app:1.2@" + k_digest,
                                  "localhost:5000/team/tool:v1"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  const auto j = parse_json(r.out);
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 3);
  for (const auto& item : j) {
    for (const char* key : {"input", "valid", "error", "registry", "repository", "tag", "digest", "canonical", "familiar"}) {
      INFO(key);
      CHECK(item.contains(key));
    }
    CHECK(item["valid"] == true);
  }
  // Default registry and library/ for official images.
  CHECK(j[0]["input"] == "nginx");
  CHECK(j[0]["registry"] == "docker.io");
  CHECK(j[0]["repository"] == "library/nginx");
  CHECK(j[0]["tag"].is_null());
  CHECK(j[0]["digest"].is_null());
  CHECK(j[0]["canonical"] == "docker.io/library/nginx");
  CHECK(j[0]["familiar"] == "nginx");
  // Tag and digest: both kept.
  CHECK(j[1]["registry"] == "ghcr.io");
  CHECK(j[1]["repository"] == "acme/app");
  CHECK(j[1]["tag"] == "1.2");
  CHECK(j[1]["digest"] == k_digest);
  CHECK(j[1]["canonical"] == "ghcr.io/acme/app:1.2@" + k_digest);
  CHECK(j[1]["familiar"] == "ghcr.io/acme/app:1.2@" + k_digest);
  // A host with a port is a registry.
  CHECK(j[2]["registry"] == "localhost:5000");
  CHECK(j[2]["repository"] == "team/tool");
  CHECK(j[2]["tag"] == "v1");
}

TEST_CASE("cli::ref an invalid input exits 2 and the JSON still lists every input", "[cli][ref]")
{
  const auto r = run_changetrail({"ref", "--format", "json", "nginx:1.25", "Nginx:UPPER", "redis", "ghcr.io/acme/app@sha256:12"});
  CHECK(r.exit_code == 2);
  const auto j = parse_json(r.out);
  REQUIRE(j.size() == 4);
  CHECK(j[0]["input"] == "nginx:1.25");
  CHECK(j[0]["valid"] == true);
  CHECK(j[0]["error"].is_null());
  CHECK(j[1]["input"] == "Nginx:UPPER");
  CHECK(j[1]["valid"] == false);
  CHECK(j[1]["error"].is_string());
  CHECK_FALSE(j[1]["error"].get<std::string>().empty());
  CHECK(j[2]["input"] == "redis");
  CHECK(j[2]["valid"] == true);
  CHECK(j[3]["valid"] == false); // digest of the wrong length
  CHECK_FALSE(j[3]["error"].get<std::string>().empty());
}

TEST_CASE("cli::ref unresolved templates are unresolved, not invalid", "[cli][ref]")
{
  const auto r = run_changetrail({"ref", "--format", "json", "app:${TAG}", "$IMAGE", "{{ .Values.image }}"});
  const auto j = parse_json(r.out);
  REQUIRE(j.size() == 3);
  for (const auto& item : j) {
    INFO(item.dump());
    CHECK(item["valid"] == false);
    CHECK(item["unresolved"] == true);
  }
  CHECK(j[0]["error"].get<std::string>().find("TAG") != std::string::npos);
  CHECK(j[1]["error"].get<std::string>().find("IMAGE") != std::string::npos);
  CHECK(r.exit_code == 2); // not valid
}

TEST_CASE("cli::ref all valid exits 0", "[cli][ref]")
{
  for (const auto& ref : std::vector<std::string>{"busybox", "docker.io/library/busybox:1.36", "[::1]:5000/a/b:c", "127.0.0.1:5000/x",
                          "quay.io/prometheus/node-exporter@" + k_digest}) {
    INFO(ref);
    const auto r = run_changetrail({"ref", ref});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
  }
}

TEST_CASE("cli::ref table is aligned", "[cli][ref]")
{
  const auto r = run_changetrail({"ref", "nginx", "ghcr.io/acme/app:1.2@" + k_digest, "not a ref"});
  CHECK(r.exit_code == 2);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 4);
  const auto& header = lines[0];
  CHECK(header.rfind("INPUT", 0) == 0);
  const auto reg = header.find("REGISTRY");
  const auto repo = header.find("REPOSITORY");
  const auto tag = header.find("TAG");
  REQUIRE(reg != std::string::npos);
  REQUIRE(repo != std::string::npos);
  REQUIRE(tag != std::string::npos);
  CHECK(lines[1].find("docker.io") == reg);
  CHECK(lines[1].find("library/nginx") == repo);
  CHECK(lines[1].substr(0, reg).find_first_not_of(' ', 5) == std::string::npos); // "nginx" then padding
  CHECK(lines[2].find("ghcr.io", reg) == reg); // the input column holds the same text first
  CHECK(lines[2].find("acme/app", repo) == repo);
  CHECK(lines[2].find("1.2", repo) == tag);
  CHECK(lines[2].find("sha256:") != std::string::npos);
  // The invalid row says so in the table, beside its input.
  CHECK(lines[3].rfind("not a ref", 0) == 0);
  CHECK(lines[3].find("invalid") == reg);
  for (const auto& l : lines) {
    CHECK(l.back() != ' ');
  }
}

TEST_CASE("cli::ref jsonl is one object per input", "[cli][ref]")
{
  const auto r = run_changetrail({"ref", "--format", "jsonl", "nginx", "BAD", "redis:7"});
  CHECK(r.exit_code == 2);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(parse_json(lines[0])["input"] == "nginx");
  CHECK(parse_json(lines[1])["valid"] == false);
  CHECK(parse_json(lines[2])["tag"] == "7");
}

TEST_CASE("cli::ref csv", "[cli][ref]")
{
  const auto r = run_changetrail({"ref", "--format", "csv", "nginx:1.25", "a,b", "ghcr.io/acme/app@" + k_digest});
  CHECK(r.exit_code == 2);
  const auto rows = csv_rows(r.out);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] == json::array({"input", "valid", "error", "registry", "repository", "tag", "digest", "canonical", "familiar"}));
  for (const auto& row : rows) {
    CHECK(row.size() == 9);
  }
  CHECK(rows[1][0] == "nginx:1.25");
  CHECK(rows[1][1] == "true");
  CHECK(rows[1][3] == "docker.io");
  CHECK(rows[1][4] == "library/nginx");
  CHECK(rows[1][5] == "1.25");
  CHECK(rows[1][7] == "docker.io/library/nginx:1.25");
  CHECK(rows[1][8] == "nginx:1.25");
  CHECK(rows[2][0] == "a,b"); // quoted, read back whole
  CHECK(rows[2][1] == "false");
  CHECK_FALSE(rows[2][2].get<std::string>().empty());
  CHECK(rows[3][6] == k_digest);
  CHECK(rows[3][5] == "");
}

TEST_CASE("cli::ref usage errors exit 2 with one error line", "[cli][ref]")
{
  SECTION("no reference")
  {
    const auto r = run_changetrail({"ref"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(count_lines(r.err) == 1);
  }
  SECTION("unknown format")
  {
    const auto r = run_changetrail({"ref", "--format", "yaml", "nginx"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(count_lines(r.err) == 1);
    CHECK(r.out.empty());
  }
}
