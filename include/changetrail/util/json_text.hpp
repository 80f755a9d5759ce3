#pragma once

#include <string>
#include <string_view>

namespace changetrail::util {

// Appends `s` as a JSON string literal (RFC 8259): quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD so the output always parses.
void append_json_string(std::string& out, std::string_view s);

// A string field, or null when `s` is empty.
void append_json_string_or_null(std::string& out, std::string_view s);

} // namespace changetrail::util
