#include <changetrail/util/json_text.hpp>

#include <changetrail/util/strings.hpp>

namespace changetrail::util {

void append_json_string(std::string& out, std::string_view s)
{
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string repaired;
  std::string_view text = s;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      repaired = sanitize_utf8(s);
      text = repaired;
      break;
    }
  }
  out += '"';
  // Runs of characters that need no escape are appended in one piece.
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x20 && u != '"' && u != '\\') {
      continue;
    }
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (u) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      out += "\\u00";
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    }
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

void append_json_string_or_null(std::string& out, std::string_view s)
{
  if (s.empty()) {
    out += "null";
  } else {
    append_json_string(out, s);
  }
}

} // namespace changetrail::util
