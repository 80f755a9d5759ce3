#include <changetrail/extract/finding.hpp>

#include <changetrail/util/strings.hpp>

#include <nlohmann/json.hpp>

namespace changetrail::extract {

const char* to_string(TagSource s)
{
  switch (s) {
  case TagSource::inherited:
    return "inherited";
  case TagSource::chart:
    return "chart";
  case TagSource::range:
    return "range";
  case TagSource::written:
    break;
  }
  return "written";
}

void to_json(nlohmann::json& j, const Finding& f)
{
  const auto opt = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(util::sanitize_utf8(s)); };
  j = nlohmann::json{
    {"file", util::sanitize_utf8(f.file)},
    {"line", f.line},
    {"column", f.column},
    {"format", f.format},
    {"location", util::sanitize_utf8(f.location)},
    {"workload", opt(f.workload)},
    {"container", opt(f.container)},
    {"env", opt(f.env)},
    {"ref", util::sanitize_utf8(f.ref)},
    {"image", f.image},
    {"tag_source", to_string(f.tag_source)},
  };
  if (!f.tag_note.empty()) {
    j["tag_note"] = util::sanitize_utf8(f.tag_note);
  }
}

} // namespace changetrail::extract
