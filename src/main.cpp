#include <changetrail/cli/cli.hpp>

int main(int argc, char** argv)
{
  return changetrail::cli::main(argc, argv);
}
