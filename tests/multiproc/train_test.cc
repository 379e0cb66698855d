// The training benchmark (perf/train) end to end: the MLP's finite-difference gradient check
// (train --self-test), and short runs under tidalrun on a small subset of Fashion-MNIST that must
// exit 0, write the CSV's header and rows, and print the summary line. Learning is checked only
// loosely (the test loss falls below ln 10, the untrained value). Skipped when train was not
// built (no OpenBLAS) or the dataset is not installed (dataset-fashion-mnist).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness/shell.h"

namespace {

using tidal::testing::BinPath;
using tidal::testing::RunShell;
using tidal::testing::ShellResult;

constexpr char kDataDir[] = "/usr/share/datasets/fashion-mnist";

bool Usable(std::string* why) {
  if (access(BinPath("train").c_str(), X_OK) != 0) {
    *why = "train not built (needs libopenblas-dev and zlib1g-dev)";
    return false;
  }
  if (access((std::string(kDataDir) + "/train-images-idx3-ubyte.gz").c_str(), R_OK) != 0) {
    *why = "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
    return false;
  }
  return true;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// `tidalrun -n 2 train <args> --csv <csv>` on 1280 training and 400 test images.
ShellResult RunTrain(const std::string& args, const std::string& csv) {
  return RunShell(BinPath("tidalrun") + " -n 2 --timeout 60 " + BinPath("train") +
                  " --train-subset 1280 --test-subset 400 --eval-every 10 --timeout 30 " + args +
                  " --csv " + csv);
}

void ExpectLog(const std::string& csv, int rows, const ShellResult& r) {
  const std::vector<std::string> lines = ReadLines(csv);
  size_t header = 0;
  while (header < lines.size() && lines[header].rfind('#', 0) == 0) {
    ++header;
  }
  ASSERT_LT(header, lines.size()) << r.output;
  EXPECT_EQ(lines[header], "step,epoch,wall_s,train_loss,test_acc,bytes_sent");
  ASSERT_EQ(lines.size() - header - 1, static_cast<size_t>(rows)) << r.output;
  double prev_bytes = -1;
  for (size_t i = header + 1; i < lines.size(); ++i) {
    std::istringstream in(lines[i]);
    std::vector<double> f;
    for (std::string field; std::getline(in, field, ',');) {
      f.push_back(std::stod(field));
    }
    ASSERT_EQ(f.size(), 6u) << lines[i];
    EXPECT_EQ(f[0], 10.0 * static_cast<double>(i - header)) << lines[i];
    EXPECT_GT(f[3], 0) << lines[i];
    EXPECT_GE(f[4], 0);
    EXPECT_LE(f[4], 1);
    EXPECT_GE(f[5], prev_bytes) << lines[i];
    prev_bytes = f[5];
  }
  EXPECT_NE(r.output.find("[0] summary algo="), std::string::npos) << r.output;
}

TEST(TrainTest, GradientCheck) {
  if (access(BinPath("train").c_str(), X_OK) != 0) {
    GTEST_SKIP() << "train not built (needs libopenblas-dev and zlib1g-dev)";
  }
  const ShellResult r = RunShell(BinPath("train") + " --self-test");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("gradient check:"), std::string::npos) << r.output;
}

TEST(TrainTest, SlowMoWritesCsv) {
  std::string why;
  if (!Usable(&why)) {
    GTEST_SKIP() << why;
  }
  const std::string csv = testing::TempDir() + "train_slowmo_" + std::to_string(getpid()) + ".csv";
  const ShellResult r = RunTrain("--algo slowmo --tau 6 --beta 0.5 --lr 0.05 --steps 30", csv);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ExpectLog(csv, 3, r);
  // 5 outer steps of 2(n-1)/n * 4 * d bytes, n = 2, d = 235146.
  EXPECT_NE(r.output.find("bytes=4702920 rounds=5"), std::string::npos) << r.output;
  std::remove(csv.c_str());
}

TEST(TrainTest, EveryAlgorithmRuns) {
  std::string why;
  if (!Usable(&why)) {
    GTEST_SKIP() << why;
  }
  for (const std::string algo : {"sync", "local --tau 4", "overlap --tau 4",
                                 "slowmo --tau 4 --bucket-per-layer --probe-every 2"}) {
    SCOPED_TRACE(algo);
    const std::string csv = testing::TempDir() + "train_algo_" + std::to_string(getpid()) + ".csv";
    const ShellResult r = RunTrain("--algo " + algo + " --lr 0.05 --steps 20 --delay-us 200", csv);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ExpectLog(csv, 2, r);
    std::remove(csv.c_str());
  }
}

// --round-trace: one timeline per rank, a row per anchor AllReduce (syncs at steps 4, 8, ..., 36
// of 40), each reached before it was issued, and each round's AllReduce finished after the rank
// reached that sync and before the next sync returned (the pull-back waits for it). The D = 2 ms
// delay holds every AllReduce back at least 2 ms after its issue.
TEST(TrainTest, OverlapRoundTrace) {
  std::string why;
  if (!Usable(&why)) {
    GTEST_SKIP() << why;
  }
  const std::string base = testing::TempDir() + "train_trace_" + std::to_string(getpid());
  const ShellResult r =
      RunTrain("--algo overlap --tau 4 --lr 0.05 --steps 40 --delay-us 2000 --round-trace " + base,
               base + ".csv");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE(rank);
    const std::vector<std::string> lines = ReadLines(base + "." + std::to_string(rank));
    ASSERT_EQ(lines.size(), 10u) << r.output;  // header + 9 rounds
    EXPECT_EQ(lines[0], "round,arrive_us,issued_us,finished_us");
    std::vector<std::vector<long long>> rows;
    for (size_t i = 1; i < lines.size(); ++i) {
      std::istringstream in(lines[i]);
      std::vector<long long> f;
      for (std::string field; std::getline(in, field, ',');) f.push_back(std::stoll(field));
      ASSERT_EQ(f.size(), 4u) << lines[i];
      EXPECT_EQ(f[0], static_cast<long long>(i - 1)) << lines[i];
      EXPECT_LE(f[1], f[2]) << lines[i];
      EXPECT_GE(f[3], f[1] + 2000) << lines[i];
      rows.push_back(f);
    }
    for (size_t k = 0; k + 1 < rows.size(); ++k) {
      EXPECT_LE(rows[k][3], rows[k + 1][2]) << "round " << k << " finished after the next sync";
    }
    std::remove((base + "." + std::to_string(rank)).c_str());
  }
  std::remove((base + ".csv").c_str());
  const ShellResult local = RunTrain("--algo local --steps 4 --round-trace " + base, base + ".csv");
  EXPECT_NE(local.exit_code, 0);
  EXPECT_NE(local.output.find("--round-trace applies to --algo overlap only"), std::string::npos)
      << local.output;
}

TEST(TrainTest, BadFlagsFail) {
  if (access(BinPath("train").c_str(), X_OK) != 0) {
    GTEST_SKIP() << "train not built";
  }
  EXPECT_NE(RunShell(BinPath("train") + " --algo nope").exit_code, 0);
  EXPECT_NE(RunShell(BinPath("train") + " --self-test --slowdown 3").exit_code, 0);
  const ShellResult r = RunShell(BinPath("tidalrun") + " -n 1 --timeout 30 " + BinPath("train") +
                                 " --data-dir /nonexistent --steps 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("cannot open"), std::string::npos) << r.output;
}

}  // namespace
