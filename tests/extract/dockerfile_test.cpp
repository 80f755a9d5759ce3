// Dockerfiles (issue 2 §3.6, docs.docker.com/reference/dockerfile): FROM with flags and stage
// aliases, global ARG defaults, scratch and earlier stages, COPY --from, line continuations,
// parser directives, heredocs, CRLF and byte-order marks.
#include "extract_helpers.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace changetrail::extract;
using namespace changetrail::test;

TEST_CASE("dockerfile: stages, aliases, global ARGs, scratch, earlier stages, COPY --from", "[extract][dockerfile]")
{
  const auto content = text(R"(
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
ARG BASE
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
ARG GO_VERSION=9.99
WORKDIR /src
RUN go build -o /out/app ./cmd/app

FROM Build as test
RUN go test ./...

FROM scratch AS export
COPY --from=build /out/app /app

FROM ${BASE} AS runtime
COPY --from=0 /out/app /usr/local/bin/app
COPY --chown=app:app --from=ghcr.io/acme/assets:1.0 /assets /srv/assets
COPY --link --from=BUILD /out/app /bin/app2
COPY --from=test /report /report
)");
  const auto r = extract(content, "Dockerfile");
  INFO(describe(r));
  CHECK(r.checked);
  CHECK(r.problems.empty());
  REQUIRE(r.findings.size() == 3);

  SECTION("FROM with --platform and AS, global ARG substituted")
  {
    const auto& f = check_position(r, "stage/build", 4, 32);
    CHECK(f.format == "dockerfile");
    CHECK(f.file == "Dockerfile");
    CHECK(f.ref == "golang:${GO_VERSION}-alpine");
    CHECK(f.image.valid);
    CHECK(f.image.repository == "library/golang");
    CHECK(f.image.tag == "1.22-alpine");
  }
  SECTION("ARG without a default stays unresolved, by name")
  {
    const auto& f = check_position(r, "stage/runtime", 15, 6);
    CHECK(f.ref == "${BASE}");
    CHECK_FALSE(f.image.valid);
    CHECK(f.image.unresolved);
    CHECK(f.image.variables == std::vector<std::string>{"BASE"});
  }
  SECTION("COPY --from=<image> is a reference")
  {
    const auto& f = check_position(r, "stage/runtime/copy-from/ghcr.io/acme/assets", 17, 29);
    CHECK(f.format == "dockerfile");
    CHECK(f.ref == "ghcr.io/acme/assets:1.0");
    CHECK(f.image.tag == "1.0");
  }
  SECTION("scratch, earlier stages by name (any case) or index are not images")
  {
    for (const auto& ref : refs(r)) {
      CHECK(ref != "scratch");
      CHECK(ref != "Build");
      CHECK(ref != "build");
      CHECK(ref != "BUILD");
      CHECK(ref != "0");
      CHECK(ref != "test");
    }
  }
}

TEST_CASE("dockerfile: stages without alias are numbered", "[extract][dockerfile]")
{
  const auto content = text(R"(
FROM alpine:3.19
COPY --from=ghcr.io/acme/tools:2.0 /bin/tool /bin/tool
FROM debian:bookworm-slim
COPY --from=0 /bin/tool /bin/tool
from  nginx:1.25.3
)");
  const auto r = extract(content, "Dockerfile");
  INFO(describe(r));
  REQUIRE(r.findings.size() == 4);
  const auto& alpine = check_position(r, "stage/0", 1, 6);
  CHECK(alpine.ref == "alpine:3.19");
  check_position(r, "stage/0/copy-from/ghcr.io/acme/tools", 2, 13);
  const auto& debian = require_location(r, "stage/1");
  CHECK(debian.ref == "debian:bookworm-slim");
  // Instructions are case-insensitive.
  const auto& nginx = check_position(r, "stage/2", 5, 7);
  CHECK(nginx.ref == "nginx:1.25.3");
}

TEST_CASE("dockerfile: global ARG forms", "[extract][dockerfile]")
{
  const auto content = text(R"(
ARG REGISTRY=ghcr.io/acme
ARG IMAGE=${REGISTRY}/base
ARG TAG="2024.1"
ARG ALPINE=alpine:3.18
FROM ${IMAGE}:${TAG} AS one
ARG ALPINE=alpine:3.99
FROM $ALPINE AS two
FROM debian:${DEBIAN_VERSION:-bookworm} AS three
)");
  const auto r = extract(content, "Dockerfile");
  INFO(describe(r));
  REQUIRE(r.findings.size() == 3);
  const auto& one = require_location(r, "stage/one");
  CHECK(one.ref == "${IMAGE}:${TAG}");
  CHECK(one.image.canonical() == "ghcr.io/acme/base:2024.1");
  // An ARG after the first FROM is not global: FROM still sees alpine:3.18.
  const auto& two = require_location(r, "stage/two");
  CHECK(two.ref == "$ALPINE");
  CHECK(two.image.tag == "3.18");
  const auto& three = require_location(r, "stage/three");
  CHECK(three.image.tag == "bookworm");
}

TEST_CASE("dockerfile: line continuations keep exact positions", "[extract][dockerfile]")
{
  const auto content = text(R"(
FROM \
    --platform=linux/amd64 \
    registry.example.com:5000/team/base:2024.1 \
    AS base
RUN apk add --no-cache \
      curl \
      jq
COPY \
    --from=ghcr.io/acme/tools:2.0 \
    /bin/tool /usr/local/bin/tool
)");
  const auto r = extract(content, "Dockerfile");
  INFO(describe(r));
  REQUIRE(r.findings.size() == 2);
  const auto& base = check_position(r, "stage/base", 3, 5);
  CHECK(base.ref == "registry.example.com:5000/team/base:2024.1");
  CHECK(base.image.registry == "registry.example.com:5000");
  check_position(r, "stage/base/copy-from/ghcr.io/acme/tools", 9, 12);
}

TEST_CASE("dockerfile: comments and empty lines inside a continuation are removed", "[extract][dockerfile]")
{
  const auto content = text(R"(
FROM \
# the base image
  alpine:3.19 \

  AS base
RUN echo hello \
# comment
  && echo world
COPY \
    # an indented comment
    --from=ghcr.io/acme/tools:2.0 /bin/tool /bin/tool
FROM base
)");
  const auto r = extract(content, "Dockerfile");
  INFO(describe(r));
  REQUIRE(r.findings.size() == 2);
  const auto& base = check_position(r, "stage/base", 3, 3);
  CHECK(base.ref == "alpine:3.19");
  check_position(r, "stage/base/copy-from/ghcr.io/acme/tools", 11, 12);
}

TEST_CASE("dockerfile: the escape parser directive", "[extract][dockerfile]")
{
  SECTION("escape=` makes the backtick the continuation and a backslash literal")
  {
    const auto content = text(R"(
# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS base
COPY testfile.txt c:\
FROM `
  mcr.microsoft.com/windows/nanoserver:ltsc2022
)");
    const auto r = extract(content, "Dockerfile");
    INFO(describe(r));
    CHECK(r.problems.empty());
    REQUIRE(r.findings.size() == 2);
    check_position(r, "stage/base", 2, 6);
    const auto& nano = check_position(r, "stage/1", 5, 3);
    CHECK(nano.ref == "mcr.microsoft.com/windows/nanoserver:ltsc2022");
  }
  SECTION("a directive after a comment is an ordinary comment")
  {
    const auto content = text(R"(
# a comment first
# escape=`
FROM alpine:3.19 `
  AS x
FROM busybox:1.36
)");
    // The backtick is not an escape: `FROM alpine:3.19 \`` is one instruction, and the
    // `AS x` line is an instruction of its own (not FROM).
    const auto r = extract(content, "Dockerfile");
    INFO(describe(r));
    CHECK(by_location(r, "stage/x") == nullptr);
    REQUIRE(r.findings.size() == 2);
    CHECK(r.findings[0].ref == "alpine:3.19");
    CHECK(r.findings[1].ref == "busybox:1.36");
  }
}

TEST_CASE("dockerfile: heredoc bodies are not instructions", "[extract][dockerfile]")
{
  const std::string content = "FROM alpine:3.19\n"
                              "RUN <<EOF\n"
                              "set -e\n"
                              "FROM evil:latest\n"
                              "EOF\n"
                              "COPY <<-\"CONF\" /etc/app.conf\n"
                              "\tFROM evil2:latest\n"
                              "\tCONF\n"
                              "RUN <<'A' <<B\n"
                              "FROM evil3\n"
                              "A\n"
                              "FROM evil4\n"
                              "B\n"
                              "FROM busybox:1.36\n";
  const auto r = extract(content, "Dockerfile");
  INFO(describe(r));
  REQUIRE(r.findings.size() == 2);
  CHECK(r.findings[0].ref == "alpine:3.19");
  CHECK(r.findings[1].ref == "busybox:1.36");
  CHECK(r.findings[1].location == "stage/1");
  CHECK(r.findings[1].line == 14);
  CHECK(r.findings[1].column == 6);
}

TEST_CASE("dockerfile: CRLF line endings and a byte-order mark", "[extract][dockerfile]")
{
  SECTION("CRLF")
  {
    const std::string content = "FROM alpine:3.19\r\n"
                                "RUN echo hi \\\r\n"
                                "  && echo there\r\n"
                                "FROM --platform=linux/arm64 \\\r\n"
                                "  nginx:1.25.3 AS web\r\n";
    const auto r = extract(content, "Dockerfile");
    INFO(describe(r));
    REQUIRE(r.findings.size() == 2);
    CHECK(r.findings[0].ref == "alpine:3.19");
    CHECK(r.findings[0].line == 1);
    CHECK(r.findings[0].column == 6);
    const auto& web = check_position(r, "stage/web", 5, 3);
    CHECK(web.ref == "nginx:1.25.3");
    CHECK(web.image.valid);
  }
  SECTION("BOM before the first instruction")
  {
    const std::string content = "\xEF\xBB\xBF"
                                "FROM alpine:3.19\n";
    const auto r = extract(content, "Dockerfile");
    const auto& f = only_finding(r);
    CHECK(f.ref == "alpine:3.19");
    CHECK(f.image.valid);
    CHECK(f.line == 1);
    CHECK(f.column == 6);
  }
  SECTION("BOM before a parser directive")
  {
    const std::string content = "\xEF\xBB\xBF# escape=`\nFROM `\n  alpine:3.19\n";
    const auto r = extract(content, "Dockerfile");
    const auto& f = only_finding(r);
    CHECK(f.ref == "alpine:3.19");
    CHECK(f.line == 3);
    CHECK(f.column == 3);
  }
}

TEST_CASE("dockerfile: FROM without an image is a problem, not a crash", "[extract][dockerfile]")
{
  const auto r = extract("FROM\nFROM --platform=linux/amd64\nFROM alpine:3.19\n", "Dockerfile");
  CHECK(r.problems.size() >= 1);
  const auto& f = only_finding(r);
  CHECK(f.ref == "alpine:3.19");
  CHECK(f.line == 3);
}

TEST_CASE("dockerfile: file names that are Dockerfiles", "[extract][dockerfile]")
{
  for (const char* name : {"Dockerfile", "build/Dockerfile", "Containerfile", "Dockerfile.prod", "api.Dockerfile"}) {
    DYNAMIC_SECTION(name)
    {
      CHECK(classify(name) == FileKind::dockerfile);
      const auto r = extract("FROM alpine:3.19\n", name);
      const auto& f = only_finding(r);
      CHECK(f.file == name);
    }
  }
}

TEST_CASE("dockerfile: the column of an image after a multibyte character", "[extract][dockerfile]")
{
  const std::string content = "FROM alpine:3.19 AS café\nCOPY --chown=ü:ü --from=ghcr.io/acme/x:1 /ü /ü\n";
  const auto r = extract(content, "Dockerfile");
  INFO(describe(r));
  REQUIRE(r.findings.size() == 2);
  const auto [line, column] = position_of(content, "ghcr.io/acme/x:1");
  CHECK(column == 25);
  CHECK(r.findings[1].location == "stage/café/copy-from/ghcr.io/acme/x");
  CHECK(r.findings[1].line == line);
  CHECK(r.findings[1].column == column);
}
