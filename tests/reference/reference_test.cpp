// Table-driven tests of changetrail::reference (REGISTRY.md "References", distribution/reference's
// grammar, normalize.go and its tests where REGISTRY.md is silent).
//
// The expectations come from the grammar, not from the parser's output:
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [domain "/"] path-component ["/" path-component]*
//   domain           := host [":" port]; host := domain-name | IPv4 | "[" IPv6 "]"
//   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   path-component   := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [._] | __ | [-]+
//   tag              := [\w][\w.-]{0,127}
//   digest           := sha256:<64 lowercase hex> | sha512:<128 lowercase hex>   (REGISTRY.md)
// The first component is a registry host only if it is "localhost" or contains '.' or ':'
// (REGISTRY.md); otherwise the registry is docker.io, and a single-component name gets "library/".

#include <changetrail/reference/reference.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using changetrail::reference::parse;
using changetrail::reference::Reference;

const std::string k_hex64 = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
const std::string k_hex64b = "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
const std::string k_hex128 = k_hex64 + k_hex64b;
const std::string k_d256 = "sha256:" + k_hex64;
const std::string k_d256b = "sha256:" + k_hex64b;
const std::string k_d512 = "sha512:" + k_hex128;

std::string repeat(const std::string& s, std::size_t n)
{
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += s;
  }
  return out;
}

std::string upper(std::string s)
{
  for (auto& c : s) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return s;
}

// Printable form of an input for failure messages (independent of the code under test).
std::string show(const std::string& s)
{
  std::ostringstream out;
  out << '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F) {
      static const char* const digits = "0123456789abcdef";
      out << "\\x" << digits[u >> 4] << digits[u & 0xF];
    } else {
      out << c;
    }
  }
  out << '"' << " (" << s.size() << " bytes)";
  return out.str();
}

// True when `error` contains one of the '|'-separated alternatives of `expected`.
bool error_matches(const std::string& error, const std::string& expected)
{
  std::size_t start = 0;
  while (true) {
    const auto bar = expected.find('|', start);
    const auto alt = expected.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    if (!alt.empty() && error.find(alt) != std::string::npos) {
      return true;
    }
    if (bar == std::string::npos) {
      return false;
    }
    start = bar + 1;
  }
}

struct Row {
  std::string input;
  bool valid = false;
  std::string registry;
  std::string repository;
  std::string tag;
  std::string digest;
  std::string canonical;
  std::string familiar;
  std::string error; // invalid rows: substring(s) of the expected error, alternatives split by '|'
  bool unresolved = false;
  std::vector<std::string> variables;
};

Row ok(std::string input, std::string registry, std::string repository, std::string tag, std::string digest,
       std::string canonical, std::string familiar)
{
  Row r;
  r.input = std::move(input);
  r.valid = true;
  r.registry = std::move(registry);
  r.repository = std::move(repository);
  r.tag = std::move(tag);
  r.digest = std::move(digest);
  r.canonical = std::move(canonical);
  r.familiar = std::move(familiar);
  return r;
}

Row bad(std::string input, std::string error)
{
  Row r;
  r.input = std::move(input);
  r.error = std::move(error);
  return r;
}

Row tpl(std::string input, std::vector<std::string> variables)
{
  Row r;
  r.input = std::move(input);
  r.unresolved = true;
  r.variables = std::move(variables);
  return r;
}

// 229 rows (the test requires at least 170).
std::vector<Row> rows()
{
  const std::string dh = "docker.io";
  const std::string a243 = std::string(243, 'a');
  const std::string a244 = std::string(244, 'a');
  const std::string a256 = std::string(256, 'a');
  const std::string t128 = std::string(128, 'v');
  const std::string deep = repeat("ab/", 60) + "c";
  return {
    // --- Docker Hub defaults: docker.io, and library/ for a single component -------------------
    ok("nginx", dh, "library/nginx", "", "", "docker.io/library/nginx", "nginx"),
    ok("nginx:1.25", dh, "library/nginx", "1.25", "", "docker.io/library/nginx:1.25", "nginx:1.25"),
    ok("nginx:latest", dh, "library/nginx", "latest", "", "docker.io/library/nginx:latest", "nginx:latest"),
    ok("library/nginx", dh, "library/nginx", "", "", "docker.io/library/nginx", "nginx"),
    ok("docker.io/nginx", dh, "library/nginx", "", "", "docker.io/library/nginx", "nginx"),
    ok("docker.io/library/nginx:1.25-alpine", dh, "library/nginx", "1.25-alpine", "",
       "docker.io/library/nginx:1.25-alpine", "nginx:1.25-alpine"),
    ok("bitnami/redis:7.2", dh, "bitnami/redis", "7.2", "", "docker.io/bitnami/redis:7.2", "bitnami/redis:7.2"),
    ok("docker.io/bitnami/redis", dh, "bitnami/redis", "", "", "docker.io/bitnami/redis", "bitnami/redis"),
    ok("a/b/c/d/e:1", dh, "a/b/c/d/e", "1", "", "docker.io/a/b/c/d/e:1", "a/b/c/d/e:1"),
    // "library/" is only dropped from the familiar form when one component follows it.
    ok("library/foo/bar", dh, "library/foo/bar", "", "", "docker.io/library/foo/bar", "library/foo/bar"),
    ok("docker.io/library", dh, "library/library", "", "", "docker.io/library/library", "library"),
    ok("other/library", dh, "other/library", "", "", "docker.io/other/library", "other/library"),
    ok("ubuntu-12.04-base", dh, "library/ubuntu-12.04-base", "", "", "docker.io/library/ubuntu-12.04-base",
       "ubuntu-12.04-base"),
    ok("d/docker", dh, "d/docker", "", "", "docker.io/d/docker", "d/docker"),
    ok("jess/t", dh, "jess/t", "", "", "docker.io/jess/t", "jess/t"),
    // No '.' or ':' and not "localhost": a Hub namespace, not a host.
    ok("my_host/app", dh, "my_host/app", "", "", "docker.io/my_host/app", "my_host/app"),
    ok("myregistry/app:v1", dh, "myregistry/app", "v1", "", "docker.io/myregistry/app:v1", "myregistry/app:v1"),
    ok("test_com/foo", dh, "test_com/foo", "", "", "docker.io/test_com/foo", "test_com/foo"),

    // --- index.docker.io normalizes; registry-1.docker.io does not -------------------------------
    ok("index.docker.io/nginx", dh, "library/nginx", "", "", "docker.io/library/nginx", "nginx"),
    ok("index.docker.io/library/nginx:1.25", dh, "library/nginx", "1.25", "", "docker.io/library/nginx:1.25",
       "nginx:1.25"),
    ok("index.docker.io/bitnami/redis:7", dh, "bitnami/redis", "7", "", "docker.io/bitnami/redis:7",
       "bitnami/redis:7"),
    ok("registry-1.docker.io/nginx", "registry-1.docker.io", "nginx", "", "", "registry-1.docker.io/nginx",
       "registry-1.docker.io/nginx"),
    ok("registry-1.docker.io/library/nginx:1.25", "registry-1.docker.io", "library/nginx", "1.25", "",
       "registry-1.docker.io/library/nginx:1.25", "registry-1.docker.io/library/nginx:1.25"),
    ok("docker.io", dh, "library/docker.io", "", "", "docker.io/library/docker.io", "docker.io"),
    ok("index.docker.io", dh, "library/index.docker.io", "", "", "docker.io/library/index.docker.io",
       "index.docker.io"),
    ok("docker.io:443/nginx", "docker.io:443", "nginx", "", "", "docker.io:443/nginx", "docker.io:443/nginx"),
    ok("hub.docker.com/nginx", "hub.docker.com", "nginx", "", "", "hub.docker.com/nginx", "hub.docker.com/nginx"),

    // --- Host detection: "localhost", or contains '.' or ':' -------------------------------------
    ok("localhost", dh, "library/localhost", "", "", "docker.io/library/localhost", "localhost"),
    ok("localhost:5000", dh, "library/localhost", "5000", "", "docker.io/library/localhost:5000", "localhost:5000"),
    ok("test.com:5000", dh, "library/test.com", "5000", "", "docker.io/library/test.com:5000", "test.com:5000"),
    ok("test.com", dh, "library/test.com", "", "", "docker.io/library/test.com", "test.com"),
    ok("ghcr.io:1.0", dh, "library/ghcr.io", "1.0", "", "docker.io/library/ghcr.io:1.0", "ghcr.io:1.0"),
    ok("test.com:tag", dh, "library/test.com", "tag", "", "docker.io/library/test.com:tag", "test.com:tag"),
    ok("localhost/app", "localhost", "app", "", "", "localhost/app", "localhost/app"),
    ok("localhost:5000/app", "localhost:5000", "app", "", "", "localhost:5000/app", "localhost:5000/app"),
    ok("localhost:5000/team/app:1.0", "localhost:5000", "team/app", "1.0", "", "localhost:5000/team/app:1.0",
       "localhost:5000/team/app:1.0"),
    ok("test:5000/repo", "test:5000", "repo", "", "", "test:5000/repo", "test:5000/repo"),
    ok("test:5000/repo:tag@" + k_d256, "test:5000", "repo", "tag", k_d256, "test:5000/repo:tag@" + k_d256,
       "test:5000/repo:tag@" + k_d256),
    ok("test.com/repo:tag", "test.com", "repo", "tag", "", "test.com/repo:tag", "test.com/repo:tag"),
    ok("ghcr.io/acme/app:1.2.3", "ghcr.io", "acme/app", "1.2.3", "", "ghcr.io/acme/app:1.2.3",
       "ghcr.io/acme/app:1.2.3"),
    ok("quay.io/prometheus/node-exporter:v1.7.0", "quay.io", "prometheus/node-exporter", "v1.7.0", "",
       "quay.io/prometheus/node-exporter:v1.7.0", "quay.io/prometheus/node-exporter:v1.7.0"),
    ok("registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", "", "registry.k8s.io/pause:3.9",
       "registry.k8s.io/pause:3.9"),
    ok("gcr.io/distroless/static-debian12:nonroot", "gcr.io", "distroless/static-debian12", "nonroot", "",
       "gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12:nonroot"),
    ok("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:2024.01.15",
       "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "team/app", "2024.01.15", "",
       "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:2024.01.15",
       "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:2024.01.15"),
    ok("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag", "",
       "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com/bar/baz/quux:some-long-tag"),
    ok("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
       "test.example.com", "", "b.gcr.io/test.example.com/my-app:test.example.com",
       "b.gcr.io/test.example.com/my-app:test.example.com"),
    ok("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", "",
       "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage:xn--n3h.com"),
    ok("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", "", "", "xn--n3h.com:18080/foo", "xn--n3h.com:18080/foo"),
    ok("test-com:8080/foo", "test-com:8080", "foo", "", "", "test-com:8080/foo", "test-com:8080/foo"),
    // Single component with a '.': a Hub name plus a tag, the '_' is a path separator.
    ok("foo_bar.com:8080", dh, "library/foo_bar.com", "8080", "", "docker.io/library/foo_bar.com:8080",
       "foo_bar.com:8080"),
    ok("foo/foo_bar.com:8080", dh, "foo/foo_bar.com", "8080", "", "docker.io/foo/foo_bar.com:8080",
       "foo/foo_bar.com:8080"),
    // Uppercase is allowed in the host (domain-component is [a-zA-Z0-9-]).
    ok("Registry.Example.COM/app", "Registry.Example.COM", "app", "", "", "Registry.Example.COM/app",
       "Registry.Example.COM/app"),
    ok("EXAMPLE.COM:5000/team/app:v1", "EXAMPLE.COM:5000", "team/app", "v1", "", "EXAMPLE.COM:5000/team/app:v1",
       "EXAMPLE.COM:5000/team/app:v1"),
    ok("a.b.c.d.e/app", "a.b.c.d.e", "app", "", "", "a.b.c.d.e/app", "a.b.c.d.e/app"),
    // Bad hosts. "my_host.com" is a host by the '.' rule but '_' is no domain character.
    bad("my_host.com/app", "host"),
    bad("-example.com/app", "host"),
    bad("example-.com/app", "host"),
    bad("example..com/app", "host"),
    bad(".example.com/app", "host"),
    bad("example.com./app", "host"),
    bad("example.com:/app", "host|port"),
    bad("example.com:50a0/app", "host|port"),
    bad("example.com:5000:6000/app", "host|port"),
    bad(":5000/app", "host"),
    bad("https://github.com/docker/docker", "host|port"),
    // REGISTRY.md: an uppercase first component is not a host (newer distribution/reference treats
    // it as one, REGISTRY.md is explicit), so it is a Hub path with uppercase letters.
    bad("LOCALHOST/app", "must be lowercase"),
    bad("Docker/docker", "must be lowercase"),

    // --- IPv4 hosts ------------------------------------------------------------------------------
    ok("127.0.0.1/app", "127.0.0.1", "app", "", "", "127.0.0.1/app", "127.0.0.1/app"),
    ok("127.0.0.1:5000/app:1.0", "127.0.0.1:5000", "app", "1.0", "", "127.0.0.1:5000/app:1.0",
       "127.0.0.1:5000/app:1.0"),
    ok("192.168.0.1:8/debian", "192.168.0.1:8", "debian", "", "", "192.168.0.1:8/debian", "192.168.0.1:8/debian"),
    ok("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", "", "192.168.1.1:5000/repo:5050",
       "192.168.1.1:5000/repo:5050"),
    ok("127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian", "", "", "127.0.0.1:5000/library/debian",
       "127.0.0.1:5000/library/debian"),
    ok("192.168.0.1", dh, "library/192.168.0.1", "", "", "docker.io/library/192.168.0.1", "192.168.0.1"),
    ok("192.168.0.1:80", dh, "library/192.168.0.1", "80", "", "docker.io/library/192.168.0.1:80", "192.168.0.1:80"),
    ok("10.0.0.1:5000/a/b/c@" + k_d256, "10.0.0.1:5000", "a/b/c", "", k_d256, "10.0.0.1:5000/a/b/c@" + k_d256,
       "10.0.0.1:5000/a/b/c@" + k_d256),

    // --- Bracketed IPv6 hosts --------------------------------------------------------------------
    ok("[::1]/app", "[::1]", "app", "", "", "[::1]/app", "[::1]/app"),
    ok("[::1]:5000/repo", "[::1]:5000", "repo", "", "", "[::1]:5000/repo", "[::1]:5000/repo"),
    ok("[2001:db8::1]/repo", "[2001:db8::1]", "repo", "", "", "[2001:db8::1]/repo", "[2001:db8::1]/repo"),
    ok("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", "",
       "[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]/repo:tag"),
    ok("[2001:db8::1]:5000/repo:tag@" + k_d256, "[2001:db8::1]:5000", "repo", "tag", k_d256,
       "[2001:db8::1]:5000/repo:tag@" + k_d256, "[2001:db8::1]:5000/repo:tag@" + k_d256),
    ok("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "", "", "[2001:db8::]:5000/repo",
       "[2001:db8::]:5000/repo"),
    ok("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", "", "", "[fc00::1]:5000/docker/docker",
       "[fc00::1]:5000/docker/docker"),
    ok("[FE80::1]:5000/app", "[FE80::1]:5000", "app", "", "", "[FE80::1]:5000/app", "[FE80::1]:5000/app"),
    bad("[2001:db8::1]", "invalid"),
    bad("[2001:db8::1]:5000", "invalid"),
    bad("[2001:db8::1]:tag", "invalid"),
    bad("[fe80::1%eth0]:5000/repo", "host"),
    bad("[fe80::1%@invalidzone]:5000/repo", "digest|host"),
    bad("fc00::1:5000/debian", "host"),
    // distribution/reference normalize_test.go: an IPv6 literal with an embedded IPv4 tail is invalid
    // (ipv6address := \[[a-fA-F0-9:]+\]).
    bad("[2001:db8:3:4::192.0.2.33]:5000/debian", "host"),
    bad("[::1]:/app", "host|port"),
    bad("[::1]:abc/app", "host|port"),
    bad("[::1]x/app", "host"),
    bad("[::1/app", "host"),
    bad("[zz::1]/app", "host"),

    // --- Uppercase: invalid in the path, allowed in the tag --------------------------------------
    bad("Nginx", "must be lowercase"),
    bad("Example.com:5000", "must be lowercase"),
    bad("NGINX:1.25", "must be lowercase"),
    bad("Uppercase:tag", "must be lowercase"),
    bad("docker/Docker", "must be lowercase"),
    bad("docker.io/docker/Docker", "must be lowercase"),
    bad("example.com/App", "must be lowercase"),
    bad("localhost:5000/Foo", "must be lowercase"),
    bad("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
    bad("ghcr.io/Acme/app@" + k_d256, "must be lowercase"),
    ok("lowercase:Uppercase", dh, "library/lowercase", "Uppercase", "", "docker.io/library/lowercase:Uppercase",
       "lowercase:Uppercase"),
    ok("ghcr.io/acme/app:V1.2-RC_3", "ghcr.io", "acme/app", "V1.2-RC_3", "", "ghcr.io/acme/app:V1.2-RC_3",
       "ghcr.io/acme/app:V1.2-RC_3"),

    // --- Separators: '.', '_', '__', '-+' ----------------------------------------------------------
    ok("a.b", dh, "library/a.b", "", "", "docker.io/library/a.b", "a.b"),
    ok("a_b", dh, "library/a_b", "", "", "docker.io/library/a_b", "a_b"),
    ok("dock__er/docker", dh, "dock__er/docker", "", "", "docker.io/dock__er/docker", "dock__er/docker"),
    ok("a-b", dh, "library/a-b", "", "", "docker.io/library/a-b", "a-b"),
    ok("docker---rules/docker", dh, "docker---rules/docker", "", "", "docker.io/docker---rules/docker",
       "docker---rules/docker"),
    ok("registry.io/foo/project--id.module--name.ver---sion--name", "registry.io",
       "foo/project--id.module--name.ver---sion--name", "", "",
       "registry.io/foo/project--id.module--name.ver---sion--name",
       "registry.io/foo/project--id.module--name.ver---sion--name"),
    ok("org/a.b_c__d-e--f", dh, "org/a.b_c__d-e--f", "", "", "docker.io/org/a.b_c__d-e--f", "org/a.b_c__d-e--f"),
    ok("0/1", dh, "0/1", "", "", "docker.io/0/1", "0/1"),
    bad("a___b", "path component"),
    bad("____/____", "path component"),
    bad("_docker/_docker", "path component"),
    bad("-docker", "path component"),
    bad("-docker/docker", "path component"),
    bad("docker-/docker", "path component"),
    bad("-docker-/docker", "path component"),
    // With a '.' the first component is a host candidate (REGISTRY.md), so these fail as hosts.
    bad("dock..er/docker", "host|path component"),
    bad("dock_.er/docker", "host|path component"),
    bad("dock-.er/docker", "host|path component"),
    bad("docker/dock..er", "path component"),
    bad("docker/dock_.er", "path component"),
    bad("docker/dock-.er", "path component"),
    bad("a._b", "path component"),
    bad("a.-b", "path component"),
    bad("a_-b", "path component"),
    bad(".a", "path component"),
    bad("a.", "path component"),
    bad("a_", "path component"),
    bad("docker///docker", "path component|empty"),
    bad("docker/", "path|empty"),
    bad("/docker", "path|empty"),
    bad("docker.io/docker///docker", "path component|empty"),
    bad("ghcr.io/", "path|empty"),
    bad("ghcr.io//app", "path|empty"),
    bad("ghcr.io/acme/:1.0", "path|empty"),
    bad("aa/asdf$$^/aa", "path component"),
    bad("app/na+me", "path component"),
    bad("app/na~me", "path component"),

    // --- Name length: at most 255 characters (REGISTRY.md: the whole name) -----------------------
    ok("example.com/" + a243, "example.com", a243, "", "", "example.com/" + a243, "example.com/" + a243),
    bad("example.com/" + a244, "255"),
    ok("example.com/" + a243 + ":" + t128, "example.com", a243, t128, "", "example.com/" + a243 + ":" + t128,
       "example.com/" + a243 + ":" + t128),
    ok("example.com/" + a243 + "@" + k_d512, "example.com", a243, "", k_d512, "example.com/" + a243 + "@" + k_d512,
       "example.com/" + a243 + "@" + k_d512),
    bad(repeat("a/", 127) + "ab", "255"),
    bad(repeat("a/", 128) + "a:tag", "255"),
    bad(a256, "255"),
    // The limit applies after normalization: 240 + "docker.io/library/" is 258.
    bad(std::string(240, 'a'), "255"),
    ok(std::string(237, 'a'), dh, "library/" + std::string(237, 'a'), "", "", "docker.io/library/" + std::string(237, 'a'),
       std::string(237, 'a')),
    // A familiar form that would read as a registry host keeps docker.io/.
    ok("docker.io/a.b/c", dh, "a.b/c", "", "", "docker.io/a.b/c", "docker.io/a.b/c"),
    bad("ghcr.io/" + std::string(256, 'b'), "255"),
    ok("ghcr.io/" + deep, "ghcr.io", deep, "", "", "ghcr.io/" + deep, "ghcr.io/" + deep),
    ok("example.com/" + std::string(200, 'x') + ":1", "example.com", std::string(200, 'x'), "1", "",
       "example.com/" + std::string(200, 'x') + ":1", "example.com/" + std::string(200, 'x') + ":1"),

    // --- Tags: [\w][\w.-]{0,127} ---------------------------------------------------------------------
    ok("nginx:1.25.3-alpine3.19", dh, "library/nginx", "1.25.3-alpine3.19", "",
       "docker.io/library/nginx:1.25.3-alpine3.19", "nginx:1.25.3-alpine3.19"),
    ok("nginx:_private", dh, "library/nginx", "_private", "", "docker.io/library/nginx:_private", "nginx:_private"),
    ok("nginx:0", dh, "library/nginx", "0", "", "docker.io/library/nginx:0", "nginx:0"),
    ok("nginx:" + t128, dh, "library/nginx", t128, "", "docker.io/library/nginx:" + t128, "nginx:" + t128),
    bad("nginx:" + t128 + "v", "tag"),
    bad("nginx:.hidden", "tag"),
    bad("nginx:-rc1", "tag"),
    bad("nginx:", "tag"),
    bad("nginx:1.0+build", "tag"),
    bad("nginx:1:2", "invalid"),
    bad(":justtag", "empty"),
    ok("ghcr.io/acme/app:sha-1a2b3c4", "ghcr.io", "acme/app", "sha-1a2b3c4", "", "ghcr.io/acme/app:sha-1a2b3c4",
       "ghcr.io/acme/app:sha-1a2b3c4"),

    // --- Digests: sha256 (64 lowercase hex), sha512 (128); name:tag@digest keeps both ------------
    ok("nginx@" + k_d256, dh, "library/nginx", "", k_d256, "docker.io/library/nginx@" + k_d256, "nginx@" + k_d256),
    ok("nginx:1.25@" + k_d256, dh, "library/nginx", "1.25", k_d256, "docker.io/library/nginx:1.25@" + k_d256,
       "nginx:1.25@" + k_d256),
    ok("ghcr.io/acme/app@" + k_d512, "ghcr.io", "acme/app", "", k_d512, "ghcr.io/acme/app@" + k_d512,
       "ghcr.io/acme/app@" + k_d512),
    ok("busybox:latest@" + k_d256b, dh, "library/busybox", "latest", k_d256b,
       "docker.io/library/busybox:latest@" + k_d256b, "busybox:latest@" + k_d256b),
    ok("xn--7o8h.com/myimage:xn--7o8h.com@" + k_d512, "xn--7o8h.com", "myimage", "xn--7o8h.com", k_d512,
       "xn--7o8h.com/myimage:xn--7o8h.com@" + k_d512, "xn--7o8h.com/myimage:xn--7o8h.com@" + k_d512),
    bad("nginx@sha256:" + k_hex64.substr(0, 63), "digest"),
    bad("nginx@sha256:" + k_hex64 + "a", "digest"),
    bad("nginx@sha256:" + upper(k_hex64), "digest"),
    bad("nginx@sha256:" + k_hex64.substr(0, 63) + "g", "digest"),
    bad("nginx@sha512:" + k_hex64, "digest"),
    bad("nginx@sha256:" + k_hex128, "digest"),
    bad("nginx@sha384:" + k_hex64 + k_hex64.substr(0, 32), "digest"),
    bad("nginx@md5:d41d8cd98f00b204e9800998ecf8427e", "digest"),
    bad("validname@invaliddigest:" + k_hex64, "digest"),
    bad("nginx@SHA256:" + k_hex64, "digest"),
    bad("nginx@sha256", "digest"),
    bad("nginx@sha256:", "digest"),
    bad("nginx@", "digest"),
    bad("nginx:1.25@", "digest"),
    bad("nginx:@" + k_d256, "tag"),
    bad("@" + k_d256, "empty"),
    bad("nginx@" + k_d256 + "@" + k_d256, "digest"),
    bad("nginx@" + k_hex64, "digest"),
    bad("nginx@" + k_d256 + ":tag", "digest"),
    bad("repo@sha256:ffffffffffffffffffffffffffffffffff", "digest"),

    // --- A bare 64-hex string is an image id, not a name (anchoredIdentifierRegexp) --------------
    bad(k_hex64, "hex"),
    ok(k_hex64 + ":tag", dh, "library/" + k_hex64, "tag", "", "docker.io/library/" + k_hex64 + ":tag",
       k_hex64 + ":tag"),
    ok(k_hex64.substr(0, 63), dh, "library/" + k_hex64.substr(0, 63), "", "",
       "docker.io/library/" + k_hex64.substr(0, 63), k_hex64.substr(0, 63)),
    // Its familiar form keeps the registry: the bare hex would read back as an image id.
    ok("docker.io/" + k_hex64, dh, "library/" + k_hex64, "", "", "docker.io/library/" + k_hex64,
       "docker.io/library/" + k_hex64),
    ok(k_hex64 + "@" + k_d256, dh, "library/" + k_hex64, "", k_d256, "docker.io/library/" + k_hex64 + "@" + k_d256,
       k_hex64 + "@" + k_d256),
    bad(upper(k_hex64), "must be lowercase"),

    // --- Template syntax: unresolved, with the variable names -------------------------------------
    tpl("${IMAGE}", {"IMAGE"}),
    tpl("nginx:${TAG}", {"TAG"}),
    tpl("$REGISTRY/app:1.0", {"REGISTRY"}),
    tpl("ghcr.io/acme/app:$TAG", {"TAG"}),
    tpl("${REGISTRY:-docker.io}/nginx:${TAG:-latest}", {"REGISTRY", "TAG"}),
    tpl("{{ .Values.image.repository }}:{{ .Values.image.tag }}", {".Values.image.repository", ".Values.image.tag"}),
    tpl("{{.Values.image}}", {".Values.image"}),
    tpl("ghcr.io/acme/app:{{ .Chart.AppVersion }}", {".Chart.AppVersion"}),
    tpl("${VAR?required}/app", {"VAR"}),
    tpl("$_PRIVATE", {"_PRIVATE"}),
    tpl("nginx@${DIGEST}", {"DIGEST"}),
    tpl("${A}${B}", {"A", "B"}),
    // Not template syntax: a single brace, a lone '$'.
    bad("nginx:{tag}", "tag"),
    bad("nginx:1.0$", "tag"),

    // --- Empty input, spaces, control and non-ASCII characters ------------------------------------
    bad("", "empty"),
    bad(" ", "space"),
    bad(" nginx", "space"),
    bad("nginx ", "space"),
    bad("nginx :latest", "space"),
    bad("ghcr.io/acme/my app", "space"),
    bad("nginx:ta g", "space"),
    bad("nginx\t", "control"),
    bad("nginx\n", "control"),
    bad("ngi\rnx", "control"),
    bad(std::string("ngi\0nx", 6), "control"),
    bad("nginx\x7f", "control"),
    bad("nginx\x1b[0m", "control"),
    bad("ng\xc3\xafnx", "non-ASCII"),
    bad("nginx:1.0\xff", "non-ASCII"),
    bad(":", "empty|tag"),
    bad("@", "empty|digest"),
    bad("/", "empty|path"),
  };
}

void check_row(const Row& row)
{
  INFO("input: " << show(row.input));
  const Reference r = parse(row.input);
  CHECK(r.input == row.input);
  CHECK(r.valid == row.valid);
  CHECK(r.unresolved == row.unresolved);
  if (row.unresolved) {
    CHECK(r.variables == row.variables);
    CHECK(r.registry.empty());
    CHECK(r.repository.empty());
    return;
  }
  CHECK(r.variables.empty());
  if (row.valid) {
    CHECK(r.error.empty());
    CHECK(r.registry == row.registry);
    CHECK(r.repository == row.repository);
    CHECK(r.tag == row.tag);
    CHECK(r.digest == row.digest);
    CHECK(r.has_tag() == !row.tag.empty());
    CHECK(r.has_digest() == !row.digest.empty());
    CHECK(r.name() == row.registry + "/" + row.repository);
    CHECK(r.canonical() == row.canonical);
    CHECK(r.familiar() == row.familiar);
    // Both printed forms parse back to the same reference.
    const Reference again = parse(row.canonical);
    CHECK(again.valid);
    CHECK(again.canonical() == row.canonical);
    if (row.familiar != k_hex64) { // a familiar bare hex id is the one form that does not parse back
      const Reference familiar = parse(row.familiar);
      CHECK(familiar.valid);
      CHECK(familiar.canonical() == row.canonical);
    }
  } else {
    INFO("error: " << r.error);
    CHECK_FALSE(r.error.empty());
    CHECK(error_matches(r.error, row.error));
    CHECK(r.error.find('\n') == std::string::npos);
    CHECK(r.registry.empty());
    CHECK(r.repository.empty());
    CHECK(r.tag.empty());
    CHECK(r.digest.empty());
    CHECK(r.canonical().empty());
    CHECK(r.familiar().empty());
    CHECK(r.familiar_name().empty());
  }
}

} // namespace

TEST_CASE("reference::parse table", "[reference]")
{
  REQUIRE(k_hex64.size() == 64);
  REQUIRE(k_hex128.size() == 128);
  const auto table = rows();
  CHECK(table.size() >= 170);
  for (const auto& row : table) {
    check_row(row);
  }
}

TEST_CASE("reference::parse table has no duplicate inputs", "[reference]")
{
  const auto table = rows();
  for (std::size_t i = 0; i < table.size(); ++i) {
    for (std::size_t j = i + 1; j < table.size(); ++j) {
      INFO("duplicate: " << show(table[i].input));
      CHECK(table[i].input != table[j].input);
    }
  }
}

TEST_CASE("reference::familiar_name drops tag and digest", "[reference]")
{
  struct Case {
    std::string input;
    std::string familiar_name;
  };
  const std::vector<Case> cases = {
    {"nginx:1.25@" + k_d256, "nginx"},
    {"docker.io/library/nginx", "nginx"},
    {"bitnami/redis:7", "bitnami/redis"},
    {"library/foo/bar:1", "library/foo/bar"},
    {"ghcr.io/acme/app@" + k_d256, "ghcr.io/acme/app"},
    {"localhost:5000/app:1", "localhost:5000/app"},
    {"registry-1.docker.io/nginx:1", "registry-1.docker.io/nginx"},
    {"[::1]:5000/repo:tag", "[::1]:5000/repo"},
  };
  for (const auto& c : cases) {
    INFO("input: " << c.input);
    const auto r = parse(c.input);
    REQUIRE(r.valid);
    CHECK(r.familiar_name() == c.familiar_name);
  }
}

TEST_CASE("reference::canonical adds no implicit latest", "[reference]")
{
  const auto r = parse("nginx");
  REQUIRE(r.valid);
  CHECK(r.canonical() == "docker.io/library/nginx");
  CHECK(r.familiar() == "nginx");
  CHECK_FALSE(r.has_tag());
  CHECK_FALSE(r.has_digest());
  const auto d = parse("nginx@" + k_d256);
  REQUIRE(d.valid);
  CHECK(d.canonical() == "docker.io/library/nginx@" + k_d256);
  CHECK_FALSE(d.has_tag());
}

TEST_CASE("reference::parse: a default Reference prints nothing", "[reference]")
{
  const Reference r;
  CHECK_FALSE(r.valid);
  CHECK(r.canonical().empty());
  CHECK(r.familiar().empty());
  CHECK(r.familiar_name().empty());
}

TEST_CASE("reference::join builds Helm's split form like the joined text", "[reference]")
{
  using changetrail::reference::join;
  struct Case {
    std::string registry;
    std::string repository;
    std::string tag;
    std::string digest;
    std::string joined;    // the text join must produce
    std::string canonical; // what that text parses to
  };
  const std::vector<Case> cases = {
    {"", "nginx", "1.25", "", "nginx:1.25", "docker.io/library/nginx:1.25"},
    {"", "nginx", "", "", "nginx", "docker.io/library/nginx"},
    {"docker.io", "nginx", "1.25", "", "docker.io/nginx:1.25", "docker.io/library/nginx:1.25"},
    {"docker.io", "bitnami/redis", "7.2.4", "", "docker.io/bitnami/redis:7.2.4", "docker.io/bitnami/redis:7.2.4"},
    {"ghcr.io", "acme/app", "1.2.3", "", "ghcr.io/acme/app:1.2.3", "ghcr.io/acme/app:1.2.3"},
    {"ghcr.io/", "acme/app", "1.2.3", "", "ghcr.io/acme/app:1.2.3", "ghcr.io/acme/app:1.2.3"},
    {"registry.example.com:5000/", "app", "", "", "registry.example.com:5000/app", "registry.example.com:5000/app"},
    {"localhost:5000", "team/app", "v1", "", "localhost:5000/team/app:v1", "localhost:5000/team/app:v1"},
    {"", "bitnami/redis", "7.2.4@" + k_d256, "", "bitnami/redis:7.2.4@" + k_d256,
     "docker.io/bitnami/redis:7.2.4@" + k_d256},
    {"quay.io", "org/app", "1.2.3@" + k_d256, "", "quay.io/org/app:1.2.3@" + k_d256,
     "quay.io/org/app:1.2.3@" + k_d256},
    {"quay.io/", "org/app", "1.2.3@" + k_d256, "", "quay.io/org/app:1.2.3@" + k_d256,
     "quay.io/org/app:1.2.3@" + k_d256},
    {"quay.io", "org/app", "", k_d256, "quay.io/org/app@" + k_d256, "quay.io/org/app@" + k_d256},
    {"quay.io", "org/app", "1.0", k_d256, "quay.io/org/app:1.0@" + k_d256, "quay.io/org/app:1.0@" + k_d256},
    {"", "nginx", "", k_d512, "nginx@" + k_d512, "docker.io/library/nginx@" + k_d512},
    // The same digest written in both places is written once.
    {"ghcr.io", "acme/app", "1.2.3@" + k_d256, k_d256, "ghcr.io/acme/app:1.2.3@" + k_d256,
     "ghcr.io/acme/app:1.2.3@" + k_d256},
    {"[::1]:5000", "repo", "tag", "", "[::1]:5000/repo:tag", "[::1]:5000/repo:tag"},
  };
  for (const auto& c : cases) {
    INFO("registry=" << c.registry << " repository=" << c.repository << " tag=" << c.tag << " digest=" << c.digest);
    const auto text = join(c.registry, c.repository, c.tag, c.digest);
    CHECK(text == c.joined);
    const auto split = parse(text);
    const auto whole = parse(c.joined);
    REQUIRE(split.valid);
    REQUIRE(whole.valid);
    CHECK(split.canonical() == c.canonical);
    CHECK(split.registry == whole.registry);
    CHECK(split.repository == whole.repository);
    CHECK(split.tag == whole.tag);
    CHECK(split.digest == whole.digest);
  }

  SECTION("an invalid part makes an invalid reference")
  {
    CHECK_FALSE(parse(join("ghcr.io", "Acme/App", "1.0", "")).valid);
    CHECK_FALSE(parse(join("ghcr.io", "", "1.0", "")).valid);
    CHECK_FALSE(parse(join("ghcr.io", "acme/app", "-bad", "")).valid);
    CHECK_FALSE(parse(join("ghcr.io", "acme/app", "1.0", "sha256:1234")).valid);
  }
}

TEST_CASE("reference::validate_digest", "[reference]")
{
  using changetrail::reference::validate_digest;
  for (const auto& good : {k_d256, k_d256b, k_d512, std::string("sha256:") + std::string(64, '0'),
                           std::string("sha512:") + std::string(128, 'f')}) {
    INFO(good);
    CHECK(validate_digest(good).empty());
  }
  const std::vector<std::string> bads = {
    "",
    "sha256",
    "sha256:",
    ":" + k_hex64,
    k_hex64,
    "sha256:" + k_hex64.substr(0, 63),
    "sha256:" + k_hex64 + "0",
    "sha256:" + upper(k_hex64),
    "sha256:" + k_hex64.substr(0, 63) + "z",
    "sha256:" + k_hex128,
    "sha512:" + k_hex64,
    "sha512:" + k_hex128.substr(0, 127),
    "sha512:" + upper(k_hex128),
    "sha384:" + k_hex64 + k_hex64.substr(0, 32),
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "SHA256:" + k_hex64,
    "sha256:" + k_hex64.substr(0, 32) + " " + k_hex64.substr(33),
    "sha256::" + k_hex64.substr(1),
    " sha256:" + k_hex64,
  };
  for (const auto& b : bads) {
    INFO(show(b));
    CHECK_FALSE(validate_digest(b).empty());
  }
}

TEST_CASE("reference::is_valid_tag", "[reference]")
{
  using changetrail::reference::is_valid_tag;
  for (const std::string t : {"latest", "1", "1.25.3", "v1.2.3-rc.1", "_x", "A", "UPPER_case-1.0", "0.0.0",
                              "a..b", "a--b", "x_"}) {
    INFO(t);
    CHECK(is_valid_tag(t));
  }
  CHECK(is_valid_tag(std::string(128, 'a')));
  CHECK(is_valid_tag("a" + std::string(127, '.')));
  CHECK_FALSE(is_valid_tag(std::string(129, 'a')));
  for (const std::string t : {"", ".a", "-a", "a+b", "a/b", "a:b", "a@b", "a b", "é", "a\n"}) {
    INFO(show(t));
    CHECK_FALSE(is_valid_tag(t));
  }
}

TEST_CASE("reference::to_json", "[reference]")
{
  SECTION("valid with tag, no digest")
  {
    const nlohmann::json j = parse("ghcr.io/acme/app:1.0");
    CHECK(j.at("input") == "ghcr.io/acme/app:1.0");
    CHECK(j.at("valid") == true);
    CHECK(j.at("error").is_null());
    CHECK(j.at("registry") == "ghcr.io");
    CHECK(j.at("repository") == "acme/app");
    CHECK(j.at("tag") == "1.0");
    CHECK(j.at("digest").is_null());
    CHECK(j.at("canonical") == "ghcr.io/acme/app:1.0");
    CHECK(j.at("familiar") == "ghcr.io/acme/app:1.0");
  }
  SECTION("valid Hub name with digest, no tag")
  {
    const nlohmann::json j = parse("nginx@" + k_d256);
    CHECK(j.at("valid") == true);
    CHECK(j.at("registry") == "docker.io");
    CHECK(j.at("repository") == "library/nginx");
    CHECK(j.at("tag").is_null());
    CHECK(j.at("digest") == k_d256);
    CHECK(j.at("canonical") == "docker.io/library/nginx@" + k_d256);
    CHECK(j.at("familiar") == "nginx@" + k_d256);
  }
  SECTION("tag and digest")
  {
    const nlohmann::json j = parse("index.docker.io/library/nginx:1.25@" + k_d256);
    CHECK(j.at("input") == "index.docker.io/library/nginx:1.25@" + k_d256);
    CHECK(j.at("tag") == "1.25");
    CHECK(j.at("digest") == k_d256);
    CHECK(j.at("canonical") == "docker.io/library/nginx:1.25@" + k_d256);
    CHECK(j.at("familiar") == "nginx:1.25@" + k_d256);
  }
  SECTION("invalid: nulls for every part")
  {
    const nlohmann::json j = parse("Nginx:1.0");
    CHECK(j.at("input") == "Nginx:1.0");
    CHECK(j.at("valid") == false);
    REQUIRE(j.at("error").is_string());
    CHECK(j.at("error").get<std::string>().find("must be lowercase") != std::string::npos);
    for (const char* key : {"registry", "repository", "tag", "digest", "canonical", "familiar"}) {
      INFO(key);
      CHECK(j.at(key).is_null());
    }
  }
  SECTION("unresolved: variables listed")
  {
    const nlohmann::json j = parse("ghcr.io/acme/app:${TAG}");
    CHECK(j.at("valid") == false);
    CHECK(j.at("unresolved") == true);
    CHECK(j.at("variables") == nlohmann::json::array({"TAG"}));
    CHECK(j.at("registry").is_null());
    CHECK(j.at("canonical").is_null());
  }
  SECTION("invalid UTF-8 input still serializes")
  {
    const nlohmann::json j = parse("ngi\xffnx");
    CHECK(j.at("valid") == false);
    std::string dumped;
    CHECK_NOTHROW(dumped = j.dump());
    CHECK(j.at("input") == "ngi\xEF\xBF\xBDnx");
  }
  SECTION("field set")
  {
    const nlohmann::json j = parse("nginx");
    for (const char* key :
         {"input", "valid", "error", "registry", "repository", "tag", "digest", "canonical", "familiar"}) {
      INFO(key);
      CHECK(j.contains(key));
    }
  }
}
