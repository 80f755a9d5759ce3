#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace changetrail::util {

// Times are Unix seconds (UTC). Calendar math is proleptic Gregorian and done here, not by the C
// library, so parsing is exact and independent of TZ and locale (DESIGN.md "Events and time").

// The current time. When CHANGETRAIL_NOW is set (and not empty) it is used instead of the clock,
// so tests and README examples are reproducible: integer Unix seconds ("1795400000", "-86400") or
// an absolute time as parse_time reads it ("2026-11-23T02:10:00Z", "2026-11-23 02:10").
// A value that is neither throws InputError rather than silently falling back to the clock.
[[nodiscard]] std::int64_t now_seconds();

// Parses a time given on the command line (--since, --until, `at`, `diff`); surrounding
// whitespace is ignored. Accepted:
//   2026-11-23T02:10:00Z, 2026-11-23t02:10:00.250z, 2026-11-23T03:10:00+01:00   RFC 3339
//   2026-11-23, 2026-11-23 02:10, 2026-11-23 02:10:00, 2026-11-23T02:10[:00]
//     (UTC unless an offset follows: Z, +HH:MM, -HH:MM or +HHMM, optionally after one space,
//     so format_local's output reads back)
//   90m, 3h, 2d, 1w, 45s, 1h30m, optionally followed by "ago" (with or without a space): all
//     mean `now` minus the duration; units in descending order (w d h m s), each at most once
//   now
// Years are 0000..9999, seconds 00..59 (no leap second), fractional seconds are dropped (floor).
// Bare integers are rejected: they could be abbreviated git revisions, which the caller tries.
// Throws InputError naming the input and the accepted forms on anything else.
[[nodiscard]] std::int64_t parse_time(std::string_view text, std::int64_t now);

// parse_time without the exception: nullopt where parse_time throws.
[[nodiscard]] std::optional<std::int64_t> try_parse_time(std::string_view text, std::int64_t now) noexcept;

// "2026-11-23T02:10:00Z", for JSON. Years outside 0000..9999 print with more digits or a sign.
[[nodiscard]] std::string format_rfc3339_utc(std::int64_t t);

// "2026-11-23 02:10:00Z", for tables people read.
[[nodiscard]] std::string format_table_utc(std::int64_t t);

// "2026-11-23 03:10:00 +0100" in the zone of TZ (read again on every call). Falls back to
// format_table_utc when the C library cannot represent `t`.
[[nodiscard]] std::string format_local(std::int64_t t);

} // namespace changetrail::util
