// Image references in YAML: Kubernetes workloads, kustomize, Helm values (plain files, Flux
// HelmRelease, Argo CD Application), Flux OCI sources, docker-compose, and any other `image:` key.
#include <changetrail/extract/extract.hpp>

#include <changetrail/util/strings.hpp>
#include <changetrail/yaml/yaml.hpp>

#include <algorithm>
#include <array>
#include <string>

namespace changetrail::extract {

namespace {

using yaml::Mark;
using yaml::Value;

constexpr int k_max_walk_depth = 256;

constexpr std::array<std::string_view, 9> k_workload_kinds = {
  "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "PodTemplate"};
constexpr std::array<std::string_view, 3> k_container_groups = {"containers", "initContainers", "ephemeralContainers"};

bool is_values_file(std::string_view rel)
{
  const auto slash = rel.rfind('/');
  const auto name = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  // values.yaml, values-prod.yaml, values.prod.yaml, prod-values.yaml, prod.values.yaml, and any
  // file in a values/ directory.
  return name.starts_with("values") || name.find("-values.") != std::string_view::npos
         || name.find(".values.") != std::string_view::npos || name.find("_values.") != std::string_view::npos
         || rel.starts_with("values/") || rel.find("/values/") != std::string_view::npos;
}

// A text that someone meant as an image reference even though it does not parse (so an invalid
// one in a values file is reported, while `image: true` or a description is not).
bool looks_like_reference(std::string_view s)
{
  if (s.empty() || s.find("://") != std::string_view::npos) {
    return false;
  }
  if (s.find_first_of(" \t\r\n") != std::string_view::npos) {
    return false;
  }
  return s.find_first_of("/:@") != std::string_view::npos;
}

// A block scalar (`image: |-` or `>`) keeps line breaks and indentation that are no part of
// the reference.
std::string scalar_text(const Value& v)
{
  if (v.style() == yaml::Style::literal || v.style() == yaml::Style::folded) {
    return std::string(util::trim(v.text()));
  }
  return std::string(v.text());
}

// YAML 1.2 core schema: null, booleans, integers and floats in plain style.
bool is_plain_non_string(std::string_view s)
{
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL" || s == "true" || s == "True" || s == "TRUE"
      || s == "false" || s == "False" || s == "FALSE") {
    return true;
  }
  std::size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    i = 1;
  }
  bool digits = false;
  bool dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits = true;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digits;
}

bool image_like_key(std::string_view key)
{
  return key == "image" || (key.size() > 5 && key.ends_with("Image"));
}

// Maps positions inside an embedded YAML string (Argo CD helm.values) back into the file.
struct MarkMap {
  enum class Mode : std::uint8_t { identity, shift, fixed } mode = Mode::identity;
  std::uint32_t line_base = 0;
  std::uint32_t column_base = 0;
  Mark fixed;

  [[nodiscard]] Mark apply(Mark m) const
  {
    switch (mode) {
    case Mode::shift:
      return Mark{line_base + m.line, column_base + m.column, 0};
    case Mode::fixed:
      return fixed;
    case Mode::identity:
      break;
    }
    return m;
  }
};

struct Identity {
  std::string kind;
  std::string ns;
  std::string name;
  [[nodiscard]] std::string key() const { return kind + "/" + ns + "/" + name; }
};

class YamlExtractor {
public:
  YamlExtractor(const FileInput& input, FileResult& out) : m_in(input), m_out(out)
  {
    m_values_file = is_values_file(input.rel);
  }

  void run()
  {
    auto err = yaml::parse_stream(m_in.content, [this](const yaml::Document& doc) { document(doc); });
    if (err) {
      m_out.problems.push_back({err->mark.line, err->mark.column, "YAML: " + err->message});
      m_out.parse_failed = true;
    }
  }

private:
  void document(const yaml::Document& doc)
  {
    m_doc_index = doc.index();
    for (const auto& w : doc.warnings()) {
      problem(w.mark, "YAML: " + w.message);
      // An alias to an anchor that does not exist is an error in YAML (libfyaml's document
      // API and other parsers refuse the file); we read on, but the file counts as unparsed.
      if (w.message.starts_with("unknown anchor")) {
        m_out.parse_failed = true;
      }
    }
    const Value root = doc.root();
    if (root) {
      if (m_in.kind == FileKind::compose) {
        compose(root);
      } else if (m_in.kind == FileKind::kustomization) {
        kustomization(root);
      } else {
        top(root);
      }
    }
    if (doc.budget_exhausted()) {
      problem(root ? root.own_mark() : Mark{}, "YAML: alias expansion limit reached; references behind further aliases were not read");
    }
  }

  void problem(Mark m, std::string message)
  {
    const Mark at = m_map.apply(m);
    m_out.problems.push_back({at.line, at.column, std::move(message)});
  }

  void top(const Value& root)
  {
    if (!root.is_mapping()) {
      if (root.is_sequence()) {
        std::string path;
        walk(root, path, {}, "", m_values_file ? "helm-values" : "yaml", 0, m_values_file);
      }
      return;
    }
    const auto kind = root.get_text("kind");
    const auto api = root.get_text("apiVersion");
    if (kind == "Kustomization" && api.starts_with("kustomize.config.k8s.io")) {
      kustomization(root);
      return;
    }
    if (kind.empty()) {
      // Values files are read as Helm values; other data YAML (CI files, tool configs) only by
      // their `image:` keys.
      std::string path;
      walk(root, path, {}, "", m_values_file ? "helm-values" : "yaml", 0, m_values_file);
      return;
    }
    object(root, 0);
  }

  static Identity identity(const Value& obj)
  {
    Identity id;
    id.kind = std::string(obj.get_text("kind"));
    const Value meta = obj.get("metadata");
    id.name = std::string(meta.get_text("name"));
    id.ns = std::string(meta.get_text("namespace"));
    if (id.name.empty()) {
      id.name = std::string(meta.get_text("generateName"));
    }
    // "_": the manifest does not say (kustomize or the apply context decides).
    if (id.ns.empty()) {
      id.ns = "_";
    }
    if (id.name.empty()) {
      id.name = "_";
    }
    return id;
  }

  void object(const Value& obj, int depth)
  {
    if (!obj.is_mapping() || depth > 8) {
      return;
    }
    const auto kind = obj.get_text("kind");
    const auto api = obj.get_text("apiVersion");
    const Value items = obj.get("items");
    if (kind.ends_with("List") && items.is_sequence()) {
      for (const auto& item : items.items()) {
        object(item, depth + 1);
      }
      return;
    }
    const Identity id = identity(obj);
    if (std::find(k_workload_kinds.begin(), k_workload_kinds.end(), kind) != k_workload_kinds.end()) {
      workload(obj, id);
      return;
    }
    if (kind == "HelmRelease" && api.find("fluxcd.io") != std::string_view::npos) {
      helmrelease(obj, id);
      return;
    }
    if ((kind == "Application" || kind == "ApplicationSet") && api.starts_with("argoproj.io")) {
      argocd(obj, id);
      return;
    }
    if (kind == "OCIRepository" && api.find("fluxcd.io") != std::string_view::npos) {
      oci_repository(obj, id);
      return;
    }
    if (kind == "HelmRepository" && api.find("fluxcd.io") != std::string_view::npos) {
      helm_repository(obj, id);
      return;
    }
    // Other kinds with a pod template (Argo Rollouts, OpenKruise, ...) are workloads too.
    if (obj.get("spec").get("template").get("spec").get("containers").is_sequence()) {
      workload(obj, id);
      return;
    }
    std::string path;
    walk(obj, path, id.key(), "", "yaml", 0, /*helm_values=*/false);
  }

  // --- Kubernetes workloads ---------------------------------------------------------------

  void workload(const Value& obj, const Identity& id)
  {
    Value spec;
    if (id.kind == "Pod") {
      spec = obj.get("spec");
    } else if (id.kind == "PodTemplate") {
      spec = obj.get("template").get("spec");
    } else if (id.kind == "CronJob") {
      spec = obj.get("spec").get("jobTemplate").get("spec").get("template").get("spec");
    } else {
      spec = obj.get("spec").get("template").get("spec");
    }
    const std::string workload_key = id.key();
    for (const auto group : k_container_groups) {
      std::uint32_t index = 0;
      for (const auto& c : spec.get(group).items()) {
        const Value image = c.get("image");
        std::string name(c.get_text("name"));
        if (name.empty()) {
          name = "#" + std::to_string(index);
        }
        ++index;
        if (!image.is_scalar() || image.is_null()) {
          continue;
        }
        emit(image.mark(), "kubernetes", workload_key + "/" + std::string(group) + "/" + name, workload_key, name,
             scalar_text(image), TagSource::written, {});
      }
    }
  }

  // --- kustomize -----------------------------------------------------------------------------

  void kustomization(const Value& root)
  {
    for (const auto& entry : root.get("images").items()) {
      if (!entry.is_mapping()) {
        continue;
      }
      const auto name = entry.get_text("name");
      if (name.empty()) {
        problem(entry.mark(), "kustomize images entry without a name");
        continue;
      }
      const auto new_name = entry.get_text("newName");
      const auto new_tag = entry.get_text("newTag");
      const auto digest = entry.get_text("digest");
      // kustomize's image transformer: newName replaces the name; newTag and digest replace both
      // the old tag and digest; without either, the base manifest's tag stays (unknown here).
      const std::string ref = reference::join("", new_name.empty() ? name : new_name, new_tag, digest);
      const auto source = new_tag.empty() && digest.empty() ? TagSource::inherited : TagSource::written;
      emit(entry.mark(), "kustomize", "kustomize/images/" + std::string(name), "kustomize", std::string(name), ref,
           source, {});
    }
  }

  // --- docker-compose ------------------------------------------------------------------------

  void compose(const Value& root)
  {
    const Value services = root.get("services");
    if (!services.is_mapping()) {
      return;
    }
    if (!m_dotenv_loaded) {
      m_dotenv_loaded = true;
      if (m_in.read_dotenv) {
        if (auto text = m_in.read_dotenv()) {
          m_dotenv = parse_dotenv(*text);
          for (const auto& [line, name] : m_dotenv.too_large) {
            m_out.problems.push_back({services.mark().line, services.mark().column,
                                      ".env:" + std::to_string(line) + ": " + util::quote(name, 64) + " expands past " +
                                          std::to_string(k_max_expanded) + " bytes; left unset"});
          }
        }
      }
    }
    for (const auto& [key, svc] : services.pairs()) {
      const Value image = svc.get("image");
      if (!image.is_scalar() || image.is_null()) {
        continue;
      }
      const std::string name(key.text());
      const std::string written = scalar_text(image);
      std::string substituted;
      try {
        substituted = substitute(written, m_dotenv);
      } catch (const ExpansionTooLarge&) {
        m_out.problems.push_back({image.mark().line, image.mark().column,
                                  "compose: image of service " + util::quote(name, 64) + " expands past " +
                                      std::to_string(k_max_expanded) + " bytes; not checked"});
        continue;
      }
      emit_parsed(image.mark(), "compose", "services/" + name, "services/" + name, name, written,
                  reference::parse(substituted), TagSource::written, {});
    }
  }

  // --- Flux ----------------------------------------------------------------------------------

  void helmrelease(const Value& obj, const Identity& id)
  {
    const Value spec = obj.get("spec");
    std::string path = ".spec.values";
    walk(spec.get("values"), path, id.key(), "", "helmrelease", 0);

    const Value chart_spec = spec.get("chart").get("spec");
    const Value chart = chart_spec.get("chart");
    const Value source = chart_spec.get("sourceRef");
    if (chart.is_scalar() && !chart.is_null() && source.get_text("kind") == "HelmRepository") {
      PendingChart p;
      p.chart = std::string(chart.text());
      p.version = std::string(chart_spec.get_text("version"));
      p.source_name = std::string(source.get_text("name"));
      p.source_namespace = std::string(source.get_text("namespace"));
      if (p.source_namespace.empty()) {
        p.source_namespace = id.ns;
      }
      Finding& f = p.finding;
      f.file = std::string(m_in.file);
      const Mark m = m_map.apply(chart.mark());
      f.line = m.line;
      f.column = m.column;
      f.format = "oci-artifact";
      f.location = id.key() + ":chart";
      f.workload = id.key();
      f.container = p.chart;
      m_out.pending_charts.push_back(std::move(p));
    }
  }

  void oci_repository(const Value& obj, const Identity& id)
  {
    const Value spec = obj.get("spec");
    const Value url = spec.get("url");
    constexpr std::string_view k_scheme = "oci://";
    if (!url.is_scalar() || !url.text().starts_with(k_scheme)) {
      return;
    }
    const auto name = url.text().substr(k_scheme.size());
    const Value ref = spec.get("ref");
    const auto digest = ref.get_text("digest");
    const auto tag = ref.get_text("tag");
    const auto semver = ref.get_text("semver");
    std::string text;
    TagSource source = TagSource::written;
    std::string note;
    // Flux's precedence: digest, then semver, then tag (OCIRepository API reference).
    if (!digest.empty()) {
      text = reference::join("", name, tag, digest);
    } else if (!semver.empty()) {
      text = std::string(name);
      source = TagSource::range;
      note = std::string(semver);
    } else if (!tag.empty()) {
      text = reference::join("", name, tag, "");
    } else {
      // Flux pulls the `latest` tag when spec.ref is absent.
      text = std::string(name);
    }
    Mark m = url.mark();
    if (!url.via_alias()) {
      m.column += static_cast<std::uint32_t>(k_scheme.size());
    }
    emit(m, "oci-artifact", id.key(), id.key(), "", text, source, note);
  }

  void helm_repository(const Value& obj, const Identity& id)
  {
    const Value spec = obj.get("spec");
    const auto url = spec.get_text("url");
    constexpr std::string_view k_scheme = "oci://";
    if (spec.get_text("type") == "oci" && url.starts_with(k_scheme)) {
      std::string u(url.substr(k_scheme.size()));
      while (!u.empty() && u.back() == '/') {
        u.pop_back();
      }
      m_out.helm_repositories.push_back({id.ns, id.name, std::move(u)});
    }
  }

  // --- Argo CD -------------------------------------------------------------------------------

  void argocd(const Value& obj, const Identity& id)
  {
    Value spec = obj.get("spec");
    std::string base = ".spec";
    if (id.kind == "ApplicationSet") {
      spec = spec.get("template").get("spec");
      base = ".spec.template.spec";
    }
    if (const Value source = spec.get("source"); source.is_mapping()) {
      argocd_source(source, base + ".source", id);
    }
    std::uint32_t i = 0;
    for (const auto& source : spec.get("sources").items()) {
      argocd_source(source, base + ".sources[" + std::to_string(i++) + "]", id);
    }
  }

  void argocd_source(const Value& source, const std::string& base, const Identity& id)
  {
    const Value helm = source.get("helm");
    if (const Value values = helm.get("values"); values.is_scalar() && !values.text().empty()) {
      embedded_values(values, base + ".helm.values", id);
    } else if (values.is_mapping()) {
      std::string path = base + ".helm.values";
      walk(values, path, id.key(), "", "argocd", 0);
    }
    std::string path = base + ".helm.valuesObject";
    walk(helm.get("valuesObject"), path, id.key(), "", "argocd", 0);
    argocd_parameters(helm.get("parameters"), base + ".helm.parameters", id);

    for (const auto& image : source.get("kustomize").get("images").items()) {
      if (!image.is_scalar() || image.is_null()) {
        continue;
      }
      // [old=]new[:tag][@digest] (argocd app set --kustomize-image)
      const auto text = image.text();
      const auto eq = text.find('=');
      const auto replacement = eq == std::string_view::npos ? text : text.substr(eq + 1);
      std::string old_name(eq == std::string_view::npos ? reference::parse(text).familiar_name() : text.substr(0, eq));
      if (old_name.empty()) {
        old_name = std::string(text);
      }
      Mark m = image.mark();
      if (!image.via_alias() && eq != std::string_view::npos) {
        m.column += util::utf8_length(text.substr(0, eq + 1));
      }
      emit(m, "argocd", located(id.key(), base + ".kustomize.images[" + old_name + "]"), id.key(), old_name, std::string(replacement),
           TagSource::written, {});
    }
  }

  void embedded_values(const Value& values, const std::string& path_base, const Identity& id)
  {
    // The values are a YAML string inside YAML: parse it, and map its positions back. A literal
    // block scalar keeps lines one to one (line after the indicator, plus the block's
    // indentation); any other style maps every position to the string's own.
    MarkMap map;
    const Mark own = values.own_mark();
    map.mode = MarkMap::Mode::fixed;
    map.fixed = m_map.apply(values.mark());
    if (values.style() == yaml::Style::literal && !values.via_alias() && m_map.mode == MarkMap::Mode::identity
        && own.line > 0) {
      // A literal block scalar is marked at its first content character; its lines start at
      // the beginning of that line.
      const auto content = m_in.content;
      const auto line_start = own.offset == 0 ? std::string_view::npos : content.rfind('\n', own.offset - 1);
      std::size_t start = line_start == std::string_view::npos ? 0 : line_start + 1;
      std::uint32_t indent = 0;
      bool found = false;
      while (start < content.size() && !found) {
        std::size_t i = start;
        while (i < content.size() && content[i] == ' ') {
          ++i;
        }
        if (i < content.size() && content[i] != '\n' && content[i] != '\r') {
          indent = static_cast<std::uint32_t>(i - start);
          found = true;
        } else {
          const auto eol = content.find('\n', start);
          start = eol == std::string_view::npos ? content.size() : eol + 1;
        }
      }
      if (found) {
        map.mode = MarkMap::Mode::shift;
        map.line_base = own.line - 1;
        map.column_base = indent;
      }
    }
    const MarkMap saved = m_map;
    m_map = map;
    const auto saved_index = m_doc_index;
    auto err = yaml::parse_stream(values.text(), [&](const yaml::Document& inner) {
      for (const auto& w : inner.warnings()) {
        problem(w.mark, "YAML in " + path_base + ": " + w.message);
      }
      std::string path = path_base;
      walk(inner.root(), path, id.key(), "", "argocd", 0);
    });
    if (err) {
      problem(err->mark, "YAML in " + path_base + ": " + err->message);
    }
    m_map = saved;
    m_doc_index = saved_index;
  }

  void argocd_parameters(const Value& params, const std::string& base, const Identity& id)
  {
    // [{name: image.repository, value: x}, {name: image.tag, value: y}]: group by prefix.
    struct Group {
      std::string prefix;
      Value registry, repository, tag, digest, image;
    };
    std::vector<Group> groups;
    const auto group_for = [&](std::string_view prefix) -> Group& {
      for (auto& g : groups) {
        if (g.prefix == prefix) {
          return g;
        }
      }
      groups.push_back(Group{std::string(prefix), {}, {}, {}, {}, {}});
      return groups.back();
    };
    for (const auto& p : params.items()) {
      const auto name = p.get_text("name");
      const Value value = p.get("value");
      if (!value.is_scalar()) {
        continue;
      }
      const auto dot = name.rfind('.');
      const auto leaf = dot == std::string_view::npos ? name : name.substr(dot + 1);
      const auto prefix = dot == std::string_view::npos ? std::string_view{} : name.substr(0, dot);
      if (leaf == "repository") {
        group_for(prefix).repository = value;
      } else if (leaf == "registry") {
        group_for(prefix).registry = value;
      } else if (leaf == "tag") {
        group_for(prefix).tag = value;
      } else if (leaf == "digest") {
        group_for(prefix).digest = value;
      } else if (image_like_key(leaf)) {
        group_for(name).image = value;
      }
    }
    for (const auto& g : groups) {
      const std::string location = located(id.key(), base + "." + g.prefix);
      if (g.image) {
        emit_lenient(g.image.mark(), "argocd", location, id.key(), g.prefix, std::string(g.image.text()));
      } else if (g.repository) {
        const std::string ref = reference::join(g.registry.text(), g.repository.text(), g.tag.text(), g.digest.text());
        const auto source = g.tag.text().empty() && g.digest.text().empty() ? TagSource::chart : TagSource::written;
        emit(g.repository.mark(), "argocd", location, id.key(), g.prefix, ref, source, {});
      }
    }
  }

  // --- Helm values and any other YAML ---------------------------------------------------------

  // Walks a values tree (helm_values) or any custom resource. `path` is the YAML path so far.
  void walk(const Value& v, std::string& path, const std::string& owner, std::string_view parent_key,
            std::string_view format, int depth, bool helm_values = true)
  {
    if (!v || depth > k_max_walk_depth) {
      return;
    }
    if (v.is_mapping()) {
      if (split_form(v, path, owner, parent_key, format, helm_values)) {
        return;
      }
      for (const auto& [k, child] : v.pairs()) {
        if (!k.is_scalar()) {
          continue;
        }
        const auto key = k.text();
        if (child.is_scalar() && (key == "image" || (helm_values && image_like_key(key)))) {
          const auto size = path.size();
          path += '.';
          path += key;
          emit_lenient(child.mark(), std::string(format), located(owner, path), owner, std::string(parent_key),
                       scalar_text(child), child.style());
          path.resize(size);
          continue;
        }
        if (child.is_scalar()) {
          continue;
        }
        const auto size = path.size();
        path += '.';
        path += key;
        walk(child, path, owner, key, format, depth + 1, helm_values);
        path.resize(size);
      }
    } else if (v.is_sequence()) {
      std::uint32_t i = 0;
      for (const auto& item : v.items()) {
        const auto size = path.size();
        const auto name = item.get_text("name");
        path += '[';
        if (!name.empty() && item.get("name").is_scalar()) {
          path += name;
        } else {
          path += std::to_string(i);
        }
        path += ']';
        walk(item, path, owner, name.empty() ? parent_key : name, format, depth + 1, helm_values);
        path.resize(size);
        ++i;
      }
    }
  }

  std::string located(const std::string& owner, const std::string& path) const
  {
    if (!owner.empty()) {
      return owner + ":" + path;
    }
    if (m_doc_index > 0) {
      return "doc" + std::to_string(m_doc_index) + ":" + path;
    }
    return path;
  }

  // {registry?, repository, tag?, digest?} under an image key, or (in Helm values) any mapping
  // with a repository and a tag or digest.
  bool split_form(const Value& v, std::string& path, const std::string& owner, std::string_view parent_key,
                  std::string_view format, bool helm_values)
  {
    const Value repository = v.get("repository");
    if (!repository.is_scalar() || repository.is_null()) {
      return false;
    }
    const auto repo = repository.text();
    if (repo.find("://") != std::string_view::npos || repo.find_first_of(" \t") != std::string_view::npos) {
      return false;
    }
    const Value tag = v.get("tag");
    const Value digest = v.get("digest");
    const Value registry = v.get("registry");
    const bool under_image_key = image_like_key(parent_key) || parent_key == "images";
    if (!under_image_key && !(helm_values && (tag.is_scalar() || (digest.is_scalar() && !digest.is_null())))) {
      return false;
    }
    const auto tag_text = tag.is_null() ? std::string_view{} : tag.text();
    const auto digest_text = digest.is_null() ? std::string_view{} : digest.text();
    const auto registry_text = registry.is_null() ? std::string_view{} : registry.text();
    const std::string ref = reference::join(registry_text, repo, tag_text, digest_text);
    const auto source = tag_text.empty() && digest_text.empty() ? TagSource::chart : TagSource::written;
    const auto container = parent_key == "image" ? std::string_view{} : parent_key;
    emit(repository.mark(), std::string(format), located(owner, path), owner, std::string(container), ref, source, {});
    return true;
  }

  // --- emission ------------------------------------------------------------------------------

  // Values and custom resources: only what parses, is a template, or was clearly meant as one.
  void emit_lenient(Mark m, std::string format, std::string location, std::string workload, std::string container,
                    std::string text, yaml::Style style = yaml::Style::double_quoted)
  {
    // A plain true, null or 42 is a YAML boolean, null or number, not a string (issue 2: "whose
    // string value parses as a reference").
    if (style == yaml::Style::plain && is_plain_non_string(text)) {
      return;
    }
    auto image = reference::parse(text);
    if (!image.valid && !image.unresolved && !looks_like_reference(text)) {
      return;
    }
    emit_parsed(m, std::move(format), std::move(location), std::move(workload), std::move(container), std::move(text),
                std::move(image), TagSource::written, {});
  }

  void emit(Mark m, std::string format, std::string location, std::string workload, std::string container,
            std::string text, TagSource source, std::string note)
  {
    auto image = reference::parse(text);
    emit_parsed(m, std::move(format), std::move(location), std::move(workload), std::move(container), std::move(text),
                std::move(image), source, std::move(note));
  }

  void emit_parsed(Mark m, std::string format, std::string location, std::string workload, std::string container,
                   std::string text, reference::Reference image, TagSource source, std::string note)
  {
    const Mark at = m_map.apply(m);
    Finding f;
    f.file = std::string(m_in.file);
    f.line = at.line;
    f.column = at.column;
    f.format = std::move(format);
    f.location = std::move(location);
    f.workload = std::move(workload);
    f.container = std::move(container);
    f.ref = std::move(text);
    f.image = std::move(image);
    f.tag_source = source;
    f.tag_note = std::move(note);
    m_out.findings.push_back(std::move(f));
  }

  const FileInput& m_in;
  FileResult& m_out;
  MarkMap m_map;
  std::uint32_t m_doc_index = 0;
  bool m_values_file = false;
  bool m_dotenv_loaded = false;
  Variables m_dotenv;
};

} // namespace

void extract_yaml(const FileInput& input, FileResult& out)
{
  YamlExtractor(input, out).run();
}

} // namespace changetrail::extract
