// docker compose interpolation: the .env file format and ${VAR} substitution
// (Compose specification, "Interpolation").
#include <changetrail/extract/extract.hpp>

#include <changetrail/util/strings.hpp>

namespace changetrail::extract {

const std::string* Variables::find(std::string_view name) const
{
  // The last definition wins, as in a .env file read top to bottom.
  for (auto it = values.rbegin(); it != values.rend(); ++it) {
    if (it->first == name) {
      return &it->second;
    }
  }
  return nullptr;
}

Variables parse_dotenv(std::string_view content)
{
  Variables vars;
  std::uint32_t number = 0;
  for (auto line : util::split(content, '\n')) {
    ++number;
    line = util::trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.starts_with("export ")) {
      line = util::trim(line.substr(7));
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      continue;
    }
    const auto key = util::trim(line.substr(0, eq));
    auto value = util::trim(line.substr(eq + 1));
    std::string v;
    bool literal = false;
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      // Quoted: a backslash escapes the quote (and, in double quotes, \n, \t and \\); single
      // quotes are literal, no interpolation (Compose "env file" syntax).
      const char q = value.front();
      literal = q == '\'';
      for (std::size_t i = 1; i < value.size(); ++i) {
        const char c = value[i];
        if (c == '\\' && i + 1 < value.size()) {
          const char n = value[i + 1];
          if (n == q || n == '\\') {
            v += n;
            ++i;
            continue;
          }
          if (q == '"' && (n == 'n' || n == 't')) {
            v += n == 'n' ? '\n' : '\t';
            ++i;
            continue;
          }
        }
        if (c == q) {
          break;
        }
        v += c;
      }
    } else {
      // An unquoted value ends at " #" (an inline comment).
      if (const auto hash = value.find(" #"); hash != std::string_view::npos) {
        value = util::trim(value.substr(0, hash));
      }
      v = std::string(value);
    }
    // Unquoted and double-quoted values interpolate the variables defined above them.
    if (!literal && v.find('$') != std::string::npos) {
      try {
        v = substitute(v, vars);
      } catch (const ExpansionTooLarge&) {
        vars.too_large.emplace_back(number, std::string(key));
        continue;
      }
    }
    vars.values.emplace_back(std::string(key), std::move(v));
  }
  return vars;
}

namespace {

bool is_name_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The matching '}' of a "${" at `open`, allowing nested ${...} in defaults.
std::size_t closing_brace(std::string_view s, std::size_t open)
{
  int depth = 0;
  for (std::size_t i = open; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (s[i] == '}') {
      if (--depth == 0) {
        return i;
      }
    }
  }
  return std::string_view::npos;
}

std::string substitute_depth(std::string_view text, const Variables& vars, int depth)
{
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (out.size() > k_max_expanded + text.size()) {
      throw ExpansionTooLarge{};
    }
    const char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      continue;
    }
    const char n = text[i + 1];
    if (n == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (n == '{') {
      const auto end = closing_brace(text, i);
      if (end == std::string_view::npos || depth > 8) {
        out += text.substr(i);
        break;
      }
      const auto body = text.substr(i + 2, end - i - 2);
      std::size_t k = 0;
      while (k < body.size() && is_name_char(body[k])) {
        ++k;
      }
      const auto name = body.substr(0, k);
      const auto op = body.substr(k);
      const std::string* value = vars.find(name);
      const bool set = value != nullptr;
      const bool set_nonempty = set && !value->empty();
      if (op.starts_with(":-") || op.starts_with('-')) {
        const bool colon = op.front() == ':';
        if (colon ? set_nonempty : set) {
          out += *value;
        } else {
          out += substitute_depth(op.substr(colon ? 2 : 1), vars, depth + 1);
        }
      } else if (op.starts_with(":+") || op.starts_with('+')) {
        const bool colon = op.front() == ':';
        if (colon ? set_nonempty : set) {
          out += substitute_depth(op.substr(colon ? 2 : 1), vars, depth + 1);
        }
      } else if (set && (op.empty() || op.starts_with(":?") || op.starts_with('?'))) {
        out += *value;
      } else {
        // Unset (or ${VAR:?message}): leave it for the reference parser to report by name.
        out += "${";
        out += name;
        out += '}';
      }
      i = end;
      continue;
    }
    if (is_name_char(n)) {
      std::size_t j = i + 1;
      while (j < text.size() && is_name_char(text[j])) {
        ++j;
      }
      const auto name = text.substr(i + 1, j - i - 1);
      if (const std::string* value = vars.find(name)) {
        out += *value;
      } else {
        out += "${";
        out += name;
        out += '}';
      }
      i = j - 1;
      continue;
    }
    out += c;
  }
  if (out.size() > k_max_expanded + text.size()) {
    throw ExpansionTooLarge{};
  }
  return out;
}

} // namespace

std::string substitute(std::string_view text, const Variables& vars)
{
  return substitute_depth(text, vars, 0);
}

} // namespace changetrail::extract
