#include <changetrail/reference/reference.hpp>

#include <changetrail/util/json_text.hpp>
#include <changetrail/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace changetrail::reference {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex_lower(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [._] | __ | [-]+
// (distribution/reference regexp.go).
bool is_path_component(std::string_view s)
{
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) {
    return false;
  }
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_lower_alnum(s[i])) {
      ++i;
      continue;
    }
    // A separator run: one '.', one '_', exactly "__", or any number of '-'.
    const std::size_t start = i;
    if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') {
        ++i;
      }
    } else if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') {
        ++i;
      }
    } else {
      return false;
    }
    if (i == start || i >= s.size() || !is_lower_alnum(s[i])) {
      return false;
    }
  }
  return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool is_domain_component(std::string_view s)
{
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool is_ipv6_literal(std::string_view s)
{
  // "[" IPv6address "]": hex groups and colons (an embedded dotted IPv4 tail is allowed).
  if (s.size() < 4 || s.front() != '[' || s.back() != ']') {
    return false;
  }
  const auto body = s.substr(1, s.size() - 2);
  if (body.find(':') == std::string_view::npos) {
    return false;
  }
  int colons = 0;
  for (const char c : body) {
    if (c == ':') {
      ++colons;
    } else if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      // distribution/reference: hex groups only (an IPv4 tail is refused, normalize_test.go)
      return false;
    }
  }
  return colons >= 2 && colons <= 7 && body.find(":::") == std::string_view::npos;
}

// host [":" port], host := domain-name | IPv4 | "[" IPv6 "]"
std::string validate_host(std::string_view domain)
{
  std::string_view host = domain;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) {
      return "invalid registry host " + util::quote(domain);
    }
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!is_ipv6_literal(host)) {
      return "invalid IPv6 address in registry host " + util::quote(domain);
    }
    if (!port.empty()) {
      if (port.front() != ':') {
        return "invalid registry host " + util::quote(domain);
      }
      port.remove_prefix(1);
      if (port.empty()) {
        return "empty port in registry host " + util::quote(domain);
      }
    }
  } else {
    const auto colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) {
        return "empty port in registry host " + util::quote(domain);
      }
    }
    for (const auto component : util::split(host, '.')) {
      if (!is_domain_component(component)) {
        return "invalid registry host " + util::quote(domain);
      }
    }
  }
  if (!port.empty() && !std::all_of(port.begin(), port.end(), is_digit)) {
    return "invalid port in registry host " + util::quote(domain);
  }
  return {};
}

bool is_64_hex(std::string_view s)
{
  return s.size() == 64 && std::all_of(s.begin(), s.end(), is_hex_lower);
}

Reference invalid(Reference r, std::string why)
{
  r.valid = false;
  r.error = std::move(why);
  r.registry.clear();
  r.repository.clear();
  r.tag.clear();
  r.digest.clear();
  return r;
}

} // namespace

bool is_valid_tag(std::string_view tag)
{
  // tag := [\w][\w.-]{0,127}
  if (tag.empty() || tag.size() > 128 || !is_word(tag.front())) {
    return false;
  }
  return std::all_of(tag.begin(), tag.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

std::string validate_digest(std::string_view digest)
{
  const auto colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return "invalid digest " + util::quote(digest) + ": expected <algorithm>:<hex>";
  }
  const auto algorithm = digest.substr(0, colon);
  const auto hex = digest.substr(colon + 1);
  std::size_t want = 0;
  if (algorithm == "sha256") {
    want = 64;
  } else if (algorithm == "sha512") {
    want = 128;
  } else {
    return "unsupported digest algorithm " + util::quote(algorithm) + " (sha256 or sha512)";
  }
  if (!std::all_of(hex.begin(), hex.end(), [](char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      })) {
    return "invalid digest: " + std::string(algorithm) + " value is not hexadecimal";
  }
  if (hex.size() != want) {
    return "invalid digest: " + std::string(algorithm) + " needs " + std::to_string(want)
           + " hex characters, got " + std::to_string(hex.size());
  }
  if (!std::all_of(hex.begin(), hex.end(), is_hex_lower)) {
    return "invalid digest: hex must be lowercase";
  }
  return {};
}

bool find_template_variables(std::string_view s, std::vector<std::string>* variables)
{
  bool found = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{' && i + 1 < s.size() && s[i + 1] == '{') {
      const auto end = s.find("}}", i + 2);
      found = true;
      if (variables != nullptr) {
        variables->emplace_back(util::trim(s.substr(i + 2, end == std::string_view::npos ? std::string_view::npos : end - i - 2)));
      }
      if (end == std::string_view::npos) {
        break;
      }
      i = end + 1;
    } else if (s[i] == '$' && i + 1 < s.size()) {
      if (s[i + 1] == '{') {
        const auto end = s.find('}', i + 2);
        auto body = s.substr(i + 2, end == std::string_view::npos ? std::string_view::npos : end - i - 2);
        // ${VAR:-default}, ${VAR-default}, ${VAR:?msg}: the name ends at the first operator.
        const auto op = body.find_first_of(":-?+=");
        found = true;
        if (variables != nullptr) {
          variables->emplace_back(body.substr(0, op));
        }
        if (end == std::string_view::npos) {
          break;
        }
        i = end;
      } else if (s[i + 1] == '_' || (s[i + 1] >= 'A' && s[i + 1] <= 'Z') || (s[i + 1] >= 'a' && s[i + 1] <= 'z')) {
        std::size_t j = i + 1;
        while (j < s.size() && is_word(s[j])) {
          ++j;
        }
        found = true;
        if (variables != nullptr) {
          variables->emplace_back(s.substr(i + 1, j - i - 1));
        }
        i = j - 1;
      }
    }
  }
  return found;
}

Reference parse(std::string_view input)
{
  Reference r;
  r.input = std::string(input);
  if (input.empty()) {
    return invalid(std::move(r), "empty reference");
  }
  if (find_template_variables(input, &r.variables)) {
    r.unresolved = true;
    std::string names;
    for (const auto& v : r.variables) {
      names += names.empty() ? "" : ", ";
      names += v.empty() ? std::string("?") : v;
    }
    return invalid(std::move(r), "unresolved template variable" + std::string(r.variables.size() > 1 ? "s " : " ") + names);
  }
  for (const char c : input) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      return invalid(std::move(r), u == ' ' ? "invalid reference format: contains a space"
                                            : "invalid reference format: contains a control or non-ASCII character");
    }
  }

  std::string_view rest = input;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    const auto digest = rest.substr(at + 1);
    if (auto why = validate_digest(digest); !why.empty()) {
      return invalid(std::move(r), std::move(why));
    }
    r.digest = std::string(digest);
    rest = rest.substr(0, at);
  }

  // The tag is after the last ':' that follows the last '/': a ':' before a '/' is a port.
  const auto slash = rest.rfind('/');
  const auto colon = rest.rfind(':');
  std::string_view name = rest;
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    const auto tag = rest.substr(colon + 1);
    name = rest.substr(0, colon);
    // "[::1]" with no '/' would split inside the brackets; it is no reference anyway.
    if (!is_valid_tag(tag)) {
      return invalid(std::move(r), tag.empty() ? "invalid reference format: empty tag"
                                               : "invalid tag " + util::quote(tag) + ": must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
    r.tag = std::string(tag);
  }
  if (name.empty()) {
    return invalid(std::move(r), "invalid reference format: empty repository name");
  }
  if (name.size() > k_name_max) {
    return invalid(std::move(r), "repository name must not be more than 255 characters (got " + std::to_string(name.size()) + ")");
  }

  // splitDockerDomain: the first component is a registry host only when it is "localhost" or
  // contains '.' or ':' (REGISTRY.md "References").
  std::string_view domain;
  std::string_view path = name;
  if (const auto first = name.find('/'); first != std::string_view::npos) {
    const auto head = name.substr(0, first);
    if (head == "localhost" || head.find_first_of(".:") != std::string_view::npos || (!head.empty() && head.front() == '[')) {
      domain = head;
      path = name.substr(first + 1);
    }
  }
  if (!domain.empty()) {
    if (auto why = validate_host(domain); !why.empty()) {
      return invalid(std::move(r), std::move(why));
    }
  }
  if (path.empty()) {
    return invalid(std::move(r), "invalid reference format: empty repository path");
  }
  bool uppercase = false;
  for (const auto component : util::split(path, '/')) {
    if (is_path_component(component)) {
      continue;
    }
    if (is_path_component(util::to_lower(component))) {
      uppercase = true;
      continue;
    }
    if (component.empty()) {
      return invalid(std::move(r), "invalid reference format: empty path component in " + util::quote(path));
    }
    return invalid(std::move(r), "invalid repository path component " + util::quote(component)
                                     + ": lowercase letters and digits joined by '.', '_', '__' or '-'");
  }
  if (uppercase) {
    return invalid(std::move(r), "repository name must be lowercase");
  }
  // A bare 64-hex name would be confused with an image id (distribution ParseNormalizedNamed).
  if (domain.empty() && r.tag.empty() && r.digest.empty() && is_64_hex(path)) {
    return invalid(std::move(r), "invalid repository name: a 64-character hex string is an image id, not a name");
  }

  if (domain.empty() || domain == "index.docker.io") {
    r.registry = std::string(k_default_registry);
  } else {
    r.registry = std::string(domain);
  }
  r.repository = std::string(path);
  if (r.registry == k_default_registry && path.find('/') == std::string_view::npos) {
    r.repository = "library/" + r.repository;
  }
  // The limit applies to the normalized name, as distribution checks it after normalizing:
  // "nginx" is "docker.io/library/nginx".
  if (const auto total = r.registry.size() + 1 + r.repository.size(); total > k_name_max) {
    return invalid(std::move(r), "repository name must not be more than 255 characters (got " + std::to_string(total)
                                     + " once normalized to " + r.registry + "/...)");
  }
  r.valid = true;
  return r;
}

std::string join(std::string_view registry, std::string_view repository, std::string_view tag,
                 std::string_view digest)
{
  std::string out;
  registry = util::trim(registry);
  repository = util::trim(repository);
  tag = util::trim(tag);
  digest = util::trim(digest);
  while (!registry.empty() && registry.back() == '/') {
    registry.remove_suffix(1);
  }
  if (!registry.empty()) {
    out += registry;
    out += '/';
  }
  out += repository;
  if (!tag.empty()) {
    out += ':';
    out += tag;
  }
  // tag: 1.2.3@sha256:... already carries the digest; an explicit digest key wins when both
  // are present and differ only if the tag had none.
  if (!digest.empty() && tag.find('@') == std::string_view::npos) {
    out += '@';
    out += digest;
  }
  return out;
}

std::string Reference::name() const
{
  return registry + "/" + repository;
}

std::string Reference::canonical() const
{
  if (!valid) {
    return {};
  }
  std::string out = name();
  if (!tag.empty()) {
    out += ":" + tag;
  }
  if (!digest.empty()) {
    out += "@" + digest;
  }
  return out;
}

std::string Reference::familiar_name() const
{
  if (!valid) {
    return {};
  }
  if (registry != k_default_registry) {
    return name();
  }
  // The familiar form must parse back to the same name: "docker.io/a.b/c" stays as it is (a.b
  // would read as a registry host).
  const auto first = repository.substr(0, repository.find('/'));
  if (first == "localhost" || first.find_first_of(".:") != std::string::npos) {
    return name();
  }
  constexpr std::string_view k_library = "library/";
  if (repository.starts_with(k_library) && repository.find('/', k_library.size()) == std::string::npos) {
    return repository.substr(k_library.size());
  }
  return repository;
}

std::string Reference::familiar() const
{
  if (!valid) {
    return {};
  }
  std::string out = familiar_name();
  // A bare 64-hex name reads as an image id; with neither tag nor digest it keeps its registry
  // so that the familiar form parses back (distribution's FamiliarString does not).
  if (tag.empty() && digest.empty() && is_64_hex(out)) {
    out = name();
  }
  if (!tag.empty()) {
    out += ":" + tag;
  }
  if (!digest.empty()) {
    out += "@" + digest;
  }
  return out;
}

void append_json(std::string& out, const Reference& r)
{
  using util::append_json_string;
  using util::append_json_string_or_null;
  out += "{\"input\":";
  append_json_string(out, r.input);
  out += r.valid ? ",\"valid\":true,\"error\":null,\"registry\":" : ",\"valid\":false,\"error\":";
  if (!r.valid) {
    append_json_string(out, r.error);
    out += ",\"registry\":null,\"repository\":null,\"tag\":";
    append_json_string_or_null(out, r.tag);
    out += ",\"digest\":";
    append_json_string_or_null(out, r.digest);
    out += ",\"canonical\":null,\"familiar\":null";
  } else {
    append_json_string(out, r.registry);
    out += ",\"repository\":";
    append_json_string(out, r.repository);
    out += ",\"tag\":";
    append_json_string_or_null(out, r.tag);
    out += ",\"digest\":";
    append_json_string_or_null(out, r.digest);
    out += ",\"canonical\":";
    append_json_string(out, r.canonical());
    out += ",\"familiar\":";
    append_json_string(out, r.familiar());
  }
  out += r.unresolved ? ",\"unresolved\":true,\"variables\":[" : ",\"unresolved\":false";
  if (r.unresolved) {
    for (std::size_t i = 0; i < r.variables.size(); ++i) {
      if (i != 0) {
        out += ',';
      }
      append_json_string(out, r.variables[i]);
    }
    out += ']';
  }
  out += '}';
}

void to_json(nlohmann::json& j, const Reference& r)
{
  std::string text;
  append_json(text, r);
  j = nlohmann::json::parse(text);
}

} // namespace changetrail::reference
