// registry::parse_challenges on arbitrary bytes, one WWW-Authenticate value per input line (a
// response may repeat the header). The header comes from whatever server answers a registry URL,
// so besides memory safety the result must have the shape RFC 9110 section 11.6.1 allows, and
// printing it back as a header must parse to the same challenges (nothing is lost or invented by
// the comma and quoting rules).
#include "fuzz_check.hpp"

#include <changetrail/registry/challenge.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using changetrail::fuzz::show;
using changetrail::registry::Challenge;

bool is_tchar(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_lower_token(std::string_view s)
{
  if (s.empty()) {
    return false;
  }
  for (const char c : s) {
    if (!is_tchar(c) || (c >= 'A' && c <= 'Z')) {
      return false;
    }
  }
  return true;
}

// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool is_token68(std::string_view s)
{
  std::size_t i = 0;
  while (i < s.size() &&
         ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
          std::string_view("-._~+/").find(s[i]) != std::string_view::npos)) {
    ++i;
  }
  if (i == 0) {
    return false;
  }
  while (i < s.size() && s[i] == '=') {
    ++i;
  }
  return i == s.size();
}

// A value that came out of a token or a quoted-string: no control character but HTAB, no DEL.
bool is_clean_value(std::string_view s)
{
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7F) {
      return false;
    }
  }
  return true;
}

std::string describe(const std::vector<Challenge>& challenges)
{
  std::string out;
  for (const auto& c : challenges) {
    out += show(c.scheme) + " {";
    for (const auto& [name, value] : c.params) {
      out += " " + show(name) + "=" + show(value);
    }
    out += " }\n";
  }
  return out;
}

// The challenges as one header value: every parameter value quoted and escaped.
std::string print(const std::vector<Challenge>& challenges)
{
  std::string out;
  for (const auto& c : challenges) {
    if (!out.empty()) {
      out += ", ";
    }
    out += c.scheme;
    if (c.params.size() == 1 && c.params[0].first.empty()) {
      out += " " + c.params[0].second;
      continue;
    }
    for (std::size_t i = 0; i < c.params.size(); ++i) {
      out += i == 0 ? " " : ", ";
      out += c.params[i].first + "=\"";
      for (const char ch : c.params[i].second) {
        if (ch == '"' || ch == '\\') {
          out += '\\';
        }
        out += ch;
      }
      out += '"';
    }
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> values;
  std::size_t start = 0;
  while (start <= input.size()) {
    const auto end = input.find('\n', start);
    values.emplace_back(input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }

  std::vector<Challenge> challenges;
  changetrail::fuzz::no_throw("registry::parse_challenges",
                              [&] { challenges = changetrail::registry::parse_challenges(values); });
  const std::string detail = "input=" + show(input) + "\nparsed:\n" + describe(challenges);

  // Each challenge holds at least its scheme's byte.
  CHANGETRAIL_FUZZ_CHECK(challenges.size() <= size, detail);
  for (const auto& c : challenges) {
    CHANGETRAIL_FUZZ_CHECK(is_lower_token(c.scheme), detail);
    for (const auto& [name, value] : c.params) {
      if (name.empty()) {
        // token68: the only parameter of its challenge.
        CHANGETRAIL_FUZZ_CHECK(c.params.size() == 1 && is_token68(value), detail);
      } else {
        CHANGETRAIL_FUZZ_CHECK(is_lower_token(name), detail);
        CHANGETRAIL_FUZZ_CHECK(is_clean_value(value), detail);
        // param() finds the first parameter of that name.
        for (const auto& [other_name, other_value] : c.params) {
          if (other_name == name) {
            CHANGETRAIL_FUZZ_CHECK(c.param(name) == other_value, detail);
            break;
          }
        }
      }
    }
  }

  // Printed back as one header, the challenges parse to themselves.
  const std::string printed = print(challenges);
  std::vector<Challenge> again;
  changetrail::fuzz::no_throw("registry::parse_challenges (printed)",
                              [&] { again = changetrail::registry::parse_challenges({printed}); });
  CHANGETRAIL_FUZZ_CHECK(describe(again) == describe(challenges),
                         detail + "printed: " + show(printed) + "\nre-parsed:\n" + describe(again));
  return 0;
}
