// A sample of the collectives' correctness matrix (multirank/collectives_matrix_test.cc) over real
// UCX: ranks are forked processes, over shared memory ("sm,self") and TCP loopback ("tcp,self"),
// for 2, 3 and 4 ranks. AllReduce (fp32 sum, bf16 avg, int8 prod), ReduceScatter, AllGatherV,
// Broadcast, Reduce and AllToAllV, every algorithm (shm, across the processes, on a one-host
// communicator), counts 1, 1023 and 2 MiB buffers, checked against the plain reference of
// harness/coll_data.h on every rank.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <tuple>
#include <vector>

#include "harness/coll_check.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"

namespace tidal::testing {
namespace {

using coll::Algorithm;
using coll::CollKind;
using coll::DataType;
using coll::ReduceOp;

constexpr size_t kLargeBytes = size_t{2} << 20;

struct Pick {
  DataType type;
  ReduceOp op;
};

// The sample: every listed collective x algorithm x (type, op) x size.
std::vector<CollCase> UcxCases(int n) {
  const auto un = static_cast<size_t>(n);
  std::vector<CollCase> cases;
  auto add = [&](CollKind kind, Pick pick, size_t count, bool big) {
    for (Algorithm a : coll::AlgorithmsFor(kind)) {
      if (!Runnable(a, n)) {
        continue;
      }
      CollCase c;
      c.kind = kind;
      c.type = pick.type;
      c.op = pick.op;
      c.count = count;
      c.root = n - 1;
      c.algorithm = a;
      c.in_place = !big && count > 1 && kind != CollKind::kAllToAllV;
      c.gaps = count > 1;
      cases.push_back(c);
    }
  };
  for (int size = 0; size < 3; ++size) {
    const bool big = size == 2;
    // Elements per rank's buffer: 1, 1023, or kLargeBytes (per block for the sharded ones).
    auto count_of = [&](DataType type, bool sharded) {
      if (!big) {
        return size == 0 ? size_t{1} : size_t{1023};
      }
      const size_t elems = kLargeBytes / coll::DataTypeSize(type);
      return sharded ? elems / un : elems;
    };
    for (Pick pick :
         {Pick{DataType::kFloat32, ReduceOp::kSum}, Pick{DataType::kBFloat16, ReduceOp::kAvg},
          Pick{DataType::kInt8, ReduceOp::kProd}}) {
      add(CollKind::kAllReduce, pick, count_of(pick.type, false), big);
    }
    const Pick fp32_sum{DataType::kFloat32, ReduceOp::kSum};
    add(CollKind::kReduceScatter, Pick{DataType::kBFloat16, ReduceOp::kAvg},
        count_of(DataType::kBFloat16, true), big);
    add(CollKind::kReduceScatter, fp32_sum, count_of(DataType::kFloat32, true), big);
    add(CollKind::kReduce, Pick{DataType::kInt8, ReduceOp::kProd}, count_of(DataType::kInt8, false),
        big);
    add(CollKind::kReduce, fp32_sum, count_of(DataType::kFloat32, false), big);
    add(CollKind::kAllGatherV, fp32_sum, count_of(DataType::kFloat32, true), big);
    add(CollKind::kBroadcast, fp32_sum, count_of(DataType::kFloat32, false), big);
    add(CollKind::kAllToAllV, fp32_sum, count_of(DataType::kFloat32, true), big);
  }
  return cases;
}

using UcxParam = std::tuple<std::string /*UCX_TLS*/, int /*size*/>;

class CollectivesUcxTest : public ::testing::TestWithParam<UcxParam> {};

TEST_P(CollectivesUcxTest, SampleMatchesTheReference) {
  WorldOptions options;
  options.mode = Mode::kProcesses;
  options.transport = TransportKind::kUcx;
  options.ucx_tls = std::get<0>(GetParam());
  options.size = std::get<1>(GetParam());
  options.timeout = std::chrono::milliseconds(30'000);
  // Two worlds: the interleaved-host cases, then shm on one host (across the processes).
  RunCases(options, UcxCases(options.size));
}

INSTANTIATE_TEST_SUITE_P(Transports, CollectivesUcxTest,
                         ::testing::Combine(::testing::Values("sm,self", "tcp,self"),
                                            ::testing::Values(2, 3, 4)),
                         [](const ::testing::TestParamInfo<UcxParam>& param_info) {
                           const std::string& tls = std::get<0>(param_info.param);
                           return (tls.starts_with("tcp") ? std::string("tcp")
                                                          : std::string("shm")) +
                                  "_n" + std::to_string(std::get<1>(param_info.param));
                         });

}  // namespace
}  // namespace tidal::testing
