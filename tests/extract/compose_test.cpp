// docker-compose (issue 2 §3.5): services.*.image with interpolation from the `.env` beside the
// file, as the Compose specification ("Interpolation") and docs.docker.com/compose/env-file/
// define it; what stays unresolved is reported with the variable names.
#include "extract_helpers.hpp"

#include "support/support.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace changetrail::extract;
using namespace changetrail::test;

namespace {

std::string value_of(const Variables& vars, std::string_view name)
{
  const std::string* v = vars.find(name);
  return v == nullptr ? std::string("<unset>") : *v;
}

const std::string k_dotenv = text(R"(
# registry to pull from
REGISTRY=ghcr.io/acme

export TAG=1.4.2
EMPTY=
)");

const std::string k_compose = text(R"(
services:
  web:
    image: ${REGISTRY}/web:${TAG}
  api:
    image: "$REGISTRY/api:$TAG"
  worker:
    image: ${REGISTRY}/worker:${WORKER_TAG:-0.9.0}
  cron:
    image: ${REGISTRY}/cron:${EMPTY:-1.0.0}
  batch:
    image: ${REGISTRY}/batch${EMPTY-:2.0.0}
  queue:
    image: ${REGISTRY}/queue:${UNSET-3.0.0}
  nested:
    image: ${REGISTRY}/nested:${NESTED_TAG:-${TAG}}
  deeper:
    image: ${REGISTRY}/deeper:${A:-${B:-5.0.0}}
  db:
    image: postgres:${DB_TAG}
  cache:
    image: $CACHE_REGISTRY/redis:${CACHE_TAG:-7.2}
  required:
    image: ghcr.io/acme/required:${REQUIRED_TAG:?set REQUIRED_TAG}
  build-only:
    build: ./app
)");

} // namespace

TEST_CASE("compose: services image with interpolation from .env", "[extract][compose]")
{
  REQUIRE(classify("compose.yaml") == FileKind::compose);
  const auto r = extract(k_compose, "compose.yaml", k_dotenv);
  INFO(describe(r));
  CHECK(r.checked);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 11);
  for (const auto& f : r.findings) {
    CHECK(f.format == "compose");
  }

  SECTION("${VAR}: the reference as written, the image substituted")
  {
    const auto& f = check_position(r, "services/web", 3, 12);
    CHECK(f.workload == "services/web");
    CHECK(f.container == "web");
    CHECK(f.ref == "${REGISTRY}/web:${TAG}");
    CHECK(f.image.valid);
    CHECK_FALSE(f.image.unresolved);
    CHECK(f.image.registry == "ghcr.io");
    CHECK(f.image.repository == "acme/web");
    CHECK(f.image.tag == "1.4.2");
  }
  SECTION("$VAR, quoted")
  {
    const auto& f = check_position(r, "services/api", 5, 13);
    CHECK(f.ref == "$REGISTRY/api:$TAG");
    CHECK(f.image.canonical() == "ghcr.io/acme/api:1.4.2");
  }
  // Defaults: the service, and the image its default gives.
  struct Defaulted {
    const char* what;
    const char* location;
    const char* canonical;
  };
  const std::vector<Defaulted> defaulted = {
    {"${VAR:-default} with VAR unset", "services/worker", "ghcr.io/acme/worker:0.9.0"},
    {"${VAR:-default} with VAR set but empty takes the default", "services/cron", "ghcr.io/acme/cron:1.0.0"},
    {"${VAR-default} with VAR unset takes the default", "services/queue", "ghcr.io/acme/queue:3.0.0"},
    {"nested defaults: the inner variable is set", "services/nested", "ghcr.io/acme/nested:1.4.2"},
    {"nested defaults: the innermost default", "services/deeper", "ghcr.io/acme/deeper:5.0.0"},
  };
  for (const auto& c : defaulted) {
    DYNAMIC_SECTION(c.what)
    {
      const auto& f = require_location(r, c.location);
      CHECK(f.image.canonical() == c.canonical);
    }
  }
  SECTION("${VAR-default} with VAR set but empty keeps the empty value")
  {
    const auto& f = require_location(r, "services/batch");
    CHECK(f.image.valid);
    CHECK(f.image.canonical() == "ghcr.io/acme/batch");
    CHECK(f.image.tag.empty());
  }
  SECTION("unresolved variables are reported by name")
  {
    const auto& db = check_position(r, "services/db", 19, 12);
    CHECK(db.ref == "postgres:${DB_TAG}");
    CHECK_FALSE(db.image.valid);
    CHECK(db.image.unresolved);
    CHECK(db.image.variables == std::vector<std::string>{"DB_TAG"});

    const auto& cache = require_location(r, "services/cache");
    CHECK(cache.image.unresolved);
    // CACHE_TAG had a default; only the registry stays unknown.
    CHECK(cache.image.variables == std::vector<std::string>{"CACHE_REGISTRY"});

    const auto& required = require_location(r, "services/required");
    CHECK(required.image.unresolved);
    CHECK(required.image.variables == std::vector<std::string>{"REQUIRED_TAG"});
  }
  SECTION("a service without image is not a finding")
  {
    CHECK(by_location(r, "services/build-only") == nullptr);
  }
}

TEST_CASE("compose: without a .env every variable without a default is unresolved", "[extract][compose]")
{
  const auto r = extract(k_compose, "docker-compose.yml", std::nullopt);
  INFO(describe(r));
  const auto& web = require_location(r, "services/web");
  CHECK(web.image.unresolved);
  CHECK(web.image.variables == std::vector<std::string>{"REGISTRY", "TAG"});
  const auto& deeper = require_location(r, "services/deeper");
  CHECK(deeper.image.unresolved);
  CHECK(deeper.image.variables == std::vector<std::string>{"REGISTRY"});
}

TEST_CASE("compose: .env values are interpolated themselves; single-quoted ones are literal", "[extract][compose]")
{
  // docs.docker.com/compose/env-file/: "Unquoted and double-quoted values have interpolation
  // applied"; "Single-quoted values are used literally".
  const auto dotenv = text(R"(
REGISTRY=ghcr.io/acme
BASE=${REGISTRY}/base
QUOTED="$REGISTRY/quoted"
)");
  SECTION("through parse_dotenv")
  {
    const auto vars = parse_dotenv(dotenv + "LITERAL='${REGISTRY}'\n");
    CHECK(value_of(vars, "BASE") == "ghcr.io/acme/base");
    CHECK(value_of(vars, "QUOTED") == "ghcr.io/acme/quoted");
    CHECK(value_of(vars, "LITERAL") == "${REGISTRY}");
  }
  SECTION("through a compose file")
  {
    const auto compose = text(R"(
services:
  base:
    image: ${BASE}:1.0
  quoted:
    image: ${QUOTED}:2.0
)");
    const auto r = extract(compose, "compose.yaml", dotenv);
    INFO(describe(r));
    REQUIRE(r.findings.size() == 2);
    CHECK(by_location(r, "services/base")->image.canonical() == "ghcr.io/acme/base:1.0");
    CHECK(by_location(r, "services/quoted")->image.canonical() == "ghcr.io/acme/quoted:2.0");
  }
}

TEST_CASE("compose: extension fields and merge keys", "[extract][compose]")
{
  const auto content = text(R"(
x-common: &common
  image: ghcr.io/acme/common:1.0.0
  restart: always
services:
  a:
    <<: *common
  b:
    <<: *common
    image: ghcr.io/acme/b:2.0.0
)");
  const auto r = extract(content, "compose.yml", std::nullopt);
  INFO(describe(r));
  // Only services are read: the x- extension itself is no service.
  REQUIRE(r.findings.size() == 2);
  // Reached through the alias: reported at the alias.
  const auto& a = check_position(r, "services/a", 6, 9);
  CHECK(a.image.canonical() == "ghcr.io/acme/common:1.0.0");
  const auto& b = check_position(r, "services/b", 9, 12);
  CHECK(b.image.canonical() == "ghcr.io/acme/b:2.0.0");
}

TEST_CASE("compose: substitute", "[extract][compose]")
{
  Variables vars;
  vars.values = {{"TAG", "1.0"}, {"EMPTY", ""}, {"NAME", "web"}};
  CHECK(substitute("app:${TAG}", vars) == "app:1.0");
  CHECK(substitute("app:$TAG", vars) == "app:1.0");
  CHECK(substitute("$NAME:$TAG", vars) == "web:1.0");
  CHECK(substitute("app:${EMPTY:-2.0}", vars) == "app:2.0");
  CHECK(substitute("app${EMPTY-:2.0}", vars) == "app");
  CHECK(substitute("app:${UNSET-3.0}", vars) == "app:3.0");
  CHECK(substitute("app:${UNSET:-${TAG}}", vars) == "app:1.0");
  CHECK(substitute("app:${UNSET:-${ALSO_UNSET:-4.0}}", vars) == "app:4.0");
  CHECK(substitute("app${TAG:+-suffixed}", vars) == "app-suffixed");
  CHECK(substitute("app${EMPTY:+-suffixed}", vars) == "app");
  SECTION("$$ is a literal $")
  {
    CHECK(substitute("cost $$5", vars) == "cost $5");
    CHECK(substitute("$${TAG}", vars) == "${TAG}");
    CHECK(substitute("$$TAG", vars) == "$TAG");
  }
  SECTION("unresolved names stay as ${NAME}")
  {
    CHECK(substitute("app:${MISSING}", vars) == "app:${MISSING}");
    CHECK(substitute("app:$MISSING", vars) == "app:${MISSING}");
  }
}

TEST_CASE("compose: parse_dotenv", "[extract][compose]")
{
  SECTION("comments, blank lines, export")
  {
    const auto vars = parse_dotenv("# a comment\n\nA=1\n  # indented comment\nexport B=2\n");
    CHECK(value_of(vars, "A") == "1");
    CHECK(value_of(vars, "B") == "2");
    CHECK(vars.find("# a comment") == nullptr);
    CHECK(vars.values.size() == 2);
  }
  SECTION("quotes")
  {
    const auto vars = parse_dotenv("D=\"double quoted\"\nS='single quoted'\nE=\nQ=\"\"\n");
    CHECK(value_of(vars, "D") == "double quoted");
    CHECK(value_of(vars, "S") == "single quoted");
    // Set but empty is not unset.
    REQUIRE(vars.find("E") != nullptr);
    CHECK(vars.find("E")->empty());
    REQUIRE(vars.find("Q") != nullptr);
    CHECK(vars.find("Q")->empty());
    CHECK(vars.find("UNSET") == nullptr);
  }
  SECTION("inline comments")
  {
    const auto vars = parse_dotenv("A=VAL # comment\nB=VAL# not a comment\nC=\"VAL # not a comment\"\nD=\"VAL\" # comment\n");
    CHECK(value_of(vars, "A") == "VAL");
    CHECK(value_of(vars, "B") == "VAL# not a comment");
    CHECK(value_of(vars, "C") == "VAL # not a comment");
    CHECK(value_of(vars, "D") == "VAL");
  }
  SECTION("quotes escaped with a backslash")
  {
    const auto vars = parse_dotenv("A='Let\\'s go!'\nB=\"{\\\"hello\\\": \\\"json\\\"}\"\n");
    CHECK(value_of(vars, "A") == "Let's go!");
    CHECK(value_of(vars, "B") == "{\"hello\": \"json\"}");
  }
  SECTION("CRLF line endings")
  {
    const auto vars = parse_dotenv("TAG=1.2.3\r\nNAME=\"web\"\r\n");
    CHECK(value_of(vars, "TAG") == "1.2.3");
    CHECK(value_of(vars, "NAME") == "web");
  }
  SECTION("the last definition wins")
  {
    const auto vars = parse_dotenv("TAG=1\nTAG=2\n");
    CHECK(value_of(vars, "TAG") == "2");
  }
}

TEST_CASE("compose: extract_paths reads the .env beside each compose file", "[extract][compose]")
{
  changetrail::test::TempDir dir;
  dir.write(".env", "TAG=1.4.2\n");
  dir.write("compose.yaml", "services:\n  web:\n    image: ghcr.io/acme/web:${TAG}\n");
  // No .env here: the one in the parent directory does not apply.
  dir.write("tools/docker-compose.override.yml", "services:\n  tool:\n    image: ghcr.io/acme/tool:${TAG}\n");
  dir.write("other/.env", "TAG=9.9.9\n");
  dir.write("other/compose.yml", "services:\n  other:\n    image: ghcr.io/acme/other:${TAG}\n");

  const auto result = extract_tree(dir.path(), 2);
  CHECK(result.errors.empty());
  INFO(describe(result.files));
  const auto& web = check_position(result.files, "services/web", 3, 12);
  CHECK(web.image.canonical() == "ghcr.io/acme/web:1.4.2");
  const auto& tool = require_location(result.files, "services/tool");
  CHECK(tool.image.unresolved);
  CHECK(tool.image.variables == std::vector<std::string>{"TAG"});
  const auto& other = require_location(result.files, "services/other");
  CHECK(other.image.canonical() == "ghcr.io/acme/other:9.9.9");
}
