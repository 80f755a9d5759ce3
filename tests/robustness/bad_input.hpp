#pragma once

// Helpers shared by the bad-input tests (issue 2 section 5): run the built binary with a hang
// guard and a memory limit, and read its `check` text output.

#include "support/support.hpp"

#include <changetrail/extract/extract.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::test::bad_input {

// A good file put beside every bad one: its latest-tag error must still be reported.
inline constexpr std::string_view k_good_name = "good.yaml";
inline constexpr std::string_view k_good_content = "image: nginx:latest\n";
inline const std::string k_good_error = "good.yaml:1:8: error[latest-tag]: ";

inline void write_good(const TempDir& dir, const std::string& rel = std::string(k_good_name))
{
  dir.write(rel, std::string(k_good_content));
}

struct Limits {
  int timeout_seconds = 60;              // hang guard only, never a timing assertion
  std::uint64_t address_space_kib = 1u << 20; // 1 GiB
  std::vector<std::string> wrapper = {};  // e.g. setpriv ... to run as another user
};

// Runs `changetrail --color never ARGS...` in `dir` through `sh -c 'ulimit -v N; exec ...'`, so
// a memory blow-up fails an allocation instead of taking the machine down. (AddressSanitizer
// reserves terabytes of address space: no limit in sanitizer builds.)
inline RunResult changetrail_in(const TempDir& dir, const std::vector<std::string>& args, Limits limits = {})
{
#if defined(__SANITIZE_ADDRESS__)
  const std::string ulimit = ":";
#else
  const std::string ulimit = "ulimit -v " + std::to_string(limits.address_space_kib);
#endif
  std::vector<std::string> argv = limits.wrapper;
  for (const char* a : {"/bin/sh", "-c"}) {
    argv.emplace_back(a);
  }
  argv.push_back(ulimit + " && exec \"$0\" \"$@\"");
  for (const char* a : {CHANGETRAIL_BINARY, "--color", "never"}) {
    argv.emplace_back(a);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, dir.path().string(), {}, {}, limits.timeout_seconds);
}

inline bool killed_by_test(const RunResult& r)
{
  return r.err.find("[killed by the test after") != std::string::npos;
}

// No crash (no signal: run() reports a signal as 128 + its number) and no hang: the exit code is
// one of DESIGN.md's for `check`/`extract` on bad files (0 clean, 1 findings, 2 input error).
inline void check_no_crash_no_hang(const RunResult& r)
{
  INFO("exit code " << r.exit_code << "\nstdout (first 4 KiB):\n"
                    << r.out.substr(0, 4096) << "\nstderr (first 4 KiB):\n"
                    << r.err.substr(0, 4096));
  CHECK_FALSE(killed_by_test(r));
  CHECK(r.exit_code >= 0);
  CHECK(r.exit_code <= 2);
}

inline std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) {
      end = text.size();
    }
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// One `file:line:col: severity[rule]: message` line of the text report.
struct Diag {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string severity;
  std::string rule;
  std::string message;
};

inline std::vector<Diag> diagnostics(const std::string& out)
{
  std::vector<Diag> result;
  for (const auto& l : lines_of(out)) {
    // Split from the right of "file:line:col: " so that a file name with ':' still parses.
    const auto sev = l.find(": error[") != std::string::npos     ? l.find(": error[")
                     : l.find(": warning[") != std::string::npos ? l.find(": warning[")
                     : l.find(": info[") != std::string::npos    ? l.find(": info[")
                                                                 : std::string::npos;
    if (sev == std::string::npos) {
      continue;
    }
    const std::string head = l.substr(0, sev);
    const auto c2 = head.rfind(':');
    const auto c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : head.rfind(':', c2 - 1);
    if (c1 == std::string::npos) {
      continue;
    }
    Diag d;
    d.file = head.substr(0, c1);
    try {
      d.line = static_cast<std::uint32_t>(std::stoul(head.substr(c1 + 1, c2 - c1 - 1)));
      d.column = static_cast<std::uint32_t>(std::stoul(head.substr(c2 + 1)));
    } catch (const std::exception&) {
      continue;
    }
    const auto open = l.find('[', sev);
    const auto close = l.find("]: ", open);
    if (open == std::string::npos || close == std::string::npos) {
      continue;
    }
    d.severity = l.substr(sev + 2, open - sev - 2);
    d.rule = l.substr(open + 1, close - open - 1);
    d.message = l.substr(close + 3);
    result.push_back(std::move(d));
  }
  return result;
}

inline std::vector<Diag> diagnostics_for(const std::string& out, std::string_view file, std::string_view rule = {})
{
  auto all = diagnostics(out);
  std::erase_if(all, [&](const Diag& d) { return d.file != file || (!rule.empty() && d.rule != rule); });
  return all;
}

inline bool has_line_starting(const std::string& text, const std::string& prefix)
{
  const auto ls = lines_of(text);
  return std::any_of(ls.begin(), ls.end(), [&](const std::string& l) { return l.starts_with(prefix); });
}

inline std::size_t count_lines_starting(const std::string& text, const std::string& prefix)
{
  const auto ls = lines_of(text);
  return static_cast<std::size_t>(std::count_if(ls.begin(), ls.end(), [&](const std::string& l) { return l.starts_with(prefix); }));
}

// The good file beside the bad one was checked: its latest-tag error is in the report.
inline void check_good_reported(const RunResult& r, const std::string& good = std::string(k_good_name))
{
  INFO("stdout (first 4 KiB):\n" << r.out.substr(0, 4096) << "\nstderr:\n" << r.err.substr(0, 4096));
  CHECK(has_line_starting(r.out, good + ":1:8: error[latest-tag]: "));
}

// Exactly one parse-error line for `file`, at a line in [min_line, max_line]; returns it.
inline Diag check_one_parse_error(const RunResult& r, const std::string& file, std::uint32_t min_line, std::uint32_t max_line)
{
  INFO("stdout (first 4 KiB):\n" << r.out.substr(0, 4096) << "\nstderr:\n" << r.err.substr(0, 4096));
  const auto ds = diagnostics_for(r.out, file, "parse-error");
  CHECK(ds.size() == 1);
  if (ds.empty()) {
    return {};
  }
  CHECK(ds[0].severity == "warning");
  CHECK(ds[0].line >= min_line);
  CHECK(ds[0].line <= max_line);
  CHECK(ds[0].column >= 1);
  CHECK_FALSE(ds[0].message.empty());
  return ds[0];
}

// No parse-error at all for `file` (valid input must not be reported as broken).
inline void check_no_parse_error(const RunResult& r, const std::string& file)
{
  INFO("stdout (first 4 KiB):\n" << r.out.substr(0, 4096));
  CHECK(diagnostics_for(r.out, file, "parse-error").empty());
}

// Core call: extract one file's content as the walk would.
inline extract::FileResult extract_text(std::string_view name, std::string_view content)
{
  extract::FileInput in;
  in.file = name;
  in.rel = name;
  in.content = content;
  in.kind = extract::classify(name);
  if (in.kind == extract::FileKind::none) {
    in.kind = extract::FileKind::yaml;
  }
  in.read_dotenv = [] { return std::optional<std::string>{}; };
  return extract::extract_file(in);
}

// A billion-laughs stream: `levels` anchors, each a sequence of `width` aliases to the previous.
inline std::string alias_bomb(int levels = 10, int width = 10, const std::string& key_prefix = "x-lol")
{
  std::string s = key_prefix + "0: &lol0 [";
  for (int j = 0; j < width; ++j) {
    s += j == 0 ? "\"lol\"" : ", \"lol\"";
  }
  s += "]\n";
  for (int i = 1; i < levels; ++i) {
    s += key_prefix + std::to_string(i) + ": &lol" + std::to_string(i) + " [";
    for (int j = 0; j < width; ++j) {
      s += (j == 0 ? "*lol" : ", *lol") + std::to_string(i - 1);
    }
    s += "]\n";
  }
  return s;
}

} // namespace changetrail::test::bad_input
