// FROM and COPY --from in Dockerfiles, with the parser directives, line continuations, heredocs
// and global ARG defaults of the Dockerfile reference (docs.docker.com/reference/dockerfile).
#include <changetrail/extract/extract.hpp>

#include <changetrail/util/strings.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace changetrail::extract {

namespace {

struct Pos {
  std::uint32_t line;
  std::uint32_t column;
};

// One instruction after joining continuation lines; pos[i] is where text[i] stands in the file.
struct Instruction {
  std::string text;
  std::vector<Pos> pos;
  std::uint32_t line = 0;
};

struct Token {
  std::string_view text;
  std::size_t offset;
};

std::vector<Token> tokenize(std::string_view s)
{
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
      ++i;
    }
    if (i >= s.size()) {
      break;
    }
    const auto start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
      ++i;
    }
    out.push_back({s.substr(start, i - start), start});
  }
  return out;
}

bool is_name_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Dockerfile variable expansion: $VAR, ${VAR}, ${VAR:-word}, ${VAR:+word}, ${VAR-word}, ${VAR+word}.
// Names without a value stay as ${NAME} for the reference parser to report. A result longer than
// k_max_expanded bytes more than its input throws ExpansionTooLarge: ARG A=$B$B doubling forty
// times is 2^40 bytes.
std::string expand(std::string_view s, const Variables& vars, char escape)
{
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (out.size() > k_max_expanded + s.size()) {
      throw ExpansionTooLarge{};
    }
    const char c = s[i];
    if (c == escape && i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (c != '$' || i + 1 >= s.size()) {
      out += c;
      continue;
    }
    if (s[i + 1] == '{') {
      const auto end = s.find('}', i + 2);
      if (end == std::string_view::npos) {
        out += s.substr(i);
        break;
      }
      const auto body = s.substr(i + 2, end - i - 2);
      std::size_t n = 0;
      while (n < body.size() && is_name_char(body[n])) {
        ++n;
      }
      const auto name = body.substr(0, n);
      auto op = body.substr(n);
      const std::string* value = vars.find(name);
      if (op.starts_with(":-") || op.starts_with("-")) {
        const bool colon = op.front() == ':';
        const auto word = op.substr(colon ? 2 : 1);
        if (value != nullptr && !(colon && value->empty())) {
          out += *value;
        } else {
          out += expand(word, vars, escape);
        }
      } else if (op.starts_with(":+") || op.starts_with("+")) {
        const bool colon = op.front() == ':';
        const auto word = op.substr(colon ? 2 : 1);
        if (value != nullptr && !(colon && value->empty())) {
          out += expand(word, vars, escape);
        }
      } else if (value != nullptr && op.empty()) {
        out += *value;
      } else {
        out += "${";
        out += name;
        out += '}';
      }
      i = end;
    } else if (is_name_char(s[i + 1])) {
      std::size_t j = i + 1;
      while (j < s.size() && is_name_char(s[j])) {
        ++j;
      }
      const auto name = s.substr(i + 1, j - i - 1);
      if (const std::string* value = vars.find(name)) {
        out += *value;
      } else {
        out += "${";
        out += name;
        out += '}';
      }
      i = j - 1;
    } else {
      out += c;
    }
  }
  if (out.size() > k_max_expanded + s.size()) {
    throw ExpansionTooLarge{};
  }
  return out;
}

std::string unquote(std::string_view v)
{
  if (v.size() >= 2 && ((v.front() == '"' && v.back() == '"') || (v.front() == '\'' && v.back() == '\''))) {
    return std::string(v.substr(1, v.size() - 2));
  }
  return std::string(v);
}

// Heredoc markers in an instruction (<<EOF, <<-EOF, <<"EOF", <<'EOF'): the terminators whose
// lines follow the instruction and are not instructions.
std::vector<std::pair<std::string, bool>> heredocs(std::string_view text)
{
  std::vector<std::pair<std::string, bool>> out;
  std::size_t i = 0;
  while ((i = text.find("<<", i)) != std::string_view::npos) {
    i += 2;
    bool strip = false;
    if (i < text.size() && text[i] == '-') {
      strip = true;
      ++i;
    }
    char quote = 0;
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) {
      quote = text[i++];
    }
    const auto start = i;
    while (i < text.size() && is_name_char(text[i])) {
      ++i;
    }
    if (i == start) {
      continue;
    }
    const auto word = text.substr(start, i - start);
    if (quote != 0) {
      if (i >= text.size() || text[i] != quote) {
        continue;
      }
      ++i;
    }
    // "<<EOF" needs a letter-led word to be a heredoc ("<<1" is a shift in shell).
    if (!(word.front() >= '0' && word.front() <= '9')) {
      out.emplace_back(std::string(word), strip);
    }
  }
  return out;
}

class DockerfileParser {
public:
  DockerfileParser(std::string_view content, FileResult& out) : m_out(out)
  {
    for (auto line : util::split(content, '\n')) {
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      m_lines.push_back(line);
    }
    if (!m_lines.empty() && m_lines.front().starts_with("\xEF\xBB\xBF")) {
      m_lines.front().remove_prefix(3);
    }
  }

  void run()
  {
    std::size_t i = directives();
    while (i < m_lines.size()) {
      Instruction ins;
      i = next_instruction(i, ins);
      if (ins.text.empty()) {
        continue;
      }
      for (const auto& [word, strip] : heredocs(ins.text)) {
        i = skip_heredoc(i, word, strip);
      }
      handle(ins);
    }
  }

private:
  // Parser directives (# escape=`, # syntax=...) are only recognised before anything else.
  std::size_t directives()
  {
    std::size_t i = 0;
    for (; i < m_lines.size(); ++i) {
      const auto t = util::trim(m_lines[i]);
      if (!t.starts_with('#')) {
        break;
      }
      const auto body = util::trim(t.substr(1));
      const auto eq = body.find('=');
      if (eq == std::string_view::npos) {
        break;
      }
      const auto key = util::to_lower(util::trim(body.substr(0, eq)));
      if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
        break;
      }
      const auto value = util::trim(body.substr(eq + 1));
      if (key == "escape") {
        if (value == "`" || value == "\\") {
          m_escape = value.front();
        } else {
          m_out.problems.push_back({static_cast<std::uint32_t>(i + 1), 1,
                                    "Dockerfile: invalid escape directive " + util::quote(value) + " (\\ or `)"});
        }
      }
    }
    return i;
  }

  // Joins continuation lines; comment and empty lines inside a continuation are dropped, as
  // the Dockerfile reference specifies.
  std::size_t next_instruction(std::size_t i, Instruction& ins)
  {
    while (i < m_lines.size()) {
      const auto line = m_lines[i];
      const auto t = util::trim(line);
      const bool continuing = !ins.text.empty();
      if (t.empty() || t.starts_with('#')) {
        ++i;
        continue;
      }
      if (!continuing) {
        ins.line = static_cast<std::uint32_t>(i + 1);
      }
      // Strip trailing whitespace, then a trailing escape character continues the instruction.
      auto body = line;
      while (!body.empty() && (body.back() == ' ' || body.back() == '\t')) {
        body.remove_suffix(1);
      }
      bool more = false;
      if (!body.empty() && body.back() == m_escape) {
        more = true;
        body.remove_suffix(1);
      }
      std::uint32_t col = 0;
      for (const char c : body) {
        // A column counts characters: continuation bytes share their lead byte's, and a stray
        // continuation byte at the start of a line counts as a character of its own.
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80 || col == 0) {
          ++col;
        }
        ins.text += c;
        ins.pos.push_back({static_cast<std::uint32_t>(i + 1), col});
      }
      ++i;
      if (!more) {
        break;
      }
      ins.text += ' ';
      ins.pos.push_back({static_cast<std::uint32_t>(i), col + 1});
    }
    return i;
  }

  std::size_t skip_heredoc(std::size_t i, const std::string& word, bool strip)
  {
    for (; i < m_lines.size(); ++i) {
      auto t = m_lines[i];
      if (strip) {
        while (!t.empty() && t.front() == '\t') {
          t.remove_prefix(1);
        }
      }
      if (t == word) {
        return i + 1;
      }
    }
    return i;
  }

  bool is_stage(std::string_view name) const
  {
    const auto lower = util::to_lower(name);
    if (std::find(m_stage_names.begin(), m_stage_names.end(), lower) != m_stage_names.end()) {
      return true;
    }
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return name.size() < 6 && std::stoul(std::string(name)) < m_stage_count;
    }
    return false;
  }

  void handle(const Instruction& ins)
  {
    const auto tokens = tokenize(ins.text);
    if (tokens.empty()) {
      return;
    }
    const auto keyword = util::to_lower(tokens[0].text);
    if (keyword == "arg" && m_stage_count == 0) {
      for (std::size_t k = 1; k < tokens.size(); ++k) {
        const auto t = tokens[k].text;
        const auto eq = t.find('=');
        const auto name = t.substr(0, eq);
        // A later ARG of the same name overrides; ARG without a default declares it unset.
        auto& values = m_globals.values;
        values.erase(std::remove_if(values.begin(), values.end(), [&](const auto& p) { return p.first == name; }),
                     values.end());
        if (eq != std::string_view::npos) {
          try {
            values.emplace_back(std::string(name), expand(unquote(t.substr(eq + 1)), m_globals, m_escape));
          } catch (const ExpansionTooLarge&) {
            m_out.problems.push_back({ins.line, 1, "Dockerfile: ARG " + util::quote(name, 64) +
                                                       " expands past " + std::to_string(k_max_expanded) +
                                                       " bytes; left unset"});
          }
        }
      }
    } else if (keyword == "from") {
      from(ins, tokens);
    } else if ((keyword == "copy" || keyword == "add") && m_stage_count > 0) {
      copy_from(ins, tokens);
    }
  }

  Pos position(const Instruction& ins, std::size_t offset) const
  {
    return offset < ins.pos.size() ? ins.pos[offset] : Pos{ins.line, 1};
  }

  std::string stage_label() const
  {
    return m_current_alias.empty() ? std::to_string(m_stage_count - 1) : m_current_alias;
  }

  void from(const Instruction& ins, const std::vector<Token>& tokens)
  {
    std::size_t k = 1;
    while (k < tokens.size() && tokens[k].text.starts_with("--")) {
      ++k;
    }
    if (k >= tokens.size()) {
      m_out.problems.push_back({ins.line, 1, "Dockerfile: FROM without an image"});
      return;
    }
    const Token image = tokens[k];
    std::string alias;
    if (k + 2 < tokens.size() && util::iequals(tokens[k + 1].text, "as")) {
      alias = util::to_lower(tokens[k + 2].text);
    }
    std::string expanded;
    try {
      expanded = expand(image.text, m_globals, m_escape);
    } catch (const ExpansionTooLarge&) {
      m_out.problems.push_back({ins.line, 1, "Dockerfile: FROM image expands past " +
                                                 std::to_string(k_max_expanded) + " bytes; not checked"});
      ++m_stage_count;
      m_current_alias = alias;
      return;
    }
    const bool earlier_stage = is_stage(expanded);
    const auto index = m_stage_count++;
    m_current_alias = alias;
    if (!alias.empty()) {
      m_stage_names.push_back(alias);
    }
    if (util::iequals(expanded, "scratch") || earlier_stage) {
      return;
    }
    const Pos p = position(ins, image.offset);
    Finding f;
    f.line = p.line;
    f.column = p.column;
    f.format = "dockerfile";
    f.location = "stage/" + (alias.empty() ? std::to_string(index) : alias);
    f.workload = f.location;
    f.container = alias;
    f.ref = std::string(image.text);
    f.image = reference::parse(expanded);
    m_out.findings.push_back(std::move(f));
  }

  void copy_from(const Instruction& ins, const std::vector<Token>& tokens)
  {
    for (std::size_t k = 1; k < tokens.size(); ++k) {
      const auto t = tokens[k].text;
      if (!t.starts_with("--")) {
        break; // flags come first
      }
      constexpr std::string_view k_flag = "--from=";
      if (!t.starts_with(k_flag)) {
        continue;
      }
      const auto value = t.substr(k_flag.size());
      std::string expanded;
      try {
        expanded = expand(value, m_globals, m_escape);
      } catch (const ExpansionTooLarge&) {
        m_out.problems.push_back({ins.line, 1, "Dockerfile: COPY --from image expands past " +
                                                   std::to_string(k_max_expanded) + " bytes; not checked"});
        continue;
      }
      if (expanded.empty() || is_stage(expanded)) {
        continue;
      }
      const Pos p = position(ins, tokens[k].offset + k_flag.size());
      Finding f;
      f.line = p.line;
      f.column = p.column;
      f.format = "dockerfile";
      f.image = reference::parse(expanded);
      const auto name = f.image.valid ? f.image.familiar_name() : std::string(value);
      f.location = "stage/" + stage_label() + "/copy-from/" + name;
      f.workload = "stage/" + stage_label();
      f.container = m_current_alias;
      f.ref = std::string(value);
      m_out.findings.push_back(std::move(f));
    }
  }

  FileResult& m_out;
  std::vector<std::string_view> m_lines;
  char m_escape = '\\';
  Variables m_globals;
  std::vector<std::string> m_stage_names;
  std::uint32_t m_stage_count = 0;
  std::string m_current_alias;
};

} // namespace

void extract_dockerfile(std::string_view content, FileResult& out)
{
  DockerfileParser(content, out).run();
}

} // namespace changetrail::extract
