// Unit tests of the report module: table alignment, CSV and XML escaping, JSON that stays valid
// whatever bytes the input files hold, and the escaping of GitHub workflow commands.

#include <changetrail/extract/finding.hpp>
#include <changetrail/policy/policy.hpp>
#include <changetrail/reference/reference.hpp>
#include <changetrail/report/report.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace report = changetrail::report;
using changetrail::policy::Severity;
using changetrail::policy::Violation;

namespace {

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

// Strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s)
{
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) {
        return false;
      }
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0u) != 0x80u) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// Byte offset at which column `col` (0-based, in characters) starts.
std::size_t char_offset(const std::string& s, std::size_t col)
{
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0u) != 0x80u) {
      if (chars == col) {
        return i;
      }
      ++chars;
    }
  }
  return chars == col ? s.size() : std::string::npos;
}

std::size_t char_length(const std::string& s)
{
  std::size_t n = 0;
  for (const char c : s) {
    n += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u ? 1 : 0;
  }
  return n;
}

// Character column at which `needle` starts in `line`.
std::size_t column_of(const std::string& line, const std::string& needle)
{
  const auto at = line.find(needle);
  REQUIRE(at != std::string::npos);
  return char_length(line.substr(0, at));
}

bool parses(const std::string& text)
{
  try {
    const auto j = nlohmann::json::parse(text);
    return !j.is_discarded();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

const std::string k_bad = "bad\xff\xfe-\xc3(-\xed\xa0\x80-\xe2\x82"; // stray, truncated, surrogate

Violation violation(std::string rule, Severity severity, std::string file, std::uint32_t line, std::string message)
{
  Violation v;
  v.rule = std::move(rule);
  v.severity = severity;
  v.file = file;
  v.rel = std::move(file);
  v.line = line;
  v.column = 9;
  v.location = "Deployment/default/web:containers/app";
  v.ref = "nginx:latest";
  v.message = std::move(message);
  return v;
}

} // namespace

TEST_CASE("report::valid_utf8 helper", "[report]")
{
  // The checker used below must itself tell good from bad.
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3"));
  CHECK_FALSE(valid_utf8("\xff"));
  CHECK_FALSE(valid_utf8("\xc3"));
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));
  CHECK_FALSE(valid_utf8("\xc0\xaf"));
  CHECK_FALSE(valid_utf8(k_bad));
}

TEST_CASE("report::Table aligns columns", "[report]")
{
  report::Table t({"NAME", "TAG", "DIGEST"});
  t.add({"a", "1.0", "sha256:abc"});
  t.add({"ghcr.io/acme/long-name", "x", "-"});
  t.add({"caf\xc3\xa9", "\xe2\x82\xac\xe2\x82\xac", "last"});
  std::ostringstream os;
  t.render(os);
  const auto lines = lines_of(os.str());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].rfind("NAME", 0) == 0);

  SECTION("each column starts at the same character position on every line")
  {
    // Widest first column is 22 characters, then two spaces.
    CHECK(column_of(lines[0], "TAG") == 24);
    CHECK(column_of(lines[1], "1.0") == 24);
    CHECK(column_of(lines[2], "x") == 24);
    CHECK(column_of(lines[3], "\xe2\x82\xac") == 24); // "café" counts as 4 characters, not 5 bytes
    // Widest second column is 3 characters ("TAG", "1.0").
    CHECK(column_of(lines[0], "DIGEST") == 29);
    CHECK(column_of(lines[1], "sha256:abc") == 29);
    CHECK(column_of(lines[2], " -") + 1 == 29);
    CHECK(column_of(lines[3], "last") == 29);
    CHECK(char_offset(lines[1], 24) == lines[1].find("1.0"));
  }
  SECTION("the last column is not padded, no line ends in a space")
  {
    for (const auto& l : lines) {
      INFO(l);
      REQUIRE_FALSE(l.empty());
      CHECK(l.back() != ' ');
    }
    CHECK(lines[1].substr(lines[1].size() - 10) == "sha256:abc");
  }
  SECTION("an empty table prints its header")
  {
    report::Table e({"A", "B"});
    CHECK(e.empty());
    std::ostringstream eo;
    e.render(eo);
    CHECK(eo.str() == "A  B\n");
  }
  SECTION("invalid UTF-8 in a cell comes out valid")
  {
    report::Table b({"A", "B"});
    b.add({k_bad, "x"});
    std::ostringstream bo;
    b.render(bo);
    CHECK(valid_utf8(bo.str()));
  }
}

TEST_CASE("report::csv_field quotes as RFC 4180 says", "[report]")
{
  CHECK(report::csv_field("nginx:1.25") == "nginx:1.25");
  CHECK(report::csv_field("") == "");
  CHECK(report::csv_field("a b") == "a b");
  CHECK(report::csv_field("a,b") == "\"a,b\"");
  CHECK(report::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(report::csv_field("\"") == "\"\"\"\"");
  CHECK(report::csv_field("line1\nline2") == "\"line1\nline2\"");
  CHECK(report::csv_field("cr\rhere") == "\"cr\rhere\"");
  CHECK(valid_utf8(report::csv_field(k_bad)));
  CHECK(valid_utf8(report::csv_field(k_bad + ",x")));
}

TEST_CASE("report::xml_escape", "[report]")
{
  CHECK(report::xml_escape("plain") == "plain");
  CHECK(report::xml_escape("a&b") == "a&amp;b");
  CHECK(report::xml_escape("<tag>") == "&lt;tag&gt;");
  CHECK(report::xml_escape("say \"x\"") == "say &quot;x&quot;");
  CHECK(report::xml_escape("it's") == "it&apos;s");
  CHECK(report::xml_escape("&amp;") == "&amp;amp;"); // escaped once more, never trusted
  CHECK(report::xml_escape("tab\tnl\n") == "tab\tnl\n");
  // XML 1.0 forbids these characters even as references.
  CHECK(report::xml_escape(std::string("a\x01" "b\x1f" "c\x00" "d", 7)) == "abcd");
  CHECK(report::xml_escape("caf\xc3\xa9") == "caf\xc3\xa9");
  const std::string bad = report::xml_escape(k_bad);
  CHECK(valid_utf8(bad));
  CHECK(bad.rfind("bad", 0) == 0);
}

TEST_CASE("report::invalid UTF-8 never produces invalid JSON", "[report]")
{
  SECTION("ref")
  {
    std::vector<changetrail::reference::Reference> refs{changetrail::reference::parse("ngin" + k_bad),
                                                        changetrail::reference::parse("nginx:1.25")};
    for (const auto format : {report::ListFormat::json, report::ListFormat::jsonl}) {
      std::ostringstream os;
      REQUIRE_NOTHROW(report::write_references(os, format, refs));
      CHECK(valid_utf8(os.str()));
      if (format == report::ListFormat::json) {
        nlohmann::json j;
        REQUIRE_NOTHROW(j = nlohmann::json::parse(os.str()));
        REQUIRE(j.size() == 2);
        CHECK(j[0]["valid"] == false);
        CHECK(j[1]["valid"] == true);
      } else {
        const auto lines = lines_of(os.str());
        REQUIRE(lines.size() == 2);
        for (const auto& l : lines) {
          CHECK(parses(l));
        }
      }
    }
    for (const auto format : {report::ListFormat::csv, report::ListFormat::table}) {
      std::ostringstream os;
      REQUIRE_NOTHROW(report::write_references(os, format, refs));
      CHECK(valid_utf8(os.str()));
    }
  }
  SECTION("extract")
  {
    changetrail::extract::Finding f;
    f.file = "apps/" + k_bad + ".yaml";
    f.line = 3;
    f.column = 12;
    f.format = "kubernetes";
    f.location = "Deployment/default/" + k_bad + ":containers/" + k_bad;
    f.workload = "Deployment/default/" + k_bad;
    f.container = k_bad;
    f.env = "prod";
    f.ref = "nginx:" + k_bad;
    f.image = changetrail::reference::parse(f.ref);
    const std::vector<changetrail::extract::Finding> findings{f};
    for (const auto format : {report::ListFormat::json, report::ListFormat::jsonl}) {
      std::ostringstream os;
      REQUIRE_NOTHROW(report::write_findings(os, format, findings));
      CHECK(valid_utf8(os.str()));
      nlohmann::json j;
      REQUIRE_NOTHROW(j = nlohmann::json::parse(os.str()));
      const auto& item = j.is_array() ? j.at(0) : j;
      CHECK(item["line"] == 3);
      CHECK(item["column"] == 12);
      CHECK(item["image"]["valid"] == false);
    }
    for (const auto format : {report::ListFormat::csv, report::ListFormat::table}) {
      std::ostringstream os;
      REQUIRE_NOTHROW(report::write_findings(os, format, findings));
      CHECK(valid_utf8(os.str()));
    }
  }
  SECTION("check")
  {
    report::CheckReport rep;
    auto v = violation("invalid-reference", Severity::error, k_bad + ".yaml", 2, "invalid image reference " + k_bad);
    v.ref = k_bad;
    v.location = k_bad;
    v.env = k_bad;
    rep.violations.push_back(v);
    auto s = v;
    s.suppressed = true;
    s.suppression_reason = k_bad;
    rep.violations.push_back(s);
    rep.files = {k_bad + ".yaml"};
    rep.summary = changetrail::policy::summarize(rep.violations, 1, 1);
    // env comes from a directory name (clusters/<name>/), which can hold any byte.
    for (const auto format : {report::CheckFormat::json, report::CheckFormat::sarif}) {
      INFO("format " << static_cast<int>(format));
      std::ostringstream os;
      CHECK_NOTHROW(report::write_check(os, format, rep, report::Style{}));
      CHECK(valid_utf8(os.str()));
      CHECK(parses(os.str()));
    }
    for (const auto format : {report::CheckFormat::text, report::CheckFormat::junit, report::CheckFormat::github}) {
      INFO("format " << static_cast<int>(format));
      std::ostringstream os;
      CHECK_NOTHROW(report::write_check(os, format, rep, report::Style{}));
      CHECK(valid_utf8(os.str()));
    }
  }
}

TEST_CASE("report::check json has the DESIGN.md fields", "[report]")
{
  report::CheckReport rep;
  rep.violations.push_back(violation("latest-tag", Severity::error, "apps/web.yaml", 7, "uses latest"));
  rep.violations.push_back(violation("unpinned", Severity::warning, "apps/db.yaml", 3, "not pinned"));
  rep.files = {"apps/db.yaml", "apps/web.yaml", "apps/clean.yaml"};
  rep.summary = changetrail::policy::summarize(rep.violations, 3, 4);
  std::ostringstream os;
  report::write_check(os, report::CheckFormat::json, rep, report::Style{});
  const auto j = nlohmann::json::parse(os.str());
  REQUIRE(j["findings"].size() == 2);
  for (const auto& f : j["findings"]) {
    for (const char* key : {"rule", "severity", "file", "line", "column", "location", "ref", "message"}) {
      INFO(key);
      CHECK(f.contains(key));
    }
  }
  CHECK(j["findings"][0]["rule"] == "latest-tag");
  CHECK(j["findings"][0]["severity"] == "error");
  CHECK(j["findings"][0]["line"] == 7);
  CHECK(j["findings"][0]["column"] == 9);
  CHECK(j["findings"][1]["severity"] == "warning");
  CHECK(j["summary"]["errors"] == 1);
  CHECK(j["summary"]["warnings"] == 1);
  CHECK(j["summary"]["files"] == 3);
}

TEST_CASE("report::github workflow commands are escaped", "[report]")
{
  report::CheckReport rep;
  auto v = violation("latest-tag", Severity::error, "dir,with:odd%name.yaml", 12, "100% bad:\r\nsecond, line");
  rep.violations.push_back(v);
  rep.violations.push_back(violation("unpinned", Severity::warning, "b.yaml", 4, "plain"));
  rep.files = {v.file, "b.yaml"};
  rep.summary = changetrail::policy::summarize(rep.violations, 2, 2);
  std::ostringstream os;
  report::write_check(os, report::CheckFormat::github, rep, report::Style{});
  const auto lines = lines_of(os.str());
  REQUIRE(lines.size() >= 2);

  // actions/toolkit command.ts: the message (data) escapes % CR LF; property values also ':' and ','.
  const auto unescape = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  struct Command {
    std::string name;
    std::map<std::string, std::string> props; // raw (escaped) values
    std::string data;                          // raw (escaped)
  };
  const auto parse = [](const std::string& line) {
    Command c;
    REQUIRE(line.rfind("::", 0) == 0);
    const auto space = line.find(' ');
    REQUIRE(space != std::string::npos);
    c.name = line.substr(2, space - 2);
    const auto end = line.find("::", space);
    REQUIRE(end != std::string::npos);
    c.data = line.substr(end + 2);
    std::istringstream props(line.substr(space + 1, end - space - 1));
    for (std::string kv; std::getline(props, kv, ',');) {
      const auto eq = kv.find('=');
      REQUIRE(eq != std::string::npos);
      c.props[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return c;
  };

  auto first = parse(lines[0]);
  CHECK(first.name == "error");
  CHECK(first.props.size() == 4);
  CHECK(first.props["file"] == "dir%2Cwith%3Aodd%25name.yaml");
  CHECK(unescape(first.props["file"]) == "dir,with:odd%name.yaml");
  CHECK(first.props["line"] == "12");
  CHECK(first.props["col"] == "9");
  CHECK(unescape(first.props["title"]).find("latest-tag") != std::string::npos);
  CHECK(first.props["title"].find_first_of(":,") == std::string::npos);
  CHECK(first.data.find_first_of("\r\n") == std::string::npos);
  CHECK(first.data.rfind("100%25 bad", 0) == 0);
  CHECK(unescape(first.data) == "100% bad:\r\nsecond, line");

  auto second = parse(lines[1]);
  CHECK(second.name == "warning");
  CHECK(second.props["file"] == "b.yaml");
  CHECK(second.props["line"] == "4");
  CHECK(unescape(second.props["title"]).find("unpinned") != std::string::npos);
  CHECK(second.data == "plain");
}

TEST_CASE("report::text format is file:line:col: severity[rule]: message", "[report]")
{
  report::CheckReport rep;
  rep.violations.push_back(violation("latest-tag", Severity::error, "apps/web.yaml", 7, "uses latest"));
  auto suppressed = violation("unpinned", Severity::warning, "apps/web.yaml", 8, "hidden");
  suppressed.suppressed = true;
  suppressed.suppression_reason = "why";
  rep.violations.push_back(suppressed);
  rep.files = {"apps/web.yaml"};
  rep.summary = changetrail::policy::summarize(rep.violations, 1, 2);
  SECTION("plain")
  {
    std::ostringstream os;
    report::write_check(os, report::CheckFormat::text, rep, report::Style{false});
    const auto lines = lines_of(os.str());
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].rfind("apps/web.yaml:7:9: error[latest-tag]: uses latest", 0) == 0);
    CHECK(lines[1].find("1 error") != std::string::npos);
    CHECK(os.str().find("hidden") == std::string::npos);
    CHECK(os.str().find('\033') == std::string::npos);
  }
  SECTION("colored")
  {
    std::ostringstream os;
    report::write_check(os, report::CheckFormat::text, rep, report::Style{true});
    CHECK(os.str().find("\033[") != std::string::npos);
    CHECK(os.str().rfind("apps/web.yaml:7:9: ", 0) == 0);
  }
}
