// The collective perf tools end to end (perf/coll_perf): real ranks under tidalrun over UCX, the
// data check on at every size (closed-form values, expected results computed by the tool), and
// the table's shape: nccl-tests' columns, one row per (size, type, op, root), counts and sizes by
// nccl-tests' conventions, #wrong 0 everywhere, the trailing "Out of bounds values : 0 OK".
// Timings are not checked: this machine's bandwidth swings several-fold. Iteration counts are
// kept small (-n 5 -w 1 or less) so that every test stays within seconds on 2 cores.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness/shell.h"

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define TIDAL_TEST_HAVE_JSON 1
#endif

namespace {

using tidal::testing::BinPath;
using tidal::testing::RunShell;
using tidal::testing::ShellResult;

// `tidalrun -n <ranks> <tool> <args>`, with a bound on every wait.
ShellResult RunTool(int ranks, const std::string& tool, const std::string& args,
                    const std::string& env = "") {
  return RunShell(env + " " + BinPath("tidalrun") + " -n " + std::to_string(ranks) +
                  " --timeout 90 " + BinPath(tool) + " " + args);
}

struct Row {
  size_t size = 0;
  size_t count = 0;
  std::string type;
  std::string redop;
  int root = 0;
  std::string wrong_out;  // #wrong out of place
  std::string wrong_in;   // #wrong in place
  std::string line;
};

struct Table {
  bool header = false;  // the column names, nccl-tests' spelling
  std::vector<Row> rows;
  bool ok_footer = false;
  bool avg_footer = false;
};

// Rank 0's lines ("[0] ..."): the header, the data rows and the trailing lines.
Table ParseTable(const std::string& output) {
  Table table;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("[0] ", 0) != 0) {
      continue;
    }
    const std::string body = line.substr(4);
    if (body.find("size") != std::string::npos && body.find("count") != std::string::npos &&
        body.find("redop") != std::string::npos && body.find("busbw #wrong") != std::string::npos) {
      table.header = true;
    }
    if (body.rfind("# Out of bounds values : 0 OK", 0) == 0) {
      table.ok_footer = true;
    }
    if (body.rfind("# Avg bus bandwidth    : ", 0) == 0) {
      table.avg_footer = true;
    }
    std::istringstream in(body);
    std::vector<std::string> f;
    for (std::string field; in >> field;) {
      f.push_back(field);
    }
    if (f.size() != 13 || f[0].find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    table.rows.push_back(
        {std::stoul(f[0]), std::stoul(f[1]), f[2], f[3], std::stoi(f[4]), f[8], f[12], body});
  }
  return table;
}

size_t TypeBytes(const std::string& type) {
  const std::map<std::string, size_t> bytes = {{"int8", 1},   {"uint8", 1},   {"int32", 4},
                                               {"int64", 8},  {"half", 2},    {"float", 4},
                                               {"double", 8}, {"bfloat16", 2}};
  const auto it = bytes.find(type);
  return it == bytes.end() ? 0 : it->second;
}

// Exit 0, the table's frame, `rows` rows with #wrong 0 in and out of place.
Table ExpectCheckedTable(const ShellResult& r, int rows) {
  EXPECT_EQ(r.exit_code, 0) << r.output;
  Table table = ParseTable(r.output);
  EXPECT_TRUE(table.header) << r.output;
  EXPECT_TRUE(table.ok_footer) << r.output;
  EXPECT_TRUE(table.avg_footer) << r.output;
  EXPECT_EQ(table.rows.size(), static_cast<size_t>(rows)) << r.output;
  for (const Row& row : table.rows) {
    EXPECT_EQ(row.wrong_out, "0") << row.line;
    EXPECT_EQ(row.wrong_in, "0") << row.line;
    EXPECT_GT(TypeBytes(row.type), 0u) << row.line;
  }
  return table;
}

// "size" is the whole buffer and "count" the per-rank block: size = count * ranks * type bytes
// (reduce_scatter, all_gather, alltoall), else size = count * type bytes.
void ExpectCounts(const Table& table, size_t ranks_in_size) {
  for (const Row& row : table.rows) {
    EXPECT_EQ(row.size, row.count * ranks_in_size * TypeBytes(row.type)) << row.line;
  }
}

std::set<std::string> Column(const Table& table, std::string Row::*field) {
  std::set<std::string> values;
  for (const Row& row : table.rows) {
    values.insert(row.*field);
  }
  return values;
}

const std::set<std::string> kAllTypes = {"int8", "uint8", "int32",  "int64",
                                         "half", "float", "double", "bfloat16"};
const std::set<std::string> kAllOps = {"sum", "prod", "min", "max", "avg"};

TEST(CollPerf, AllReduceEveryTypeAndOpIsExact) {
  const ShellResult r =
      RunTool(3, "all_reduce_perf", "-b 8 -e 1M -f 4 -c 1 -d all -o all -n 5 -w 1");
  const Table table = ExpectCheckedTable(r, 8 * 5 * 9);  // 8, 32, ..., 512K
  ExpectCounts(table, 1);
  EXPECT_EQ(Column(table, &Row::type), kAllTypes);
  EXPECT_EQ(Column(table, &Row::redop), kAllOps);
  for (const Row& row : table.rows) {
    EXPECT_EQ(row.root, -1) << row.line;
  }
}

TEST(CollPerf, AllReduceForcedAlgorithmsAndBlocking) {
  for (const std::string& algo :
       {std::string("ring"), std::string("direct"), std::string("chain")}) {
    const ShellResult r =
        RunTool(4, "all_reduce_perf", "-b 8 -e 32K -f 8 -c 1 -d all -n 2 -w 1 -N -A " + algo);
    ExpectCheckedTable(r, 8 * 5);
    EXPECT_NE(r.output.find("algorithm " + algo + " (forced)"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("# Blocking Enabled"), std::string::npos) << r.output;
  }
}

TEST(CollPerf, AllReduceOverTcpLoopback) {
  const ShellResult r = RunTool(2, "all_reduce_perf", "-b 8 -e 1M -f 32 -c 1 -o all -n 3 -w 1",
                                "UCX_TLS=tcp,self UCX_NET_DEVICES=lo");
  ExpectCheckedTable(r, 5 * 4);
}

TEST(CollPerf, ReduceScatterFourRanksEveryTypeAndOp) {
  const ShellResult r =
      RunTool(4, "reduce_scatter_perf", "-b 64 -e 64K -f 8 -c 1 -d all -o all -n 3 -w 1");
  const Table table = ExpectCheckedTable(r, 8 * 5 * 4);
  ExpectCounts(table, 4);
  EXPECT_EQ(Column(table, &Row::redop), kAllOps);
}

TEST(CollPerf, AllGatherThreeRanksEveryType) {
  const ShellResult r = RunTool(3, "all_gather_perf", "-b 8 -e 256K -f 8 -c 1 -d all -n 3 -w 1");
  const Table table = ExpectCheckedTable(r, 8 * 6);
  ExpectCounts(table, 3);
  EXPECT_EQ(Column(table, &Row::redop), std::set<std::string>{"none"});
}

TEST(CollPerf, BroadcastEveryRootAndType) {
  const ShellResult r =
      RunTool(3, "broadcast_perf", "-b 8 -e 64K -f 8 -c 1 -d all -r all -n 3 -w 1");
  const Table table = ExpectCheckedTable(r, 8 * 3 * 5);
  ExpectCounts(table, 1);
  std::set<int> roots;
  for (const Row& row : table.rows) {
    roots.insert(row.root);
  }
  EXPECT_EQ(roots, (std::set<int>{0, 1, 2})) << r.output;
}

TEST(CollPerf, ReduceEveryRootAndOp) {
  const ShellResult r =
      RunTool(4, "reduce_perf", "-b 8 -e 64K -f 8 -c 1 -d half -o all -r all -n 3 -w 1");
  const Table table = ExpectCheckedTable(r, 5 * 4 * 5);
  ExpectCounts(table, 1);
  EXPECT_EQ(Column(table, &Row::redop), kAllOps);
}

TEST(CollPerf, AllToAllFourRanksEveryType) {
  const ShellResult r = RunTool(4, "alltoall_perf", "-b 8 -e 256K -f 8 -c 1 -d all -n 3 -w 1");
  const Table table = ExpectCheckedTable(r, 8 * 6);
  ExpectCounts(table, 4);
}

TEST(CollPerf, SendRecvRing) {
  for (int ranks : {2, 3}) {
    const ShellResult r = RunTool(ranks, "sendrecv_perf", "-b 8 -e 256K -f 8 -c 1 -d all -n 3");
    const Table table = ExpectCheckedTable(r, 8 * 6);
    ExpectCounts(table, 1);
  }
}

TEST(CollPerf, RunsAsOneProcessWithoutLauncher) {
  const ShellResult r = RunShell("timeout 60 " + BinPath("all_reduce_perf") +
                                 " -b 8 -e 4K -f 8 -c 1 -o all -n 2 -w 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("# Out of bounds values : 0 OK"), std::string::npos) << r.output;
}

TEST(CollPerf, JsonOutputParses) {
#ifndef TIDAL_TEST_HAVE_JSON
  GTEST_SKIP() << "nlohmann/json.hpp not available";
#else
  const std::string path =
      ::testing::TempDir() + "coll_perf_test_" + std::to_string(getpid()) + ".json";
  const ShellResult r =
      RunTool(2, "all_reduce_perf", "-b 8 -e 4K -f 8 -c 1 -o all -n 2 -w 1 -J " + path);
  const Table table = ExpectCheckedTable(r, 5 * 4);  // 8, 64, 512, 4K
  std::ifstream file(path);
  ASSERT_TRUE(file.good()) << path << "\n" << r.output;
  const nlohmann::json json = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
  std::remove(path.c_str());
  ASSERT_FALSE(json.is_discarded()) << r.output;
  EXPECT_EQ(json.value("tool", ""), "all_reduce_perf");
  EXPECT_EQ(json.value("ranks", 0), 2);
  EXPECT_EQ(json.value("out_of_bounds", -1), 0);
  ASSERT_TRUE(json.contains("rows") && json["rows"].is_array());
  ASSERT_EQ(json["rows"].size(), table.rows.size());
  for (size_t i = 0; i < table.rows.size(); ++i) {
    const nlohmann::json& row = json["rows"][i];
    EXPECT_EQ(row.value("size", size_t{0}), table.rows[i].size);
    EXPECT_EQ(row.value("count", size_t{0}), table.rows[i].count);
    EXPECT_EQ(row.value("redop", ""), table.rows[i].redop);
    for (const char* place : {"out_of_place", "in_place"}) {
      ASSERT_TRUE(row.contains(place)) << row.dump();
      EXPECT_EQ(row[place].value("wrong", -1), 0) << row.dump();
      EXPECT_GT(row[place].value("time_us", 0.0), 0.0) << row.dump();
    }
  }
#endif
}

TEST(CollPerf, BadFlagsFailWithAMessage) {
  const struct {
    std::string args;
    std::string message;
  } cases[] = {
      {"--no-such-flag", "--no-such-flag"},
      {"-d uint32", "no unsigned 32/64-bit type"},
      {"-d complex", "unknown data type 'complex'"},
      {"-o xor", "unknown reduction 'xor'"},
      {"-A pairwise", "has no such algorithm"},
      {"-b 1M -e 8", "invalid sizes for 'minbytes' and 'maxbytes'"},
      {"-e 12X", "invalid size '12X'"},
  };
  for (const auto& c : cases) {
    const ShellResult r = RunTool(2, "all_reduce_perf", "-b 8 -e 64 " + c.args);
    EXPECT_NE(r.exit_code, 0) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
  const ShellResult root = RunTool(2, "broadcast_perf", "-b 8 -e 64 -r 5");
  EXPECT_NE(root.exit_code, 0) << root.output;
  EXPECT_NE(root.output.find("root out of range for 2 ranks"), std::string::npos) << root.output;
}

}  // namespace
