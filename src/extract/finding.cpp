#include <changetrail/extract/finding.hpp>

#include <changetrail/util/json_text.hpp>
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
  case TagSource::kustomize:
    return "kustomize";
  case TagSource::written:
    break;
  }
  return "written";
}

void append_json(std::string& out, const Finding& f)
{
  using util::append_json_string;
  using util::append_json_string_or_null;
  out += "{\"file\":";
  append_json_string(out, f.file);
  out += ",\"line\":";
  out += std::to_string(f.line);
  out += ",\"column\":";
  out += std::to_string(f.column);
  out += ",\"format\":";
  append_json_string(out, f.format);
  out += ",\"location\":";
  append_json_string(out, f.location);
  out += ",\"workload\":";
  append_json_string_or_null(out, f.workload);
  out += ",\"container\":";
  append_json_string_or_null(out, f.container);
  out += ",\"env\":";
  append_json_string_or_null(out, f.env);
  out += ",\"ref\":";
  append_json_string(out, f.ref);
  out += ",\"image\":";
  reference::append_json(out, f.image);
  out += ",\"tag_source\":\"";
  out += to_string(f.tag_source);
  out += '"';
  if (!f.tag_note.empty()) {
    out += ",\"tag_note\":";
    append_json_string(out, f.tag_note);
  }
  out += '}';
}

void to_json(nlohmann::json& j, const Finding& f)
{
  std::string text;
  append_json(text, f);
  j = nlohmann::json::parse(text);
}

} // namespace changetrail::extract
