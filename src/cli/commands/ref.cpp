#include "ref.hpp"

#include "formats.hpp"

#include <changetrail/report/report.hpp>
#include <changetrail/util/error.hpp>

#include <iostream>

namespace changetrail::cli {

CLI::App* register_ref(CLI::App& app, RefOptions& options)
{
  auto* sub = app.add_subcommand("ref", "Parse and normalize image references");
  sub->add_option("REF", options.refs, "Image references, e.g. nginx, ghcr.io/acme/app:1.2@sha256:...")->required();
  add_list_format(*sub, options.format);
  return sub;
}

int run_ref(const Globals& /*globals*/, const RefOptions& options)
{
  std::vector<reference::Reference> refs;
  bool all_valid = true;
  for (const auto& input : options.refs) {
    refs.push_back(reference::parse(input));
    all_valid = all_valid && refs.back().valid;
  }
  report::write_references(std::cout, parse_list_format(options.format), refs);
  std::cout.flush();
  return all_valid ? util::k_exit_clean : util::k_exit_input;
}

} // namespace changetrail::cli
