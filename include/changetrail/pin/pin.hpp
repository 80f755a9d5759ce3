#pragma once

// The rewriting core of `changetrail pin` (issue 4): turns unpinned references into
// `tag@digest` in place, every other byte of the file kept (comments, quoting, indentation, key
// order, CRLF line endings, a missing final newline). The registry lookup is the caller's: it
// passes the digests in.
//
// What is rewritten, per extractor:
//   - `image:` scalars (Kubernetes containers, compose services, Helm values, HelmRelease and
//     Argo CD values, any other YAML), plain, single- or double-quoted or in a block scalar, and
//     the `new` part of Argo CD `kustomize.images` (`old=new:tag`): `@<digest>` is appended to
//     the scalar's text;
//   - Helm's split form `{registry?, repository, tag, digest?}`: `tag: 1.2.3` becomes
//     `tag: 1.2.3@sha256:...`, except when the mapping has a `digest:` key (empty, `~`, `null`,
//     `""`): the file uses that convention and the digest is written there;
//   - kustomize `images:` entries: a `digest:` key is added after `newTag` (same indentation,
//     key and value quoting, and separator as `newTag:`), or an empty `digest:` is filled;
//     newTag is kept (kustomize >= 4.5.4 then deploys `name:tag@digest`, older ones
//     `name@digest`: the digest pulls either way; kubernetes-sigs/kustomize#4406, #5664);
//   - Dockerfile `FROM [--platform=...] image [AS name]` and `COPY --from=image` (stage names,
//     `scratch` and ARG-templated images are not references the extractor reports as written).
//
// Decisions (docs/ARCHITECTURE.md "pin"):
//   - A reference without a tag (implicit latest) gets only `@digest`: `nginx` becomes
//     `nginx@sha256:...`. A tag is never invented; what was pulled is exactly the digest.
//   - A reference that already has a digest is left alone and not reported.
//   - Tags set elsewhere (TagSource inherited, chart, range, kustomize), templated text
//     (`${TAG}`, `{{ .Values.tag }}`, even when a Dockerfile ARG or compose .env resolves it:
//     the value lives in another line or file), invalid references and OCI artifacts (Flux
//     OCIRepository, HelmRelease charts) are skipped with a reason.
//   - The bytes are found from the finding's line and column (1-based, columns in code points,
//     a UTF-8 BOM not counted) and checked against the YAML node or Dockerfile token parsed
//     there; any difference (an alias, escape sequences, a multi-line plain scalar, an
//     embedded YAML string) is a skip, never a guess.
//   - A number-looking tag keeps its bytes: `tag: 1.10` becomes `tag: 1.10@sha256:...` (a
//     string; that `1.10` alone is the float 1.1 to YAML is the file's own, earlier problem).
//   - YAML flow collections are rewritten where the edit is local: a scalar gets its suffix,
//     a flow kustomize entry gets `, digest: ...` after its newTag value.
//   - Self-check: the rewritten text is extracted again and must give the same locations and
//     problems, each rewritten one with the same name and tag plus the digest, every other one
//     unchanged or pinned to the digest of the same reference (an alias of a rewritten anchor,
//     then reported as a change too). An edit that does not read back is dropped and reported
//     as a skip. When the file as a whole reads differently (an edit also changed another
//     reference, e.g. through a shared anchor), each edit is tried alone and only those that
//     pass alone are kept; if those still fail together, the file is left unchanged.
//   - A file with a YAML syntax error is not rewritten (what follows the error is unknown).
//   - Every finding without a digest ends up either in `changes` or in `skipped`.

#include <changetrail/extract/extract.hpp>
#include <changetrail/extract/finding.hpp>
#include <changetrail/reference/reference.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::pin {

// Why pin leaves `f` alone whatever the registry says ("already pinned", "templated (${TAG})",
// "the tag comes from the chart's appVersion", ...), or nullopt when it would rewrite it given
// a digest.
[[nodiscard]] std::optional<std::string> not_pinnable(const extract::Finding& f);

// The references pin wants a digest for: unpinned, valid, not templated, tag written in this
// file. Each once (by canonical form), in file order. The caller resolves them (ref.canonical()
// has no digest) and answers through the lookup of pin_file.
[[nodiscard]] std::vector<reference::Reference> wanted(const extract::FileResult& result);

struct Change {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string location;
  std::string from; // the reference as written before (split forms joined)
  std::string to;   // as written after, read back from the rewritten text
};

struct Skip {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string location;
  std::string ref; // as written
  std::string reason;
};

struct PinResult {
  std::string text; // the new content (the input's when nothing changed)
  std::vector<Change> changes;
  std::vector<Skip> skipped;
  [[nodiscard]] bool changed() const { return !changes.empty(); }
};

// The digest to pin `ref` to ("sha256:..."), or why there is none (the registry's answer:
// "tag not found", "registry unreachable", or simply "no digest known").
// (A struct rather than std::expected: clang 14, which builds the fuzz targets, cannot compile
// libstdc++ 12's <expected>.)
struct DigestAnswer {
  std::string digest;  // empty: none known
  std::string why_not; // when there is none; empty: "no digest known"
};
using DigestLookup = std::function<DigestAnswer(const reference::Reference&)>;

// Rewrites the unpinned references of one file. `input` is what `result` was extracted from
// (its content and kind; compose .env through read_dotenv), `result` its findings, possibly
// adjusted across files (extract::apply_kustomize_overrides, resolve_charts). Never throws on
// content; changes and skips are in file order.
[[nodiscard]] PinResult pin_file(const extract::FileInput& input, const extract::FileResult& result,
                                 const DigestLookup& digest_for);

// `diff -u` of two texts (3 lines of context, GNU's hunk headers and "\ No newline at end of
// file" markers) with the headers "--- a/PATH" and "+++ b/PATH"; empty when they are equal.
// Lines are compared with their line ending, so a CRLF or final-newline change shows.
[[nodiscard]] std::string unified_diff(std::string_view path, std::string_view before, std::string_view after);

// Replaces the file at `path` by `content`: a temporary file in the same directory, fsync,
// rename over the original, fsync of the directory. The original's mode is kept (and its
// owner, where permitted); a symbolic link is followed, so the link stays and its target is
// rewritten. A hard link is broken, as by every editor that saves this way. Throws util::Fatal
// ("PATH: cannot write: REASON") and leaves no temporary file behind on failure.
void write_atomically(const std::string& path, std::string_view content);

} // namespace changetrail::pin
