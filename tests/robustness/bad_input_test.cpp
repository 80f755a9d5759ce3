// Issue 2 section 5, bad YAML content: none of these may crash, hang, blow up memory or stop the
// other files from being checked. Black-box tests of the built binary (`check`, text output:
// `file:line:col: warning[parse-error]: ...`) plus direct core calls where they say more.

#include "bad_input.hpp"

#include <changetrail/yaml/yaml.hpp>

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace std::string_literals;
using namespace changetrail::test;
using namespace changetrail::test::bad_input;
using Catch::Matchers::Contains;

namespace {

std::uint32_t count_lines(const std::string& content)
{
  const auto newlines = static_cast<std::uint32_t>(std::count(content.begin(), content.end(), '\n'));
  return content.empty() || content.back() == '\n' ? newlines : newlines + 1;
}

struct BadFile {
  std::string name;
  std::string content;
  std::uint32_t min_line; // where the parse-error may point (inclusive)
  std::uint32_t max_line;
};

} // namespace

TEST_CASE("bad input: malformed YAML is one parse-error with its line, other files still checked", "[robustness]")
{
  const std::vector<BadFile> files{
    {"nested-mapping.yaml", "image: nginx:1.0\nfoo: bar: baz\n", 2, 2},
    {"unterminated-quote.yaml", "image: \"nginx:1.0\nother: 1\n", 1, 2},
    {"bad-indent.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1.0\n   bad: 1\n", 6, 6},
    {"at-sign.yaml", "image: @nginx\n", 1, 1},
    {"extra-brace.yaml", "image: x\n}\n", 2, 2},
    {"two-version-directives.yaml", "%YAML 1.2\n%YAML 1.2\n---\nimage: x\n", 2, 2},
    {"compose.yaml", "services:\n  web:\n    image: nginx:1.0\n  - x\n", 4, 4},
    {"kustomization.yaml", "images:\n- name: nginx\n  newTag: \"1.0\"\n newName: x\n", 4, 4},
    {"values.yaml", "image:\n  repository: nginx\n  tag: 1.0\n    pullPolicy: Always\n", 3, 4},
  };
  TempDir dir;
  write_good(dir);
  for (const auto& f : files) {
    dir.write(f.name, f.content);
  }
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  for (const auto& f : files) {
    INFO(f.name);
    const auto d = check_one_parse_error(r, f.name, f.min_line, f.max_line);
    CHECK(d.line <= count_lines(f.content));
  }
}

TEST_CASE("bad input: malformed YAML: the documents before the error are still read", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("stream.yaml", "image: redis:latest\n---\nimage: [\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  CHECK(has_line_starting(r.out, "stream.yaml:1:8: error[latest-tag]: "));
  // (Line 4, one past the end, is the end-of-input case of the next test.)
  check_one_parse_error(r, "stream.yaml", 3, 4);
}

TEST_CASE("bad input: malformed YAML: an error at the end of input points at a line of the file", "[robustness]")
{
  // An unclosed flow collection is detected at the end of input; libfyaml's mark is then one
  // line past the last line. An editor cannot jump there: the line must be one of the file's.
  TempDir dir;
  write_good(dir);
  dir.write("eof.yaml", "image: [a");
  dir.write("eof-nl.yaml", "image: x\nfoo: {a: b\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  check_one_parse_error(r, "eof.yaml", 1, 1);
  check_one_parse_error(r, "eof-nl.yaml", 2, 2);
}

TEST_CASE("bad input: malformed YAML: extract warns once on stderr with file:line:col", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("nested-mapping.yaml", "image: nginx:1.0\nfoo: bar: baz\n");
  const auto r = changetrail_in(dir, {"extract", "nested-mapping.yaml", std::string(k_good_name)});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("good.yaml:1:8") != std::string::npos);
  CHECK(count_lines_starting(r.err, "changetrail: warning: nested-mapping.yaml:2:") == 1);
  CHECK(lines_of(r.err).size() == 1);
}

TEST_CASE("bad input: malformed YAML: an unknown alias warns at the alias, the rest is read", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("alias.yaml", "image: &a nginx:1.0\nfoo: *nope\nother:\n  image: redis:latest\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  check_good_reported(r);
  CHECK(check_one_parse_error(r, "alias.yaml", 2, 2).message.find("nope") != std::string::npos);
  CHECK(has_line_starting(r.out, "alias.yaml:4:10: error[latest-tag]: "));
}

TEST_CASE("bad input: a billion-laughs alias bomb is bounded in time and memory", "[robustness]")
{
  const std::string bomb = alias_bomb(10, 10); // 10^10 "lol" when expanded
  TempDir dir;
  write_good(dir);
  // The bomb where the generic walk follows every alias, then a reference after it.
  dir.write("bomb.yaml", bomb + "image: *lol9\nspec:\n  x: *lol9\n  y: {image: *lol9}\nother:\n  image: redis:latest\n");
  // Compose files use x- anchors; Helm values are walked whole.
  dir.write("compose.yaml", bomb + "services:\n  web:\n    image: nginx:latest\n    environment: *lol9\n    labels: *lol9\n");
  dir.write("values.yaml", bomb + "image:\n  repository: nginx\n  tag: latest\nextra: *lol9\n");
  // Merge keys: every level merges nine copies of the previous one.
  std::string merge = "m0: &m0 {image: \"nginx:1.0\", x: 1}\n";
  for (int i = 1; i < 30; ++i) {
    merge += "m" + std::to_string(i) + ": &m" + std::to_string(i) + "\n  <<: [";
    for (int j = 0; j < 9; ++j) {
      merge += (j == 0 ? "*m" : ", *m") + std::to_string(i - 1);
    }
    merge += "]\n";
  }
  merge += "top: {<<: *m29}\n";
  dir.write("merge.yaml", merge);
  // The bomb inside an Argo CD Application's helm.values string (parsed a second time).
  std::string inner;
  for (const auto& l : lines_of(bomb + "image: *lol9\nafter:\n  image: redis:latest\n")) {
    inner += "        " + l + "\n";
  }
  dir.write("argo.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app\nspec:\n  source:\n"
                         "    helm:\n      values: |\n" + inner + "  destination: {}\n");
  const std::uint32_t argo_after_line = 8 + 10 + 3; // header lines, bomb lines, then "image: redis"

  const auto r = changetrail_in(dir, {"check", "."}, Limits{60, 512u << 10});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  {
    INFO(r.out.substr(0, 4096));
    const auto ds = diagnostics_for(r.out, "bomb.yaml", "parse-error");
    CHECK(ds.size() == 1);
    for (const auto& d : ds) {
      CHECK_THAT(d.message, Contains("alias"));
      CHECK(d.line >= 1);
    }
    CHECK(has_line_starting(r.out, "bomb.yaml:16:10: error[latest-tag]: "));
    CHECK(has_line_starting(r.out, "compose.yaml:13:12: error[latest-tag]: "));
    CHECK(has_line_starting(r.out, "values.yaml:12:15: error[latest-tag]: "));
    CHECK(has_line_starting(r.out, "argo.yaml:" + std::to_string(argo_after_line) + ":18: error[latest-tag]: "));
    // Reaching the same anchored image through many merges is not a reason to print millions of lines.
    CHECK(count_lines_starting(r.out, "merge.yaml:") < 1000);
  }
}

TEST_CASE("bad input: alias bomb, core: the document holds aliases, not their expansion, a walk runs out of budget", "[robustness]")
{
  const std::string text = alias_bomb(12, 12) + "image: *lol11\n";
  std::size_t documents = 0;
  std::size_t visited = 0;
  bool exhausted = false;
  std::size_t nodes = 0;
  const auto err = changetrail::yaml::parse_stream(text, [&](const changetrail::yaml::Document& doc) {
    ++documents;
    nodes = doc.size();
    std::function<void(const changetrail::yaml::Value&)> visit = [&](const changetrail::yaml::Value& v) {
      if (!v || visited > 50'000'000) {
        return;
      }
      ++visited;
      for (const auto& item : v.items()) {
        visit(item);
      }
      for (const auto& [k, val] : v.pairs()) {
        visit(k);
        visit(val);
      }
    };
    visit(doc.root());
    exhausted = doc.budget_exhausted();
  });
  CHECK_FALSE(err.has_value());
  CHECK(documents == 1);
  CHECK(nodes < 1000);
  CHECK(exhausted);
  CHECK(visited < 50'000'000);
}

TEST_CASE("bad input: nesting 10,000 deep (flow and block)", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  const std::string flow_seq = "image: x\na: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  std::string flow_map = "image: x\na: ";
  for (int i = 0; i < 10000; ++i) {
    flow_map += "{a: ";
  }
  flow_map += "1" + std::string(10000, '}') + "\n";
  // Block sequences nest on one line: "- - - - image: nginx:latest".
  std::string block_seq;
  for (int i = 0; i < 10000; ++i) {
    block_seq += "- ";
  }
  block_seq += "image: nginx:latest\n";
  // A block mapping 1,000 deep (10,000 would be 50 MB of indentation): still far over the limit.
  std::string block_map = "image: x\n";
  for (int i = 0; i < 1000; ++i) {
    block_map += std::string(static_cast<std::size_t>(i), ' ') + "k" + std::to_string(i) + ":\n";
  }
  block_map += std::string(1000, ' ') + "image: nginx:latest\n";
  const std::string tags = "image: x\na: " + [] {
    std::string s;
    for (int i = 0; i < 10000; ++i) {
      s += "!!seq [";
    }
    return s;
  }() + "\n";
  dir.write("flow-seq.yaml", flow_seq);
  dir.write("flow-map.yaml", flow_map);
  dir.write("block-seq.yaml", block_seq);
  dir.write("block-map.yaml", block_map);
  dir.write("tagged.yaml", tags);
  dir.write("compose.yaml", "services:\n  web:\n    image: nginx:1.0\n    labels: " + std::string(10000, '[') + "\n");

  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  CHECK_THAT(check_one_parse_error(r, "flow-seq.yaml", 2, 2).message, Contains("depth"));
  CHECK_THAT(check_one_parse_error(r, "flow-map.yaml", 2, 2).message, Contains("depth"));
  CHECK_THAT(check_one_parse_error(r, "block-seq.yaml", 1, 1).message, Contains("depth"));
  CHECK_THAT(check_one_parse_error(r, "block-map.yaml", 2, 1001).message, Contains("depth"));
  check_one_parse_error(r, "tagged.yaml", 2, 2);
  check_one_parse_error(r, "compose.yaml", 4, 4);
}

TEST_CASE("bad input: nesting, core: 100,000 deep does not overflow the stack", "[robustness]")
{
  const std::string deep = "image: x\na: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  const auto result = extract_text("deep.yaml", deep);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].line == 2);
}

TEST_CASE("bad input: a 50 MB YAML file is read to its end in bounded memory", "[robustness][slow]")
{
  TempDir dir;
  write_good(dir);
  std::string big;
  big.reserve(53u << 20);
  const std::string pad(200, 'x');
  std::uint32_t line = 1;
  std::size_t docs = 0;
  std::uint32_t line_of_doc_1000 = 0;
  while (big.size() < (50u << 20)) {
    const std::string i = std::to_string(docs);
    if (docs == 1000) {
      line_of_doc_1000 = line + 10;
    }
    big += "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-" + i + "\n  namespace: ns\nspec:\n  template:\n"
           "    spec:\n      containers:\n      - name: main\n        image: ghcr.io/acme/app-" + i + ":1.0." + i + "\n"
           "        env:\n        - name: PADDING\n          value: \"" + pad + "\"\n---\n";
    line += 15;
    ++docs;
  }
  big += "apiVersion: v1\nkind: Pod\nmetadata:\n  name: last\nspec:\n  containers:\n  - name: c\n    image: nginx:latest\n";
  const std::uint32_t last_line = line + 7;
  dir.write("big.yaml", big);
  big.clear();
  big.shrink_to_fit();

  // 1 GiB of address space for a 50 MB input (the benchmark's target is 200 MB of resident memory).
  const auto r = changetrail_in(dir, {"check", "big.yaml", std::string(k_good_name)}, Limits{300, 1u << 20});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  check_no_parse_error(r, "big.yaml");
  CHECK(has_line_starting(r.out, "big.yaml:" + std::to_string(line_of_doc_1000)
                                     + ":16: warning[unpinned]: image \"ghcr.io/acme/app-1000:1.0.1000\""));
  CHECK(has_line_starting(r.out, "big.yaml:" + std::to_string(last_line) + ":12: error[latest-tag]: "));
  CHECK(count_lines_starting(r.out, "big.yaml:") == docs + 1);
  CHECK(r.out.find("(" + std::to_string(docs + 2) + " image references)") != std::string::npos);
}

TEST_CASE("bad input: a binary file named .yaml", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  std::string noise;
  for (int i = 0; i < 4096; ++i) {
    noise += static_cast<char>((i * 7919 + 13) & 0xFF);
  }
  dir.write("noise.yaml", noise);
  dir.write("png.yaml", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR image: nginx:latest"s);
  dir.write("utf16.yaml", "\xff\xfei\0m\0a\0g\0e\0:\0 \0x\0\n\0"s);
  dir.write("Dockerfile", "FROM \0\0\0 nginx\n"s);
  dir.write("compose.yaml", "services:\0\0\n"s);
  // A NUL after the first 8 KiB: not "binary" by the first-block test, but YAML forbids NUL.
  // Whatever comes after it must be read or the file reported, never silently dropped.
  const std::string late_nul = std::string(9000, '#') + "\nimage: redis:1.0\n\0\nother:\n  image: nginx:latest\n"s;
  dir.write("late-nul.yaml", late_nul);

  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  for (const char* f : {"noise.yaml", "png.yaml", "utf16.yaml", "Dockerfile", "compose.yaml"}) {
    INFO(f);
    check_one_parse_error(r, f, 1, 1);
    CHECK(diagnostics_for(r.out, f).size() == 1); // nothing "found" in binary content
  }
  {
    INFO("late-nul.yaml: the reference after the NUL byte must be reported or the file flagged\n" << r.out);
    const bool found_after = has_line_starting(r.out, "late-nul.yaml:6:10: error[latest-tag]: ");
    const auto errors = diagnostics_for(r.out, "late-nul.yaml", "parse-error");
    CHECK((found_after || (errors.size() == 1 && errors[0].line == 3)));
  }
  // The report itself stays valid JSON whatever bytes the files hold.
  const auto j = changetrail_in(dir, {"check", "--format", "json", "."});
  check_no_crash_no_hang(j);
  CHECK_NOTHROW(nlohmann::json::parse(j.out));
}

TEST_CASE("bad input: binary, core: binary content is one problem and no finding", "[robustness]")
{
  const auto result = extract_text("x.yaml", "image: nginx:latest\n\0\0\0"s);
  CHECK(result.checked);
  CHECK(result.findings.empty());
  REQUIRE(result.problems.size() == 1);
  CHECK_THAT(result.problems[0].message, Contains("binary"));
}

TEST_CASE("bad input: invalid UTF-8 in keys, values and comments", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("key.yaml", "ima\xff" "ge: foo:1\nimage: nginx:1.0\n");
  dir.write("key-line3.yaml", "image: \"x:1\"\nfoo: 1\nb\xff" "ad: 2\n");
  dir.write("key-line2.yaml", "image: x\n\xff" "bad: 1\n");
  dir.write("value-plain.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: ghcr.io/acme/\xc3(app:1.0\n");
  dir.write("value-quoted.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: \"ghcr.io/acme/app:1.\xff" "0\"\n");
  dir.write("overlong.yaml", "image: nginx:1.0\xc0\xaf\n");
  dir.write("Dockerfile", "FROM nginx:lat\xff" "est\nFROM ubuntu:latest\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  check_one_parse_error(r, "key.yaml", 1, 1);
  check_one_parse_error(r, "key-line3.yaml", 3, 3);
  check_one_parse_error(r, "key-line2.yaml", 2, 2); // the bad byte's line, not the previous scalar's
  // The column of the bad byte itself ("    image: ghcr.io/acme/" is 24 characters).
  CHECK(check_one_parse_error(r, "value-plain.yaml", 5, 5).column == 25);
  check_one_parse_error(r, "value-quoted.yaml", 5, 5);
  check_one_parse_error(r, "overlong.yaml", 1, 1);
  // Dockerfiles are not YAML: the bad reference is reported as invalid, where it is written.
  CHECK(has_line_starting(r.out, "Dockerfile:1:6: error[invalid-reference]: "));
  CHECK(has_line_starting(r.out, "Dockerfile:2:6: error[latest-tag]: "));
  // Every output format stays valid UTF-8 (nlohmann's parser rejects invalid UTF-8).
  const auto j = changetrail_in(dir, {"check", "--format", "json", "."});
  check_no_crash_no_hang(j);
  CHECK_NOTHROW(nlohmann::json::parse(j.out));
  const auto e = changetrail_in(dir, {"extract", "--format", "json", "."});
  check_no_crash_no_hang(e);
  CHECK_NOTHROW(nlohmann::json::parse(e.out));
}

TEST_CASE("bad input: invalid UTF-8: after a bad byte in a comment or at the end of a value, the rest is not dropped silently", "[robustness]")
{
  // libfyaml ends the stream without an error at some invalid bytes: what follows them must be
  // read, or the file reported as a parse-error on the line of the bad byte.
  TempDir dir;
  write_good(dir);
  dir.write("comment.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: ghcr.io/acme/app:1.0 # caf\xe9\n"
                           "  - name: b\n    image: redis:latest\n");
  dir.write("value-end.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n    env:\n    - name: \xff\n"
                             "  - name: b\n    image: redis:latest\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out);
  for (const auto& [file, bad_line] : {std::pair{"comment.yaml"s, 5u}, std::pair{"value-end.yaml"s, 6u}}) {
    INFO(file);
    const bool found = has_line_starting(r.out, file + ":7:12: error[latest-tag]: ");
    const auto errors = diagnostics_for(r.out, file, "parse-error");
    CHECK((found || (errors.size() == 1 && errors[0].line == bad_line)));
  }
}

TEST_CASE("bad input: invalid UTF-8: a bad byte in a %directive does not hang the parser", "[robustness]")
{
  // Found by the fuzzer (fuzz/corpus/yaml_extract/crash-libfyaml-hang-directive-invalid-utf8).
  TempDir dir;
  write_good(dir);
  dir.write("directive.yaml", "%\xe8\nimage: x\n");
  dir.write("directive-end.yaml", "image: x\n%\xe8");
  const auto r = changetrail_in(dir, {"check", "."}, Limits{30, 1u << 20});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  check_one_parse_error(r, "directive.yaml", 1, 1);
  check_one_parse_error(r, "directive-end.yaml", 1, 2);
}

TEST_CASE("bad input: CRLF line endings keep positions right", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("pod.yaml", "kind: Pod\r\nmetadata:\r\n  name: p\r\nspec:\r\n  containers:\r\n  - name: a\r\n    image: nginx:latest\r\n"
                        "  - name: b\r\n    image: \"redis:latest\"\r\n");
  dir.write("compose.yaml", "services:\r\n  web:\r\n    image: \"nginx:${TAG}\"\r\n");
  dir.write(".env", "TAG=1.2.3\r\n");
  dir.write("kustomization.yaml", "images:\r\n- name: nginx\r\n  newTag: latest\r\n");
  dir.write("Dockerfile", "FROM alpine:3.19 AS base\r\nRUN echo \\\r\n  hi\r\nFROM \\\r\n  busybox:latest\r\n");
  dir.write("argo.yaml", "apiVersion: argoproj.io/v1alpha1\r\nkind: Application\r\nmetadata:\r\n  name: app\r\nspec:\r\n"
                         "  source:\r\n    helm:\r\n      values: |\r\n        image:\r\n          repository: nginx\r\n"
                         "          tag: latest\r\n        other:\r\n          image: \"redis:latest\"\r\n");
  dir.write("cr-only.yaml", "kind: Pod\rspec:\r  containers:\r  - name: a\r    image: nginx:latest\r");
  dir.write("broken.yaml", "image: x\r\nfoo:\r\n\tbar: 1\r\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out);
  for (const char* f : {"pod.yaml", "compose.yaml", "kustomization.yaml", "Dockerfile", "argo.yaml", "cr-only.yaml"}) {
    INFO(f);
    check_no_parse_error(r, f);
  }
  CHECK(has_line_starting(r.out, "pod.yaml:7:12: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "pod.yaml:9:13: error[latest-tag]: "));
  // The \r of the .env line is not part of the value.
  CHECK(has_line_starting(r.out, "compose.yaml:3:13: warning[unpinned]: "));
  CHECK(r.out.find("(nginx:1.2.3)") != std::string::npos);
  CHECK(has_line_starting(r.out, "kustomization.yaml:2:3: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "Dockerfile:1:6: warning[unpinned]: image \"alpine:3.19\""));
  CHECK(has_line_starting(r.out, "Dockerfile:5:3: error[latest-tag]: image \"busybox:latest\""));
  CHECK(has_line_starting(r.out, "argo.yaml:10:23: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "argo.yaml:13:19: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "cr-only.yaml:5:12: error[latest-tag]: "));
  check_one_parse_error(r, "broken.yaml", 3, 3);
  CHECK(r.out.find('\r') == std::string::npos);
}

TEST_CASE("bad input: a byte-order mark keeps positions right", "[robustness]")
{
  const std::string bom = "\xef\xbb\xbf";
  TempDir dir;
  write_good(dir);
  dir.write("bom.yaml", bom + "image: nginx:latest\nother:\n  image: redis:latest\n");
  dir.write("bom-crlf.yaml", bom + "kind: Pod\r\nspec:\r\n  containers:\r\n  - name: a\r\n    image: nginx:latest\r\n");
  dir.write("bom-doc.yaml", bom + "---\nimage: nginx:latest\n");
  dir.write("compose.yaml", bom + "services:\n  web:\n    image: nginx:latest\n");
  dir.write("kustomization.yaml", bom + "images:\n- name: nginx\n  newTag: latest\n");
  dir.write("Dockerfile", bom + "FROM alpine:latest\n");
  dir.write("bom-broken.yaml", bom + "image: @x\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out);
  for (const char* f : {"bom.yaml", "bom-crlf.yaml", "bom-doc.yaml", "compose.yaml", "kustomization.yaml", "Dockerfile"}) {
    INFO(f);
    check_no_parse_error(r, f);
  }
  CHECK(has_line_starting(r.out, "bom.yaml:1:8: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "bom.yaml:3:10: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "bom-crlf.yaml:5:12: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "bom-doc.yaml:2:8: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "compose.yaml:3:12: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "kustomization.yaml:2:3: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "Dockerfile:1:6: error[latest-tag]: "));
  check_one_parse_error(r, "bom-broken.yaml", 1, 1);
  // The JSON carries the same positions.
  const auto j = changetrail_in(dir, {"extract", "--format", "json", "bom.yaml"});
  check_no_crash_no_hang(j);
  const auto findings = nlohmann::json::parse(j.out);
  REQUIRE(findings.size() == 2);
  CHECK(findings[0]["line"] == 1);
  CHECK(findings[0]["column"] == 8);
  CHECK(findings[0]["ref"] == "nginx:latest");
}

TEST_CASE("bad input: empty documents and empty files are valid and quiet", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  const std::vector<std::pair<std::string, std::string>> empties{
    {"empty.yaml", ""},
    {"dashes.yaml", "---\n"},
    {"dashes-image.yaml", "# image: not read\n---\n"},
    {"end-marker.yaml", "---\n...\n"},
    {"whitespace.yaml", "\n\n   \n# image\n\n"},
    {"null.yaml", "--- ~\n--- null\n---\n# image\n"},
    {"compose.yaml", ""},
    {"kustomization.yaml", "---\n"},
    {"Dockerfile", ""},
    {"Containerfile", "# only a comment\n\n"},
  };
  for (const auto& [name, content] : empties) {
    dir.write(name, content);
  }
  dir.write("multi.yaml", "---\n---\n...\n---\n# image: c\n---\nimage: redis:latest\n---\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  for (const auto& [name, content] : empties) {
    INFO(name);
    CHECK(diagnostics_for(r.out, name).empty());
  }
  CHECK(has_line_starting(r.out, "multi.yaml:7:8: error[latest-tag]: "));
  check_no_parse_error(r, "multi.yaml");

  // extract over the empty files only: exit 0, no warnings.
  {
    std::vector<std::string> args{"extract"};
    for (const auto& [name, content] : empties) {
      args.push_back(name);
    }
    const auto e = changetrail_in(dir, args);
    check_no_crash_no_hang(e);
    CHECK(e.exit_code == 0);
    CHECK(e.err.empty());
  }
}

TEST_CASE("bad input: tabs for indentation are a parse-error with their line", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("pod.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n\timage: nginx:1.0\n");
  dir.write("seq.yaml", "image:\n\t- a\n");
  dir.write("compose.yaml", "services:\n  web:\n\t\timage: nginx:1.0\n");
  // A tab after "key:" is separation, not indentation: valid.
  dir.write("separator.yaml", "image:\tnginx:latest\nx:\n  image:\t\"redis:latest\"\n");
  dir.write("Dockerfile", "FROM\tnginx:latest\n\tRUN true\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  check_one_parse_error(r, "pod.yaml", 5, 5);
  check_one_parse_error(r, "seq.yaml", 2, 2);
  check_one_parse_error(r, "compose.yaml", 3, 3);
  check_no_parse_error(r, "separator.yaml");
  CHECK(has_line_starting(r.out, "separator.yaml:1:8: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "separator.yaml:3:11: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "Dockerfile:1:6: error[latest-tag]: "));
}

TEST_CASE("bad input: duplicate keys warn, and the last value is used", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("pod.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1.0\n    image: nginx:latest\n");
  dir.write("compose.yaml", "services:\n  web:\n    image: nginx:1.0\n    image: nginx:latest\n");
  dir.write("values.yaml", "image:\n  repository: nginx\n  tag: \"1.0\"\n  tag: latest\n");
  dir.write("kustomization.yaml", "images:\n- name: nginx\n  newTag: \"1.0\"\n  newTag: latest\n");
  dir.write("generic.yaml", "image: redis:1.0\nimage: redis:latest\n");
  dir.write("custom.yaml", "apiVersion: acme.io/v1\nkind: Thing\nspec:\n  foo:\n    image: nginx:1.0\n    image: nginx:latest\n");
  const auto r = changetrail_in(dir, {"check", "."});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out);
  const std::vector<std::tuple<std::string, std::uint32_t, std::string>> expected{
    // file, line of the second key, the one latest-tag finding (of the last value)
    {"pod.yaml", 6, "pod.yaml:6:12: error[latest-tag]: "},
    {"compose.yaml", 4, "compose.yaml:4:12: error[latest-tag]: "},
    {"values.yaml", 4, "values.yaml:2:15: error[latest-tag]: "},
    {"kustomization.yaml", 4, "kustomization.yaml:2:3: error[latest-tag]: "},
    {"generic.yaml", 2, "generic.yaml:2:8: error[latest-tag]: "},
    {"custom.yaml", 6, "custom.yaml:6:12: error[latest-tag]: "},
  };
  for (const auto& [file, dup_line, finding] : expected) {
    INFO(file);
    const auto d = check_one_parse_error(r, file, dup_line, dup_line);
    CHECK_THAT(d.message, Contains("duplicate"));
    CHECK(has_line_starting(r.out, finding));
    // The first value is not used: the only other line for the file is the parse-error.
    CHECK(diagnostics_for(r.out, file).size() == 2);
  }
}

TEST_CASE("bad input: very long lines and 100,000 anchors", "[robustness]")
{
  TempDir dir;
  write_good(dir);
  dir.write("long-key.yaml", "k: " + std::string(5u << 20, 'x') + "\nimage: redis:latest\n");
  dir.write("long-ref.yaml", "image: \"ghcr.io/acme/" + std::string(5u << 20, 'a') + ":1.0\"\n");
  dir.write("long-comment.yaml", "# " + std::string(5u << 20, 'c') + "\nimage: redis:latest\n");
  std::string anchors = "anchors:\n  img: &img redis:latest\n";
  for (int i = 0; i < 100000; ++i) {
    anchors += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " v" + std::to_string(i) + "\n";
  }
  anchors += "refs:\n";
  for (int i = 0; i < 100000; ++i) {
    anchors += "  r" + std::to_string(i) + ": *a" + std::to_string(i) + "\n";
  }
  anchors += "image: *img\n";
  const std::uint32_t alias_line = 2 + 100000 + 1 + 100000 + 1;
  dir.write("anchors.yaml", anchors);

  const auto r = changetrail_in(dir, {"check", "."}, Limits{120, 1u << 20});
  check_no_crash_no_hang(r);
  CHECK(r.exit_code == 1);
  check_good_reported(r);
  INFO(r.out.substr(0, 2048));
  CHECK(has_line_starting(r.out, "long-key.yaml:2:8: error[latest-tag]: "));
  CHECK(has_line_starting(r.out, "long-ref.yaml:1:9: error[invalid-reference]: "));
  CHECK(has_line_starting(r.out, "long-comment.yaml:2:8: error[latest-tag]: "));
  // Reached through an alias: reported at the alias.
  CHECK(has_line_starting(r.out, "anchors.yaml:" + std::to_string(alias_line) + ":8: error[latest-tag]: "));
  for (const char* f : {"long-key.yaml", "long-ref.yaml", "long-comment.yaml", "anchors.yaml"}) {
    INFO(f);
    check_no_parse_error(r, f);
  }
}
