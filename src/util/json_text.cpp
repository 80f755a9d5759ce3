#include <changetrail/util/json_text.hpp>

#include <changetrail/util/strings.hpp>

namespace changetrail::util {

void append_json_string(std::string& out, std::string_view s)
{
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  bool ascii = true;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  const std::string repaired = ascii ? std::string{} : sanitize_utf8(s);
  const std::string_view text = ascii ? s : std::string_view(repaired);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
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
      if (u < 0x20) {
        out += "\\u00";
        out += k_hex[u >> 4];
        out += k_hex[u & 15];
      } else {
        out += c;
      }
    }
  }
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
