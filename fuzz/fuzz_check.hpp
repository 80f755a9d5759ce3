#pragma once

// Invariant checks for the fuzz targets: a broken invariant prints what was expected and aborts,
// which libFuzzer records as a crash with its input (crash-<sha1>).

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace changetrail::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* what, const std::string& detail)
{
  std::fprintf(stderr, "\n%s:%d: invariant broken: %s\n%s\n", file, line, what, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// Printable form of a short text for failure messages (bytes outside ASCII as \xNN).
inline std::string show(std::string_view s, std::size_t max = 400)
{
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u >= 0x7F || u == '"' || u == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += s[i];
    }
  }
  if (s.size() > max) {
    out += "...";
  }
  return out + "\"";
}

// Runs `body`; an exception escaping it is a bug (the extractors never throw on bad content),
// reported with its message rather than as a bare std::terminate.
template <typename F>
void no_throw(const char* what, F&& body)
{
  try {
    body();
  } catch (const std::exception& e) {
    fail(__FILE__, __LINE__, what, std::string("unexpected exception: ") + e.what());
  } catch (...) {
    fail(__FILE__, __LINE__, what, "unexpected non-standard exception");
  }
}

} // namespace changetrail::fuzz

#define CHANGETRAIL_FUZZ_CHECK(cond, detail)                                                                       \
  do {                                                                                                             \
    if (!(cond)) {                                                                                                 \
      ::changetrail::fuzz::fail(__FILE__, __LINE__, #cond, (detail));                                              \
    }                                                                                                              \
  } while (false)
