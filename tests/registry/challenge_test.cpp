// Table-driven tests of registry::parse_challenges (RFC 9110 section 11.6.1, REGISTRY.md "HTTP flow"
// step 1). The expectations come from the grammar, not from the parser's output:
//   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//   auth-param = token BWS "=" BWS ( token / quoted-string )
// with empty list elements allowed, scheme and parameter names lower-cased, values unquoted,
// unescaped and otherwise kept as written. A malformed part ends its challenge (the parameters
// before it are kept); parsing resumes at the next comma.

#include <changetrail/registry/challenge.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace {

using changetrail::registry::Challenge;
using changetrail::registry::parse_challenges;

// Printable, unambiguous form of a parse result for failure messages and comparisons.
std::string escape(const std::string& s)
{
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') {
      static const char* const digits = "0123456789abcdef";
      out += "\\x";
      out += digits[u >> 4];
      out += digits[u & 0xF];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string describe(const std::vector<Challenge>& challenges)
{
  std::string out;
  for (const auto& c : challenges) {
    out += escape(c.scheme) + " {";
    for (const auto& [name, value] : c.params) {
      out += " " + escape(name) + "=" + escape(value);
    }
    out += " }\n";
  }
  return out.empty() ? "(none)\n" : out;
}

struct Row {
  const char* what;
  std::vector<std::string> values;
  std::vector<Challenge> expected;
};

const std::string k_hub =
    R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull")";

std::vector<Row> rows()
{
  return {
      {"Docker Hub's header",
       {k_hub},
       {{"bearer",
         {{"realm", "https://auth.docker.io/token"},
          {"service", "registry.docker.io"},
          {"scope", "repository:library/nginx:pull"}}}}},
      {"GHCR's header",
       {R"(Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:octo-org/app:pull")"},
       {{"bearer",
         {{"realm", "https://ghcr.io/token"}, {"service", "ghcr.io"}, {"scope", "repository:octo-org/app:pull"}}}}},
      {"distribution's Basic realm", {R"(Basic realm="Registry Realm")"}, {{"basic", {{"realm", "Registry Realm"}}}}},
      {"two challenges in one header",
       {R"(Bearer realm="x",service="y", Basic realm="z")"},
       {{"bearer", {{"realm", "x"}, {"service", "y"}}}, {"basic", {{"realm", "z"}}}}},
      {"two challenges, the first with one parameter",
       {R"(Basic realm="a", Bearer realm="b", scope="c")"},
       {{"basic", {{"realm", "a"}}}, {"bearer", {{"realm", "b"}, {"scope", "c"}}}}},
      {"two header lines",
       {R"(Bearer realm="https://auth.example/token",service="example")", R"(Basic realm="example")"},
       {{"bearer", {{"realm", "https://auth.example/token"}, {"service", "example"}}},
        {"basic", {{"realm", "example"}}}}},
      {"escapes in a quoted-string", {R"(Basic realm="a\"b\\c")"}, {{"basic", {{"realm", R"(a"b\c)"}}}}},
      {"escaped ordinary character", {R"(Basic realm="\a\,b")"}, {{"basic", {{"realm", "a,b"}}}}},
      {"comma inside a quoted value",
       {R"(Bearer scope="repository:a:pull,push", realm="r")"},
       {{"bearer", {{"scope", "repository:a:pull,push"}, {"realm", "r"}}}}},
      {"empty quoted value", {R"(Basic realm="")"}, {{"basic", {{"realm", ""}}}}},
      {"unquoted values",
       {"Bearer realm=abc,service=Registry.Example"},
       {{"bearer", {{"realm", "abc"}, {"service", "Registry.Example"}}}}},
      {"spaces around = and ,",
       {R"(Bearer realm = "x" , service= y ,scope ="z")"},
       {{"bearer", {{"realm", "x"}, {"service", "y"}, {"scope", "z"}}}}},
      {"tabs as whitespace",
       {"Bearer\trealm\t=\t\"x\"\t,\tservice=y"},
       {{"bearer", {{"realm", "x"}, {"service", "y"}}}}},
      {"case: scheme and names lower-cased, values kept",
       {R"(BEARER Realm="HTTPS://Auth.Example/Token",SERVICE=Reg)"},
       {{"bearer", {{"realm", "HTTPS://Auth.Example/Token"}, {"service", "Reg"}}}}},
      {"token68",
       {"Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg=="},
       {{"negotiate", {{"", "YIIBhwYGKwYBBQUCoIIBezCCAXeg=="}}}}},
      {"token68 with every allowed character", {"Custom aZ09-._~+/=="}, {{"custom", {{"", "aZ09-._~+/=="}}}}},
      {"token68 then another challenge",
       {R"(Negotiate abc, Basic realm="r")"},
       {{"negotiate", {{"", "abc"}}}, {"basic", {{"realm", "r"}}}}},
      {"token68 that looks like a name=", {"Bearer realm="}, {{"bearer", {{"", "realm="}}}}},
      {"error=invalid_token",
       {R"(Bearer realm="https://auth.example/token",error="invalid_token",error_description="The access token expired")"},
       {{"bearer",
         {{"realm", "https://auth.example/token"},
          {"error", "invalid_token"},
          {"error_description", "The access token expired"}}}}},
      {"error=insufficient_scope",
       {R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push",error="insufficient_scope")"},
       {{"bearer",
         {{"realm", "https://auth.docker.io/token"},
          {"service", "registry.docker.io"},
          {"scope", "repository:samalba/my-app:pull,push"},
          {"error", "insufficient_scope"}}}}},
      {"scheme alone", {"Basic"}, {{"basic", {}}}},
      {"schemes alone in a list", {"Basic, Negotiate"}, {{"basic", {}}, {"negotiate", {}}}},
      {"empty list elements",
       {R"(, ,Basic realm="a",, ,Bearer realm="b",,)"},
       {{"basic", {{"realm", "a"}}}, {"bearer", {{"realm", "b"}}}}},
      {"empty elements between parameters",
       {R"(Bearer realm="a",,  ,service="b")"},
       {{"bearer", {{"realm", "a"}, {"service", "b"}}}}},
      {"a lone token after a comma is the next challenge",
       {R"(Bearer realm="x", service, Basic realm="z")"},
       {{"bearer", {{"realm", "x"}}}, {"service", {}}, {"basic", {{"realm", "z"}}}}},
      {"duplicate parameter kept in order", {"Basic realm=a, realm=b"}, {{"basic", {{"realm", "a"}, {"realm", "b"}}}}},
      {"header line ending kept by the caller", {"Basic realm=\"a\"\r\n"}, {{"basic", {{"realm", "a"}}}}},
      // Malformed input.
      {"empty list", {}, {}},
      {"empty value", {""}, {}},
      {"only separators", {" , ,\t"}, {}},
      {"a quoted string alone", {R"("just text")"}, {}},
      {"= alone", {"="}, {}},
      {"parameter without a scheme", {R"(realm="x")"}, {}},
      {"punctuation", {"@@@ (x) {y}"}, {}},
      {"parameter without a scheme, then a challenge",
       {R"(realm="x", Basic realm="y")"},
       {{"basic", {{"realm", "y"}}}}},
      {"unterminated quote", {R"(Bearer realm="https://auth)"}, {{"bearer", {}}}},
      {"unterminated quote swallows the rest",
       {R"(Bearer service="a", realm="unterminated, Basic realm=z)"},
       {{"bearer", {{"service", "a"}}}}},
      {"backslash at the very end", {R"(Basic realm="a\)"}, {{"basic", {}}}},
      {"junk after a value drops the parameter and ends the challenge",
       {R"(Basic charset="UTF-8", realm="x" junk, Bearer realm="y")"},
       {{"basic", {{"charset", "UTF-8"}}}, {"bearer", {{"realm", "y"}}}}},
      {"parameters after a malformed one belong to no challenge",
       {R"(Bearer realm="x" junk, service="s")"},
       {{"bearer", {}}}},
      {"control character in a quoted value",
       {"Bearer realm=\"a\x01b\", Basic realm=\"z\""},
       {{"bearer", {}}, {"basic", {{"realm", "z"}}}}},
      {"name without value",
       {R"(Bearer service="s", realm=, Basic realm="z")"},
       {{"bearer", {{"service", "s"}}}, {"basic", {{"realm", "z"}}}}},
      {"unquoted value with a character outside token", {"Bearer realm=https://x/token"}, {{"bearer", {}}}},
      {"scheme glued to a quote", {R"(Bearer"x", Basic realm="z")"}, {{"bearer", {}}, {"basic", {{"realm", "z"}}}}},
      {"a bad header line does not affect the next",
       {R"(Bearer realm="unterminated)", R"(Basic realm="ok")"},
       {{"bearer", {}}, {"basic", {{"realm", "ok"}}}}},
  };
}

} // namespace

TEST_CASE("registry::parse_challenges table", "[registry][challenge]")
{
  for (const Row& row : rows()) {
    INFO(row.what);
    for (const auto& v : row.values) {
      INFO("value " << escape(v));
    }
    CHECK(describe(parse_challenges(row.values)) == describe(row.expected));
  }
}

TEST_CASE("registry::Challenge::param", "[registry][challenge]")
{
  const auto challenges = parse_challenges({k_hub + R"(, Basic realm="b", realm="second")"});
  REQUIRE(challenges.size() == 2);
  CHECK(challenges[0].param("realm") == "https://auth.docker.io/token");
  CHECK(challenges[0].param("service") == "registry.docker.io");
  CHECK(challenges[0].param("scope") == "repository:library/nginx:pull");
  CHECK(challenges[0].param("error").empty());
  // The first of duplicate parameters wins.
  CHECK(challenges[1].param("realm") == "b");

  const auto token68 = parse_challenges({"Negotiate abc=="});
  REQUIRE(token68.size() == 1);
  CHECK(token68[0].param("") == "abc==");
  CHECK(token68[0].param("realm").empty());
}

// Bounded work: inputs that would make a backtracking or rescanning parser quadratic. A quadratic
// pass over a megabyte takes minutes; a linear one milliseconds, even under the sanitizers.
TEST_CASE("registry::parse_challenges stays linear on long input", "[registry][challenge]")
{
  const std::size_t n = 1 << 20;
  struct Long {
    const char* what;
    std::string value;
    std::size_t challenges;
  };
  std::string many;
  for (std::size_t i = 0; i < 40000; ++i) {
    many += R"(Bearer realm="x",service="y", )";
  }
  std::string params = "Bearer ";
  for (std::size_t i = 0; i < 60000; ++i) {
    params += "p=v, ";
  }
  const std::vector<Long> inputs = {
      {"commas", std::string(n, ','), 0},
      {"spaces then a token", std::string(n, ' ') + "a", 1},
      {"unterminated quote", "Basic realm=\"" + std::string(n, 'a'), 1},
      {"quotes", std::string(n, '"'), 0},
      {"backslashes in a quote", "Basic realm=\"" + std::string(n, '\\'), 1},
      {"tokens separated by spaces",
       [&] {
         std::string s;
         for (std::size_t i = 0; i < n / 2; ++i) {
           s += "a ";
         }
         return s;
       }(),
       1},
      {"equals", std::string(n, '='), 0},
      {"token68 padding", "Negotiate a" + std::string(n, '='), 1},
      {"40000 challenges", many, 40000},
      {"60000 parameters", params, 1},
  };
  for (const auto& input : inputs) {
    INFO(input.what);
    const auto start = std::chrono::steady_clock::now();
    const auto challenges = parse_challenges({input.value});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(challenges.size() == input.challenges);
    CHECK(elapsed < std::chrono::seconds(5));
  }
  const auto lots = parse_challenges({params});
  REQUIRE(lots.size() == 1);
  CHECK(lots[0].params.size() == 60000);
}
