// Unit tests of policy::Config: `.changetrail.yaml` parsing and its errors (DESIGN.md config
// example: "every key optional; unknown keys are an error"; issue 2 section 4: "an error naming
// the file and line"), environments of paths and ignore globs.

#include <changetrail/policy/config.hpp>
#include <changetrail/util/error.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

using changetrail::policy::Config;
using changetrail::policy::parse_config;
using changetrail::policy::Severity;

namespace {

// The message of the InputError parse_config throws, or "" when it accepts the text.
std::string config_error(const std::string& text)
{
  try {
    (void)parse_config(text, "conf/.changetrail.yaml");
  } catch (const changetrail::util::InputError& e) {
    return e.what();
  }
  return {};
}

bool contains(const std::vector<std::string>& v, const std::string& s)
{
  return std::find(v.begin(), v.end(), s) != v.end();
}

} // namespace

TEST_CASE("config::parse the DESIGN.md example", "[policy][config]")
{
  const std::string text = R"(# .changetrail.yaml (every key optional; unknown keys are an error)
environments:                      # first match wins; globs over repository-relative paths
  - {name: prod, paths: ["clusters/prod/**", "overlays/production/**"]}
  - {name: staging, paths: ["clusters/staging/**"]}
policy:
  severity: {unpinned: warning, mutable-tag: warning}   # per rule: error | warning | info | off
  environments: {prod: {unpinned: error}}               # per environment overrides
  allowed_registries: ["ghcr.io/acme/*", "registry.k8s.io/*"]
  mutable_tags: [main, master, stable, edge, dev, nightly]
ignore: ["tests/**", "**/templates/**"]
registries:
  insecure: ["registry.local:5000"]    # plain http allowed
  trusted_realms: ["auth.example.com"] # token realms allowed although they are not the registry's host
  concurrency: 6
)";
  const Config c = parse_config(text, ".changetrail.yaml");
  REQUIRE(c.environments.size() == 2);
  CHECK(c.environments[0].name == "prod");
  CHECK(c.environments[0].paths == std::vector<std::string>{"clusters/prod/**", "overlays/production/**"});
  CHECK(c.environments[1].name == "staging");
  REQUIRE(c.severity.size() == 2);
  CHECK(c.severity.at("unpinned") == Severity::warning);
  CHECK(c.severity.at("mutable-tag") == Severity::warning);
  REQUIRE(c.environment_severity.count("prod") == 1);
  CHECK(c.environment_severity.at("prod").at("unpinned") == Severity::error);
  CHECK(c.allowed_registries == std::vector<std::string>{"ghcr.io/acme/*", "registry.k8s.io/*"});
  CHECK(c.mutable_tags == std::vector<std::string>{"main", "master", "stable", "edge", "dev", "nightly"});
  CHECK(c.ignore == std::vector<std::string>{"tests/**", "**/templates/**"});
  CHECK(c.insecure_registries == std::vector<std::string>{"registry.local:5000"});
  CHECK(c.trusted_realms == std::vector<std::string>{"auth.example.com"});
  CHECK(c.concurrency == 6);
}

TEST_CASE("config::every key is optional", "[policy][config]")
{
  for (const char* text : {"", "# only a comment\n", "{}\n", "policy: {}\n", "ignore: []\n"}) {
    INFO(text);
    CHECK(config_error(text).empty());
  }
  const Config c = parse_config("", ".changetrail.yaml");
  CHECK(c.environments.empty());
  CHECK(c.severity.empty());
  CHECK(c.allowed_registries.empty());
  CHECK(c.ignore.empty());
  // Issue 2: the default mutable tags.
  for (const char* tag : {"main", "master", "stable", "edge", "dev", "nightly"}) {
    INFO(tag);
    CHECK(contains(c.mutable_tags, tag));
  }
  CHECK_FALSE(contains(c.mutable_tags, "latest")); // latest has its own rule
  CHECK_FALSE(contains(c.mutable_tags, "1.0"));
}

TEST_CASE("config::parse errors name the file and the line", "[policy][config]")
{
  struct Case {
    const char* what;
    std::string text;
    int line;
    const char* mentions;
  };
  const Case cases[] = {
    {"unknown top-level key", "environments: []\npolicy: {}\n\npolcy:\n  severity: {}\n", 4, "polcy"},
    {"unknown key in policy", "policy:\n  severity: {}\n  allowed_registry: [ghcr.io]\n", 3, "allowed_registry"},
    {"bad severity", "policy:\n  severity:\n    unpinned: fatal\n", 3, "fatal"},
    {"unknown rule in policy.severity", "policy:\n  severity:\n    latest-tag: error\n    no-such-rule: error\n", 4,
     "no-such-rule"},
    {"unknown rule in policy.environments", "policy:\n  environments:\n    prod:\n      unpinned: error\n      pinned: error\n", 5,
     "pinned"},
    {"bad severity in policy.environments", "policy:\n  environments:\n    prod:\n      unpinned: loud\n", 4, "loud"},
    {"unknown key in an environments entry", "environments:\n  - name: prod\n    paths: [\"a/**\"]\n    path: [\"b/**\"]\n", 4,
     "path"},
    {"unknown key in registries", "registries:\n  insecure: []\n  secure: []\n", 3, "secure"},
    {"allowed_registries is not a list", "# comment\npolicy:\n  allowed_registries: ghcr.io\n", 3, "allowed_registries"},
    {"mutable_tags holds a mapping", "policy:\n  mutable_tags:\n    - main\n    - {a: b}\n", 4, "mutable_tags"},
    {"concurrency is not a number", "registries:\n  concurrency: many\n", 2, "concurrency"},
    {"malformed YAML", "policy:\n  severity: {unpinned: warning\nignore: []\n", 0, ""},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const std::string e = config_error(c.text);
    REQUIRE_FALSE(e.empty());
    if (c.line != 0) {
      CHECK(e.rfind("conf/.changetrail.yaml:" + std::to_string(c.line) + ":", 0) == 0);
    } else { // where a parser notices broken syntax is its business; a line number is still given
      REQUIRE(e.size() > 24);
      CHECK(e.rfind("conf/.changetrail.yaml:", 0) == 0);
      CHECK(e[23] >= '1');
      CHECK(e[23] <= '9');
    }
    CHECK(e.find(c.mentions) != std::string::npos);
    CHECK(e.find('\n') == std::string::npos); // one line on stderr
  }
}

TEST_CASE("config::load_config of a missing file is an input error", "[policy][config]")
{
  CHECK_THROWS_AS(changetrail::policy::load_config("no/such/dir/.changetrail.yaml"), changetrail::util::InputError);
}

TEST_CASE("config::environment_for default heuristics", "[policy][config]")
{
  const Config c;
  struct Case {
    const char* path;
    const char* env;
  };
  // DESIGN.md "Config": clusters/<name>/, overlays/<name>/, envs/<name>/ and the segments
  // prod|production|staging|stage|dev|qa|test|uat.
  const Case cases[] = {
    {"clusters/alpha/apps/web.yaml", "alpha"},
    {"clusters/alpha/web.yaml", "alpha"},
    {"overlays/beta/kustomization.yaml", "beta"},
    {"envs/gamma/values.yaml", "gamma"},
    {"deploy/clusters/eu-1/app/deploy.yaml", "eu-1"},
    {"apps/prod/web.yaml", "prod"},
    {"apps/production/web.yaml", "production"},
    {"apps/staging/web.yaml", "staging"},
    {"apps/stage/web.yaml", "stage"},
    {"apps/dev/web.yaml", "dev"},
    {"apps/qa/web.yaml", "qa"},
    {"apps/test/web.yaml", "test"},
    {"apps/uat/web.yaml", "uat"},
    {"prod/web.yaml", "prod"},
    {"apps/web.yaml", ""},
    {"web.yaml", ""},
    {"apps/myprod/web.yaml", ""},      // a segment, not a substring
    {"apps/production-old/web.yaml", ""},
    {"clusters/web.yaml", ""},         // clusters/<name>/ needs a directory
  };
  for (const auto& k : cases) {
    INFO(k.path);
    CHECK(c.environment_for(k.path) == k.env);
  }
}

TEST_CASE("config::environment_for config rules come first, first match wins", "[policy][config]")
{
  const Config c = parse_config(R"(environments:
  - {name: live, paths: ["deploy/eu/**", "deploy/us/**"]}
  - {name: shadow, paths: ["deploy/eu/shadow/**", "clusters/prod/**"]}
  - {name: canary, paths: ["**/canary-*.yaml"]}
)",
                                ".changetrail.yaml");
  CHECK(c.environment_for("deploy/eu/web.yaml") == "live");
  CHECK(c.environment_for("deploy/us/a/b/web.yaml") == "live");
  CHECK(c.environment_for("deploy/eu/shadow/web.yaml") == "live"); // first match wins
  CHECK(c.environment_for("clusters/prod/web.yaml") == "shadow");  // config before the defaults
  CHECK(c.environment_for("apps/canary-web.yaml") == "canary");
  CHECK(c.environment_for("clusters/staging/web.yaml") == "staging"); // no rule: defaults
  CHECK(c.environment_for("deploy/asia/web.yaml") == "");
}

TEST_CASE("config::ignored globs", "[policy][config]")
{
  const Config c = parse_config("ignore: [\"tests/**\", \"**/templates/**\", \"*.bak.yaml\"]\n", ".changetrail.yaml");
  CHECK(c.ignored("tests/a.yaml"));
  CHECK(c.ignored("tests/sub/dir/a.yaml"));
  CHECK(c.ignored("charts/web/templates/deploy.yaml"));
  CHECK(c.ignored("templates/deploy.yaml"));
  CHECK(c.ignored("old.bak.yaml"));
  CHECK_FALSE(c.ignored("apps/tests.yaml"));
  CHECK_FALSE(c.ignored("contests/a.yaml"));
  CHECK_FALSE(c.ignored("apps/web.yaml"));
  CHECK_FALSE(c.ignored("apps/old.bak.yaml")); // '*' stays within one segment
  const Config none;
  CHECK_FALSE(none.ignored("tests/a.yaml"));
}
