#include "support/support.hpp"

#include <catch2/catch.hpp>

using changetrail::test::run_changetrail;

TEST_CASE("cli::version names the libraries", "[cli]")
{
  const auto r = run_changetrail({"--version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("changetrail 0.") == 0);
  for (const char* lib : {"libgit2 1.", "SQLite 3.", "libfyaml 0."}) {
    CHECK(r.out.find(lib) != std::string::npos);
  }
  CHECK(r.err.empty());
}

TEST_CASE("cli::usage errors exit 2 with one line", "[cli]")
{
  SECTION("unknown option")
  {
    const auto r = run_changetrail({"--no-such-option"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  SECTION("unknown command")
  {
    const auto r = run_changetrail({"frobnicate"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("changetrail: error: ") != std::string::npos);
  }
  SECTION("no command")
  {
    const auto r = run_changetrail({});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("changetrail: error: no command given") != std::string::npos);
  }
  SECTION("bad --format value")
  {
    const auto r = run_changetrail({"check", "--format", "xml", "."});
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("changetrail: error: ", 0) == 0);
  }
}
