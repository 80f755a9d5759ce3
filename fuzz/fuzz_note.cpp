// ledger::parse_note on arbitrary bytes. Notes under refs/notes/changetrail come with any clone,
// so their text is untrusted: parsing must never crash, and what parses must survive a round
// trip (the text written for it parses to the same text: a merge never loses or invents an
// observation), and merging it into itself must change nothing.
#include "fuzz_check.hpp"

#include <changetrail/ledger/notes.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using changetrail::fuzz::show;
namespace ledger = changetrail::ledger;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto note = ledger::parse_note(text, error);
  if (!note) {
    if (error.empty()) {
      changetrail::fuzz::fail(__FILE__, __LINE__, "a refused note has a reason", show(text));
    }
    return 0;
  }
  const std::string written = ledger::note_text(*note);
  std::string again_error;
  const auto again = ledger::parse_note(written, again_error);
  if (!again) {
    changetrail::fuzz::fail(__FILE__, __LINE__, "the text written for a note parses", show(written));
  }
  if (ledger::note_text(*again) != written) {
    changetrail::fuzz::fail(__FILE__, __LINE__, "a note's text is a fixed point", show(written));
  }
  if (ledger::merge_note(written, *again) != written) {
    changetrail::fuzz::fail(__FILE__, __LINE__, "merging a note into itself changes nothing", show(written));
  }
  return 0;
}
