// Shared main() of tidal's test binaries: GoogleTest, plus death tests in "threadsafe" style
// (re-executes the binary), which is what forked ranks and UCX need.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  return RUN_ALL_TESTS();
}
