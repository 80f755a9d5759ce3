#pragma once

#include <changetrail/extract/finding.hpp>
#include <changetrail/policy/policy.hpp>
#include <changetrail/reference/reference.hpp>

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::report {

// An aligned text table; the last column is not padded.
class Table {
public:
  explicit Table(std::vector<std::string> headers) : m_headers(std::move(headers)) {}
  void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
  [[nodiscard]] bool empty() const { return m_rows.empty(); }
  void render(std::ostream& os) const;

private:
  std::vector<std::string> m_headers;
  std::vector<std::vector<std::string>> m_rows;
};

struct Style {
  bool color = false;
};

enum class CheckFormat { text, json, sarif, junit, github, codequality };
enum class ListFormat { table, json, jsonl, csv };

// `ref`: one row per input.
void write_references(std::ostream& os, ListFormat format, const std::vector<reference::Reference>& refs);
// `extract`: one row per finding.
void write_findings(std::ostream& os, ListFormat format, const std::vector<extract::Finding>& findings);

struct CheckReport {
  std::vector<policy::Violation> violations; // suppressed ones included (flagged)
  policy::Summary summary;
  std::vector<std::string> files; // every file checked, for JUnit's passing suites
  std::string tool_version;
};

void write_check(std::ostream& os, CheckFormat format, const CheckReport& report, const Style& style);

// CSV field quoting (RFC 4180).
[[nodiscard]] std::string csv_field(std::string_view s);
// XML text and attribute escaping; control characters that XML 1.0 forbids are dropped.
[[nodiscard]] std::string xml_escape(std::string_view s);

} // namespace changetrail::report
