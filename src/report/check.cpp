#include <changetrail/report/report.hpp>

#include <changetrail/util/strings.hpp>

#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include <map>
#include <ostream>

namespace changetrail::report {

namespace {

using policy::Severity;
using policy::Violation;

const char* color_of(Severity s)
{
  switch (s) {
  case Severity::error:
    return "\033[1;31m";
  case Severity::warning:
    return "\033[1;33m";
  default:
    return "\033[1;36m";
  }
}

std::string plural(std::size_t n, std::string_view word)
{
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

void write_text(std::ostream& os, const CheckReport& r, const Style& style)
{
  for (const auto& v : r.violations) {
    if (v.suppressed) {
      continue;
    }
    const std::string sev = policy::to_string(v.severity);
    os << util::sanitize_utf8(v.file) << ':' << v.line << ':' << v.column << ": ";
    if (style.color) {
      os << color_of(v.severity) << sev << "\033[0m" << "[" << v.rule << "]: ";
    } else {
      os << sev << '[' << v.rule << "]: ";
    }
    os << util::sanitize_utf8(v.message);
    if (!v.env.empty()) {
      os << " (env " << util::sanitize_utf8(v.env) << ")";
    }
    os << '\n';
  }
  const auto& s = r.summary;
  os << plural(s.errors, "error") << ", " << plural(s.warnings, "warning");
  if (s.infos != 0) {
    os << ", " << plural(s.infos, "note");
  }
  os << " in " << plural(s.files, "file") << " (" << plural(s.references, "image reference");
  if (s.suppressed != 0) {
    os << ", " << s.suppressed << " suppressed";
  }
  os << ")\n";
}

nlohmann::json summary_json(const policy::Summary& s)
{
  return {{"errors", s.errors}, {"warnings", s.warnings}, {"infos", s.infos},
          {"files", s.files},   {"references", s.references}, {"suppressed", s.suppressed}};
}

void write_json(std::ostream& os, const CheckReport& r)
{
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& v : r.violations) {
    if (!v.suppressed) {
      findings.push_back(v);
    }
  }
  nlohmann::json suppressed = nlohmann::json::array();
  for (const auto& v : r.violations) {
    if (v.suppressed) {
      suppressed.push_back(v);
    }
  }
  os << nlohmann::json{{"findings", findings}, {"suppressed", suppressed}, {"summary", summary_json(r.summary)}}.dump(2)
     << '\n';
}

std::string sha256_hex(std::string_view s)
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : md) {
    out += k_hex[b >> 4];
    out += k_hex[b & 15];
  }
  return out;
}

const char* sarif_level(Severity s)
{
  switch (s) {
  case Severity::error:
    return "error";
  case Severity::warning:
    return "warning";
  default:
    return "note";
  }
}

// The fingerprint names what was found, not where on the page: moving a line does not make a
// finding new (SARIF 2.1.0 section 3.27.17; GitLab Code Quality's `fingerprint` likewise).
std::string fingerprint_of(const Violation& v)
{
  return sha256_hex(v.rule + '\n' + v.rel + '\n' + v.location + '\n' + v.ref + '\n'
                    + (v.location.empty() ? v.message : std::string{}));
}

void write_sarif(std::ostream& os, const CheckReport& r)
{
  nlohmann::json rules = nlohmann::json::array();
  std::map<std::string, std::size_t, std::less<>> rule_index;
  for (const auto& info : policy::k_rules) {
    rule_index[std::string(info.id)] = rules.size();
    rules.push_back({
      {"id", info.id},
      {"name", info.id},
      {"shortDescription", {{"text", info.summary}}},
      {"fullDescription", {{"text", info.help}}},
      {"help", {{"text", info.help}, {"markdown", std::string("**") + std::string(info.summary) + "**\n\n" + std::string(info.help)}}},
      {"defaultConfiguration", {{"level", sarif_level(info.default_severity)}}},
    });
  }
  nlohmann::json results = nlohmann::json::array();
  for (const auto& v : r.violations) {
    const std::string fingerprint = fingerprint_of(v);
    nlohmann::json result = {
      {"ruleId", v.rule},
      {"level", sarif_level(v.severity)},
      {"message", {{"text", util::sanitize_utf8(v.message)}}},
      {"locations",
       {{{"physicalLocation",
          {{"artifactLocation", {{"uri", util::sanitize_utf8(v.rel.empty() ? v.file : v.rel)}, {"uriBaseId", "%SRCROOT%"}}},
           {"region", {{"startLine", v.line}, {"startColumn", v.column}}}}}}}},
      {"partialFingerprints", {{"changetrail/v1", fingerprint}}},
    };
    if (const auto it = rule_index.find(v.rule); it != rule_index.end()) {
      result["ruleIndex"] = it->second;
    }
    if (!v.location.empty()) {
      result["locations"][0]["logicalLocations"] = {{{"fullyQualifiedName", util::sanitize_utf8(v.location)}}};
    }
    if (v.suppressed) {
      result["suppressions"] = {{{"kind", "inSource"}, {"justification", util::sanitize_utf8(v.suppression_reason)}}};
    }
    results.push_back(std::move(result));
  }
  const nlohmann::json sarif = {
    {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
    {"version", "2.1.0"},
    {"runs",
     {{{"tool",
        {{"driver",
          {{"name", "changetrail"},
           {"version", r.tool_version},
           {"informationUri", "https://github.com/changetrail/changetrail"},
           {"rules", rules}}}}},
       {"originalUriBaseIds", {{"%SRCROOT%", {{"description", {{"text", "The root of the checked repository"}}}}}}},
       {"results", results}}}},
  };
  os << sarif.dump(2) << '\n';
}

void write_junit(std::ostream& os, const CheckReport& r)
{
  std::map<std::string, std::vector<const Violation*>> by_file;
  for (const auto& f : r.files) {
    by_file[f];
  }
  for (const auto& v : r.violations) {
    if (!v.suppressed && v.severity != Severity::off) {
      by_file[v.file].push_back(&v);
    }
  }
  std::size_t tests = 0;
  std::size_t failures = 0;
  for (const auto& [file, list] : by_file) {
    tests += list.empty() ? 1 : list.size();
    failures += list.size();
  }
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites name=\"changetrail check\" tests=\"" << tests << "\" failures=\"" << failures << "\">\n";
  for (const auto& [file, list] : by_file) {
    os << "  <testsuite name=\"" << xml_escape(file) << "\" tests=\"" << (list.empty() ? 1 : list.size())
       << "\" failures=\"" << list.size() << "\" errors=\"0\">\n";
    if (list.empty()) {
      os << "    <testcase name=\"image references pinned\" classname=\"" << xml_escape(file) << "\"/>\n";
    }
    for (const auto* v : list) {
      const std::string where = file + ":" + std::to_string(v->line) + ":" + std::to_string(v->column);
      os << "    <testcase name=\"" << xml_escape(v->rule + " " + (v->location.empty() ? where : v->location))
         << "\" classname=\"" << xml_escape(file) << "\">\n";
      os << "      <failure type=\"" << xml_escape(v->rule) << "\" message=\"" << xml_escape(v->message) << "\">"
         << xml_escape(where + ": " + policy::to_string(v->severity) + "[" + v->rule + "]: " + v->message)
         << "</failure>\n";
      os << "    </testcase>\n";
    }
    os << "  </testsuite>\n";
  }
  os << "</testsuites>\n";
}

const char* codequality_severity(Severity s)
{
  switch (s) {
  case Severity::error:
    return "major";
  case Severity::warning:
    return "minor";
  default:
    return "info";
  }
}

// GitLab Code Quality report: an array of issues (description, check_name, fingerprint, severity,
// location.path and location.lines.begin). Suppressed findings are left out: the merge request
// widget has no place for them.
void write_codequality(std::ostream& os, const CheckReport& r)
{
  nlohmann::json issues = nlohmann::json::array();
  for (const auto& v : r.violations) {
    if (v.suppressed || v.severity == Severity::off) {
      continue;
    }
    std::string description = v.message;
    if (!v.env.empty()) {
      description += " (env " + v.env + ")";
    }
    issues.push_back({
      {"type", "issue"},
      {"check_name", v.rule},
      {"description", util::sanitize_utf8(description)},
      {"categories", {"Security"}},
      {"fingerprint", fingerprint_of(v)},
      {"severity", codequality_severity(v.severity)},
      {"location", {{"path", util::sanitize_utf8(v.rel.empty() ? v.file : v.rel)}, {"lines", {{"begin", v.line}}}}},
    });
  }
  os << issues.dump(2) << '\n';
}

// Workflow command escaping (actions/toolkit command.ts): data escapes %, CR, LF; property
// values also escape ':' and ','.
std::string gh_escape_data(std::string_view s)
{
  std::string out;
  for (const char c : s) {
    switch (c) {
    case '%':
      out += "%25";
      break;
    case '\r':
      out += "%0D";
      break;
    case '\n':
      out += "%0A";
      break;
    default:
      out += c;
    }
  }
  return util::sanitize_utf8(out);
}

std::string gh_escape_property(std::string_view s)
{
  std::string out;
  for (const char c : gh_escape_data(s)) {
    if (c == ':') {
      out += "%3A";
    } else if (c == ',') {
      out += "%2C";
    } else {
      out += c;
    }
  }
  return out;
}

void write_github(std::ostream& os, const CheckReport& r)
{
  for (const auto& v : r.violations) {
    if (v.suppressed) {
      continue;
    }
    const char* command = v.severity == Severity::error ? "error" : v.severity == Severity::warning ? "warning" : "notice";
    os << "::" << command << " file=" << gh_escape_property(v.rel.empty() ? v.file : v.rel) << ",line=" << v.line
       << ",col=" << v.column << ",title=" << gh_escape_property("changetrail " + v.rule)
       << "::" << gh_escape_data(v.message) << '\n';
  }
  const auto& s = r.summary;
  os << "changetrail: " << plural(s.errors, "error") << ", " << plural(s.warnings, "warning") << " in "
     << plural(s.files, "file") << '\n';
}

} // namespace

void write_check(std::ostream& os, CheckFormat format, const CheckReport& report, const Style& style)
{
  switch (format) {
  case CheckFormat::text:
    write_text(os, report, style);
    break;
  case CheckFormat::json:
    write_json(os, report);
    break;
  case CheckFormat::sarif:
    write_sarif(os, report);
    break;
  case CheckFormat::junit:
    write_junit(os, report);
    break;
  case CheckFormat::github:
    write_github(os, report);
    break;
  case CheckFormat::codequality:
    write_codequality(os, report);
    break;
  }
}

} // namespace changetrail::report
