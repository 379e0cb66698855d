// tidalrun end to end: real processes, a real TCP store, real signals. Each test bounds its run
// with tidalrun's own --timeout and measures how long the launcher took.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "harness/shell.h"

namespace {

using RunResult = tidal::testing::ShellResult;

// Runs `tidalrun <args>`, capturing output.
RunResult RunTidalrun(const std::string& args) {
  return tidal::testing::RunShell(tidal::testing::BinPath("tidalrun") + " " + args);
}

TEST(Tidalrun, RunsEveryRankWithItsEnvironmentAndTagsOutput) {
  const RunResult r = RunTidalrun(
      "-n 3 --timeout 20 sh -c 'echo rank=$TIDAL_RANK size=$TIDAL_WORLD_SIZE "
      "local=$TIDAL_LOCAL_RANK/$TIDAL_LOCAL_SIZE port=${TIDAL_STORE_PORT:+set} "
      "secret=${#TIDAL_SECRET}; echo err >&2'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < 3; ++rank) {
    const std::string tag = "[" + std::to_string(rank) + "] ";
    EXPECT_NE(r.output.find(tag + "rank=" + std::to_string(rank) +
                            " size=3 local=" + std::to_string(rank) + "/3 port=set secret=32"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find(tag + "err"), std::string::npos) << r.output;
  }
}

TEST(Tidalrun, FailingRankStopsTheOthersAndIsNamed) {
  // Rank 1 exits with code 3; the others would sleep for a minute.
  const RunResult r = RunTidalrun(
      "-n 3 --grace 0.5 --timeout 60 sh -c 'if [ $TIDAL_RANK = 1 ]; then exit 3; fi; "
      "exec sleep 60'");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("rank 1 exited with code 3"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 5.0) << r.output;
}

TEST(Tidalrun, DeathIsPostedToTheStoreForTheOtherRanks) {
  // Rank 0 waits for the liveness key of rank 1 and prints it; rank 1 fails.
  const RunResult r = RunTidalrun(
      "-n 2 --grace 3 --timeout 30 sh -c 'if [ $TIDAL_RANK = 1 ]; then exit 3; fi; exec " +
      tidal::testing::BinPath("store_probe") + " tidal/dead/1 5000'");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("[0] tidal/dead/1 = rank 1 exited with code 3"), std::string::npos)
      << r.output;
}

TEST(Tidalrun, KilledRankIsNamedWithItsSignal) {
  const RunResult r = RunTidalrun(
      "-n 2 --grace 0.5 --timeout 60 sh -c 'if [ $TIDAL_RANK = 1 ]; then kill -9 $$; fi; "
      "exec sleep 60'");
  EXPECT_EQ(r.exit_code, 128 + 9) << r.output;
  EXPECT_NE(r.output.find("rank 1 was killed by signal 9 (SIGKILL)"), std::string::npos)
      << r.output;
  EXPECT_LT(r.seconds, 5.0) << r.output;
}

TEST(Tidalrun, RanksThatIgnoreSigtermAreKilled) {
  const RunResult r = RunTidalrun(
      "-n 2 --grace 0.3 --timeout 60 sh -c 'if [ $TIDAL_RANK = 0 ]; then exit 5; fi; "
      "trap \"\" TERM; while true; do sleep 0.05; done'");
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_LT(r.seconds, 5.0) << r.output;
}

TEST(Tidalrun, TimeoutStopsTheJob) {
  const RunResult r = RunTidalrun("-n 2 --grace 0.3 --timeout 0.5 sleep 30");
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_NE(r.output.find("timed out after 500 ms"), std::string::npos) << r.output;
  EXPECT_LT(r.seconds, 5.0) << r.output;
}

TEST(Tidalrun, MissingProgramFailsClearly) {
  const RunResult r = RunTidalrun("-n 2 --timeout 10 /nonexistent/program");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("cannot run the program"), std::string::npos) << r.output;
}

TEST(Tidalrun, PartialLastLinesAreFlushed) {
  const RunResult r = RunTidalrun("-n 2 --timeout 10 printf 'no newline'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[0] no newline\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[1] no newline\n"), std::string::npos) << r.output;
}

TEST(Tidalrun, UsageErrors) {
  EXPECT_NE(RunTidalrun("").exit_code, 0);
  EXPECT_NE(RunTidalrun("-n 0 true").exit_code, 0);
  EXPECT_NE(RunTidalrun("-n 2").exit_code, 0);
}

}  // namespace
