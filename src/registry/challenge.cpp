// WWW-Authenticate parsing, RFC 9110 section 11.6.1 (was RFC 7235 section 4.1):
//
//   WWW-Authenticate = #challenge
//   challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//   auth-param       = token BWS "=" BWS ( token / quoted-string )
//   token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// The list rule (RFC 9110 section 5.6.1) allows empty elements (", ,") and optional whitespace around
// the commas. The comma is ambiguous: it separates the auth-params of one challenge and also the
// challenges of the list. After a comma, `token BWS "="` continues the parameters of the current
// challenge; anything else (a token followed by whitespace and something other than "=", a lone
// token, the end) starts the next challenge.
//
// Every step consumes input or returns to a caller that does, and a lookahead never scans more than
// the token and whitespace the next step scans again, so the work is linear in the input.
#include <changetrail/registry/challenge.hpp>
#include <changetrail/util/strings.hpp>

#include <cstddef>

namespace changetrail::registry {

namespace {

// tchar, RFC 9110 section 5.6.2.
bool is_tchar(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The characters of token68 before its "=" padding, RFC 9110 section 11.2.
bool is_token68_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/';
}

// OWS / BWS, RFC 9110 section 5.6.3.
bool is_ows(char c)
{
  return c == ' ' || c == '\t';
}

// qdtext, RFC 9110 section 5.6.4: HTAB, SP, VCHAR except '"' and '\', obs-text.
bool is_qdtext(char c)
{
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || u == ' ' || u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E) || u >= 0x80;
}

// What may follow a backslash in a quoted-pair: HTAB, SP, VCHAR, obs-text.
bool is_quoted_pair_char(char c)
{
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7F);
}

class ChallengeParser {
public:
  explicit ChallengeParser(std::string_view text) : m_text(text) {}

  void parse(std::vector<Challenge>& out)
  {
    while (true) {
      skip_separators();
      if (at_end()) {
        return;
      }
      const std::string_view scheme = take_token();
      if (scheme.empty()) {
        // Not a challenge: a stray quote, "=", a control character.
        skip_to_comma();
        continue;
      }
      const std::size_t after_scheme = m_pos;
      skip_ows();
      if (!at_end() && peek() == '=') {
        // An auth-param with no scheme before it (what is left after a malformed part, or a
        // header that starts with `realm=`): it belongs to no challenge.
        skip_to_comma();
        continue;
      }
      Challenge challenge;
      challenge.scheme = util::to_lower(scheme);
      if (!at_end() && peek() != ',') {
        if (m_pos == after_scheme) {
          // `Bearer"x"`: the scheme must be followed by whitespace; keep the scheme alone.
          skip_to_comma();
        } else if (!take_token68(challenge)) {
          take_params(challenge);
        }
      }
      out.push_back(std::move(challenge));
    }
  }

private:
  [[nodiscard]] bool at_end() const { return m_pos >= m_text.size(); }
  [[nodiscard]] char peek() const { return m_text[m_pos]; }

  void skip_ows()
  {
    while (!at_end() && is_ows(peek())) {
      ++m_pos;
    }
  }

  // Empty list elements and the whitespace around them.
  void skip_separators()
  {
    while (!at_end() && (is_ows(peek()) || peek() == ',')) {
      ++m_pos;
    }
  }

  std::string_view take_token()
  {
    const std::size_t start = m_pos;
    while (!at_end() && is_tchar(peek())) {
      ++m_pos;
    }
    return m_text.substr(start, m_pos - start);
  }

  // At the opening quote. Consumes through the closing quote (or to the end when there is none) and
  // returns whether the quoted-string was well formed; `value` gets its unescaped content. A control
  // character makes it malformed but the scan still goes on to the closing quote, so that recovery
  // resumes after the string rather than inside it.
  bool take_quoted(std::string& value)
  {
    ++m_pos;
    bool valid = true;
    while (!at_end()) {
      const char c = peek();
      if (c == '"') {
        ++m_pos;
        return valid;
      }
      if (c == '\\') {
        if (m_pos + 1 >= m_text.size()) {
          break;
        }
        const char escaped = m_text[m_pos + 1];
        valid = valid && is_quoted_pair_char(escaped);
        value += escaped;
        m_pos += 2;
        continue;
      }
      valid = valid && is_qdtext(c);
      value += c;
      ++m_pos;
    }
    m_pos = m_text.size();
    return false; // unterminated
  }

  // Error recovery: to the next comma outside a quoted-string (not consumed), or to the end.
  void skip_to_comma()
  {
    std::string ignored;
    while (!at_end() && peek() != ',') {
      if (peek() == '"') {
        ignored.clear();
        (void)take_quoted(ignored);
      } else {
        ++m_pos;
      }
    }
  }

  // token68 is a whole list element: its characters, optional "=" padding, then the end of the
  // element. `realm="x"` and `realm=x` are not token68 (something follows the "=").
  bool take_token68(Challenge& challenge)
  {
    std::size_t end = m_pos;
    while (end < m_text.size() && is_token68_char(m_text[end])) {
      ++end;
    }
    if (end == m_pos) {
      return false;
    }
    while (end < m_text.size() && m_text[end] == '=') {
      ++end;
    }
    std::size_t next = end;
    while (next < m_text.size() && is_ows(m_text[next])) {
      ++next;
    }
    if (next < m_text.size() && m_text[next] != ',') {
      return false;
    }
    challenge.params.emplace_back(std::string(), std::string(m_text.substr(m_pos, end - m_pos)));
    m_pos = next;
    return true;
  }

  // After a comma and the separators: does `token BWS "="` follow (a parameter of the current
  // challenge) rather than the scheme of the next challenge?
  [[nodiscard]] bool at_param() const
  {
    std::size_t p = m_pos;
    while (p < m_text.size() && is_tchar(m_text[p])) {
      ++p;
    }
    if (p == m_pos) {
      return false;
    }
    while (p < m_text.size() && is_ows(m_text[p])) {
      ++p;
    }
    return p < m_text.size() && m_text[p] == '=';
  }

  // #auth-param. A malformed parameter (including one followed by something other than a comma)
  // is dropped and ends the challenge; the parameters before it are kept and parsing resumes at
  // the next comma.
  void take_params(Challenge& challenge)
  {
    while (true) {
      const std::string_view name = take_token();
      skip_ows();
      if (name.empty() || at_end() || peek() != '=') {
        skip_to_comma();
        return;
      }
      ++m_pos;
      skip_ows();
      std::string value;
      if (!at_end() && peek() == '"') {
        if (!take_quoted(value)) {
          skip_to_comma();
          return;
        }
      } else {
        const std::string_view token = take_token();
        if (token.empty()) {
          skip_to_comma();
          return;
        }
        value = token;
      }
      skip_ows();
      if (!at_end() && peek() != ',') {
        // `realm=https://x`: the value is cut short by a character it may not hold; a truncated
        // realm or scope is worse than none.
        skip_to_comma();
        return;
      }
      challenge.params.emplace_back(util::to_lower(name), std::move(value));
      if (at_end()) {
        return;
      }
      skip_separators();
      if (at_end() || !at_param()) {
        return;
      }
    }
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
};

} // namespace

std::string Challenge::param(std::string_view name) const
{
  for (const auto& [key, value] : params) {
    if (util::iequals(key, name)) {
      return value;
    }
  }
  return {};
}

std::vector<Challenge> parse_challenges(const std::vector<std::string>& values)
{
  std::vector<Challenge> out;
  for (const auto& value : values) {
    // A caller that hands over the raw header line may leave its CR LF; it is not part of the
    // field value (RFC 9110 section 5.5).
    ChallengeParser(util::trim(value)).parse(out);
  }
  return out;
}

} // namespace changetrail::registry
