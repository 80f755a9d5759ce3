#include <changetrail/report/report.hpp>

#include <changetrail/util/strings.hpp>

#include <algorithm>
#include <ostream>

namespace changetrail::report {

void Table::render(std::ostream& os) const
{
  std::vector<std::size_t> width(m_headers.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max<std::size_t>(width[i], util::utf8_length(row[i]));
    }
  };
  measure(m_headers);
  for (const auto& r : m_rows) {
    measure(r);
  }
  const auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(width[i] - util::utf8_length(row[i]) + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    os << util::sanitize_utf8(line) << '\n';
  };
  print(m_headers);
  for (const auto& r : m_rows) {
    print(r);
  }
}

std::string csv_field(std::string_view s)
{
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    return util::sanitize_utf8(s);
  }
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  out += '"';
  return util::sanitize_utf8(out);
}

std::string xml_escape(std::string_view raw)
{
  const std::string s = util::sanitize_utf8(raw);
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&apos;";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
        break; // not allowed in XML 1.0
      }
      out += c;
    }
  }
  return out;
}

} // namespace changetrail::report
