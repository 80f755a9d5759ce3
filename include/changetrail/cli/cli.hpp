#pragma once

namespace changetrail::cli {

// The whole command line: parses, runs one subcommand, maps every failure to an exit code of
// DESIGN.md and one `changetrail: error:` line on stderr.
int main(int argc, char** argv);

} // namespace changetrail::cli
