// Issue 2 section 5, bad input from the file system and the command line: symlink loops,
// unreadable files, FIFOs, paths that do not exist, oversized files, bad configurations.

#include "bad_input.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace std::string_literals;
using namespace changetrail::test;
using namespace changetrail::test::bad_input;
using Catch::Matchers::Contains;

namespace fs = std::filesystem;

namespace {

void make_fifo(const fs::path& p)
{
  fs::create_directories(p.parent_path());
  REQUIRE(::mkfifo(p.c_str(), 0644) == 0);
}

// One `changetrail: error:` line on stderr, naming `what`.
void check_one_error_line(const RunResult& r, const std::string& what)
{
  INFO("stderr:\n" << r.err);
  const auto ls = lines_of(r.err);
  CHECK(ls.size() == 1);
  CHECK(count_lines_starting(r.err, "changetrail: error: ") == 1);
  CHECK(r.err.find(what) != std::string::npos);
}

// Something on stdout (a report line) or stderr (a warning or error line) names `file`.
bool diagnosed(const RunResult& r, const std::string& file)
{
  return !diagnostics_for(r.out, file).empty() || has_line_starting(r.err, "changetrail: error: " + file)
         || has_line_starting(r.err, "changetrail: warning: " + file);
}

} // namespace

TEST_CASE("bad input: a directory symlink loop does not hang, files outside it are found once", "[robustness]")
{
  TempDir dir;
  write_good(dir, "repo/good.yaml");
  dir.write("repo/a/b/deep.yaml", "image: redis:latest\n");
  fs::create_directory_symlink("..", dir / "repo/a/b/up");       // repo/a
  fs::create_directory_symlink("../../..", dir / "repo/a/b/top"); // the repository: a loop
  fs::create_symlink("self.yaml", dir / "repo/self.yaml");       // a link to itself
  fs::create_symlink("ping.yaml", dir / "repo/pong.yaml");       // two links to each other
  fs::create_symlink("pong.yaml", dir / "repo/ping.yaml");

  const auto r = changetrail_in(dir, {"check", "repo"}, Limits{30});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r, "repo/good.yaml");
  CHECK(count_lines_starting(r.out, "repo/good.yaml:") == 1);
  CHECK(count_lines_starting(r.out, "repo/a/b/deep.yaml:1:8: error[latest-tag]: ") == 1);
  // Nothing was reached through a link.
  CHECK(r.out.find("/up/") == std::string::npos);
  CHECK(r.out.find("/top/") == std::string::npos);

  // The loop named on the command line: followed once (it is what the user asked for), the
  // links inside it are not.
  const auto r2 = changetrail_in(dir, {"check", "repo/a/b/top"}, Limits{30});
  check_no_crash_no_hang(r2);
  CHECK(r2.exit_code == 1);
  CHECK(count_lines_starting(r2.out, "repo/a/b/top/repo/good.yaml:1:8: error[latest-tag]: ") == 1);
  CHECK(count_lines_starting(r2.out, "repo/a/b/top/repo/a/b/deep.yaml:1:8: error[latest-tag]: ") == 1);
  CHECK(lines_of(r2.out).size() == 3); // two findings and the summary

  // A file link loop named on the command line: an input error naming it, the others still checked.
  const auto r3 = changetrail_in(dir, {"check", "repo/self.yaml", "repo/ping.yaml", "repo/good.yaml"}, Limits{30});
  check_no_crash_no_hang(r3);
  CHECK(r3.exit_code == 2);
  check_good_reported(r3, "repo/good.yaml");
  CHECK(count_lines_starting(r3.err, "changetrail: error: repo/self.yaml") == 1);
  CHECK(count_lines_starting(r3.err, "changetrail: error: repo/ping.yaml") == 1);
  CHECK(lines_of(r3.err).size() == 2);
}

TEST_CASE("bad input: an unreadable file and directory (permission denied, as nobody when root)", "[robustness]")
{
  // Root reads a file whatever its permission bits say. As root the binary is started as
  // nobody (setpriv --reuid=65534), so that chmod 000 really denies the read: this is the code
  // path of a real unreadable file, which a FIFO or a directory named .yaml would not reach.
  TempDir dir;
  write_good(dir);
  dir.write("secret.yaml", "image: redis:latest\n");
  dir.write("closed/inner.yaml", "image: redis:latest\n");
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                                  | fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir / "good.yaml", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  fs::permissions(dir / "secret.yaml", fs::perms::none);
  fs::permissions(dir / "closed", fs::perms::none);
  Limits limits;
  if (::geteuid() == 0) {
    limits.wrapper = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    const auto probe = changetrail_in(dir, {"--version"}, limits);
    if (probe.exit_code != 0) {
      WARN("cannot run the binary as nobody (no setpriv, or the binary or the temporary directory is not "
           "reachable by nobody); skipped: " + probe.err);
      return;
    }
  }
  const auto r = changetrail_in(dir, {"check", "."}, limits);
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  CHECK_THAT(check_one_parse_error(r, "secret.yaml", 1, 1).message, Contains("ermission denied"));
  CHECK_THAT(check_one_parse_error(r, "closed", 1, 1).message, Contains("ermission denied"));

  // Named explicitly: the same one-line diagnostic.
  const auto r2 = changetrail_in(dir, {"check", "secret.yaml", std::string(k_good_name)}, limits);
  check_no_crash_no_hang(r2);
  CHECK(r2.exit_code == 1);
  check_good_reported(r2);
  check_one_parse_error(r2, "secret.yaml", 1, 1);

  // extract: one warning line on stderr naming it.
  const auto r3 = changetrail_in(dir, {"extract", "secret.yaml", std::string(k_good_name)}, limits);
  check_no_crash_no_hang(r3);
  CHECK(r3.exit_code == 0);
  CHECK(count_lines_starting(r3.err, "changetrail: warning: secret.yaml") == 1);
  CHECK(r3.out.find("good.yaml:1:8") != std::string::npos);
}

TEST_CASE("bad input: a FIFO named .yaml or Dockerfile never hangs the run", "[robustness]")
{
  // Opening a FIFO for reading blocks until a writer comes: nothing here ever writes.
  TempDir dir;
  write_good(dir);
  make_fifo(dir / "pipe.yaml");
  make_fifo(dir / "sub/Dockerfile");
  dir.write("sub/compose.yaml", "services:\n  web:\n    image: \"nginx:${TAG:-1.0}\"\n");
  make_fifo(dir / "sub/.env"); // compose reads the .env beside it

  const auto r = changetrail_in(dir, {"check", "."}, Limits{30});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  CHECK(has_line_starting(r.out, "sub/compose.yaml:3:13: warning[unpinned]: "));

  // Named on the command line: a diagnostic naming it (a parse-error or an error line), no hang.
  const auto r2 = changetrail_in(dir, {"check", "pipe.yaml", "sub/Dockerfile", std::string(k_good_name)}, Limits{30});
  check_no_crash_no_hang(r2);
  CHECK((r2.exit_code == 1 || r2.exit_code == 2));
  check_good_reported(r2);
  INFO("stdout:\n" << r2.out << "\nstderr:\n" << r2.err);
  CHECK(diagnosed(r2, "pipe.yaml"));
  CHECK(diagnosed(r2, "sub/Dockerfile"));
}

TEST_CASE("bad input: a directory named x.yaml is walked, not read as a file", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("x.yaml/inner.yaml", "image: redis:latest\n");
  dir.write("Dockerfile/Dockerfile", "FROM alpine:latest\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  CHECK(has_line_starting(r.out, "x.yaml/inner.yaml:1:8: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "Dockerfile/Dockerfile:1:6: error[latest-tag]: "));
  CHECK(diagnostics_for(r.out, "x.yaml").empty());

  const auto r2 = changetrail_in(dir, {"check", "x.yaml", std::string(k_good_name)});
  check_no_crash_no_hang(r2);
  CHECK(r2.exit_code == 1);
  check_good_reported(r2);
  CHECK(has_line_starting(r2.out, "x.yaml/inner.yaml:1:8: error[latest-tag]: "));
}

TEST_CASE("bad input: a path that does not exist is exit 2 with one error line, the others are checked", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  fs::create_symlink("nowhere.yaml", dir / "dangling.yaml");

  SECTION("check, text")
  {
    const auto r = changetrail_in(dir, {"check", "missing.yaml", std::string(k_good_name)});
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_good_reported(r);
    check_one_error_line(r, "missing.yaml");
  }
  SECTION("check, a missing directory and a dangling link")
  {
    const auto r = changetrail_in(dir, {"check", "no/such/dir", "dangling.yaml", std::string(k_good_name)});
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_good_reported(r);
    INFO(r.err);
    CHECK(lines_of(r.err).size() == 2);
    CHECK(count_lines_starting(r.err, "changetrail: error: no/such/dir") == 1);
    CHECK(count_lines_starting(r.err, "changetrail: error: dangling.yaml") == 1);
  }
  SECTION("check, json: the report is complete and valid")
  {
    const auto r = changetrail_in(dir, {"check", "--format", "json", "missing.yaml", std::string(k_good_name)});
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "missing.yaml");
    const auto j = nlohmann::json::parse(r.out);
    REQUIRE(j["findings"].size() == 1);
    CHECK(j["findings"][0]["file"] == "good.yaml");
    CHECK(j["findings"][0]["rule"] == "latest-tag");
  }
  SECTION("check, sarif to a file")
  {
    const auto r = changetrail_in(dir, {"check", "--format", "sarif", "-o", "report.sarif", "missing.yaml", std::string(k_good_name)});
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "missing.yaml");
    CHECK_NOTHROW(nlohmann::json::parse(read_file(dir / "report.sarif")));
  }
  SECTION("extract")
  {
    const auto r = changetrail_in(dir, {"extract", "missing.yaml", std::string(k_good_name)});
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("good.yaml:1:8") != std::string::npos);
    check_one_error_line(r, "missing.yaml");
  }
}

TEST_CASE("bad input: a file over the size limit is reported, not read", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  // Sparse: 200 MiB of size, no disk used.
  dir.write("huge.yaml", "image: nginx:latest\n");
  fs::resize_file(dir / "huge.yaml", std::uintmax_t{200} << 20);
  dir.write("huge/Dockerfile", "FROM nginx:latest\n");
  fs::resize_file(dir / "huge/Dockerfile", std::uintmax_t{200} << 20);
  const auto r = changetrail_in(dir, {"check", "."}, Limits{60, 512u << 10});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  CHECK_THAT(check_one_parse_error(r, "huge.yaml", 1, 1).message, Contains("limit"));
  check_one_parse_error(r, "huge/Dockerfile", 1, 1);
}

TEST_CASE("bad input: a file 300 directories deep is found or reported, never skipped silently", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  std::string deep = "deep";
  for (int i = 0; i < 300; ++i) {
    deep += "/d";
  }
  dir.write(deep + "/x.yaml", "image: redis:latest\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out);
  const bool found = has_line_starting(r.out, deep + "/x.yaml:1:8: error[latest-tag]: ");
  const auto ds = diagnostics(r.out);
  const bool reported = std::any_of(ds.begin(), ds.end(), [](const Diag& d) { return d.file.starts_with("deep/"); });
  CHECK((found || reported));
}

TEST_CASE("bad input: a compose file whose .env is a directory, binary or unreadable", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  const std::string compose = "services:\n  web:\n    image: \"nginx:${TAG:-1.0}\"\n";
  dir.write("as-dir/compose.yaml", compose);
  fs::create_directories(dir / "as-dir/.env");
  dir.write("binary/compose.yaml", compose);
  dir.write("binary/.env", "TAG=2.0\0\xff\n"s);
  dir.write("huge/compose.yaml", compose);
  dir.write("huge/.env", "TAG=3.0\n");
  fs::resize_file(dir / "huge/.env", std::uintmax_t{200} << 20);
  const auto r = changetrail_in(dir, {"check", "."}, Limits{60, 512u << 10});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out);
  // No .env to read: the default applies.
  CHECK(has_line_starting(r.out, "as-dir/compose.yaml:3:13: warning[unpinned]: "));
  CHECK(has_line_starting(r.out, "huge/compose.yaml:3:13: "));
  // Whatever the binary .env gives, the reference is reported at its place.
  CHECK(has_line_starting(r.out, "binary/compose.yaml:3:13: "));
}

TEST_CASE("bad input: --config pointing at a bad configuration is exit 2 with file:line", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  const auto with_config = [&](const std::string& config) {
    return changetrail_in(dir, {"--config", config, "check", std::string(k_good_name)}, Limits{30});
  };

  SECTION("unknown key")
  {
    dir.write("c.yaml", "policy:\n  severity: {unpinned: warning}\n  bogus: 1\n");
    const auto r = with_config("c.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml:3");
    CHECK(r.err.find("bogus") != std::string::npos);
  }
  SECTION("unknown top-level key")
  {
    dir.write("c.yaml", "# config\nenvironments: []\nimages: []\n");
    const auto r = with_config("c.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml:3");
  }
  SECTION("bad value")
  {
    dir.write("c.yaml", "policy:\n  severity: {unpinned: loud}\n");
    const auto r = with_config("c.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml:2");
  }
  SECTION("invalid YAML")
  {
    dir.write("c.yaml", "policy:\n  severity: {unpinned: warning\nignore: []\n");
    const auto r = with_config("c.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml:");
  }
  SECTION("duplicate key")
  {
    dir.write("c.yaml", "ignore: [\"good.yaml\"]\nignore: []\n");
    const auto r = with_config("c.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml:2");
  }
  SECTION("does not exist")
  {
    const auto r = with_config("nope.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "nope.yaml");
  }
  SECTION("a directory")
  {
    fs::create_directories(dir / "confdir");
    const auto r = with_config("confdir");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "confdir");
  }
  SECTION("a FIFO: no hang")
  {
    make_fifo(dir / "conf.fifo");
    const auto r = with_config("conf.fifo");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "conf.fifo");
  }
  SECTION("a NUL byte does not hide the rest of the file")
  {
    // YAML forbids NUL; the unknown key after it must not be ignored silently.
    dir.write("c.yaml", "policy:\n  severity: {unpinned: warning}\n\0\nbogus: 1\n"s);
    const auto r = with_config("c.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml:");
  }
  SECTION("an invalid byte in a %directive: no hang")
  {
    dir.write("c.yaml", "%\xe8\npolicy: {}\n");
    const auto r = with_config("c.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml");
  }
  SECTION("an alias bomb")
  {
    dir.write("c.yaml", alias_bomb(10, 10, "x") + "ignore: *lol9\n");
    const auto r = changetrail_in(dir, {"--config", "c.yaml", "check", std::string(k_good_name)}, Limits{30, 512u << 10});
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml");
  }
  SECTION("binary")
  {
    dir.write("c.yaml", "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"s);
    const auto r = with_config("c.yaml");
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, "c.yaml");
  }
}

TEST_CASE("bad input: a bad .changetrail.yaml found at the repository root is exit 2 with file:line", "[robustness]")
{
  TempDir dir;
  fs::create_directories(dir / "repo/.git");
  write_good(dir, "repo/good.yaml");
  SECTION("unknown key")
  {
    dir.write("repo/.changetrail.yaml", "ignore: []\nregistries:\n  insecure: []\n  mirrors: []\n");
    const auto r = changetrail_in(dir, {"check", "repo"}, Limits{30});
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, ".changetrail.yaml:4");
  }
  SECTION("a directory")
  {
    fs::create_directories(dir / "repo/.changetrail.yaml");
    const auto r = changetrail_in(dir, {"check", "repo"}, Limits{30});
    check_no_crash_no_hang(r);
    CHECK(r.exit_code == 2);
    check_one_error_line(r, ".changetrail.yaml");
  }
}
