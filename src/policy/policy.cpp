#include <changetrail/policy/policy.hpp>

#include <changetrail/util/glob.hpp>
#include <changetrail/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace changetrail::policy {

const RuleInfo* find_rule(std::string_view id)
{
  for (const auto& r : k_rules) {
    if (r.id == id) {
      return &r;
    }
  }
  return nullptr;
}

Severity Policy::severity(std::string_view rule, std::string_view env) const
{
  const RuleInfo* info = find_rule(rule);
  Severity s = info == nullptr ? Severity::warning : info->default_severity;
  if (const auto it = m_config.severity.find(rule); it != m_config.severity.end()) {
    s = it->second;
  } else if (rule == "unpinned" && env.starts_with("prod")) {
    s = Severity::error; // issue 2: unpinned is an error in prod* unless the config says otherwise
  }
  // Environment overrides: an exact name first, then glob keys ("prod*").
  if (!env.empty()) {
    const auto exact = m_config.environment_severity.find(env);
    const std::map<std::string, Severity, std::less<>>* rules = nullptr;
    if (exact != m_config.environment_severity.end()) {
      rules = &exact->second;
    } else {
      for (const auto& [pattern, r] : m_config.environment_severity) {
        if (util::glob_match(pattern, env)) {
          rules = &r;
          break;
        }
      }
    }
    if (rules != nullptr) {
      if (const auto it = rules->find(rule); it != rules->end()) {
        s = it->second;
      }
    }
  }
  return s;
}

namespace {

// The reference as written, and what it expands to when variables were substituted.
std::string shown(const extract::Finding& f)
{
  std::string out = util::quote(f.ref);
  if (f.image.valid && f.ref.find('$') != std::string::npos) {
    out += " (" + f.image.familiar() + ")";
  }
  return out;
}

bool registry_allowed(const reference::Reference& r, const std::vector<std::string>& allowed)
{
  if (allowed.empty()) {
    return true;
  }
  const std::string name = r.name();
  const std::string familiar = r.familiar_name();
  for (const auto& pattern : allowed) {
    // "ghcr.io" alone allows the whole registry; otherwise a glob over registry/repository in
    // which '*' crosses '/'.
    if (pattern == r.registry || util::glob_match(pattern, name, true) || util::glob_match(pattern, familiar, true)) {
      return true;
    }
  }
  return false;
}

} // namespace

void Policy::check_reference(const extract::Finding& f, std::vector<Violation>& out,
                             const RegistryLookup* registry) const
{
  const auto add = [&](std::string_view rule, std::string message) {
    Violation v;
    v.rule = std::string(rule);
    v.severity = severity(rule, f.env);
    v.file = f.file;
    v.line = f.line;
    v.column = f.column;
    v.location = f.location;
    v.ref = f.ref;
    v.env = f.env;
    v.message = std::move(message);
    out.push_back(std::move(v));
  };
  const auto& img = f.image;
  const std::string noun = f.format == "oci-artifact" ? "artifact " : "image ";
  if (img.unresolved) {
    add("unresolved-reference", noun + shown(f) + " is not resolved: " + img.error);
    return;
  }
  if (!img.valid) {
    add("invalid-reference", "invalid image reference " + shown(f) + ": " + img.error);
    return;
  }
  if (!registry_allowed(img, m_config.allowed_registries)) {
    add("disallowed-registry", noun + shown(f) + " comes from " + img.name() + ", which policy.allowed_registries does not allow");
  }
  if (img.has_digest()) {
    // Pinned: the digest is what is pulled, whatever the tag says; the registry can still say
    // that the digest is gone or that the tag written beside it was moved.
    if (const RegistryFacts* facts = registry != nullptr && *registry ? (*registry)(img) : nullptr) {
      if (facts->digest_missing) {
        add("digest-not-found", noun + shown(f) + ": the digest " + img.digest + " is not in " + img.name());
      } else if (img.has_tag() && !facts->tag_digest.empty() && facts->tag_digest != img.digest) {
        add("tag-digest-mismatch", noun + shown(f) + ": the tag " + util::quote(img.tag) + " now points at "
                                     + facts->tag_digest + ", not at the pinned digest");
      }
    }
    return;
  }
  // One pinning rule per reference, the most specific one.
  switch (f.tag_source) {
  case extract::TagSource::inherited:
    add("unpinned", "kustomize image " + shown(f) + " sets neither newTag nor digest: the base manifest's tag applies unpinned");
    return;
  case extract::TagSource::chart:
    add("unpinned", noun + shown(f) + " has no tag or digest in the values: the chart's default tag applies unpinned");
    return;
  case extract::TagSource::kustomize:
    return; // the kustomization entry that sets the tag is checked instead
  case extract::TagSource::range:
    add("unpinned", noun + shown(f) + " follows the version range " + util::quote(f.tag_note) + " and is not pinned by digest");
    return;
  case extract::TagSource::written:
    break;
  }
  if (!img.has_tag()) {
    add("missing-tag", noun + shown(f) + " has no tag: it means \"latest\"; pin a version and a digest");
  } else if (img.tag == "latest") {
    add("latest-tag", noun + shown(f) + " uses the tag \"latest\"; pin a version and a digest");
  } else if (std::find(m_config.mutable_tags.begin(), m_config.mutable_tags.end(), img.tag) != m_config.mutable_tags.end()) {
    add("mutable-tag", noun + shown(f) + " uses the mutable tag " + util::quote(img.tag) + " without a digest");
  } else {
    add("unpinned", noun + shown(f) + " is not pinned by digest; the tag " + util::quote(img.tag) + " can be moved");
  }
}

std::vector<Violation> Policy::evaluate(const extract::FileResult& file, const RegistryLookup* registry) const
{
  std::vector<Violation> out;
  const std::string env = m_config.environment_for(file.rel);
  for (const auto& f : file.findings) {
    check_reference(f, out, registry);
  }
  for (const auto& p : file.problems) {
    Violation v;
    v.rule = "parse-error";
    v.severity = severity(v.rule, env);
    v.file = file.file;
    v.line = p.line == 0 ? 1 : p.line;
    v.column = p.column == 0 ? 1 : p.column;
    v.env = env;
    v.message = p.message;
    out.push_back(std::move(v));
  }
  for (const auto& s : file.suppressions) {
    std::string bad;
    for (const auto& r : s.rules) {
      if (r != "all" && find_rule(r) == nullptr) {
        bad = r;
      }
    }
    if (s.rules.empty() || !bad.empty() || s.reason.empty()) {
      Violation v;
      v.rule = "parse-error";
      v.severity = severity(v.rule, env);
      v.file = file.file;
      v.line = s.line;
      v.column = 1;
      v.env = env;
      v.message = s.rules.empty()   ? "changetrail:ignore needs a rule id and a reason; it suppresses nothing"
                  : !bad.empty()    ? "changetrail:ignore names an unknown rule " + util::quote(bad) + "; it suppresses nothing"
                                    : "changetrail:ignore without a reason suppresses nothing; say why";
      out.push_back(std::move(v));
    }
  }
  for (auto& v : out) {
    v.rel = file.rel;
    if (v.rule == "parse-error" && v.message.starts_with("changetrail:ignore")) {
      continue;
    }
    for (const auto& s : file.suppressions) {
      if (s.reason.empty() || (s.line != v.line && s.line + 1 != v.line)) {
        continue;
      }
      // A suppression that names an unknown rule suppresses nothing (it is reported above).
      if (std::any_of(s.rules.begin(), s.rules.end(), [](const std::string& r) { return r != "all" && find_rule(r) == nullptr; })) {
        continue;
      }
      if (std::find(s.rules.begin(), s.rules.end(), v.rule) != s.rules.end()
          || std::find(s.rules.begin(), s.rules.end(), "all") != s.rules.end()) {
        v.suppressed = true;
        v.suppression_reason = s.reason;
        break;
      }
    }
  }
  std::erase_if(out, [](const Violation& v) { return v.severity == Severity::off; });
  std::stable_sort(out.begin(), out.end(), [](const Violation& a, const Violation& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return out;
}

Summary summarize(const std::vector<Violation>& violations, std::size_t files, std::size_t references)
{
  Summary s;
  s.files = files;
  s.references = references;
  for (const auto& v : violations) {
    if (v.suppressed) {
      ++s.suppressed;
      continue;
    }
    switch (v.severity) {
    case Severity::error:
      ++s.errors;
      break;
    case Severity::warning:
      ++s.warnings;
      break;
    case Severity::info:
      ++s.infos;
      break;
    case Severity::off:
      break;
    }
  }
  return s;
}

void to_json(nlohmann::json& j, const Violation& v)
{
  j = nlohmann::json{
    {"rule", v.rule},
    {"severity", to_string(v.severity)},
    {"file", util::sanitize_utf8(v.file)},
    {"line", v.line},
    {"column", v.column},
    {"location", v.location.empty() ? nlohmann::json(nullptr) : nlohmann::json(util::sanitize_utf8(v.location))},
    {"ref", v.ref.empty() ? nlohmann::json(nullptr) : nlohmann::json(util::sanitize_utf8(v.ref))},
    {"env", v.env.empty() ? nlohmann::json(nullptr) : nlohmann::json(util::sanitize_utf8(v.env))},
    {"rel", util::sanitize_utf8(v.rel)},
    {"message", util::sanitize_utf8(v.message)},
  };
  if (v.suppressed) {
    j["suppressed"] = true;
    j["suppression_reason"] = util::sanitize_utf8(v.suppression_reason);
  }
}

} // namespace changetrail::policy
