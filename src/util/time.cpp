#include <changetrail/util/error.hpp>
#include <changetrail/util/strings.hpp>
#include <changetrail/util/time.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>

namespace changetrail::util {

namespace {

constexpr std::int64_t k_day = 86400;

// Durations are bounded so that `count * unit` and their sum stay far from int64 overflow:
// 10000 Gregorian years (3652425 days) is more history than any ledger holds.
constexpr std::int64_t k_max_duration = 3652425 * k_day;

// Absolute inputs have four-digit years; CHANGETRAIL_NOW as an integer is held to the same range.
constexpr std::int64_t k_min_year_seconds = -62167219200; // 0000-01-01T00:00:00Z
constexpr std::int64_t k_max_year_seconds = 253402300799; // 9999-12-31T23:59:59Z

constexpr std::string_view k_accepted =
    "expected RFC 3339 (2026-11-23T02:10:00Z, 2026-11-23T03:10:00+01:00), YYYY-MM-DD[ HH:MM[:SS]] "
    "(UTC unless an offset follows), a duration (45s, 90m, 3h, 2d, 1w, 1h30m, optionally followed by \"ago\") "
    "or now";

// Why an input was rejected. Plain data, so that try_parse_time allocates nothing and can be noexcept.
enum class Problem : unsigned char {
  empty,
  unrecognised,
  signed_duration,
  bare_number,
  date_syntax,
  month_range,
  day_range,
  time_syntax,
  hour_range,
  minute_range,
  second_range,
  fraction_syntax,
  offset_syntax,
  offset_range,
  trailing_text,
  duration_syntax,
  unit_order,
  duration_too_large,
  result_out_of_range,
};

struct Failure {
  Problem problem;
  std::int64_t a = 0; // the offending number, or the year for day_range
  std::int64_t b = 0; // the month for day_range
};

// A value, or why there is none.
struct Parsed {
  std::optional<std::int64_t> value;
  Failure failure{Problem::unrecognised};
};

Parsed ok(std::int64_t v)
{
  return Parsed{v, {Problem::unrecognised}};
}

Parsed fail(Problem p, std::int64_t a = 0, std::int64_t b = 0)
{
  return Parsed{std::nullopt, {p, a, b}};
}

bool is_digit(char c)
{
  return c >= '0' && c <= '9';
}

bool is_blank(char c)
{
  return c == ' ' || c == '\t';
}

bool is_leap(std::int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

std::int64_t days_in_month(std::int64_t y, std::int64_t m)
{
  constexpr std::int64_t k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : k_days[m - 1];
}

// Floor division, so that times before 1970 land on the right day.
std::int64_t floor_div(std::int64_t a, std::int64_t b)
{
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant, "chrono-Compatible
// Low-Level Date Algorithms", days_from_civil): exact for every year, no table, no TZ.
std::int64_t days_from_civil(std::int64_t y, std::int64_t m, std::int64_t d)
{
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;                                   // [0, 399]
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + doe - 719468;
}

struct Civil {
  std::int64_t year;
  std::int64_t month;
  std::int64_t day;
  std::int64_t hour;
  std::int64_t minute;
  std::int64_t second;
};

// The inverse (civil_from_days of the same paper). |t| / 86400 is below 1.1e14, so no step
// of it can overflow for any int64 `t`.
Civil civil_from_seconds(std::int64_t t)
{
  const std::int64_t days = floor_div(t, k_day);
  // Not t - days * k_day: for t near INT64_MIN the floored product overflows.
  const std::int64_t rem = t % k_day;
  const std::int64_t secs = rem < 0 ? rem + k_day : rem; // [0, 86399]
  const std::int64_t z = days + 719468;
  const std::int64_t era = floor_div(z, 146097);
  const std::int64_t doe = z - era * 146097;                                      // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                    // [0, 11]
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return Civil{y, m, d, secs / 3600, secs % 3600 / 60, secs % 60};
}

// Reads exactly `n` digits at `pos`; nullopt (and `pos` untouched) when they are not there.
std::optional<std::int64_t> fixed_digits(std::string_view s, std::size_t& pos, std::size_t n)
{
  if (s.size() - pos < n) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!is_digit(c)) {
      return std::nullopt;
    }
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool take(std::string_view s, std::size_t& pos, char c)
{
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// Z, +HH:MM, -HH:MM or +HHMM (the last as git and format_local print it), in seconds east of UTC.
Parsed parse_offset(std::string_view s, std::size_t& pos)
{
  if (take(s, pos, 'Z') || take(s, pos, 'z')) {
    return ok(0);
  }
  std::int64_t sign = 0;
  if (take(s, pos, '+')) {
    sign = 1;
  } else if (take(s, pos, '-')) {
    sign = -1;
  } else {
    return fail(Problem::offset_syntax);
  }
  const auto hours = fixed_digits(s, pos, 2);
  take(s, pos, ':');
  const auto minutes = fixed_digits(s, pos, 2);
  if (!hours || !minutes) {
    return fail(Problem::offset_syntax);
  }
  // RFC 3339 section 5.6: time-numoffset is HH 00..23, MM 00..59.
  if (*hours > 23) {
    return fail(Problem::offset_range, *hours);
  }
  if (*minutes > 59) {
    return fail(Problem::offset_range, *minutes);
  }
  return ok(sign * (*hours * 3600 + *minutes * 60));
}

// YYYY-MM-DD with an optional time of day and offset; `s` is trimmed.
Parsed parse_absolute(std::string_view s)
{
  std::size_t pos = 0;
  const auto year = fixed_digits(s, pos, 4);
  const bool dash1 = year && take(s, pos, '-');
  const auto month = dash1 ? fixed_digits(s, pos, 2) : std::nullopt;
  const bool dash2 = month && take(s, pos, '-');
  const auto day = dash2 ? fixed_digits(s, pos, 2) : std::nullopt;
  if (!day) {
    return fail(Problem::date_syntax);
  }
  if (*month < 1 || *month > 12) {
    return fail(Problem::month_range, *month);
  }
  if (*day < 1 || *day > days_in_month(*year, *month)) {
    return fail(Problem::day_range, *day, *year * 100 + *month);
  }
  const std::int64_t midnight = days_from_civil(*year, *month, *day) * k_day;
  if (pos == s.size()) {
    return ok(midnight);
  }
  if (!(take(s, pos, 'T') || take(s, pos, 't') || take(s, pos, ' '))) {
    return fail(Problem::trailing_text);
  }

  const auto hour = fixed_digits(s, pos, 2);
  const bool colon = hour && take(s, pos, ':');
  const auto minute = colon ? fixed_digits(s, pos, 2) : std::nullopt;
  if (!minute) {
    return fail(Problem::time_syntax);
  }
  std::optional<std::int64_t> second = 0;
  if (take(s, pos, ':')) {
    second = fixed_digits(s, pos, 2);
    if (!second) {
      return fail(Problem::time_syntax);
    }
    if (take(s, pos, '.')) {
      // Fractions are dropped: flooring to the second is what a committer time can be compared to.
      const std::size_t start = pos;
      while (pos < s.size() && is_digit(s[pos])) {
        ++pos;
      }
      if (pos == start) {
        return fail(Problem::fraction_syntax);
      }
    }
  }
  if (*hour > 23) {
    return fail(Problem::hour_range, *hour);
  }
  if (*minute > 59) {
    return fail(Problem::minute_range, *minute);
  }
  // Leap seconds are not representable in Unix time; 60 is rejected rather than silently folded.
  if (*second > 59) {
    return fail(Problem::second_range, *second);
  }

  std::int64_t offset = 0;
  if (pos < s.size()) {
    // One space before the offset lets "2026-11-23 03:10:00 +0100" (format_local) read back.
    take(s, pos, ' ');
    const Parsed off = parse_offset(s, pos);
    if (!off.value) {
      return off;
    }
    offset = *off.value;
  }
  if (pos != s.size()) {
    return fail(Problem::trailing_text);
  }
  return ok(midnight + *hour * 3600 + *minute * 60 + *second - offset);
}

std::int64_t unit_seconds(char unit)
{
  switch (unit) {
  case 'w':
    return 7 * k_day;
  case 'd':
    return k_day;
  case 'h':
    return 3600;
  case 'm':
    return 60;
  case 's':
    return 1;
  default:
    return 0;
  }
}

// 90m, 1h30m, 2d ago, 3hago: `now` minus the sum. Units must descend (w d h m s) and appear once,
// so a typo like "30m1h" or "1h1h" is reported rather than guessed at.
Parsed parse_relative(std::string_view s, std::int64_t now)
{
  std::size_t pos = 0;
  std::int64_t total = 0;
  std::int64_t last_unit = std::numeric_limits<std::int64_t>::max();
  while (true) {
    const std::size_t start = pos;
    std::int64_t count = 0;
    while (pos < s.size() && is_digit(s[pos])) {
      count = count * 10 + (s[pos] - '0');
      // Bounded before it can overflow: count <= k_max_duration keeps count * 10 + 9 in range.
      if (count > k_max_duration) {
        return fail(Problem::duration_too_large);
      }
      ++pos;
    }
    if (pos == start) {
      return fail(Problem::duration_syntax);
    }
    if (pos == s.size()) {
      return fail(Problem::bare_number);
    }
    const std::int64_t unit = unit_seconds(s[pos]);
    if (unit == 0) {
      return fail(Problem::duration_syntax);
    }
    if (unit >= last_unit) {
      return fail(Problem::unit_order);
    }
    last_unit = unit;
    ++pos;
    // count <= k_max_duration and unit <= one week: the product is below 2e17.
    const std::int64_t part = count * unit;
    if (part > k_max_duration - total) {
      return fail(Problem::duration_too_large);
    }
    total += part;

    if (pos == s.size()) {
      break;
    }
    if (is_digit(s[pos])) {
      continue;
    }
    while (pos < s.size() && is_blank(s[pos])) {
      ++pos;
    }
    if (iequals(s.substr(pos), "ago")) {
      break;
    }
    return fail(Problem::duration_syntax);
  }
  if (now < std::numeric_limits<std::int64_t>::min() + total) {
    return fail(Problem::result_out_of_range);
  }
  return ok(now - total);
}

Parsed parse(std::string_view text, std::int64_t now)
{
  const std::string_view s = trim(text);
  if (s.empty()) {
    return fail(Problem::empty);
  }
  if (iequals(s, "now")) {
    return ok(now);
  }
  if (s.size() >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) && s[4] == '-') {
    return parse_absolute(s);
  }
  if ((s[0] == '-' || s[0] == '+') && s.size() > 1 && is_digit(s[1])) {
    return fail(Problem::signed_duration);
  }
  if (is_digit(s[0])) {
    return parse_relative(s, now);
  }
  return fail(Problem::unrecognised);
}

std::string describe(const Failure& f)
{
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  switch (f.problem) {
  case Problem::empty:
    return "empty";
  case Problem::unrecognised:
    return "not a time";
  case Problem::signed_duration:
    return "a duration cannot have a sign (\"3h\" and \"3h ago\" both mean 3 hours before now)";
  case Problem::bare_number:
    return "a number needs a unit (s, m, h, d or w)";
  case Problem::date_syntax:
    return "the date is not YYYY-MM-DD";
  case Problem::month_range:
    return "month " + n(f.a) + " is not 01..12";
  case Problem::day_range: {
    char ym[48];
    std::snprintf(ym, sizeof ym, "%04lld-%02lld", static_cast<long long>(f.b / 100), static_cast<long long>(f.b % 100));
    return "day " + n(f.a) + " does not exist in " + ym;
  }
  case Problem::time_syntax:
    return "the time of day is not HH:MM or HH:MM:SS";
  case Problem::hour_range:
    return "hour " + n(f.a) + " is not 00..23";
  case Problem::minute_range:
    return "minute " + n(f.a) + " is not 00..59";
  case Problem::second_range:
    return "second " + n(f.a) + " is not 00..59";
  case Problem::fraction_syntax:
    return "no digits after the decimal point";
  case Problem::offset_syntax:
    return "the offset is not Z, +HH:MM, -HH:MM or +HHMM";
  case Problem::offset_range:
    return "offset field " + n(f.a) + " is out of range";
  case Problem::trailing_text:
    return "unexpected text after the date or time";
  case Problem::duration_syntax:
    return "not a duration";
  case Problem::unit_order:
    return "duration units must descend (w, d, h, m, s) and appear once";
  case Problem::duration_too_large:
    return "duration longer than 10000 years";
  case Problem::result_out_of_range:
    return "result out of range";
  }
  return "not a time";
}

} // namespace

std::int64_t now_seconds()
{
  const char* env = std::getenv("CHANGETRAIL_NOW");
  if (env == nullptr || *env == '\0') {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  const std::string_view s = trim(env);
  const auto fail_env = [&](const std::string& reason) {
    return InputError("invalid CHANGETRAIL_NOW " + quote(env) + ": " + reason +
                      "; expected integer Unix seconds or an RFC 3339 time (2026-11-23T02:10:00Z)");
  };
  std::size_t pos = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (pos < s.size() && is_digit(s[pos]) && s.find_first_not_of("0123456789", pos) == std::string_view::npos) {
    std::int64_t v = 0;
    for (; pos < s.size(); ++pos) {
      v = v * 10 + (s[pos] - '0');
      // Checked per digit, so a long string of digits cannot overflow.
      if (v > k_max_year_seconds) {
        throw fail_env("outside the years 0000..9999");
      }
    }
    v = s[0] == '-' ? -v : v;
    if (v < k_min_year_seconds) {
      throw fail_env("outside the years 0000..9999");
    }
    return v;
  }
  // Only absolute forms: a relative CHANGETRAIL_NOW would depend on the clock it is meant to replace.
  if (s.size() < 5 || s[4] != '-') {
    throw fail_env("not a time");
  }
  const Parsed p = parse_absolute(s);
  if (!p.value) {
    throw fail_env(describe(p.failure));
  }
  return *p.value;
}

std::int64_t parse_time(std::string_view text, std::int64_t now)
{
  const Parsed p = parse(text, now);
  if (!p.value) {
    throw InputError("invalid time " + quote(text) + ": " + describe(p.failure) + "; " + std::string(k_accepted));
  }
  return *p.value;
}

std::optional<std::int64_t> try_parse_time(std::string_view text, std::int64_t now) noexcept
{
  return parse(text, now).value;
}

std::string format_rfc3339_utc(std::int64_t t)
{
  const Civil c = civil_from_seconds(t);
  if (c.year >= 0 && c.year <= 9999) {
    // The usual case by hand: queries format two times per event, and snprintf was a tenth of
    // a large timeline.
    std::string out(20, '0');
    const auto put = [&out](std::size_t at, std::int64_t v, int digits) {
      for (int i = digits - 1; i >= 0; --i) {
        out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
        v /= 10;
      }
    };
    put(0, c.year, 4);
    out[4] = '-';
    put(5, c.month, 2);
    out[7] = '-';
    put(8, c.day, 2);
    out[10] = 'T';
    put(11, c.hour, 2);
    out[13] = ':';
    put(14, c.minute, 2);
    out[16] = ':';
    put(17, c.second, 2);
    out[19] = 'Z';
    return out;
  }
  char buf[96]; // room for any int64: the compiler checks the widest case
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", static_cast<long long>(c.year),
                static_cast<long long>(c.month), static_cast<long long>(c.day), static_cast<long long>(c.hour),
                static_cast<long long>(c.minute), static_cast<long long>(c.second));
  return buf;
}

std::string format_table_utc(std::int64_t t)
{
  std::string s = format_rfc3339_utc(t);
  // Same fields; only the 'T' (10th character from the end, "THH:MM:SSZ") differs.
  s[s.size() - 10] = ' ';
  return s;
}

std::string format_local(std::int64_t t)
{
  // glibc's localtime_r reads TZ only once per process; tzset() makes a changed TZ count.
  tzset();
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (static_cast<std::int64_t>(tt) != t || localtime_r(&tt, &tm) == nullptr) {
    return format_table_utc(t);
  }
  char buf[160];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z", &tm);
  if (n == 0) {
    return format_table_utc(t);
  }
  return std::string(buf, n);
}

} // namespace changetrail::util
