#include <changetrail/extract/extract.hpp>

#include <changetrail/util/strings.hpp>

namespace changetrail::extract {

namespace {

std::string_view basename(std::string_view path)
{
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool has_yaml_extension(std::string_view name)
{
  return name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".YAML") || name.ends_with(".YML");
}

} // namespace

FileKind classify(std::string_view path)
{
  const auto name = basename(path);
  // Dockerfile, Containerfile, Dockerfile.prod, api.Dockerfile (the names docker build and
  // hadolint recognise).
  if (name == "Dockerfile" || name == "Containerfile" || name.starts_with("Dockerfile.")
      || name.starts_with("Containerfile.") || name.ends_with(".Dockerfile") || name.ends_with(".dockerfile")
      || name == "dockerfile") {
    return FileKind::dockerfile;
  }
  if (name == "Kustomization" || name == "kustomization.yaml" || name == "kustomization.yml") {
    return FileKind::kustomization;
  }
  if (!has_yaml_extension(name)) {
    return FileKind::none;
  }
  // compose*.y*ml and docker-compose*.y*ml (the Compose specification's file names and their
  // override variants such as docker-compose.prod.yml).
  if (name.starts_with("compose") || name.starts_with("docker-compose")) {
    return FileKind::compose;
  }
  return FileKind::yaml;
}

bool is_helm_template(std::string_view path, std::string_view content)
{
  const bool in_templates = path.starts_with("templates/") || path.find("/templates/") != std::string_view::npos;
  return in_templates && content.find("{{") != std::string_view::npos;
}

} // namespace changetrail::extract
