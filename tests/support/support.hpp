#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace changetrail::test {

// A temporary directory for one test: removed when the test passed, kept (and its path
// printed) when it failed, so the failure can be examined.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& rel) const { return m_path / rel; }
  // Writes a file (creating directories), returns its path.
  std::filesystem::path write(const std::string& rel, const std::string& content) const;

private:
  std::filesystem::path m_path;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a program (no shell) with arguments; optional working directory, stdin text and extra
// environment ("NAME=value"). Kills it after `timeout_seconds`.
RunResult run(const std::vector<std::string>& argv, const std::string& cwd = {}, const std::string& input = {},
              const std::vector<std::string>& env = {}, int timeout_seconds = 120);

// Runs the built changetrail binary.
RunResult run_changetrail(const std::vector<std::string>& args, const std::string& cwd = {},
                      const std::vector<std::string>& env = {});

std::string read_file(const std::filesystem::path& p);

// The rows of a tab-separated file of hand-checked data: blank lines and lines starting with '#'
// are skipped; each row has its 1-based line number and its columns.
struct TsvRow {
  std::size_t line = 0;
  std::string text;
  std::vector<std::string> columns;
};
std::vector<TsvRow> read_tsv(const std::filesystem::path& p);

// Directory holding the shared test corpora (../shared/corpora beside the project), or empty.
std::filesystem::path corpora_dir();

// True when the current test case has a failed assertion (used by TempDir).
bool current_test_failed();

} // namespace changetrail::test
