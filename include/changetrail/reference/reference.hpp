#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace changetrail::reference {

inline constexpr std::string_view k_default_registry = "docker.io";
inline constexpr std::size_t k_name_max = 255;

// A container image reference after parsing and normalization by the distribution/reference
// grammar (REGISTRY.md "References"). Parsing never throws: an input that is not a reference
// comes back with valid == false and a one-line error.
struct Reference {
  std::string input;      // as written
  bool valid = false;
  bool unresolved = false; // template syntax (${VAR}, $VAR, {{ ... }}): not a reference yet
  std::vector<std::string> variables; // names of the unresolved variables, in order of appearance
  std::string error;      // why it is not valid (empty when valid)
  std::string registry;   // "docker.io", "ghcr.io", "localhost:5000", "[::1]:5000"
  std::string repository; // "library/nginx"
  std::string tag;        // empty when none was written
  std::string digest;     // "sha256:<64 hex>" or empty

  [[nodiscard]] bool has_tag() const { return !tag.empty(); }
  [[nodiscard]] bool has_digest() const { return !digest.empty(); }
  // registry/repository, e.g. "docker.io/library/nginx".
  [[nodiscard]] std::string name() const;
  // Fully qualified: "docker.io/library/nginx:1.25@sha256:...". No implicit ":latest" is added:
  // a missing tag is a fact the policy reports (missing-tag).
  [[nodiscard]] std::string canonical() const;
  // The short form docker prints: "nginx:1.25", "ghcr.io/acme/app@sha256:...".
  [[nodiscard]] std::string familiar() const;
  // familiar() without tag and digest.
  [[nodiscard]] std::string familiar_name() const;
};

[[nodiscard]] Reference parse(std::string_view input);

// Builds the reference that Helm's split convention describes ({registry?, repository, tag?,
// digest?}); `tag` may itself carry "@sha256:..." (tag: 1.2.3@sha256:...). Parsed like any input
// so that the split and joined forms of one image produce the same Reference.
[[nodiscard]] std::string join(std::string_view registry, std::string_view repository,
                               std::string_view tag, std::string_view digest);

// True when the text contains template syntax ($VAR, ${VAR}, {{ ... }}); names go to `variables`.
bool find_template_variables(std::string_view s, std::vector<std::string>* variables);

// "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>"; empty string when valid,
// otherwise the reason.
[[nodiscard]] std::string validate_digest(std::string_view digest);

[[nodiscard]] bool is_valid_tag(std::string_view tag);

// JSON text of the DESIGN.md `ref` object, written directly (the list outputs print tens of
// thousands of them); to_json goes through it so there is one definition of the fields.
void append_json(std::string& out, const Reference& r);
void to_json(nlohmann::json& j, const Reference& r);

} // namespace changetrail::reference
