// Tests of changetrail::util string helpers. UTF-8 validity follows RFC 3629 section 3/4: overlong
// forms, surrogates (U+D800..U+DFFF), values above U+10FFFF, stray continuation bytes, truncated
// sequences and the bytes C0, C1, F5..FF are invalid; each invalid byte counts (and is replaced) alone.

#include <changetrail/util/strings.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_literals;

const std::string k_fffd = "\xEF\xBF\xBD"; // U+FFFD REPLACEMENT CHARACTER

std::string fffd(int n)
{
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += k_fffd;
  }
  return out;
}

std::string hex(std::string_view s)
{
  static const char* const digits = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += digits[u >> 4];
    out += digits[u & 0xF];
    out += ' ';
  }
  return out;
}

} // namespace

TEST_CASE("strings::trim", "[util][strings]")
{
  using changetrail::util::trim;
  struct Case {
    std::string in;
    std::string out;
  };
  const std::vector<Case> cases = {
    {"", ""},
    {"a", "a"},
    {"  a", "a"},
    {"a  ", "a"},
    {" \t\r\n a b \n\t ", "a b"},
    {"   ", ""},
    {"\n", ""},
    {"a \t b", "a \t b"},
    {"x\n", "x"},
  };
  for (const auto& c : cases) {
    INFO(hex(c.in));
    CHECK(trim(c.in) == c.out);
  }
  // The result is a view into the argument.
  const std::string s = "  abc  ";
  const auto v = trim(s);
  CHECK(v.data() == s.data() + 2);
  CHECK(v.size() == 3);
}

TEST_CASE("strings::split", "[util][strings]")
{
  using changetrail::util::split;
  using V = std::vector<std::string_view>;
  CHECK(split("a,b,c", ',') == V{"a", "b", "c"});
  CHECK(split("a,b,,c", ',') == V{"a", "b", "", "c"});
  CHECK(split("", ',') == V{""});
  CHECK(split("abc", ',') == V{"abc"});
  CHECK(split("a,", ',') == V{"a", ""});
  CHECK(split(",a", ',') == V{"", "a"});
  CHECK(split(",", ',') == V{"", ""});
  CHECK(split("ghcr.io/acme/app", '/') == V{"ghcr.io", "acme", "app"});
  CHECK(split("a//b", '/') == V{"a", "", "b"});
  CHECK(split("a b", ',') == V{"a b"});
}

TEST_CASE("strings::to_lower and iequals", "[util][strings]")
{
  using changetrail::util::iequals;
  using changetrail::util::to_lower;
  CHECK(to_lower("") == "");
  CHECK(to_lower("ABC-xyz_09") == "abc-xyz_09");
  CHECK(to_lower("Docker.IO") == "docker.io");
  CHECK(to_lower("@[`{") == "@[`{"); // neighbours of A-Z and a-z are untouched
  CHECK(to_lower("\xC3\x84" "B") == "\xC3\x84" "b"); // bytes outside ASCII pass through

  CHECK(iequals("", ""));
  CHECK(iequals("Docker.IO", "docker.io"));
  CHECK(iequals("WWW-Authenticate", "www-authenticate"));
  CHECK_FALSE(iequals("a", "b"));
  CHECK_FALSE(iequals("abc", "abcd"));
  CHECK_FALSE(iequals("abcd", "abc"));
  CHECK_FALSE(iequals("@", "`")); // 0x40 and 0x60 differ by the case bit but are not letters
  CHECK_FALSE(iequals("[", "{"));
  CHECK_FALSE(iequals("\xC3\x84", "\xC3\xA4")); // no Unicode case folding
}

TEST_CASE("strings::utf8_length", "[util][strings]")
{
  using changetrail::util::utf8_length;
  struct Case {
    std::string in;
    std::uint32_t length;
  };
  const std::vector<Case> cases = {
    {"", 0},
    {"abc", 3},
    {"\0a"s, 2},
    {"\xC3\xA9", 1},                           // é
    {"h\xC3\xA9llo", 5},
    {"\xE2\x82\xAC", 1},                       // €
    {"\xF0\x9F\x98\x80", 1},                   // U+1F600
    {"\xF4\x8F\xBF\xBF", 1},                   // U+10FFFF, the last code point
    {"\xEF\xBB\xBF" "a", 2},                   // BOM is a character
    {"\xFF", 1},
    {"a\xFF" "b", 3},
    {"\x80", 1},                               // lone continuation byte
    {"\x80\x80\x80", 3},
    {"\xC3", 1},                               // truncated 2-byte sequence
    {"\xE2\x82", 2},                           // truncated 3-byte sequence: two invalid bytes
    {"\xE2\x82" "A", 3},
    {"\xF0\x9F\x98", 3},
    {"\xC0\xAF", 2},                           // overlong '/'
    {"\xC1\xBF", 2},                           // overlong
    {"\xE0\x80\xAF", 3},                       // overlong '/'
    {"\xF0\x80\x80\xAF", 4},                   // overlong '/'
    {"\xED\xA0\x80", 3},                       // U+D800 surrogate
    {"\xED\xBF\xBF", 3},                       // U+DFFF surrogate
    {"\xED\x9F\xBF", 1},                       // U+D7FF is valid
    {"\xF4\x90\x80\x80", 4},                   // U+110000
    {"\xF5\x80\x80\x80", 4},
    {"\xF8\x88\x80\x80\x80", 5},               // old 5-byte form
    {"\xFE\xFF", 2},
  };
  for (const auto& c : cases) {
    INFO(hex(c.in));
    CHECK(utf8_length(c.in) == c.length);
  }
}

TEST_CASE("strings::sanitize_utf8", "[util][strings]")
{
  using changetrail::util::sanitize_utf8;
  struct Case {
    std::string in;
    std::string out;
  };
  const std::vector<Case> cases = {
    {"", ""},
    {"plain ascii", "plain ascii"},
    {"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80", "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"},
    {"a\0b"s, "a\0b"s},
    {"\xEF\xBF\xBD", "\xEF\xBF\xBD"},          // U+FFFD itself is valid
    {"\xEF\xBF\xBF", "\xEF\xBF\xBF"},          // U+FFFF: a noncharacter, but valid UTF-8
    {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},  // U+10FFFF
    {"\xED\x9F\xBF", "\xED\x9F\xBF"},          // U+D7FF
    {"\xEE\x80\x80", "\xEE\x80\x80"},          // U+E000
    {"a\xFF" "b", "a" + fffd(1) + "b"},
    {"\x80", fffd(1)},
    {"\xC3", fffd(1)},
    {"ab\xE2\x82", "ab" + fffd(2)},
    {"\xE2\x82" "A", fffd(2) + "A"},
    {"\xC3\xA9\xC3", "\xC3\xA9" + fffd(1)},
    {"\xC0\xAF", fffd(2)},                     // overlong
    {"\xC0\x80", fffd(2)},                     // overlong NUL
    {"\xE0\x80\xAF", fffd(3)},                 // overlong
    {"\xE0\x9F\xBF", fffd(3)},                 // overlong (U+07FF in 3 bytes)
    {"\xF0\x8F\xBF\xBF", fffd(4)},             // overlong (U+FFFF in 4 bytes)
    {"\xED\xA0\x80", fffd(3)},                 // surrogate U+D800
    {"\xED\xB0\x80", fffd(3)},                 // surrogate U+DC00
    {"\xED\xA0\xBD\xED\xB8\x80", fffd(6)},     // CESU-8 surrogate pair
    {"\xF4\x90\x80\x80", fffd(4)},             // above U+10FFFF
    {"\xF8\x88\x80\x80\x80", fffd(5)},
    {"x\xFE\xFFy", "x" + fffd(2) + "y"},
    {"\xC3\xC3\xA9", fffd(1) + "\xC3\xA9"},    // a bad lead byte does not swallow the next character
  };
  for (const auto& c : cases) {
    INFO(hex(c.in));
    const auto out = sanitize_utf8(c.in);
    CHECK(out == c.out);
    // Sanitizing is idempotent, and the result counts as many characters as the input.
    CHECK(sanitize_utf8(out) == out);
    CHECK(changetrail::util::utf8_length(out) == changetrail::util::utf8_length(c.in));
  }
}

TEST_CASE("strings::quote", "[util][strings]")
{
  using changetrail::util::quote;
  CHECK(quote("") == "\"\"");
  CHECK(quote("abc") == "\"abc\"");
  CHECK(quote("ghcr.io/acme/app:1.0") == "\"ghcr.io/acme/app:1.0\"");
  CHECK(quote("a\"b") == "\"a\\\"b\"");
  CHECK(quote("a\\b") == "\"a\\\\b\"");
  CHECK(quote("a\nb") == "\"a\\x0ab\"");
  CHECK(quote("\t") == "\"\\x09\"");
  CHECK(quote("\r\n") == "\"\\x0d\\x0a\"");
  CHECK(quote("\x1b[0m") == "\"\\x1b[0m\"");
  CHECK(quote("\x7f") == "\"\\x7f\"");
  CHECK(quote("\0"s) == "\"\\x00\"");
  CHECK(quote("h\xC3\xA9llo") == "\"h\xC3\xA9llo\"");     // valid UTF-8 is kept
  CHECK(quote("a\xFF" "b") == "\"a" + fffd(1) + "b\""); // invalid bytes become U+FFFD

  SECTION("truncation")
  {
    CHECK(quote(std::string(300, 'x')) == "\"" + std::string(200, 'x') + "...\"");
    CHECK(quote(std::string(200, 'x')) == "\"" + std::string(200, 'x') + "\"");
    CHECK(quote(std::string(201, 'x')) == "\"" + std::string(200, 'x') + "...\"");
    CHECK(quote("abcdef", 3) == "\"abc...\"");
    CHECK(quote("abc", 3) == "\"abc\"");
    CHECK(quote("abcd", 0) == "\"...\"");
    CHECK(quote("", 0) == "\"\"");
    // Escapes do not count against the limit twice: the limit is on the input.
    CHECK(quote("\n\n\n\n", 2) == "\"\\x0a\\x0a...\"");
  }
  SECTION("truncation does not split a UTF-8 character")
  {
    // 'a' + 150 x U+00E9: a cut after 200 bytes falls inside the 100th 'é'. Quoting valid UTF-8
    // must not introduce a replacement character.
    std::string in = "a";
    for (int i = 0; i < 150; ++i) {
      in += "\xC3\xA9";
    }
    const auto out = quote(in);
    CHECK(out.find(k_fffd) == std::string::npos);
    CHECK(out.size() >= 5);
    CHECK(out.substr(out.size() - 4) == "...\"");
    CHECK(out.size() <= 1 + 200 + 3 + 1);
    CHECK(changetrail::util::sanitize_utf8(out) == out);
  }
  SECTION("single line")
  {
    const auto out = quote("line1\nline2\r\nline3");
    CHECK(out.find('\n') == std::string::npos);
    CHECK(out.find('\r') == std::string::npos);
  }
}
