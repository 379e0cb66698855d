// tidal-info --check end to end under the launchers users run: tidalrun (default UCX transports
// and TCP), torchrun (Debian's python3-torch) and Open MPI's mpirun; and the idle CPU of a 4-rank
// job whose ranks are all blocked in a receive.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include "harness/shell.h"

namespace {

using tidal::testing::RunShell;
using RunResult = tidal::testing::ShellResult;

std::string Bin(const std::string& name) { return tidal::testing::BinPath(name); }

void ExpectFourSuccessLines(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < 4; ++rank) {
    const std::regex line("rank " + std::to_string(rank) +
                          R"(/4 \(local \d/4, host [^,]+, ring position \d\): token ok \(ring )"
                          R"(\d>\d>\d>\d>\d, [0-9.]+ us per hop\))");
    EXPECT_TRUE(std::regex_search(r.output, line)) << "rank " << rank << ":\n" << r.output;
  }
}

bool HaveCommand(const std::string& probe) {
  return std::system((probe + " >/dev/null 2>&1").c_str()) == 0;
}

TEST(TidalInfoCheck, UnderTidalrunWithDefaultTransports) {
  ExpectFourSuccessLines(
      RunShell(Bin("tidalrun") + " -n 4 --timeout 60 " + Bin("tidal-info") + " --check --laps 20"));
}

TEST(TidalInfoCheck, UnderTidalrunOverTcp) {
  ExpectFourSuccessLines(RunShell("UCX_TLS=tcp,self UCX_NET_DEVICES=lo " + Bin("tidalrun") +
                                  " -n 4 --timeout 60 " + Bin("tidal-info") +
                                  " --check --laps 20"));
}

TEST(TidalInfoCheck, UnderTorchrun) {
  if (!HaveCommand("/usr/bin/python3 -c 'import torch'")) {
    GTEST_SKIP() << "torchrun unavailable: /usr/bin/python3 -c 'import torch' failed "
                    "(apt-get install python3-torch)";
  }
  // torch 1.13 on Python 3.11 crashes with the default --redirects 0 --tee 0.
  ExpectFourSuccessLines(
      RunShell("timeout 100 /usr/bin/python3 -m torch.distributed.run "
               "--nproc_per_node 4 --master_port 29611 --redirects 1 --tee 1 "
               "--no_python " +
               Bin("tidal-info") + " --check --laps 20"));
}

TEST(TidalInfoCheck, UnderMpirun) {
  if (!HaveCommand("mpirun --version"))
    GTEST_SKIP() << "mpirun unavailable (apt-get install openmpi-bin)";
  ExpectFourSuccessLines(RunShell("timeout 100 mpirun --allow-run-as-root --oversubscribe -np 4 " +
                                  Bin("tidal-info") + " --check --laps 20"));
}

TEST(TidalInfoCheck, IdleRanksUseUnderTenPercentOfOneCore) {
  const RunResult r = RunShell(Bin("tidalrun") + " -n 4 --timeout 60 " + Bin("tidal-info") +
                               " --check --laps 5 --idle-ms 2000");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::regex idle(R"(rank \d idle: ([0-9.]+) ms CPU in ([0-9.]+) ms blocked)");
  double cpu_ms = 0;
  double wall_ms = 0;
  int ranks = 0;
  for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), idle);
       it != std::sregex_iterator(); ++it, ++ranks) {
    cpu_ms += std::stod((*it)[1]);
    wall_ms = std::max(wall_ms, std::stod((*it)[2]));
  }
  ASSERT_EQ(ranks, 4) << r.output;
  std::printf("idle 4-rank job: %.1f ms CPU in %.0f ms = %.2f%% of one core\n", cpu_ms, wall_ms,
              100 * cpu_ms / wall_ms);
  EXPECT_LT(cpu_ms, 0.10 * wall_ms) << r.output;
}

// No launcher at all: three processes with torchrun-style identity variables meet through a file
// store (TIDAL_STORE_FILE) in a fresh directory, as ranks on a shared file system would.
TEST(TidalInfoCheck, ThroughAFileStore) {
  const std::string dir = ::testing::TempDir() + "tidal_file_store_" + std::to_string(::getpid());
  const std::string start = "rm -rf " + dir + " && mkdir -p " + dir + " && ";
  std::string ranks;
  for (int r = 0; r < 3; ++r) {
    ranks += "RANK=" + std::to_string(r) + " WORLD_SIZE=3 LOCAL_RANK=" + std::to_string(r) +
             " LOCAL_WORLD_SIZE=3 TIDAL_STORE_FILE=" + dir + " timeout 60 " + Bin("tidal-info") +
             " --check & p" + std::to_string(r) + "=$!; ";
  }
  const RunResult r = RunShell(start + ranks + "wait $p0 && wait $p1 && wait $p2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_NE(r.output.find("rank " + std::to_string(rank) + "/3 "), std::string::npos) << r.output;
  }
  EXPECT_NE(r.output.find("token ok"), std::string::npos) << r.output;
}

}  // namespace

// --selection: the table for a hypothetical world (unit/hier_test.cc checks its rows), and for
// the job's own world under tidalrun (2 ranks on one host: AllReduce picks shm at every size).
TEST(TidalInfoSelection, HypotheticalAndLaunchedWorlds) {
  const RunResult two_hosts = RunShell(Bin("tidal-info") + " --selection --ranks 8 --hosts 2");
  EXPECT_EQ(two_hosts.exit_code, 0) << two_hosts.output;
  EXPECT_NE(two_hosts.output.find("8 ranks on 2 host(s) x 4"), std::string::npos)
      << two_hosts.output;
  EXPECT_TRUE(std::regex_search(two_hosts.output, std::regex(R"(\n  1 GiB +hier +ring)")))
      << two_hosts.output;
  const RunResult uneven = RunShell(Bin("tidal-info") + " --selection --ranks 5 --hosts 2");
  EXPECT_TRUE(std::regex_search(uneven.output, std::regex(R"(\n  1 GiB +ring +ring)")))
      << uneven.output;
  const RunResult launched =
      RunShell(Bin("tidalrun") + " -n 2 --timeout 60 " + Bin("tidal-info") + " --selection");
  EXPECT_EQ(launched.exit_code, 0) << launched.output;
  EXPECT_NE(launched.output.find("2 ranks on 1 host(s) x 2"), std::string::npos) << launched.output;
  EXPECT_TRUE(std::regex_search(launched.output, std::regex(R"(1 GiB +shm)"))) << launched.output;
}
