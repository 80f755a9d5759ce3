#pragma once

#include <changetrail/extract/finding.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::extract {

enum class FileKind : std::uint8_t { none, yaml, kustomization, compose, dockerfile };

// What a file is, from its name alone (the history scan filters tree entries with it).
[[nodiscard]] FileKind classify(std::string_view path);

// True for Helm chart templates: a path with a templates/ directory and text with "{{".
[[nodiscard]] bool is_helm_template(std::string_view path, std::string_view content);

struct FileInput {
  std::string_view file;    // display path
  std::string_view rel;     // repository-relative path
  std::string_view content;
  FileKind kind = FileKind::yaml;
  // Reads the compose `.env` beside the file (none: no variables defined).
  std::function<std::optional<std::string>()> read_dotenv;
};

// Extracts every reference from one file's content. Never throws on bad content: what cannot
// be parsed becomes a Problem and the rest of the file is still read where possible.
[[nodiscard]] FileResult extract_file(const FileInput& input);

// Resolves HelmRelease charts against the HelmRepositories of the same set of files.
void resolve_charts(std::vector<FileResult>& results);

// A base manifest often names an image without a tag that an overlay's kustomization `images:`
// entry sets (newTag or digest). Such findings get TagSource::kustomize and a tag_note naming
// the kustomization; the pinning rules apply to the kustomization entry instead.
void apply_kustomize_overrides(std::vector<FileResult>& results);

// Dockerfile and compose helpers, public for their tests and fuzz targets.
void extract_dockerfile(std::string_view content, FileResult& out);
void extract_yaml(const FileInput& input, FileResult& out);
std::vector<Suppression> find_suppressions(std::string_view content);

// .env parsing and ${VAR} substitution as docker compose does it.
// Variable expansion (Dockerfile ARG, compose .env) stops at this many bytes more than its input: definitions that
// double a variable forty times would otherwise ask for a terabyte.
inline constexpr std::size_t k_max_expanded = 64 * 1024;
struct ExpansionTooLarge {};

struct Variables {
  std::vector<std::pair<std::string, std::string>> values;
  // .env lines whose value expanded past k_max_expanded (the variable is left unset).
  std::vector<std::pair<std::uint32_t, std::string>> too_large;
  [[nodiscard]] const std::string* find(std::string_view name) const;
};
[[nodiscard]] Variables parse_dotenv(std::string_view content);
// Substitutes what `vars` defines; unresolved variables stay in the text as ${NAME} so that the
// reference parser reports them by name. `$$` is a literal `$`.
// Throws ExpansionTooLarge past k_max_expanded bytes.
[[nodiscard]] std::string substitute(std::string_view text, const Variables& vars);

} // namespace changetrail::extract
