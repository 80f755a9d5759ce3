#include <changetrail/report/report.hpp>

#include <nlohmann/json.hpp>

#include <ostream>

namespace changetrail::report {

namespace {

std::string or_dash(const std::string& s)
{
  return s.empty() ? "-" : s;
}

// Writes items with their append_json, in chunks, one per line for jsonl.
template <typename T>
void write_json_list(std::ostream& os, ListFormat format, const std::vector<T>& items)
{
  const bool lines = format == ListFormat::jsonl;
  std::string buffer;
  buffer.reserve(1 << 16);
  if (!lines) {
    buffer += items.empty() ? "[" : "[\n";
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!lines) {
      buffer += "  ";
    }
    using changetrail::extract::append_json;
    using changetrail::reference::append_json;
    append_json(buffer, items[i]);
    if (!lines && i + 1 < items.size()) {
      buffer += ',';
    }
    buffer += '\n';
    if (buffer.size() > (1 << 16)) {
      os.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  }
  if (!lines) {
    buffer += "]\n";
  }
  os.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
}

} // namespace

void write_references(std::ostream& os, ListFormat format, const std::vector<reference::Reference>& refs)
{
  if (format == ListFormat::json || format == ListFormat::jsonl) {
    write_json_list(os, format, refs);
    return;
  }
  if (format == ListFormat::csv) {
    os << "input,valid,error,registry,repository,tag,digest,canonical,familiar\n";
    for (const auto& r : refs) {
      os << csv_field(r.input) << ',' << (r.valid ? "true" : "false") << ',' << csv_field(r.error) << ','
         << csv_field(r.registry) << ',' << csv_field(r.repository) << ',' << csv_field(r.tag) << ','
         << csv_field(r.digest) << ',' << csv_field(r.canonical()) << ',' << csv_field(r.familiar()) << '\n';
    }
    return;
  }
  // The table shortens digests to 12 hex digits; --format json has them whole.
  Table t({"INPUT", "REGISTRY", "REPOSITORY", "TAG", "DIGEST"});
  for (const auto& r : refs) {
    if (r.valid) {
      const auto colon = r.digest.find(':');
      const std::string digest = r.digest.empty() ? "-" : r.digest.substr(0, colon + 13);
      t.add({r.input, r.registry, r.repository, or_dash(r.tag), digest});
    } else {
      t.add({r.input, (r.unresolved ? "unresolved: " : "invalid: ") + r.error});
    }
  }
  t.render(os);
}

void write_findings(std::ostream& os, ListFormat format, const std::vector<extract::Finding>& findings)
{
  if (format == ListFormat::json || format == ListFormat::jsonl) {
    write_json_list(os, format, findings);
    return;
  }
  if (format == ListFormat::csv) {
    os << "file,line,column,format,location,workload,container,env,ref,canonical,valid\n";
    for (const auto& f : findings) {
      os << csv_field(f.file) << ',' << f.line << ',' << f.column << ',' << f.format << ',' << csv_field(f.location)
         << ',' << csv_field(f.workload) << ',' << csv_field(f.container) << ',' << csv_field(f.env) << ','
         << csv_field(f.ref) << ',' << csv_field(f.image.canonical()) << ',' << (f.image.valid ? "true" : "false")
         << '\n';
    }
    return;
  }
  Table t({"FILE:LINE:COL", "FORMAT", "ENV", "LOCATION", "REFERENCE"});
  for (const auto& f : findings) {
    t.add({f.file + ":" + std::to_string(f.line) + ":" + std::to_string(f.column), f.format, or_dash(f.env), f.location,
           f.ref});
  }
  t.render(os);
}

} // namespace changetrail::report
