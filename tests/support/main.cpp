#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

namespace changetrail::test {

bool g_current_test_failed = false;

bool current_test_failed()
{
  return g_current_test_failed;
}

// Records failures so that TempDir keeps the directory of a failed test.
struct FailureListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override
  {
    TestEventListenerBase::testCaseStarting(info);
    g_current_test_failed = false;
  }
  bool assertionEnded(const Catch::AssertionStats& stats) override
  {
    if (!stats.assertionResult.isOk()) {
      g_current_test_failed = true;
    }
    return TestEventListenerBase::assertionEnded(stats);
  }
};

} // namespace changetrail::test

using ChangetrailFailureListener = changetrail::test::FailureListener;
CATCH_REGISTER_LISTENER(ChangetrailFailureListener)
