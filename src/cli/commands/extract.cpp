#include "extract.hpp"

#include "formats.hpp"
#include "scan_files.hpp"

#include <changetrail/report/report.hpp>
#include <changetrail/util/error.hpp>

#include <iostream>

namespace changetrail::cli {

CLI::App* register_extract(CLI::App& app, ExtractOptions& options)
{
  auto* sub = app.add_subcommand("extract", "List the image references found in files or directories");
  sub->add_option("PATH", options.paths, "Files or directories (default: .)");
  add_list_format(*sub, options.format);
  sub->add_option("-j,--jobs", options.jobs, "Files read in parallel (default: one per core)");
  return sub;
}

int run_extract(const Globals& globals, const ExtractOptions& options)
{
  const auto scanned = scan_files(globals, options.paths, options.jobs);
  std::vector<extract::Finding> findings;
  for (const auto& file : scanned.walk.files) {
    for (const auto& p : file.problems) {
      warn(globals, file.file + (p.line != 0 ? ":" + std::to_string(p.line) + ":" + std::to_string(p.column) : std::string{})
                      + ": " + p.message);
    }
    findings.insert(findings.end(), file.findings.begin(), file.findings.end());
  }
  report::write_findings(std::cout, parse_list_format(options.format), findings);
  std::cout.flush();
  for (const auto& e : scanned.walk.errors) {
    error_line(e);
  }
  return scanned.walk.errors.empty() ? util::k_exit_clean : util::k_exit_input;
}

} // namespace changetrail::cli
