// The Dockerfile side of `changetrail extract`: FROM and COPY --from with parser directives,
// line continuations, heredocs and global ARG expansion. Never throws on bad content
// (extract.hpp), and every reported position lies in the file.
#include "fuzz_check.hpp"

#include <changetrail/extract/extract.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace extract = changetrail::extract;
using changetrail::fuzz::show;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The Dockerfile parser splits lines at LF only (a CR before it is dropped).
  const auto lines = static_cast<std::uint32_t>(std::count(input.begin(), input.end(), '\n') + 1);

  extract::FileInput in;
  in.file = "build/api.Dockerfile";
  in.rel = in.file;
  in.content = input;
  in.kind = extract::FileKind::dockerfile;
  extract::FileResult r;
  changetrail::fuzz::no_throw("extract_file(dockerfile)", [&] { r = extract::extract_file(in); });

  CHANGETRAIL_FUZZ_CHECK(r.file == in.file, show(r.file));
  for (const auto& f : r.findings) {
    const std::string detail = std::to_string(f.line) + ":" + std::to_string(f.column) + " (" + std::to_string(lines)
                               + " lines) location=" + show(f.location) + " ref=" + show(f.ref);
    CHANGETRAIL_FUZZ_CHECK(f.format == "dockerfile", detail);
    CHANGETRAIL_FUZZ_CHECK(f.line >= 1 && f.line <= lines, detail);
    CHANGETRAIL_FUZZ_CHECK(f.column >= 1, detail);
    CHANGETRAIL_FUZZ_CHECK(!f.ref.empty(), detail);
    changetrail::fuzz::no_throw("Finding to_json", [&] {
      const nlohmann::json j = f;
      (void)j.dump();
    });
  }
  for (const auto& p : r.problems) {
    CHANGETRAIL_FUZZ_CHECK(p.line <= lines && !p.message.empty(), std::to_string(p.line) + ": " + show(p.message));
  }
  for (const auto& s : r.suppressions) {
    CHANGETRAIL_FUZZ_CHECK(s.line >= 1 && s.line <= lines, std::to_string(s.line));
  }
  return 0;
}
