#pragma once

// Registry observations as git notes (issue 4): `resolve --record-notes` writes what the
// registries said about a deployed commit's references as a JSON note on that commit, under
// refs/notes/changetrail, so the evidence travels with `git push origin refs/notes/changetrail`
// and survives the loss of the ledger; `scan` reads the notes back.

#include <changetrail/git/git.hpp>
#include <changetrail/ledger/ledger.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::ledger {

inline constexpr const char* k_notes_ref = "refs/notes/changetrail";

struct NoteContent {
  std::vector<Observation> observations;
  std::vector<std::shared_ptr<const registry::ImageMetadata>> images;
};

// The note's JSON: {"changetrail":1,"observations":[...],"images":[...]}, observations in time
// then reference order, images by digest, so the same content always gives the same bytes.
[[nodiscard]] std::string note_text(const NoteContent& content);
// nullopt with `error` set when the text is not a changetrail note. Entries that do not have the
// expected shape are skipped.
[[nodiscard]] std::optional<NoteContent> parse_note(std::string_view text, std::string& error);
// `existing` (a note's text, if any) with `added` merged in: an observation already there is kept
// once. A note that is not ours is refused (util::Fatal) rather than overwritten.
[[nodiscard]] std::string merge_note(const std::optional<std::string>& existing, const NoteContent& added);

// Reads every note of k_notes_ref into the ledger when the ref moved since the last import
// (origin "notes"); returns the number of observations that were new. A note that does not
// parse is skipped with one warning naming its commit.
std::int64_t import_notes(Ledger& ledger, const git::Repository& repo, const std::string& repo_name,
                          const std::function<void(const std::string&)>& warn);

} // namespace changetrail::ledger
