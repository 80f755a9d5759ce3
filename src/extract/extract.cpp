#include <changetrail/extract/extract.hpp>

#include <changetrail/util/strings.hpp>

#include <algorithm>
#include <cstring>

namespace changetrail::extract {

namespace {

// Words without which a YAML file cannot hold a reference this tool reads: such a file is not
// parsed at all (most of a deployment repository is Services, ConfigMaps, RBAC...).
bool may_hold_reference(std::string_view content)
{
  return content.find("image") != std::string_view::npos || content.find("Image") != std::string_view::npos
         || content.find("repository") != std::string_view::npos
         || content.find("oci://") != std::string_view::npos || content.find("HelmRelease") != std::string_view::npos;
}

bool looks_binary(std::string_view content)
{
  return std::memchr(content.data(), '\0', std::min<std::size_t>(content.size(), 8192)) != nullptr;
}

// Helm / Masterminds semver constraints: operators, wildcards (1.x, 1.2.*), ranges (1 - 2, a || b).
bool is_version_range(std::string_view v)
{
  if (v.find_first_of("*^~<>=| ,") != std::string_view::npos) {
    return true;
  }
  for (const auto part : util::split(v, '.')) {
    if (part == "x" || part == "X") {
      return true;
    }
  }
  return false;
}

} // namespace

std::vector<Suppression> find_suppressions(std::string_view content)
{
  constexpr std::string_view k_marker = "changetrail:ignore";
  std::vector<Suppression> out;
  std::size_t pos = 0;
  while ((pos = content.find(k_marker, pos)) != std::string_view::npos) {
    const auto line_start = content.rfind('\n', pos);
    const auto begin = line_start == std::string_view::npos ? 0 : line_start + 1;
    auto line_end = content.find('\n', pos);
    if (line_end == std::string_view::npos) {
      line_end = content.size();
    }
    const auto hash = content.find('#', begin);
    if (hash != std::string_view::npos && hash < pos) {
      Suppression s;
      s.line = static_cast<std::uint32_t>(std::count(content.begin(), content.begin() + static_cast<std::ptrdiff_t>(begin), '\n') + 1);
      auto rest = util::trim(content.substr(pos + k_marker.size(), line_end - pos - k_marker.size()));
      const auto space = rest.find_first_of(" \t");
      const auto rules = rest.substr(0, space);
      for (const auto r : util::split(rules, ',')) {
        if (!util::trim(r).empty()) {
          s.rules.emplace_back(util::trim(r));
        }
      }
      if (space != std::string_view::npos) {
        s.reason = std::string(util::trim(rest.substr(space)));
      }
      out.push_back(std::move(s));
    }
    pos = line_end;
  }
  return out;
}

FileResult extract_file(const FileInput& input)
{
  FileResult out;
  out.file = std::string(input.file);
  out.rel = std::string(input.rel);
  if (input.kind == FileKind::none) {
    return out;
  }
  if (input.kind != FileKind::dockerfile && is_helm_template(input.rel, input.content)) {
    return out; // chart templates are Go templates, not YAML
  }
  out.checked = true;
  if (looks_binary(input.content)) {
    out.problems.push_back({0, 0, "binary content (NUL bytes); not read"});
    return out;
  }
  if (input.content.find("changetrail:ignore") != std::string_view::npos) {
    out.suppressions = find_suppressions(input.content);
  }
  if (input.kind == FileKind::dockerfile) {
    extract_dockerfile(input.content, out);
  } else if (input.kind != FileKind::yaml || may_hold_reference(input.content)) {
    extract_yaml(input, out);
  }
  for (auto& f : out.findings) {
    f.file = out.file;
  }
  return out;
}

void apply_kustomize_overrides(std::vector<FileResult>& results)
{
  struct Override {
    std::string name; // canonical name (registry/repository) of the entry's `name`
    std::string file;
  };
  std::vector<Override> overrides;
  for (const auto& r : results) {
    for (const auto& f : r.findings) {
      if (f.format == "kustomize" && f.tag_source == TagSource::written && (f.image.has_tag() || f.image.has_digest())) {
        const auto original = reference::parse(f.container); // the entry's `name`
        if (original.valid) {
          overrides.push_back({original.name(), r.file});
        }
      }
    }
  }
  if (overrides.empty()) {
    return;
  }
  for (auto& r : results) {
    for (auto& f : r.findings) {
      if (f.format == "kustomize" || !f.image.valid || f.image.has_tag() || f.image.has_digest()
          || f.tag_source != TagSource::written) {
        continue;
      }
      const auto name = f.image.name();
      for (const auto& o : overrides) {
        if (o.name == name) {
          f.tag_source = TagSource::kustomize;
          f.tag_note = o.file;
          break;
        }
      }
    }
  }
}

void resolve_charts(std::vector<FileResult>& results)
{
  std::vector<const HelmRepository*> repos;
  for (const auto& r : results) {
    for (const auto& h : r.helm_repositories) {
      repos.push_back(&h);
    }
  }
  for (auto& r : results) {
    for (auto& p : r.pending_charts) {
      const HelmRepository* match = nullptr;
      for (const auto* h : repos) {
        // A HelmRepository without a namespace in its manifest ("_") matches any namespace.
        if (h->name == p.source_name && (h->namespace_ == p.source_namespace || h->namespace_ == "_" || p.source_namespace == "_")) {
          match = h;
          break;
        }
      }
      if (match == nullptr) {
        continue; // not an OCI repository (or not in this set of files): not an image artifact
      }
      Finding f = std::move(p.finding);
      const auto& v = p.version;
      // A version that is a semver range (or absent: Flux takes the newest) follows new pushes.
      const bool exact = !v.empty() && !is_version_range(v);
      f.ref = match->url + "/" + p.chart + (exact ? ":" + v : std::string{});
      f.image = reference::parse(f.ref);
      if (!exact) {
        f.tag_source = TagSource::range;
        f.tag_note = v.empty() ? "*" : v;
      }
      r.findings.push_back(std::move(f));
    }
    r.pending_charts.clear();
  }
}

} // namespace changetrail::extract
