// Table tests of changetrail::util::glob_match: '*' and '?' stay within one '/'-separated segment,
// "**" spans any number of whole segments (also none), classes [abc] [a-z] [!a], an unterminated
// '[' is a literal; with star_crosses_slash '*' also matches '/'.

#include <changetrail/util/glob.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using changetrail::util::glob_match;

struct GlobRow {
  std::string pattern;
  std::string text;
  bool expected;
};

void check_rows(const std::vector<GlobRow>& rows, bool star_crosses_slash)
{
  for (const auto& row : rows) {
    INFO("pattern \"" << row.pattern << "\" text \"" << row.text << "\" star_crosses_slash " << star_crosses_slash);
    CHECK(glob_match(row.pattern, row.text, star_crosses_slash) == row.expected);
  }
}

} // namespace

TEST_CASE("glob: literals", "[util][glob]")
{
  check_rows(
    {
      {"", "", true},
      {"", "a", false},
      {"a", "", false},
      {"values.yaml", "values.yaml", true},
      {"values.yaml", "values.yml", false},
      {"values.yaml", "values.yaml.bak", false},
      {"values.yaml", "xvalues.yaml", false},
      {"a/b", "a/b", true},
      {"a/b", "a/b/c", false},
      {"a/b", "a", false},
      {"a/b", "a/c", false},
    },
    false);
}

TEST_CASE("glob: '*' within one segment", "[util][glob]")
{
  check_rows(
    {
      {"*", "", true},
      {"*", "values.yaml", true},
      {"*", "a/b", false},
      {"*.yaml", "values.yaml", true},
      {"*.yaml", ".yaml", true},
      {"*.yaml", "values.yml", false},
      {"*.yaml", "dir/values.yaml", false},
      {"values*", "values-prod.yaml", true},
      {"v*s.yaml", "values.yaml", true},
      {"v*s.yaml", "v/s.yaml", false},
      {"*/*", "a/b", true},
      {"*/*", "a", false},
      {"*/*", "a/b/c", false},
      {"charts/*/values.yaml", "charts/app/values.yaml", true},
      {"charts/*/values.yaml", "charts/values.yaml", false},
      {"charts/*/values.yaml", "charts/a/b/values.yaml", false},
      {"*-prod/*.yaml", "eu-prod/app.yaml", true},
      {"*-prod/*.yaml", "eu-staging/app.yaml", false},
      {"a*b*c", "abc", true},
      {"a*b*c", "axxbyyc", true},
      {"a*b*c", "axxbyy", false},
      {"a*b*c", "ax/bc", false},
    },
    false);
}

TEST_CASE("glob: '**' across segments", "[util][glob]")
{
  check_rows(
    {
      {"**", "", true},
      {"**", "a", true},
      {"**", "a/b/c.yaml", true},
      // zero segments
      {"a/**/b", "a/b", true},
      {"a/**/b", "a/x/b", true},
      {"a/**/b", "a/x/y/z/b", true},
      {"a/**/b", "a/b/c", false},
      {"a/**/b", "ab", false},
      {"a/**/b", "b", false},
      {"a/**/b", "x/a/b", false},
      // "**/" stands for whole directories: it never ends inside a segment.
      {"a/**/b", "a/xb", false},
      {"a/**/b", "a/x/yb", false},
      {"**/x.yaml", "x.yaml", true},
      {"**/x.yaml", "dir/x.yaml", true},
      {"**/x.yaml", "dir/sub/x.yaml", true},
      {"**/x.yaml", "dir/x.yaml.bak", false},
      {"**/x.yaml", "dir/y.yaml", false},
      {"**/x.yaml", "ax.yaml", false},
      {"**/x.yaml", "dir/ax.yaml", false},
      {"tests/**", "tests/a", true},
      {"tests/**", "tests/a/b/c.yaml", true},
      {"tests/**", "testsx/a", false},
      {"tests/**", "other/tests/a", false},
      {"tests/**", "src/a", false},
      {"**/charts/**/values*.yaml", "charts/values.yaml", true},
      {"**/charts/**/values*.yaml", "deploy/charts/app/values-prod.yaml", true},
      {"**/charts/**/values*.yaml", "deploy/charts/app/templates/values.yaml", true},
      {"**/charts/**/values*.yaml", "deploy/charts/app/other.yaml", false},
      {"**/charts/**/values*.yaml", "deploy/mycharts/app/values.yaml", false},
      {"**/*.yaml", "a.yaml", true},
      {"**/*.yaml", "a/b/c.yaml", true},
      {"**/*.yaml", "a/b/c.yml", false},
      {"a/**", "a/b", true},
      {"a/**", "b/a/c", false},
    },
    false);
}

TEST_CASE("glob: '?' matches one character within a segment", "[util][glob]")
{
  check_rows(
    {
      {"?", "a", true},
      {"?", "", false},
      {"?", "ab", false},
      {"?", "/", false},
      {"?.yaml", "a.yaml", true},
      {"?.yaml", "ab.yaml", false},
      {"a?b", "axb", true},
      {"a?b", "a/b", false},
      {"v??", "v12", true},
      {"v??", "v1", false},
    },
    false);
}

TEST_CASE("glob: character classes", "[util][glob]")
{
  check_rows(
    {
      {"[a-z].txt", "q.txt", true},
      {"[a-z].txt", "Q.txt", false},
      {"[a-z].txt", "1.txt", false},
      {"[abc]", "b", true},
      {"[abc]", "d", false},
      {"[abc]", "", false},
      {"[abc]", "ab", false},
      {"[0-9][0-9]", "42", true},
      {"[0-9][0-9]", "4x", false},
      {"[a-cx-z]", "y", true},
      {"[a-cx-z]", "m", false},
      {"[!a]x", "bx", true},
      {"[!a]x", "ax", false},
      {"[!a-c]", "d", true},
      {"[!a-c]", "b", false},
      {"env-[ps]*/*.yaml", "env-prod/app.yaml", true},
      {"env-[ps]*/*.yaml", "env-staging/app.yaml", true},
      {"env-[ps]*/*.yaml", "env-dev/app.yaml", false},
      // A leading ']' is part of the class.
      {"[]a]", "]", true},
      {"[]a]", "a", true},
      {"[]a]", "b", false},
    },
    false);
}

TEST_CASE("glob: an unterminated '[' is a literal", "[util][glob]")
{
  check_rows(
    {
      {"[", "[", true},
      {"[", "a", false},
      {"a[b", "a[b", true},
      {"a[b", "ab", false},
      {"a[", "a[", true},
      {"[!", "[!", true},
      {"*[", "abc[", true},
      {"*[", "abc", false},
    },
    false);
}

TEST_CASE("glob: star_crosses_slash", "[util][glob]")
{
  check_rows(
    {
      {"ghcr.io/acme/*", "ghcr.io/acme/app", true},
      {"ghcr.io/acme/*", "ghcr.io/acme/team/app", true},
      {"ghcr.io/acme/*", "ghcr.io/other/app", false},
      {"ghcr.io/acme/*", "ghcr.io/acme", false},
      {"*", "a/b/c", true},
      {"*/app", "ghcr.io/acme/app", true},
      {"*/app", "ghcr.io/acme/application", false},
      {"docker.io/library/*", "docker.io/library/nginx", true},
      {"docker.io/library/*", "docker.io/bitnami/redis", false},
      {"*.example.com/*", "registry.example.com/team/app", true},
      {"*.example.com/*", "example.com/team/app", false},
    },
    true);
  // The same patterns without the flag keep '*' inside one segment.
  check_rows(
    {
      {"ghcr.io/acme/*", "ghcr.io/acme/app", true},
      {"ghcr.io/acme/*", "ghcr.io/acme/team/app", false},
      {"*", "a/b/c", false},
      {"*/app", "ghcr.io/acme/app", false},
    },
    false);
}

TEST_CASE("glob: pathological patterns return", "[util][glob]")
{
  // A backtracking matcher takes exponential time on these; the test only needs them to return.
  const std::string as(20000, 'a');
  CHECK_FALSE(glob_match("*a*a*a*a*a*b", as));
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", as, true));
  CHECK(glob_match("*a*a*a*a*a*", as));
  CHECK_FALSE(glob_match("**a**a**a**a**a**b", as));

  std::string deep;
  for (int i = 0; i < 2000; ++i) {
    deep += "d/";
  }
  CHECK(glob_match("**/**/**/**/**/x.yaml", deep + "x.yaml"));
  CHECK_FALSE(glob_match("**/**/**/**/**/x.yaml", deep + "y.yaml"));
  CHECK_FALSE(glob_match("**/d/**/d/**/d/**/e", deep + "x"));

  std::string many_stars;
  for (int i = 0; i < 200; ++i) {
    many_stars += "*a";
  }
  CHECK_FALSE(glob_match(many_stars + "b", std::string(5000, 'a')));
}
