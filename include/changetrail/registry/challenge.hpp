#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace changetrail::registry {

// One challenge of a WWW-Authenticate header (RFC 7235 section 4.1): `Bearer realm="...",
// service="...",scope="..."`, `Basic realm="..."`. REGISTRY.md "HTTP flow" step 1: one header can
// carry several challenges, and values may be quoted strings with backslash escapes.
struct Challenge {
  std::string scheme; // lower-cased: "bearer", "basic", ...
  // Parameters in the order written; names lower-cased, values unquoted and unescaped. A token68
  // credential form (`Negotiate abc==`) has one parameter with an empty name.
  std::vector<std::pair<std::string, std::string>> params;

  // The value of parameter `name` (lower-case), or empty when absent.
  [[nodiscard]] std::string param(std::string_view name) const;
};

// Every challenge in the values of one or more WWW-Authenticate headers. `values` holds one
// string per header line (a response may repeat the header). Never throws: a malformed part
// ends the challenge it belongs to and parsing goes on with the next one that can be recognised.
// Input is bounded by the caller (error bodies and headers are capped).
[[nodiscard]] std::vector<Challenge> parse_challenges(const std::vector<std::string>& values);

} // namespace changetrail::registry
