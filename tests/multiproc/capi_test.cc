// The C API end to end: tests/tools/capi_demo.c (a C99 program) under tidalrun with 3 ranks,
// over UCX's default transports and over TCP, and alone (a world of one). The demo checks its own
// results and prints one "capi ok rank R" line per rank.
#include <gtest/gtest.h>

#include <string>

#include "harness/shell.h"

namespace {

using tidal::testing::BinPath;
using tidal::testing::RunShell;
using tidal::testing::ShellResult;

void ExpectEveryRankOk(const ShellResult& r, int ranks) {
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < ranks; ++rank) {
    const std::string line = "[" + std::to_string(rank) + "] capi ok rank " + std::to_string(rank);
    EXPECT_NE(r.output.find(line), std::string::npos) << "no '" << line << "' in:\n" << r.output;
  }
  EXPECT_EQ(r.output.find("capi_demo:"), std::string::npos) << r.output;
}

TEST(CapiDemo, ThreeRanksUnderTidalrun) {
  ExpectEveryRankOk(RunShell(BinPath("tidalrun") + " -n 3 --timeout 60 " + BinPath("capi_demo")),
                    3);
}

TEST(CapiDemo, ThreeRanksOverTcp) {
  ExpectEveryRankOk(RunShell("UCX_TLS=tcp,self UCX_NET_DEVICES=lo " + BinPath("tidalrun") +
                             " -n 3 --timeout 60 " + BinPath("capi_demo")),
                    3);
}

TEST(CapiDemo, AloneIsAWorldOfOne) {
  const ShellResult r = RunShell("timeout 60 " + BinPath("capi_demo"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("capi ok rank 0"), std::string::npos) << r.output;
}

}  // namespace
