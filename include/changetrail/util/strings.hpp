#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace changetrail::util {

[[nodiscard]] std::string_view trim(std::string_view s);
[[nodiscard]] std::vector<std::string_view> split(std::string_view s, char sep);
[[nodiscard]] std::string to_lower(std::string_view s);
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);

// Number of UTF-8 code points in `s` (continuation bytes are not counted); invalid bytes count
// as one character each, so a column stays meaningful in a file with broken encoding.
[[nodiscard]] std::uint32_t utf8_length(std::string_view s);

// Replaces bytes that are not valid UTF-8 with U+FFFD, so that JSON output stays valid.
[[nodiscard]] std::string sanitize_utf8(std::string_view s);

// Offset of the first byte that is not valid UTF-8, or of the first NUL byte; npos when there is
// none. ASCII runs are skipped eight bytes at a time.
[[nodiscard]] std::size_t first_invalid_utf8_or_nul(std::string_view s);

// Quotes for the one-line error messages: control characters escaped, long inputs shortened.
[[nodiscard]] std::string quote(std::string_view s, std::size_t max = 200);

} // namespace changetrail::util
