#pragma once

#include <changetrail/extract/finding.hpp>
#include <changetrail/policy/config.hpp>

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::policy {

struct RuleInfo {
  std::string_view id;
  Severity default_severity;
  std::string_view summary; // one line
  std::string_view help;    // what to do about it
};

// Stable rule ids (SARIF, config, suppressions). The last two need `check --verify-registry`.
inline constexpr std::array<RuleInfo, 10> k_rules{{
  {"latest-tag", Severity::error, "Image uses the \"latest\" tag",
   "\"latest\" names whatever was pushed last: a redeploy can run different code. Pin a version and its digest "
   "(changetrail pin --write), e.g. nginx:1.27.3@sha256:..."},
  {"missing-tag", Severity::error, "Image has no tag (implicitly \"latest\")",
   "Without a tag the runtime pulls \"latest\". Pin a version and its digest (changetrail pin --write)."},
  {"unpinned", Severity::warning, "Image tag is not pinned by digest",
   "A tag can be moved to other content after review. Add the digest (tag@sha256:...) with changetrail pin --write. "
   "Error in environments named prod* unless configured otherwise."},
  {"mutable-tag", Severity::warning, "Image uses a mutable branch-style tag",
   "Tags such as main, stable or nightly are re-pointed by every build. Use a version or commit tag with a digest. "
   "The list is policy.mutable_tags."},
  {"disallowed-registry", Severity::error, "Image comes from a registry that is not allowed",
   "policy.allowed_registries lists where images may come from. Mirror the image there or extend the list."},
  {"invalid-reference", Severity::error, "Image reference is not valid",
   "The runtime would refuse this reference (distribution/reference grammar). Fix the name, tag or digest."},
  {"unresolved-reference", Severity::warning, "Image reference contains an unresolved variable",
   "The reference depends on a variable this file does not define (compose .env, Dockerfile ARG default, Helm "
   "template). Define a default so that the image can be checked."},
  {"parse-error", Severity::warning, "File could not be read completely",
   "The file (or part of it) could not be parsed; references in it may be missed. The other files are still checked."},
  {"tag-digest-mismatch", Severity::warning, "The tag of a pinned reference now points at another digest",
   "The digest is what runs, but the tag written beside it was moved: a reader of the file is misled about the "
   "version. Re-pin (changetrail pin --write) after checking which version is meant."},
  {"digest-not-found", Severity::error, "The pinned digest does not exist in the registry",
   "A deployment of this reference will fail to pull. Pin a digest that exists (changetrail pin --write)."},
}};

// What a registry said about a pinned reference (check --verify-registry).
struct RegistryFacts {
  bool digest_missing = false; // the pinned digest is not in the registry
  std::string tag_digest;      // where the written tag points now; empty when unknown or no tag
};
// nullptr: nothing known about this reference (not asked, or the registry could not answer).
using RegistryLookup = std::function<const RegistryFacts*(const reference::Reference&)>;

[[nodiscard]] const RuleInfo* find_rule(std::string_view id);

// One reported violation (DESIGN.md "check" finding).
struct Violation {
  std::string rule;
  Severity severity = Severity::warning;
  std::string file;
  std::string rel;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string location;
  std::string ref;
  std::string env;
  std::string message;
  bool suppressed = false;
  std::string suppression_reason;
};

struct Summary {
  std::size_t errors = 0;
  std::size_t warnings = 0;
  std::size_t infos = 0;
  std::size_t suppressed = 0;
  std::size_t files = 0;
  std::size_t references = 0;
};

class Policy {
public:
  explicit Policy(const Config& config) : m_config(config) {}
  [[nodiscard]] Severity severity(std::string_view rule, std::string_view env) const;
  // Violations of one file's findings and problems, suppressions applied (suppressed ones are
  // returned with suppressed = true so that reports can count them).
  // With `registry`, pinned references are also checked against it (tag-digest-mismatch,
  // digest-not-found).
  [[nodiscard]] std::vector<Violation> evaluate(const extract::FileResult& file,
                                                const RegistryLookup* registry = nullptr) const;

private:
  void check_reference(const extract::Finding& f, std::vector<Violation>& out, const RegistryLookup* registry) const;
  const Config& m_config;
};

[[nodiscard]] Summary summarize(const std::vector<Violation>& violations, std::size_t files, std::size_t references);

void to_json(nlohmann::json& j, const Violation& v);

} // namespace changetrail::policy
