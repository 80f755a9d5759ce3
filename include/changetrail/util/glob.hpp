#pragma once

#include <string_view>

namespace changetrail::util {

// Glob match over '/'-separated paths: `*` and `?` stay within one segment, `**` spans any
// number of segments (also none: "a/**/b" matches "a/b"), `[abc]` and `[a-z]` are classes.
// With `star_crosses_slash`, `*` matches across '/' too (registry patterns like "ghcr.io/acme/*").
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text, bool star_crosses_slash = false);

} // namespace changetrail::util
