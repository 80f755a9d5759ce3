#include <changetrail/util/glob.hpp>

#include <vector>

namespace changetrail::util {

namespace {

// dir_entry/dir_body are "**/": zero directories (an empty step from dir_entry) or any text
// ending in '/'. Only dir_entry may be skipped, so "**/x" never matches "ax".
enum class Op : unsigned char { literal, any, cls, star, dstar, dir_entry, dir_body };

struct Token {
  Op op;
  char c = 0;
  std::string_view cls; // class body without brackets
  bool negate = false;
};

Token make(Op op, char c = 0)
{
  return Token{op, c, {}, false};
}

std::vector<Token> compile(std::string_view p, bool cross)
{
  std::vector<Token> out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        // "**/" : zero or more whole directories; "**" elsewhere: anything.
        const bool at_segment_start = i == 0 || p[i - 1] == '/';
        if (at_segment_start && i + 2 < p.size() && p[i + 2] == '/') {
          out.push_back(make(Op::dir_entry));
          out.push_back(make(Op::dir_body));
          i += 2;
        } else {
          out.push_back(make(Op::dstar));
          ++i;
          while (i + 1 < p.size() && p[i + 1] == '*') {
            ++i;
          }
        }
      } else {
        out.push_back(make(cross ? Op::dstar : Op::star));
      }
    } else if (c == '?') {
      out.push_back(make(Op::any));
    } else if (c == '[') {
      std::size_t j = i + 1;
      bool negate = false;
      if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
        negate = true;
        ++j;
      }
      const std::size_t body = j;
      if (j < p.size() && p[j] == ']') {
        ++j; // a leading ']' is literal
      }
      while (j < p.size() && p[j] != ']') {
        ++j;
      }
      if (j >= p.size()) {
        out.push_back(make(Op::literal, c)); // unterminated: '[' is literal
      } else {
        out.push_back({Op::cls, 0, p.substr(body, j - body), negate});
        i = j;
      }
    } else {
      out.push_back(make(Op::literal, c));
    }
  }
  return out;
}

bool class_matches(const Token& t, char c)
{
  bool any = false;
  const auto b = t.cls;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i + 2 < b.size() && b[i + 1] == '-') {
      if (b[i] <= c && c <= b[i + 2]) {
        any = true;
      }
      i += 2;
    } else if (b[i] == c) {
      any = true;
    }
  }
  return any != t.negate;
}

void close_over_empty(const std::vector<Token>& tokens, std::vector<char>& states)
{
  // star, dstar and dstar_slash may match the empty string: their successor is active too.
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (!states[i]) {
      continue;
    }
    if (tokens[i].op == Op::star || tokens[i].op == Op::dstar) {
      states[i + 1] = 1;
    } else if (tokens[i].op == Op::dir_entry) {
      states[i + 2] = 1;
    }
  }
}

} // namespace

// A Thompson-style simulation over the compiled pattern: O(pattern x text), no backtracking, so
// mixed '*' (no slash) and '**' (any) semantics stay exact.
bool glob_match(std::string_view pattern, std::string_view text, bool star_crosses_slash)
{
  const auto tokens = compile(pattern, star_crosses_slash);
  const std::size_t n = tokens.size();
  std::vector<char> states(n + 1, 0);
  std::vector<char> next(n + 1, 0);
  states[0] = 1;
  close_over_empty(tokens, states);
  for (const char c : text) {
    std::fill(next.begin(), next.end(), 0);
    bool alive = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!states[i]) {
        continue;
      }
      const Token& t = tokens[i];
      switch (t.op) {
      case Op::literal:
        if (t.c == c) {
          next[i + 1] = 1;
        }
        break;
      case Op::any:
        if (c != '/' || star_crosses_slash) {
          next[i + 1] = 1;
        }
        break;
      case Op::cls:
        if (c != '/' && class_matches(t, c)) {
          next[i + 1] = 1;
        }
        break;
      case Op::star:
        if (c != '/') {
          next[i] = 1;
        }
        break;
      case Op::dstar:
        next[i] = 1;
        break;
      case Op::dir_entry:
        next[i + 1] = 1;
        if (c == '/') {
          next[i + 2] = 1;
        }
        break;
      case Op::dir_body:
        next[i] = 1;
        if (c == '/') {
          next[i + 1] = 1;
        }
        break;
      }
    }
    close_over_empty(tokens, next);
    for (const char s : next) {
      alive = alive || s;
    }
    if (!alive) {
      return false;
    }
    states.swap(next);
  }
  return states[n] != 0;
}

} // namespace changetrail::util
