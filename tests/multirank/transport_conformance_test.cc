// The transport conformance suite (harness/transport_conformance.h) against the in-process
// transport, bare and wrapped in the fault transport (no faults; a small send delay), in
// cooperative and threads modes, world sizes 1-8 (16 cooperative), delivery shuffle on and off.
// Each test runs every basic case in its own world, so one failing case names itself (through
// the case's trace) without hiding the others. Failure cases (injected failures, a killed rank)
// need the fault wrapper and have their own tests.
#include "harness/transport_conformance.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "harness/world.h"

namespace tidal::testing {
namespace {

using std::chrono::microseconds;

enum class Variant { kInProc, kFaultNoFaults, kFaultDelay };

struct Config {
  Variant variant;
  Mode mode;
  int size;
  bool shuffle;
};

std::string VariantName(Variant v) {
  switch (v) {
    case Variant::kInProc:
      return "inproc";
    case Variant::kFaultNoFaults:
      return "fault";
    case Variant::kFaultDelay:
      return "faultdelay";
  }
  return "unknown";
}

std::string ConfigName(const ::testing::TestParamInfo<Config>& info) {
  const Config& c = info.param;
  return std::string(ModeName(c.mode)) + "_" + std::to_string(c.size) + "_" +
         VariantName(c.variant) + (c.shuffle ? "_shuffle" : "");
}

WorldOptions Options(const Config& c) {
  WorldOptions options;
  options.size = c.size;
  options.mode = c.mode;
  options.transport = TransportKind::kInProc;
  options.shuffle = c.shuffle;
  options.seed = 1000 + static_cast<uint64_t>(c.size);
  if (c.variant == Variant::kFaultNoFaults) options.fault = FaultOptions{};
  if (c.variant == Variant::kFaultDelay)
    options.fault = FaultOptions{.send_delay = microseconds(200)};
  return options;
}

// Threads on a 2-core machine, and 16 fibers, get smaller cases; 8 MiB messages (far above the
// eager threshold) run in worlds of up to 4 ranks, 2 MiB ones in larger worlds, so that the whole
// suite stays well under a minute.
ConformanceParams Params(const Config& c) {
  ConformanceParams params;
  if (c.mode == Mode::kThreads || c.size > 8) {
    params.ordering_messages = 24;
    params.many_outstanding = 200;
  }
  if (c.size > 4) params.large_bytes = size_t{2} << 20;
  if (c.variant == Variant::kFaultDelay) params.ring_laps = 2;
  return params;
}

std::vector<Config> AllConfigs() {
  std::vector<Config> configs;
  for (Variant variant : {Variant::kInProc, Variant::kFaultNoFaults, Variant::kFaultDelay}) {
    for (Mode mode : {Mode::kCooperative, Mode::kThreads}) {
      for (int size : {1, 2, 3, 4, 5, 8, 16}) {
        if (size == 16 && mode != Mode::kCooperative) continue;
        for (bool shuffle : {false, true}) configs.push_back({variant, mode, size, shuffle});
      }
    }
  }
  return configs;
}

class TransportConformance : public ::testing::TestWithParam<Config> {};

TEST_P(TransportConformance, BasicCases) {
  const WorldOptions options = Options(GetParam());
  const ConformanceParams params = Params(GetParam());
  for (ConformanceCase c : BasicConformanceCases()) {
    SCOPED_TRACE(std::string(ConformanceCaseName(c)) + " in " + DescribeWorld(options));
    RunWorld(options, [c, &params](RankEnv& env) { RunConformanceCase(c, env, params); });
  }
}

INSTANTIATE_TEST_SUITE_P(InProc, TransportConformance, ::testing::ValuesIn(AllConfigs()),
                         ConfigName);

struct FaultConfig {
  Mode mode;
  int size;
};

std::string FaultConfigName(const ::testing::TestParamInfo<FaultConfig>& info) {
  return std::string(ModeName(info.param.mode)) + "_" + std::to_string(info.param.size);
}

std::vector<FaultConfig> FaultConfigs() {
  std::vector<FaultConfig> configs;
  for (Mode mode : {Mode::kCooperative, Mode::kThreads}) {
    for (int size : {1, 2, 3, 5, 8}) configs.push_back({mode, size});
  }
  return configs;
}

class TransportConformanceFaults : public ::testing::TestWithParam<FaultConfig> {};

TEST_P(TransportConformanceFaults, InjectedFailure) {
  for (int64_t fail_after : {0, 4}) {
    WorldOptions options;
    options.size = GetParam().size;
    options.mode = GetParam().mode;
    options.fault = FaultOptions{.fail_after_posts = fail_after};
    SCOPED_TRACE("fail_after_posts " + std::to_string(fail_after));
    RunWorld(options,
             [](RankEnv& env) { RunConformanceCase(ConformanceCase::kInjectedFailure, env); });
  }
}

TEST_P(TransportConformanceFaults, KillRank) {
  for (bool shuffle : {false, true}) {
    WorldOptions options;
    options.size = GetParam().size;
    options.mode = GetParam().mode;
    options.shuffle = shuffle;
    options.fault = FaultOptions{};
    options.timeout = std::chrono::milliseconds(5000);
    RunWorld(options, [](RankEnv& env) { RunConformanceCase(ConformanceCase::kKillRank, env); });
  }
}

INSTANTIATE_TEST_SUITE_P(InProc, TransportConformanceFaults, ::testing::ValuesIn(FaultConfigs()),
                         FaultConfigName);

}  // namespace
}  // namespace tidal::testing
