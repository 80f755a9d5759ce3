#include "formats.hpp"

namespace changetrail::cli {

void add_list_format(CLI::App& sub, std::string& format)
{
  sub.add_option("--format", format, "Output format")
    ->check(CLI::IsMember({"table", "json", "jsonl", "csv"}))
    ->capture_default_str();
}

report::ListFormat parse_list_format(const std::string& format)
{
  if (format == "json") {
    return report::ListFormat::json;
  }
  if (format == "jsonl") {
    return report::ListFormat::jsonl;
  }
  if (format == "csv") {
    return report::ListFormat::csv;
  }
  return report::ListFormat::table;
}

} // namespace changetrail::cli
