#pragma once

#include <changetrail/reference/reference.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace changetrail::extract {

// Where the tag of a reference came from when the file does not spell it out.
enum class TagSource : std::uint8_t {
  written,   // the file writes it (or writes none: implicit latest)
  inherited, // kustomize images entry without newTag/digest: the base manifest's tag applies
  chart,     // Helm values without a tag: the chart's appVersion applies
  range,     // a semver range (Flux OCIRepository ref.semver, HelmRelease chart version)
  kustomize, // a base manifest's image whose tag a kustomization `images:` entry sets
};

// One image reference found in a file (DESIGN.md "finding").
struct Finding {
  std::string file;        // path as the user named it (or repository-relative in history)
  std::uint32_t line = 0;  // 1-based
  std::uint32_t column = 0; // 1-based, characters, of the reference's first character
  std::string format;      // kubernetes, kustomize, helm-values, helmrelease, argocd, oci-artifact, compose, dockerfile, yaml
  std::string location;    // location key, stable across commits (DESIGN.md "Identity of a location")
  std::string workload;    // Deployment/ns/name, services/web, stage/build, ... (may be empty)
  std::string container;   // container name, compose service, values key (may be empty)
  std::string env;         // environment name from the config and default heuristics (may be empty)
  std::string ref;         // the reference as written (split forms joined)
  reference::Reference image;
  TagSource tag_source = TagSource::written;
  std::string tag_note;    // the semver range for TagSource::range
};

// A suppression comment: `# changetrail:ignore <rule>[,<rule>...] <reason>`.
struct Suppression {
  std::uint32_t line = 0;
  std::vector<std::string> rules; // "all" matches every rule
  std::string reason;
};

// Something in a file that is not a finding but must be reported (rule parse-error).
struct Problem {
  std::uint32_t line = 0; // 0 when the whole file is concerned
  std::uint32_t column = 0;
  std::string message;
};

// A Flux HelmRepository of type oci: HelmRelease charts that point at it are OCI artifacts.
struct HelmRepository {
  std::string namespace_;
  std::string name;
  std::string url; // without the oci:// scheme
};

// A HelmRelease chart whose source is a HelmRepository, resolved once every file has been read.
struct PendingChart {
  Finding finding; // location, position, workload filled; ref/image filled on resolution
  std::string chart;
  std::string version;
  std::string source_namespace;
  std::string source_name;
};

struct FileResult {
  std::string file; // display path
  std::string rel;  // repository-relative path (config globs, environments)
  bool checked = false; // false: skipped (not a candidate, ignored, Helm template)
  bool parse_failed = false; // a YAML syntax error: the findings may be incomplete
  std::vector<Finding> findings;
  std::vector<Problem> problems;
  std::vector<Suppression> suppressions;
  std::vector<HelmRepository> helm_repositories;
  std::vector<PendingChart> pending_charts;
};

[[nodiscard]] const char* to_string(TagSource s);
// JSON text of the DESIGN.md `finding` object (fields in the contract's order); to_json goes
// through it.
void append_json(std::string& out, const Finding& f);
void to_json(nlohmann::json& j, const Finding& f);

} // namespace changetrail::extract
