// Unit tests of policy::Policy: which severity a rule gets (issue 2 section 4, DESIGN.md config
// example) and what evaluate() reports for one file's findings and suppressions.

#include <changetrail/policy/config.hpp>
#include <changetrail/policy/policy.hpp>
#include <changetrail/reference/reference.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using changetrail::policy::Config;
using changetrail::policy::Policy;
using changetrail::policy::Severity;
using changetrail::policy::Violation;

namespace {

const std::string k_digest = "sha256:" + std::string(64, 'a');

changetrail::extract::Finding finding(const std::string& ref, std::uint32_t line, const std::string& env = {})
{
  changetrail::extract::Finding f;
  f.file = "apps/web.yaml";
  f.line = line;
  f.column = 16;
  f.format = "kubernetes";
  f.location = "Deployment/shop/web:containers/app";
  f.ref = ref;
  f.env = env;
  f.image = changetrail::reference::parse(ref);
  return f;
}

changetrail::extract::FileResult file_with(std::vector<changetrail::extract::Finding> findings,
                                           const std::string& rel = "apps/web.yaml")
{
  changetrail::extract::FileResult r;
  r.file = rel;
  r.rel = rel;
  r.checked = true;
  r.findings = std::move(findings);
  return r;
}

std::vector<std::string> rules_of(const std::vector<Violation>& vs, bool include_suppressed = false)
{
  std::vector<std::string> out;
  for (const auto& v : vs) {
    if (include_suppressed || !v.suppressed) {
      out.push_back(v.rule);
    }
  }
  return out;
}

} // namespace

TEST_CASE("policy::rule table has the stable ids of issue 2", "[policy]")
{
  for (const char* id : {"latest-tag", "missing-tag", "unpinned", "mutable-tag", "disallowed-registry", "invalid-reference",
                         "unresolved-reference", "parse-error"}) {
    INFO(id);
    const auto* rule = changetrail::policy::find_rule(id);
    REQUIRE(rule != nullptr);
    CHECK(!rule->help.empty());
    CHECK(!rule->summary.empty());
  }
  CHECK(changetrail::policy::find_rule("no-such-rule") == nullptr);
}

TEST_CASE("policy::severity defaults", "[policy]")
{
  const Config config;
  const Policy policy(config);
  // Issue 2 section 4: the default severity of each rule.
  CHECK(policy.severity("latest-tag", "") == Severity::error);
  CHECK(policy.severity("missing-tag", "") == Severity::error);
  CHECK(policy.severity("unpinned", "") == Severity::warning);
  CHECK(policy.severity("mutable-tag", "") == Severity::warning);
  CHECK(policy.severity("invalid-reference", "") == Severity::error);
  CHECK(policy.severity("unresolved-reference", "") == Severity::warning);
  CHECK(policy.severity("parse-error", "") == Severity::warning);
  CHECK(policy.severity("unpinned", "staging") == Severity::warning);
  CHECK(policy.severity("unpinned", "dev") == Severity::warning);

  SECTION("unpinned is an error in environments named prod*")
  {
    for (const char* env : {"prod", "production", "prod-eu", "prod2"}) {
      INFO(env);
      CHECK(policy.severity("unpinned", env) == Severity::error);
    }
    for (const char* env : {"preprod", "staging", "nonprod", "dev-prod"}) {
      INFO(env);
      CHECK(policy.severity("unpinned", env) == Severity::warning);
    }
  }
  SECTION("only unpinned changes in prod*")
  {
    CHECK(policy.severity("mutable-tag", "prod") == Severity::warning);
    CHECK(policy.severity("unresolved-reference", "prod") == Severity::warning);
    CHECK(policy.severity("latest-tag", "prod") == Severity::error);
  }
}

TEST_CASE("policy::severity precedence", "[policy]")
{
  Config config;
  SECTION("policy.severity replaces the default and the prod* default")
  {
    config.severity["unpinned"] = Severity::info;
    config.severity["latest-tag"] = Severity::warning;
    const Policy policy(config);
    CHECK(policy.severity("unpinned", "") == Severity::info);
    CHECK(policy.severity("unpinned", "prod") == Severity::info);
    CHECK(policy.severity("latest-tag", "staging") == Severity::warning);
    CHECK(policy.severity("missing-tag", "staging") == Severity::error);
  }
  SECTION("policy.environments override policy.severity for that environment (DESIGN.md example)")
  {
    config.severity["unpinned"] = Severity::warning;
    config.environment_severity["prod"]["unpinned"] = Severity::error;
    const Policy policy(config);
    CHECK(policy.severity("unpinned", "prod") == Severity::error);
    CHECK(policy.severity("unpinned", "staging") == Severity::warning);
    CHECK(policy.severity("unpinned", "") == Severity::warning);
  }
  SECTION("an environment override can lower the prod* default")
  {
    config.environment_severity["prod"]["unpinned"] = Severity::warning;
    const Policy policy(config);
    CHECK(policy.severity("unpinned", "prod") == Severity::warning);
    CHECK(policy.severity("unpinned", "production") == Severity::error);
  }
  SECTION("glob keys match environment names; an exact key wins over a glob")
  {
    config.environment_severity["prod*"]["unpinned"] = Severity::info;
    config.environment_severity["prod-eu"]["unpinned"] = Severity::off;
    config.environment_severity["qa-*"]["latest-tag"] = Severity::warning;
    const Policy policy(config);
    CHECK(policy.severity("unpinned", "prod-eu") == Severity::off);
    CHECK(policy.severity("unpinned", "prod-us") == Severity::info);
    CHECK(policy.severity("unpinned", "production") == Severity::info);
    CHECK(policy.severity("unpinned", "staging") == Severity::warning);
    CHECK(policy.severity("latest-tag", "qa-1") == Severity::warning);
    CHECK(policy.severity("latest-tag", "qa") == Severity::error);
    // A rule the matching environment does not name keeps its severity.
    CHECK(policy.severity("missing-tag", "prod-us") == Severity::error);
  }
}

TEST_CASE("policy::evaluate picks one rule per reference", "[policy]")
{
  const Config config;
  const Policy policy(config);
  const auto one = [&](const std::string& ref, const std::string& env = {}) {
    const auto vs = policy.evaluate(file_with({finding(ref, 7, env)}));
    return rules_of(vs);
  };
  CHECK(one("nginx:latest") == std::vector<std::string>{"latest-tag"});
  CHECK(one("nginx") == std::vector<std::string>{"missing-tag"});
  CHECK(one("nginx:1.27.3") == std::vector<std::string>{"unpinned"});
  CHECK(one("ghcr.io/acme/app:main") == std::vector<std::string>{"mutable-tag"});
  for (const char* tag : {"main", "master", "stable", "edge", "dev", "nightly"}) {
    INFO(tag);
    CHECK(one(std::string("nginx:") + tag) == std::vector<std::string>{"mutable-tag"});
  }
  CHECK(one("nginx:1.27.3@" + k_digest).empty());
  CHECK(one("nginx@" + k_digest).empty());
  CHECK(one("nginx:latest@" + k_digest).empty()); // the digest is what is pulled
  CHECK(one("Nginx:1.0") == std::vector<std::string>{"invalid-reference"});
  CHECK(one("app:${TAG}") == std::vector<std::string>{"unresolved-reference"});

  SECTION("the severity follows the finding's environment")
  {
    const auto vs = policy.evaluate(file_with({finding("nginx:1.27.3", 7, "production")}));
    REQUIRE(vs.size() == 1);
    CHECK(vs[0].severity == Severity::error);
    CHECK(vs[0].line == 7);
    CHECK(vs[0].column == 16);
    CHECK(vs[0].ref == "nginx:1.27.3");
    CHECK(vs[0].location == "Deployment/shop/web:containers/app");
    CHECK(vs[0].message.find("nginx:1.27.3") != std::string::npos);
  }
  SECTION("severity off drops the violation")
  {
    Config quiet;
    quiet.severity["unpinned"] = Severity::off;
    const Policy p(quiet);
    CHECK(p.evaluate(file_with({finding("nginx:1.27.3", 7)})).empty());
  }
}

TEST_CASE("policy::evaluate mutable tags and allowed registries from the config", "[policy]")
{
  Config config;
  SECTION("a configured list replaces the default one")
  {
    config.mutable_tags = {"rolling"};
    const Policy policy(config);
    CHECK(rules_of(policy.evaluate(file_with({finding("nginx:rolling", 3)}))) == std::vector<std::string>{"mutable-tag"});
    CHECK(rules_of(policy.evaluate(file_with({finding("nginx:main", 3)}))) == std::vector<std::string>{"unpinned"});
  }
  SECTION("allowed_registries globs")
  {
    config.allowed_registries = {"ghcr.io/acme/*", "registry.k8s.io/*"};
    const Policy policy(config);
    const auto rules = [&](const std::string& ref) { return rules_of(policy.evaluate(file_with({finding(ref, 3)}))); };
    CHECK(rules("ghcr.io/acme/app@" + k_digest).empty());
    CHECK(rules("registry.k8s.io/pause:3.9@" + k_digest).empty());
    CHECK(rules("ghcr.io/other/app@" + k_digest) == std::vector<std::string>{"disallowed-registry"});
    CHECK(rules("ghcr.io/acme-evil/app@" + k_digest) == std::vector<std::string>{"disallowed-registry"});
    CHECK(rules("nginx@" + k_digest) == std::vector<std::string>{"disallowed-registry"});
    // Disallowed and unpinned are two facts about one reference.
    const auto both = rules("quay.io/x/y:1.0");
    CHECK(std::find(both.begin(), both.end(), "disallowed-registry") != both.end());
    CHECK(std::find(both.begin(), both.end(), "unpinned") != both.end());
  }
  SECTION("no allowed_registries: every registry is allowed")
  {
    const Policy policy(config);
    CHECK(policy.evaluate(file_with({finding("quay.io/x/y@" + k_digest, 3)})).empty());
  }
}

TEST_CASE("policy::evaluate suppressions", "[policy]")
{
  const Config config;
  const Policy policy(config);
  auto file = file_with({finding("nginx:latest", 10)});
  const auto suppression = [](std::uint32_t line, std::vector<std::string> rules, std::string reason) {
    changetrail::extract::Suppression s;
    s.line = line;
    s.rules = std::move(rules);
    s.reason = std::move(reason);
    return s;
  };

  SECTION("on the same line")
  {
    file.suppressions = {suppression(10, {"latest-tag"}, "vendor chart pins it")};
    const auto vs = policy.evaluate(file);
    REQUIRE(vs.size() == 1);
    CHECK(vs[0].suppressed);
    CHECK(vs[0].suppression_reason == "vendor chart pins it");
    const auto s = changetrail::policy::summarize(vs, 1, 1);
    CHECK(s.errors == 0);
    CHECK(s.suppressed == 1);
  }
  SECTION("on the line above")
  {
    file.suppressions = {suppression(9, {"latest-tag"}, "reason")};
    const auto vs = policy.evaluate(file);
    REQUIRE(vs.size() == 1);
    CHECK(vs[0].suppressed);
  }
  SECTION("two lines above suppresses nothing")
  {
    file.suppressions = {suppression(8, {"latest-tag"}, "reason")};
    CHECK(rules_of(policy.evaluate(file)) == std::vector<std::string>{"latest-tag"});
  }
  SECTION("on the line below suppresses nothing")
  {
    file.suppressions = {suppression(11, {"latest-tag"}, "reason")};
    CHECK(rules_of(policy.evaluate(file)) == std::vector<std::string>{"latest-tag"});
  }
  SECTION("another rule suppresses nothing")
  {
    file.suppressions = {suppression(10, {"unpinned"}, "reason")};
    CHECK(rules_of(policy.evaluate(file)) == std::vector<std::string>{"latest-tag"});
  }
  SECTION("without a reason: nothing suppressed, the comment reported")
  {
    file.suppressions = {suppression(9, {"latest-tag"}, "")};
    const auto vs = policy.evaluate(file);
    const auto rules = rules_of(vs);
    CHECK(std::find(rules.begin(), rules.end(), "latest-tag") != rules.end());
    CHECK(std::any_of(vs.begin(), vs.end(), [](const Violation& v) { return v.line == 9 && !v.suppressed; }));
  }
  SECTION("an unknown rule: nothing suppressed, the comment reported")
  {
    file.suppressions = {suppression(9, {"no-such-rule"}, "reason")};
    const auto vs = policy.evaluate(file);
    const auto rules = rules_of(vs);
    CHECK(std::find(rules.begin(), rules.end(), "latest-tag") != rules.end());
    CHECK(std::any_of(vs.begin(), vs.end(), [](const Violation& v) {
      return v.line == 9 && !v.suppressed && v.message.find("no-such-rule") != std::string::npos;
    }));
  }
  SECTION("a list naming an unknown rule suppresses nothing, not even its known rules")
  {
    file.suppressions = {suppression(9, {"latest-tag", "no-such-rule"}, "reason")};
    const auto vs = policy.evaluate(file);
    CHECK(std::any_of(vs.begin(), vs.end(), [](const Violation& v) { return v.rule == "latest-tag" && !v.suppressed; }));
    CHECK(std::any_of(vs.begin(), vs.end(), [](const Violation& v) { return v.line == 9 && !v.suppressed; }));
  }
}

TEST_CASE("policy::evaluate file problems are parse-error warnings", "[policy]")
{
  const Config config;
  const Policy policy(config);
  auto file = file_with({});
  file.problems.push_back({4, 3, "did not find expected key"});
  const auto vs = policy.evaluate(file);
  REQUIRE(vs.size() == 1);
  CHECK(vs[0].rule == "parse-error");
  CHECK(vs[0].severity == Severity::warning);
  CHECK(vs[0].line == 4);
  CHECK(vs[0].column == 3);
  CHECK(vs[0].message == "did not find expected key");
}

TEST_CASE("policy::summarize counts by severity", "[policy]")
{
  std::vector<Violation> vs(5);
  vs[0].severity = Severity::error;
  vs[1].severity = Severity::error;
  vs[2].severity = Severity::warning;
  vs[3].severity = Severity::info;
  vs[4].severity = Severity::error;
  vs[4].suppressed = true;
  const auto s = changetrail::policy::summarize(vs, 3, 9);
  CHECK(s.errors == 2);
  CHECK(s.warnings == 1);
  CHECK(s.infos == 1);
  CHECK(s.suppressed == 1);
  CHECK(s.files == 3);
  CHECK(s.references == 9);
}
