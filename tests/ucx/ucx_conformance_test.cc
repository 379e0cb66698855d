// The transport conformance suite over real UCX: ranks are processes, over TCP loopback and over
// shared memory. A sample of the world sizes the in-process matrix covers.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "harness/transport_conformance.h"
#include "harness/world.h"

namespace tidal::testing {
namespace {

using UcxParam = std::tuple<std::string /*UCX_TLS*/, int /*size*/>;

class UcxConformance : public ::testing::TestWithParam<UcxParam> {};

TEST_P(UcxConformance, BasicCases) {
  WorldOptions options;
  options.mode = Mode::kProcesses;
  options.transport = TransportKind::kUcx;
  options.ucx_tls = std::get<0>(GetParam());
  options.size = std::get<1>(GetParam());
  options.timeout = std::chrono::milliseconds(20'000);
  ConformanceParams params;
  params.many_outstanding = 200;
  params.large_bytes = size_t{4} << 20;
  RunWorld(options, [&params](RankEnv& env) {
    for (ConformanceCase c : BasicConformanceCases()) {
      SCOPED_TRACE(std::string(ConformanceCaseName(c)));
      RunConformanceCase(c, env, params);
      if (::testing::Test::HasFailure()) return;
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Transports, UcxConformance,
                         ::testing::Combine(::testing::Values("tcp,self", "sm,self"),
                                            ::testing::Values(2, 3, 4)),
                         [](const ::testing::TestParamInfo<UcxParam>& param) {
                           std::string tls = std::get<0>(param.param);
                           return (tls.starts_with("tcp") ? std::string("tcp")
                                                          : std::string("shm")) +
                                  "_" + std::to_string(std::get<1>(param.param)) + "ranks";
                         });

}  // namespace
}  // namespace tidal::testing
