// Issue 2 section 5, bad input in the formats that are not YAML: Dockerfiles with huge
// continuations and variable-expansion bombs (ARG defaults, compose .env).

#include "bad_input.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace changetrail::test;
using namespace changetrail::test::bad_input;

namespace {

// Each definition doubles the previous one: expanding the last is 16 * 2^39 bytes (8 TiB).
std::string doubling_definitions(const std::string& prefix, int count)
{
  std::string s = prefix + "A0=aaaaaaaaaaaaaaaa\n";
  for (int i = 1; i < count; ++i) {
    const std::string prev = "${A" + std::to_string(i - 1) + "}";
    s += prefix + "A" + std::to_string(i) + "=" + prev + prev + "\n";
  }
  return s;
}

} // namespace

TEST_CASE("bad input: Dockerfiles with a 1 MB continuation and a 1 MB line", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  // RUN continued over 350,000 lines (1.4 MB), then an image.
  std::string run = "FROM alpine:3.19\nRUN echo \\\n";
  for (int i = 0; i < 350000; ++i) {
    run += "x \\\n";
  }
  run += "done\nFROM redis:latest\n";
  const std::uint32_t redis_line = 2 + 350000 + 2;
  dir.write("Dockerfile", run);
  // FROM continued over 100,000 empty continuation lines before its image.
  std::string from = "FROM \\\n";
  for (int i = 0; i < 100000; ++i) {
    from += " \\\n";
  }
  from += "nginx:latest\n";
  dir.write("from.Dockerfile", from);
  // One 1 MB line, then an image.
  dir.write("line.Dockerfile", "RUN " + std::string(1u << 20, 'x') + "\nFROM busybox:latest\n");
  // A 1 MB ARG default used as the image.
  dir.write("arg.Dockerfile", "ARG IMG=" + std::string(1u << 20, 'a') + "\nFROM ${IMG}\nFROM busybox:latest\n");

  const auto r = changetrail_in(dir, {"check", "."}, Limits{120, 1u << 20});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out.substr(0, 4096));
  CHECK(has_line_starting(r.out, "Dockerfile:1:6: warning[unpinned]: "));
  CHECK(has_line_starting(r.out, "Dockerfile:" + std::to_string(redis_line) + ":6: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "from.Dockerfile:100002:1: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "line.Dockerfile:2:6: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "arg.Dockerfile:3:6: error[latest-tag]: "));
  CHECK(diagnostics_for(r.out, "arg.Dockerfile").size() == 2); // the 1 MB name is invalid, reported once
  for (const char* f : {"Dockerfile", "from.Dockerfile", "line.Dockerfile"}) {
    INFO(f);
    check_no_parse_error(r, f);
  }
}

TEST_CASE("bad input: an ARG expansion bomb in a Dockerfile is bounded and reported", "[robustness]")
{
  // Found by the fuzzer (fuzz/corpus/dockerfile/crash-arg-expansion-memory-bomb).
  TempDir dir;
  write_good(dir);
  dir.write("Dockerfile", doubling_definitions("ARG ", 40) + "FROM ${A39}\nFROM redis:latest\n");
  const auto r = changetrail_in(dir, {"check", "."}, Limits{60, 1u << 20});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out.substr(0, 4096));
  // The file is still read after the bomb, and what went wrong is said as a diagnostic of the
  // file, not as an out-of-memory "internal error".
  CHECK(has_line_starting(r.out, "Dockerfile:42:6: error[latest-tag]: "));
  const auto ds = diagnostics_for(r.out, "Dockerfile");
  CHECK(ds.size() >= 2);
  for (const auto& d : ds) {
    CHECK(d.line >= 1);
    CHECK(d.message.find("internal error") == std::string::npos);
    CHECK(d.message.find("bad_alloc") == std::string::npos);
  }
}

TEST_CASE("bad input: a variable expansion bomb in a compose .env is bounded and reported", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write(".env", doubling_definitions("", 40));
  dir.write("compose.yaml", "services:\n  web:\n    image: \"nginx:${A39}\"\n  db:\n    image: redis:latest\n");
  const auto r = changetrail_in(dir, {"check", "."}, Limits{60, 1u << 20});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out.substr(0, 4096));
  CHECK(has_line_starting(r.out, "compose.yaml:5:12: error[latest-tag]: "));
  const auto ds = diagnostics_for(r.out, "compose.yaml");
  CHECK(ds.size() >= 2);
  for (const auto& d : ds) {
    CHECK(d.message.find("internal error") == std::string::npos);
    CHECK(d.message.find("bad_alloc") == std::string::npos);
  }
}
