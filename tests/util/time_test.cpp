// Tests of changetrail::util time parsing and formatting (DESIGN.md "Events and time").
// Expected Unix seconds in the tables come from GNU date (`date -u -d 2026-11-23T02:10:00Z +%s`),
// expected local strings from `TZ=Europe/Berlin date -d @1795399800 '+%Y-%m-%d %H:%M:%S %z'`;
// the sweeps compare against glibc's timegm/gmtime_r, which share no code with the module.

#include <changetrail/util/error.hpp>
#include <changetrail/util/time.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using changetrail::util::format_local;
using changetrail::util::format_rfc3339_utc;
using changetrail::util::format_table_utc;
using changetrail::util::InputError;
using changetrail::util::now_seconds;
using changetrail::util::parse_time;
using changetrail::util::try_parse_time;

constexpr std::int64_t k_now = 1795399800; // 2026-11-23T02:10:00Z
constexpr std::int64_t k_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t k_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t k_minute = 60;
constexpr std::int64_t k_hour = 3600;
constexpr std::int64_t k_day = 86400;
constexpr std::int64_t k_week = 7 * k_day;

// Sets (or, with nullopt, unsets) an environment variable for one scope and restores the old
// value afterwards, so a failing test does not leak TZ or CHANGETRAIL_NOW into the next one.
class ScopedEnv {
public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : m_name(std::move(name))
  {
    if (const char* old = std::getenv(m_name.c_str())) {
      m_old = old;
    }
    set(value);
  }
  ~ScopedEnv() { set(m_old); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void set(const std::optional<std::string>& value) const
  {
    if (value) {
      setenv(m_name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(m_name.c_str());
    }
    if (m_name == "TZ") {
      tzset();
    }
  }

private:
  std::string m_name;
  std::optional<std::string> m_old;
};

struct Row {
  std::string in;
  std::int64_t expected;
};

void check_rows(const std::vector<Row>& rows, std::int64_t now = k_now)
{
  for (const auto& row : rows) {
    INFO("input \"" << row.in << "\" now " << now);
    CHECK(try_parse_time(row.in, now) == std::optional<std::int64_t>(row.expected));
    std::int64_t got = 0;
    CHECK_NOTHROW(got = parse_time(row.in, now));
    CHECK(got == row.expected);
  }
}

// The message parse_time throws, or "(no exception)".
std::string error_of(std::string_view in, std::int64_t now = k_now)
{
  try {
    (void)parse_time(in, now);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no exception)";
}

// The fields glibc computes for `t`, printed without the code under test.
std::string glibc_rfc3339(std::int64_t t)
{
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  REQUIRE(gmtime_r(&tt, &tm) != nullptr);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// Deterministic spread of values over [lo, hi], so failures reproduce.
std::vector<std::int64_t> sample(std::int64_t lo, std::int64_t hi, int n)
{
  std::vector<std::int64_t> out = {lo, hi, 0, -1, 1};
  std::uint64_t x = 0x9E3779B97F4A7C15u;
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    out.push_back(lo + static_cast<std::int64_t>((x >> 11) % span));
  }
  return out;
}

} // namespace

TEST_CASE("time::parse_time RFC 3339", "[util][time]")
{
  check_rows({
      {"2026-11-23T02:10:00Z", 1795399800},
      {"2026-11-23t02:10:00z", 1795399800},
      {"2026-11-23T02:10:00.5Z", 1795399800},
      {"2026-11-23T02:10:00.999999999Z", 1795399800},
      {"2026-11-23T02:10:00.000000000000000000000001Z", 1795399800},
      {"2026-11-23T03:10:00+01:00", 1795399800},
      {"2026-11-22T21:10:00-05:00", 1795399800},
      {"2026-11-23T07:40:00+05:30", 1795399800},
      {"2026-11-23T02:10:00+00:00", 1795399800},
      {"2026-11-23T02:10:00-00:00", 1795399800},
      {"2026-11-23T03:10:00.25+01:00", 1795399800},
      {"2026-01-01T00:00:00-23:59", 1767311940},
      {"2026-01-01T00:00:00+23:59", 1767139260},
      {"1970-01-01T00:00:00Z", 0},
      {"1969-12-31T23:59:59Z", -1},
      {"1969-12-31T23:59:59.9Z", -1}, // the fraction floors, also before the epoch
      {"1969-07-20T20:17:40Z", -14182940},
      {"2038-01-19T03:14:07Z", 2147483647},
      {"2038-01-19T03:14:08Z", 2147483648},
      {"1901-12-13T20:45:52Z", -2147483648},
      {"1583-10-15T12:00:00Z", -12187713600},
      {"0000-01-01T00:00:00Z", -62167219200},
      {"9999-12-31T23:59:59Z", 253402300799},
      {"9999-12-31T23:59:59-23:59", 253402300799 + 23 * k_hour + 59 * k_minute},
  });
}

TEST_CASE("time::parse_time dates and date-times", "[util][time]")
{
  check_rows({
      {"2026-11-23", 1795392000},
      {"2026-11-23 02:10", 1795399800},
      {"2026-11-23 02:10:00", 1795399800},
      {"2026-11-23 02:10:59", 1795399859},
      {"2026-11-23T02:10", 1795399800},
      {"2026-11-23t02:10", 1795399800},
      {"2026-11-23T02:10:00", 1795399800},
      {"2026-11-23 02:10:00.75", 1795399800},
      {"2026-11-23 23:59:59", 1795392000 + k_day - 1},
      {"2026-12-31 23:59:59", 1798761599},
      {"1970-01-01", 0},
      {"1969-12-31", -k_day},
      {"1999-12-31 23:59:59", 946684799},
      {"2000-01-01", 946684800},
      {"1900-03-01", -2203891200},
      {"1600-01-01", -11676096000},
      {"2100-03-01", 4107542400},
      {"0000-01-01", -62167219200},
  });
}

TEST_CASE("time::parse_time offsets", "[util][time]")
{
  check_rows({
      {"2026-11-23 02:10Z", 1795399800},
      {"2026-11-23 02:10z", 1795399800},
      {"2026-11-23 03:10+01:00", 1795399800},
      {"2026-11-23 03:10:00+0100", 1795399800},
      {"2026-11-23T03:10:00+0100", 1795399800},
      {"2026-11-23T04:10:00+0200", 1795399800},
      {"2026-11-22T20:10:00-0600", 1795399800},
      {"2026-11-23T00:10:00-02:00", 1795399800},
      // One space before the offset: format_local and format_table_utc output read back.
      {"2026-11-23 03:10:00 +0100", 1795399800},
      {"2026-11-23 03:10:00 +01:00", 1795399800},
      {"2026-11-23 02:10:00 Z", 1795399800},
      {"2026-11-23 02:10:00Z", 1795399800},
      {"2026-11-23T13:55:00+11:45", 1795399800},
  });
}

TEST_CASE("time::parse_time leap years", "[util][time]")
{
  check_rows({
      {"2024-02-29", 1709164800},
      {"2024-02-29T00:00:00Z", 1709164800},
      {"2024-03-01", 1709164800 + k_day},
      {"2000-02-29", 951782400},
      {"2000-03-01", 951782400 + k_day},
      {"2025-02-28", 1709164800 + 365 * k_day},
      {"2025-03-01", 1709164800 + 366 * k_day},
      {"1900-02-28", -2203891200 - k_day},
      {"1600-02-29", -11676096000 + (31 + 28) * k_day},
      {"0000-02-29", -62167219200 + (31 + 28) * k_day}, // year 0 is a leap year (divisible by 400)
  });
  for (const char* bad : {"2025-02-29", "1900-02-29", "2100-02-29", "2023-02-29", "2024-02-30", "1700-02-29"}) {
    INFO("input " << bad);
    CHECK_FALSE(try_parse_time(bad, k_now).has_value());
    CHECK_THROWS_AS(parse_time(bad, k_now), InputError);
  }
}

TEST_CASE("time::parse_time relative", "[util][time]")
{
  check_rows({
      {"45s", k_now - 45},
      {"90m", k_now - 90 * k_minute},
      {"3h", k_now - 3 * k_hour},
      {"2d", k_now - 2 * k_day},
      {"1w", k_now - k_week},
      {"0s", k_now},
      {"0m ago", k_now},
      {"120m", k_now - 2 * k_hour},
      {"1000000s", k_now - 1000000},
      {"3h ago", k_now - 3 * k_hour},
      {"3hago", k_now - 3 * k_hour},
      {"3h   ago", k_now - 3 * k_hour},
      {"3h\tago", k_now - 3 * k_hour},
      {"3h AGO", k_now - 3 * k_hour},
      {"2d ago", k_now - 2 * k_day},
      {"1w ago", k_now - k_week},
      {"45s ago", k_now - 45},
      {"90m ago", k_now - 90 * k_minute},
      {"007m", k_now - 7 * k_minute},
      {"now", k_now},
      {"NOW", k_now},
      {"Now", k_now},
  });
}

TEST_CASE("time::parse_time compound durations", "[util][time]")
{
  check_rows({
      {"1h30m", k_now - k_hour - 30 * k_minute},
      {"1h30m ago", k_now - k_hour - 30 * k_minute},
      {"1h30mago", k_now - k_hour - 30 * k_minute},
      {"1w2d3h4m5s", k_now - (k_week + 2 * k_day + 3 * k_hour + 4 * k_minute + 5)},
      {"1w2d3h4m5s ago", k_now - (k_week + 2 * k_day + 3 * k_hour + 4 * k_minute + 5)},
      {"2d12h", k_now - 2 * k_day - 12 * k_hour},
      {"1d1s", k_now - k_day - 1},
      {"1w1m", k_now - k_week - k_minute},
      {"0h0m0s", k_now},
      {"1h90m", k_now - k_hour - 90 * k_minute},
  });
}

TEST_CASE("time::parse_time whitespace", "[util][time]")
{
  check_rows({
      {" 2026-11-23 ", 1795392000},
      {"  2026-11-23 02:10  ", 1795399800},
      {"\r\n2026-11-23T02:10:00Z\r\n", 1795399800},
      {"\t3h\n", k_now - 3 * k_hour},
      {"  3h ago  ", k_now - 3 * k_hour},
      {"  now  ", k_now},
      {" 2026-11-23 03:10:00 +0100 ", 1795399800},
  });
}

TEST_CASE("time::parse_time bounds and overflow", "[util][time]")
{
  // 10000 years (3652425 days, 521775 weeks) is the longest duration.
  check_rows({
      {"3652425d", k_now - 3652425 * k_day},
      {"521775w", k_now - 521775 * k_week},
      {"87658200h", k_now - 87658200 * k_hour},
  });
  check_rows({{"now", k_max}, {"0s", k_max}, {"1s", k_max - 1}}, k_max);
  check_rows({{"now", k_min}, {"0s", k_min}}, k_min);
  check_rows({{"3652425d", k_min}}, k_min + 3652425 * k_day);

  for (const char* bad : {"3652426d", "521776w", "521775w1d", "315569520001s", "99999999999999999999999h",
                          "999999999999999999999999999999999999999999999999s", "9223372036854775807s",
                          "9223372036854775808s", "18446744073709551616m", "521775w0d0h0m1s"}) {
    INFO("input " << bad);
    CHECK_FALSE(try_parse_time(bad, k_now).has_value());
    CHECK(error_of(bad).find("10000 years") != std::string::npos);
  }
  // The duration fits, but now - duration does not.
  CHECK_FALSE(try_parse_time("1s", k_min).has_value());
  CHECK_FALSE(try_parse_time("3652425d", k_min + 3652425 * k_day - 1).has_value());
  CHECK_THROWS_AS(parse_time("1s", k_min), InputError);
}

TEST_CASE("time::parse_time rejects", "[util][time]")
{
  struct Bad {
    std::string in;
    std::string reason; // a fragment of the message that says what is wrong
    std::string shown;  // how the input appears in the message, when not just "in" in quotes
  };
  const std::vector<Bad> rows = {
      {"", "empty", ""},
      {"   ", "empty", ""},
      {"\t", "empty", "\"\\x09\""},
      {"2026-02-30", "day 30 does not exist in 2026-02", ""},
      {"2025-02-29", "day 29 does not exist in 2025-02", ""},
      {"1900-02-29", "day 29 does not exist in 1900-02", ""},
      {"2026-04-31", "day 31 does not exist in 2026-04", ""},
      {"2026-01-32", "day 32", ""},
      {"2026-01-00", "day 0 ", ""},
      {"2026-13-01", "month 13", ""},
      {"2026-00-10", "month 0 ", ""},
      {"2026-11-23T24:00", "hour 24", ""},
      {"2026-11-23 24:00:00", "hour 24", ""},
      {"2026-11-23T99:00Z", "hour 99", ""},
      {"2026-11-23T23:60", "minute 60", ""},
      {"2026-11-23T23:59:60Z", "second 60", ""},
      {"2026-11-23T23:59:99Z", "second 99", ""},
      {"2026-11-23T02:10:00+24:00", "offset", ""},
      {"2026-11-23T02:10:00+01:60", "offset", ""},
      {"2026-11-23T02:10:00+1", "offset", ""},
      {"2026-11-23T02:10:00+01", "offset", ""},
      {"2026-11-23T02:10:00+01:0", "offset", ""},
      {"2026-11-23T02:10:00+010", "offset", ""},
      {"2026-11-23T02:10:00 UTC", "offset", ""},
      {"2026-11-23T02:10:00  +01:00", "offset", ""},
      {"2026-11-23T02:10:00+01:00:00", "unexpected text", ""},
      {"2026-11-23T02:10:00ZZ", "unexpected text", ""},
      {"2026-11-23T02:10:00Z ago", "unexpected text", ""},
      {"2026-11-23x", "unexpected text", ""},
      {"2026-11-23  02:10", "HH:MM", ""},
      {"2026-11-23T", "HH:MM", ""},
      {"2026-11-23T2:10", "HH:MM", ""},
      {"2026-11-23T02", "HH:MM", ""},
      {"2026-11-23T02:1", "HH:MM", ""},
      {"2026-11-23T02:10:0", "HH:MM", ""},
      {"2026-11-23T02:10:00.", "decimal point", ""},
      {"2026-11-23T02:10:00,5Z", "offset", ""},
      {"2026-11-23T02:10.5", "offset", ""},
      {"2026-1-23", "YYYY-MM-DD", ""},
      {"2026-11-3", "YYYY-MM-DD", ""},
      {"2026-11", "YYYY-MM-DD", ""},
      {"26-11-23", "not a duration", ""},
      {"2026/11/23", "not a duration", ""},
      {"20261123", "needs a unit", ""},
      {"1795399800", "needs a unit", ""},
      {"3", "needs a unit", ""},
      {"1h30", "needs a unit", ""},
      {"-3h", "sign", ""},
      {"+3h", "sign", ""},
      {"-1", "sign", ""},
      {"3x", "not a duration", ""},
      {"3H", "not a duration", ""}, // units are lower case: 'M' would read as months elsewhere
      {"3 h", "not a duration", ""},
      {"1h 30m", "not a duration", ""},
      {"3hours", "not a duration", ""},
      {"1.5h", "not a duration", ""},
      {"1ms", "not a duration", ""},
      {"3h ago ago", "not a duration", ""},
      {"3h agox", "not a duration", ""},
      {"3h later", "not a duration", ""},
      {"30m1h", "descend", ""},
      {"1h1h", "descend", ""},
      {"1s1w", "descend", ""},
      {"h", "not a time", ""},
      {"ago", "not a time", ""},
      {"now ago", "not a time", ""},
      {"nowish", "not a time", ""},
      {"yesterday", "not a time", ""},
      {"deadbeef", "not a time", ""},
      {"HEAD~1", "not a time", ""},
      {"v1.2.3", "not a time", ""},
      {"\x01", "not a time", "\"\\x01\""},
  };
  for (const auto& row : rows) {
    INFO("input \"" << row.in << "\"");
    CHECK_FALSE(try_parse_time(row.in, k_now).has_value());
    CHECK_THROWS_AS(parse_time(row.in, k_now), InputError);
    const std::string message = error_of(row.in);
    INFO("message: " << message);
    const std::string shown = row.shown.empty() ? "\"" + row.in + "\"" : row.shown;
    CHECK(message.rfind("invalid time " + shown + ": ", 0) == 0);
    CHECK(message.find(row.reason) != std::string::npos);
    // The accepted forms are listed, on one line.
    CHECK(message.find("RFC 3339") != std::string::npos);
    CHECK(message.find("YYYY-MM-DD") != std::string::npos);
    CHECK(message.find("ago") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("time::parse_time calendar matches glibc timegm", "[util][time]")
{
  // Every day number 1..31 of every month from 1600 to 2400: valid exactly when glibc's
  // normalisation leaves the fields alone, and then the same Unix seconds.
  int mismatches = 0;
  int valid = 0;
  std::string first;
  for (int y = 1600; y <= 2400; ++y) {
    for (int m = 1; m <= 12; ++m) {
      for (int d = 1; d <= 31; ++d) {
        std::tm tm{};
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        const std::int64_t expected = timegm(&tm);
        const bool exists = tm.tm_year == y - 1900 && tm.tm_mon == m - 1 && tm.tm_mday == d;
        char text[32];
        std::snprintf(text, sizeof text, "%04d-%02d-%02d", y, m, d);
        const auto got = try_parse_time(text, k_now);
        valid += exists ? 1 : 0;
        if (got != (exists ? std::optional<std::int64_t>(expected) : std::nullopt)) {
          if (mismatches++ == 0) {
            first = text;
          }
        }
      }
    }
  }
  INFO("first mismatch: " << first);
  CHECK(mismatches == 0);
  // 801 years, 195 of them leap: 201 multiples of 4, less 1700, 1800, 1900, 2100, 2200, 2300.
  CHECK(valid == 801 * 365 + 195);
}

TEST_CASE("time::format_rfc3339_utc", "[util][time]")
{
  struct FormatRow {
    std::int64_t t;
    std::string rfc3339;
    std::string table;
  };
  const std::vector<FormatRow> rows = {
      {1795399800, "2026-11-23T02:10:00Z", "2026-11-23 02:10:00Z"},
      {0, "1970-01-01T00:00:00Z", "1970-01-01 00:00:00Z"},
      {-1, "1969-12-31T23:59:59Z", "1969-12-31 23:59:59Z"},
      {-14182940, "1969-07-20T20:17:40Z", "1969-07-20 20:17:40Z"},
      {951782400, "2000-02-29T00:00:00Z", "2000-02-29 00:00:00Z"},
      {1709164800, "2024-02-29T00:00:00Z", "2024-02-29 00:00:00Z"},
      {-2203891200, "1900-03-01T00:00:00Z", "1900-03-01 00:00:00Z"},
      {4107542400, "2100-03-01T00:00:00Z", "2100-03-01 00:00:00Z"},
      {2147483648, "2038-01-19T03:14:08Z", "2038-01-19 03:14:08Z"},
      {-2147483648, "1901-12-13T20:45:52Z", "1901-12-13 20:45:52Z"},
      {-62167219200, "0000-01-01T00:00:00Z", "0000-01-01 00:00:00Z"},
      {253402300799, "9999-12-31T23:59:59Z", "9999-12-31 23:59:59Z"},
      // The extremes of int64 (also what Java's Instant and others print): no overflow on the way.
      {k_max, "292277026596-12-04T15:30:07Z", "292277026596-12-04 15:30:07Z"},
      {k_min, "-292277022657-01-27T08:29:52Z", "-292277022657-01-27 08:29:52Z"},
  };
  for (const auto& row : rows) {
    INFO("t = " << row.t);
    CHECK(format_rfc3339_utc(row.t) == row.rfc3339);
    CHECK(format_table_utc(row.t) == row.table);
  }
}

TEST_CASE("time::format_rfc3339_utc matches glibc gmtime_r", "[util][time]")
{
  for (const std::int64_t t : sample(-62167219200, 253402300799, 20000)) {
    INFO("t = " << t);
    const std::string expected = glibc_rfc3339(t);
    REQUIRE(format_rfc3339_utc(t) == expected);
  }
}

TEST_CASE("time::round trip format -> parse", "[util][time]")
{
  const ScopedEnv tz("TZ", "Europe/Berlin");
  for (const std::int64_t t : sample(-62167219200, 253402300799, 20000)) {
    INFO("t = " << t << " " << format_rfc3339_utc(t));
    REQUIRE(parse_time(format_rfc3339_utc(t), k_now) == t);
    REQUIRE(parse_time(format_table_utc(t), k_now) == t);
  }
  // %z has no seconds: before 1893 Berlin kept local mean time (+00:53:28), so start after.
  for (const std::int64_t t : sample(-2208988800, 253402300799 - k_day, 5000)) {
    INFO("t = " << t << " " << format_local(t));
    REQUIRE(parse_time(format_local(t), k_now) == t);
  }
}

TEST_CASE("time::format_local", "[util][time]")
{
  SECTION("TZ=UTC")
  {
    const ScopedEnv tz("TZ", "UTC");
    CHECK(format_local(0) == "1970-01-01 00:00:00 +0000");
    CHECK(format_local(-1) == "1969-12-31 23:59:59 +0000");
    CHECK(format_local(1795399800) == "2026-11-23 02:10:00 +0000");
    CHECK(format_local(1782907200) == "2026-07-01 12:00:00 +0000");
    // Beyond what struct tm holds: the UTC table form instead of garbage.
    CHECK(format_local(k_max) == "292277026596-12-04 15:30:07Z");
  }
  SECTION("TZ=Europe/Berlin")
  {
    const ScopedEnv tz("TZ", "Europe/Berlin");
    CHECK(format_local(1795399800) == "2026-11-23 03:10:00 +0100");
    CHECK(format_local(1782907200) == "2026-07-01 14:00:00 +0200");
    CHECK(format_local(1774745999) == "2026-03-29 01:59:59 +0100");
    CHECK(format_local(1774746000) == "2026-03-29 03:00:00 +0200");
    CHECK(format_local(1792889999) == "2026-10-25 02:59:59 +0200");
    CHECK(format_local(1792890000) == "2026-10-25 02:00:00 +0100");
    CHECK(format_local(-1) == "1970-01-01 00:59:59 +0100");
    CHECK(format_local(0) == "1970-01-01 01:00:00 +0100");
  }
  SECTION("a TZ changed without tzset() still counts")
  {
    const ScopedEnv tz("TZ", "UTC");
    CHECK(format_local(1795399800) == "2026-11-23 02:10:00 +0000");
    setenv("TZ", "Europe/Berlin", 1); // deliberately no tzset(): format_local must notice
    CHECK(format_local(1795399800) == "2026-11-23 03:10:00 +0100");
  }
}

TEST_CASE("time::now_seconds honours CHANGETRAIL_NOW", "[util][time]")
{
  SECTION("unset or empty: the clock")
  {
    for (const std::optional<std::string>& value : {std::optional<std::string>(), std::optional<std::string>("")}) {
      const ScopedEnv env("CHANGETRAIL_NOW", value);
      const std::int64_t before = std::time(nullptr);
      const std::int64_t got = now_seconds();
      const std::int64_t after = std::time(nullptr);
      CHECK(before <= got);
      CHECK(got <= after);
    }
  }
  SECTION("accepted values")
  {
    const std::vector<Row> rows = {
        {"1795399800", 1795399800},
        {" 1795399800 ", 1795399800},
        {"0", 0},
        {"-86400", -86400},
        {"253402300799", 253402300799},
        {"-62167219200", -62167219200},
        {"000000000000000000000000000042", 42},
        {"2026-11-23T02:10:00Z", 1795399800},
        {"2026-11-23T03:10:00+01:00", 1795399800},
        {"2026-11-23T02:10:00.5Z", 1795399800},
        {"2026-11-23 02:10", 1795399800},
        {"2026-11-23", 1795392000},
        {"1969-12-31T23:59:59Z", -1},
    };
    for (const auto& row : rows) {
      INFO("CHANGETRAIL_NOW=\"" << row.in << "\"");
      const ScopedEnv env("CHANGETRAIL_NOW", row.in);
      CHECK(now_seconds() == row.expected);
    }
  }
  SECTION("rejected values")
  {
    for (const std::string value :
         {"3h", "3h ago", "now", "yesterday", "2026-02-30", "2026-11-23T24:00", "1795399800s", "12abc", "-", "+5",
          "253402300800", "-62167219201", "99999999999999999999999", "-99999999999999999999999", "1e9", "0x10"}) {
      INFO("CHANGETRAIL_NOW=\"" << value << "\"");
      const ScopedEnv env("CHANGETRAIL_NOW", value);
      std::string message = "(no exception)";
      try {
        (void)now_seconds();
      } catch (const InputError& e) {
        message = e.what();
      }
      INFO("message: " << message);
      CHECK(message.rfind("invalid CHANGETRAIL_NOW \"" + value + "\": ", 0) == 0);
      CHECK(message.find("Unix seconds") != std::string::npos);
    }
  }
  SECTION("parse_time with now_seconds() is reproducible")
  {
    const ScopedEnv env("CHANGETRAIL_NOW", "2026-11-23T02:10:00Z");
    CHECK(parse_time("90m ago", now_seconds()) == 1795399800 - 90 * k_minute);
    CHECK(parse_time("now", now_seconds()) == 1795399800);
  }
}
