#pragma once

// Helpers shared by the extractor tests (tests/extract/*_test.cpp): running the extractor on a
// text, finding what it found, and describing it for INFO.
#include <changetrail/extract/extract.hpp>
#include <changetrail/extract/walk.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace changetrail::test {

// Raw string literals start with a newline for readability; line 1 is the line after it.
inline std::string text(std::string_view s)
{
  if (!s.empty() && s.front() == '\n') {
    s.remove_prefix(1);
  }
  return std::string(s);
}

// Extracts from `content` read as the file `rel`, of the kind its name gives. `dotenv` is the
// compose `.env` beside it (none: no variables defined).
inline extract::FileResult extract(std::string_view content, std::string_view rel,
                                   std::optional<std::string> dotenv = std::nullopt)
{
  extract::FileInput in;
  in.file = rel;
  in.rel = rel;
  in.content = content;
  in.kind = extract::classify(rel);
  if (dotenv) {
    in.read_dotenv = [dotenv]() { return dotenv; };
  }
  return extract::extract_file(in);
}

// Extracts from every file below the directory `root` (which is also the root the paths are
// relative to) with `threads` threads, as extract_paths does for the command line.
inline extract::WalkResult extract_tree(const std::filesystem::path& root, unsigned threads)
{
  extract::WalkOptions options;
  options.root = root.string();
  options.threads = threads;
  return extract::extract_paths({root.string()}, options);
}

// 1-based line and column (in characters) of the n-th occurrence of `needle`: where a finding
// for the reference spelled `needle` must point.
inline std::pair<std::uint32_t, std::uint32_t> position_of(std::string_view content, std::string_view needle, int nth = 0)
{
  std::size_t at = content.find(needle);
  for (int i = 0; i < nth && at != std::string_view::npos; ++i) {
    at = content.find(needle, at + 1);
  }
  INFO("needle: " << needle << " (occurrence " << nth << ")");
  REQUIRE(at != std::string_view::npos);
  std::uint32_t line = 1;
  std::uint32_t column = 1;
  for (std::size_t i = 0; i < at; ++i) {
    const auto c = static_cast<unsigned char>(content[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++column;
    }
  }
  return {line, column};
}

// The finding with the location key `location`, or nullptr.
inline const extract::Finding* by_location(const extract::FileResult& r, std::string_view location)
{
  for (const auto& f : r.findings) {
    if (f.location == location) {
      return &f;
    }
  }
  return nullptr;
}

// The first finding of any of the files with the location key `location`, or nullptr.
inline const extract::Finding* by_location(const std::vector<extract::FileResult>& results, std::string_view location)
{
  for (const auto& r : results) {
    if (const auto* f = by_location(r, location)) {
      return f;
    }
  }
  return nullptr;
}

// The first finding written `ref`, or nullptr.
inline const extract::Finding* by_ref(const extract::FileResult& r, std::string_view ref)
{
  for (const auto& f : r.findings) {
    if (f.ref == ref) {
      return &f;
    }
  }
  return nullptr;
}

// The first finding of any of the files written `ref`, or nullptr.
inline const extract::Finding* by_ref(const std::vector<extract::FileResult>& results, std::string_view ref)
{
  for (const auto& r : results) {
    if (const auto* f = by_ref(r, ref)) {
      return f;
    }
  }
  return nullptr;
}

// The findings of the format `format`, in file order.
inline std::vector<const extract::Finding*> with_format(const extract::FileResult& r, std::string_view format)
{
  std::vector<const extract::Finding*> out;
  for (const auto& f : r.findings) {
    if (f.format == format) {
      out.push_back(&f);
    }
  }
  return out;
}

// The references as written, in file order.
inline std::vector<std::string> refs(const extract::FileResult& r)
{
  std::vector<std::string> out;
  for (const auto& f : r.findings) {
    out.push_back(f.ref);
  }
  return out;
}

// The location keys, in file order.
inline std::vector<std::string> locations(const extract::FileResult& r)
{
  std::vector<std::string> out;
  for (const auto& f : r.findings) {
    out.push_back(f.location);
  }
  return out;
}

// One line a finding, for INFO: format, location, reference as written, position, what the
// reference resolves to, and where its tag comes from.
inline std::string describe(const extract::Finding& f)
{
  std::string out = f.format + " " + f.location + " " + f.ref + " (" + std::to_string(f.line) + ":"
                    + std::to_string(f.column) + ") -> ";
  out += f.image.valid ? f.image.canonical() : "invalid: " + f.image.error;
  out += " [" + std::string(extract::to_string(f.tag_source));
  if (!f.tag_note.empty()) {
    out += " " + f.tag_note;
  }
  return out + "]";
}

inline std::string describe(const extract::FileResult& r)
{
  std::string out;
  for (const auto& f : r.findings) {
    out += describe(f) + "\n";
  }
  return out;
}

inline std::string describe(const std::vector<extract::FileResult>& results)
{
  std::string out;
  for (const auto& r : results) {
    for (const auto& f : r.findings) {
      out += r.file + ": " + describe(f) + "\n";
    }
  }
  return out;
}

// The finding at `location` in `r` (a FileResult or a vector of them), which must exist.
template <class Results>
const extract::Finding& require_location(const Results& r, std::string_view location)
{
  INFO("location: " << location << "\nfindings:\n" << describe(r));
  const auto* f = by_location(r, location);
  REQUIRE(f != nullptr);
  return *f;
}

// The finding at `location` in `r` (a FileResult or a vector of them), which must exist and
// start at `line`:`column`.
template <class Results>
const extract::Finding& check_position(const Results& r, std::string_view location, std::uint32_t line,
                                       std::uint32_t column)
{
  INFO("location: " << location << "\nfindings:\n" << describe(r));
  const auto* f = by_location(r, location);
  REQUIRE(f != nullptr);
  CHECK(f->line == line);
  CHECK(f->column == column);
  return *f;
}

// The one finding of `r`, which must have exactly one.
inline const extract::Finding& only_finding(const extract::FileResult& r)
{
  INFO("findings:\n" << describe(r));
  REQUIRE(r.findings.size() == 1);
  return r.findings.front();
}

} // namespace changetrail::test
