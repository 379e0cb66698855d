// p2p_perf end to end: two real ranks under tidalrun over UCX (default transports, then TCP
// loopback), a data check at every size, and the table's shape (header, one row per size,
// #wrong 0). Timings are not checked: this machine's bandwidth swings several-fold.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "harness/shell.h"

namespace {

using RunResult = tidal::testing::ShellResult;

// Runs `<env> tidalrun <args>`, capturing output.
RunResult RunTidalrun(const std::string& env, const std::string& args) {
  return tidal::testing::RunShell(env + " " + tidal::testing::BinPath("tidalrun") + " " + args);
}

std::string P2pPerf() { return tidal::testing::BinPath("p2p_perf"); }

struct Table {
  bool header = false;
  std::vector<std::vector<std::string>> rows;  // rank 0's data rows, split on blanks
};

// Rank 0's lines: "[0] # ... size(B) ... #wrong" is the header; "[0] <size> ..." are rows.
Table ParseTable(const std::string& output) {
  Table table;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("[0] ", 0) != 0) continue;
    if (line.find("size(B)") != std::string::npos && line.find("bw(GB/s)") != std::string::npos &&
        line.find("lat(us)") != std::string::npos && line.find("#wrong") != std::string::npos) {
      table.header = true;
    }
    std::istringstream fields(line.substr(4));
    std::vector<std::string> row;
    for (std::string field; fields >> field;) row.push_back(field);
    if (!row.empty() && row[0].find_first_not_of("0123456789") == std::string::npos) {
      table.rows.push_back(row);
    }
  }
  return table;
}

void ExpectCheckedTable(const RunResult& r) {
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Table table = ParseTable(r.output);
  EXPECT_TRUE(table.header) << r.output;
  const std::vector<std::string> sizes = {"8", "64", "512", "4096", "32768", "262144"};
  ASSERT_EQ(table.rows.size(), sizes.size()) << r.output;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::vector<std::string>& row = table.rows[i];
    ASSERT_EQ(row.size(), 8u) << r.output;
    EXPECT_EQ(row[0], sizes[i]) << r.output;
    EXPECT_GT(std::stod(row[4]), 0.0) << "bw of size " << sizes[i] << "\n" << r.output;
    EXPECT_GT(std::stod(row[6]), 0.0) << "latency of size " << sizes[i] << "\n" << r.output;
    EXPECT_EQ(row[7], "0") << "#wrong of size " << sizes[i] << "\n" << r.output;
  }
  EXPECT_NE(r.output.find("[0] # wrong bytes: 0 OK"), std::string::npos) << r.output;
}

TEST(P2pPerf, ChecksEverySizeOverDefaultTransports) {
  ExpectCheckedTable(RunTidalrun("", "-n 2 --timeout 60 " + P2pPerf() + " -b 8 -e 1M -f 8 -c 1"));
}

TEST(P2pPerf, ChecksEverySizeOverTcpLoopback) {
  ExpectCheckedTable(RunTidalrun("UCX_TLS=tcp,self UCX_NET_DEVICES=lo",
                                 "-n 2 --timeout 60 " + P2pPerf() + " -b 8 -e 1M -f 8 -c 1"));
}

TEST(P2pPerf, NeedsTwoRanks) {
  const RunResult r = RunTidalrun("", "-n 1 --timeout 30 " + P2pPerf() + " -e 1K");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("needs exactly 2 ranks"), std::string::npos) << r.output;
}

TEST(P2pPerf, RejectsBadSizes) {
  const RunResult r = RunTidalrun("", "-n 2 --timeout 30 " + P2pPerf() + " -b 1M -e 8");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("-b is above -e"), std::string::npos) << r.output;
}

}  // namespace
