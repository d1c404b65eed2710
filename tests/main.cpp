// doctest main shared by every test executable.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>

#include "support/seed.hpp"

namespace {

// ctest runs each TEST_CASE as `--test-case=<name>` (doctest_discover_tests). A name the filter
// cannot match (CMake splits names at ';') runs nothing, and doctest calls that a success: this
// listener lets main() call it a failure instead.
struct MatchedCount : doctest::IReporter {
  static inline int matched = -1;  // -1: no test run happened (listing, --help)
  explicit MatchedCount(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    matched = static_cast<int>(stats.numTestCasesPassingFilters);
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("volley_matched_count", 1, MatchedCount);

bool has_test_case_filter(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--test-case=") || arg.starts_with("-tc=")) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  volley::test::init_seed_from_env();
  const int result = context.run();
  if (result == 0 && MatchedCount::matched == 0 && has_test_case_filter(argc, argv)) {
    std::fprintf(stderr, "no test case matches the --test-case filter: the test did not run\n");
    return 1;
  }
  return result;
}
