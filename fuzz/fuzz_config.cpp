// policy::parse_config on arbitrary bytes (`.changetrail.yaml`, DESIGN.md "Config"). A config
// that does not validate is an InputError naming the file and line (exit 2); any other
// exception, or a crash, is a bug. A config that does validate is then used the way `check`
// uses it: environments and ignore globs against paths, severities, one file's evaluation.
#include "fuzz_check.hpp"

#include <changetrail/extract/finding.hpp>
#include <changetrail/policy/config.hpp>
#include <changetrail/policy/policy.hpp>
#include <changetrail/util/error.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace extract = changetrail::extract;
namespace policy = changetrail::policy;
namespace reference = changetrail::reference;
using changetrail::fuzz::show;

constexpr std::string_view k_file = "repo/.changetrail.yaml";

constexpr std::array<std::string_view, 5> k_paths = {
  "clusters/prod/apps/web/deployment.yaml", "overlays/staging/kustomization.yaml", "charts/api/values-prod.yaml",
  "services/worker/Dockerfile", "a/very/deep/tree/of/directories/with/a/long/name/that/globs/must/walk/compose.yaml"};

extract::FileResult sample_file(std::string_view rel)
{
  extract::FileResult file;
  file.file = std::string(rel);
  file.rel = std::string(rel);
  file.checked = true;
  constexpr std::array<std::string_view, 6> k_refs = {"nginx", "nginx:latest", "ghcr.io/acme/api:main", "quay.io/x/y:1.2",
                                                      "${REGISTRY}/app:${TAG}", "Bad//Ref"};
  std::uint32_t line = 1;
  for (const auto ref : k_refs) {
    extract::Finding f;
    f.file = file.file;
    f.line = line++;
    f.column = 7;
    f.format = "kubernetes";
    f.location = "Deployment/_/web/containers/c" + std::to_string(line);
    f.ref = std::string(ref);
    f.image = reference::parse(ref);
    file.findings.push_back(std::move(f));
  }
  file.problems.push_back({3, 1, "YAML: something"});
  file.suppressions.push_back({2, {"latest-tag"}, "reason"});
  return file;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  policy::Config config;
  try {
    config = policy::parse_config(input, k_file);
  } catch (const changetrail::util::InputError& e) {
    // Expected for a bad config; the message must name the file (DESIGN.md error lines).
    const std::string_view message = e.what();
    CHANGETRAIL_FUZZ_CHECK(message.starts_with(k_file), show(message));
    return 0;
  } catch (const std::exception& e) {
    changetrail::fuzz::fail(__FILE__, __LINE__, "parse_config throws only InputError",
                            std::string("unexpected exception: ") + e.what());
  } catch (...) {
    changetrail::fuzz::fail(__FILE__, __LINE__, "parse_config throws only InputError", "non-standard exception");
  }

  changetrail::fuzz::no_throw("using a valid config", [&] {
    const policy::Policy pol(config);
    for (const auto path : k_paths) {
      const std::string env = config.environment_for(path);
      (void)config.ignored(path);
      for (const auto& rule : policy::k_rules) {
        (void)pol.severity(rule.id, env);
      }
      const auto violations = pol.evaluate(sample_file(path));
      for (const auto& v : violations) {
        const nlohmann::json j = v;
        (void)j.dump();
      }
    }
  });
  return 0;
}
