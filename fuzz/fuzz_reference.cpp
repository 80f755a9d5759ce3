// reference::parse on arbitrary bytes. Besides memory safety, the normalized forms must be fixed
// points of the parser: what `changetrail ref` prints as canonical or familiar must parse back
// to the same image (REGISTRY.md "References").
#include "fuzz_check.hpp"

#include <changetrail/reference/reference.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using changetrail::fuzz::show;
namespace reference = changetrail::reference;

std::string describe(const reference::Reference& r)
{
  return "input=" + show(r.input) + " valid=" + (r.valid ? "1" : "0") + " error=" + show(r.error)
         + " registry=" + show(r.registry) + " repository=" + show(r.repository) + " tag=" + show(r.tag)
         + " digest=" + show(r.digest);
}

// `form` (canonical or familiar text of `r`) must parse to the same image as `r`.
void check_reparse(const reference::Reference& r, const std::string& form, const char* which)
{
  const reference::Reference again = reference::parse(form);
  const std::string detail = std::string(which) + " " + show(form) + " of " + describe(r) + "\nre-parsed: " + describe(again);
  CHANGETRAIL_FUZZ_CHECK(again.valid, detail);
  CHANGETRAIL_FUZZ_CHECK(again.canonical() == r.canonical(), detail);
  CHANGETRAIL_FUZZ_CHECK(again.registry == r.registry && again.repository == r.repository, detail);
  CHANGETRAIL_FUZZ_CHECK(again.tag == r.tag && again.digest == r.digest, detail);
  CHANGETRAIL_FUZZ_CHECK(again.familiar() == r.familiar(), detail);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  reference::Reference r;
  changetrail::fuzz::no_throw("reference::parse", [&] { r = reference::parse(input); });

  const std::string detail = describe(r);
  CHANGETRAIL_FUZZ_CHECK(r.input == input, detail);
  // The JSON of `changetrail ref --format json` must serialize whatever the input bytes were.
  changetrail::fuzz::no_throw("reference to_json", [&] {
    const nlohmann::json j = r;
    (void)j.dump();
  });
  std::vector<std::string> variables;
  CHANGETRAIL_FUZZ_CHECK(!r.unresolved || reference::find_template_variables(input, &variables), detail);

  if (!r.valid) {
    CHANGETRAIL_FUZZ_CHECK(!r.error.empty(), detail);
    CHANGETRAIL_FUZZ_CHECK(r.canonical().empty() && r.familiar().empty(), detail);
    return 0;
  }
  CHANGETRAIL_FUZZ_CHECK(r.error.empty() && !r.unresolved, detail);
  CHANGETRAIL_FUZZ_CHECK(!r.registry.empty() && !r.repository.empty(), detail);
  CHANGETRAIL_FUZZ_CHECK(r.tag.empty() || reference::is_valid_tag(r.tag), detail);
  CHANGETRAIL_FUZZ_CHECK(r.digest.empty() || reference::validate_digest(r.digest).empty(), detail);

  check_reparse(r, r.canonical(), "canonical");
  check_reparse(r, r.familiar(), "familiar");
  // Helm's split form of the same image joins back to it (REGISTRY.md: "must produce the same
  // reference").
  check_reparse(r, reference::join(r.registry, r.repository, r.tag, r.digest), "join(split form)");
  return 0;
}
