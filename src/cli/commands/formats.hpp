#pragma once

#include <changetrail/report/report.hpp>

#include <CLI/CLI.hpp>

#include <string>

namespace changetrail::cli {

void add_list_format(CLI::App& sub, std::string& format);
[[nodiscard]] report::ListFormat parse_list_format(const std::string& format);

} // namespace changetrail::cli
