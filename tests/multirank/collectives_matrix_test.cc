// The correctness matrix of tidal's collectives against a plain reference (harness/coll_data.h,
// harness/coll_check.h): every collective; world sizes 1, 2, 3, 4, 5, 8; counts 0, 1, 7, 1023 and
// 100003 (not divisible by any world size or segment; run with 4 KiB segments, so every step has
// many); every type and op; every algorithm of each collective and auto; in place and out of
// place; misaligned buffers. Cooperative mode, in-process transport, two interleaved synthetic
// hosts (ring order differs from rank order), except shm and a kAuto AllReduce (which then picks
// shm) on one host.
//
// Each test is one (collective, n, type or algorithm) world, so ctest runs them in parallel; a
// failure message names collective, n, type, op, count, algorithm, root and placement.
//
// Trimmed for time (the ASan build runs it too): the large count runs a few (type, op) pairs, one
// type per element size (fp32 sum, fp32 avg, int8 prod, bf16 avg, fp64 max; int8, fp16, fp32,
// fp64 for the copies), and the collectives with one block per rank (ReduceScatter, AllGather(V),
// AllToAll(V)) use blocks of 100003 / n elements; Reduce tries every root for fp32 and the first
// and last root for the other types. NaN, operations in flight, barriers and bad arguments live in
// collectives_edge_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "harness/coll_check.h"
#include "harness/coll_data.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"

namespace tidal::coll {
namespace {

using testing::AlgorithmsWithAuto;
using testing::CollCase;
using testing::ScopedEnv;
using testing::WorldOptions;

constexpr int kWorldSizes[] = {1, 2, 3, 4, 5, 8};
constexpr size_t kCounts[] = {0, 1, 7, 1023};
constexpr size_t kLargeCount = 100003;

WorldOptions World(int n) {
  WorldOptions world;
  world.size = n;
  world.timeout = std::chrono::milliseconds(15'000);  // a hang costs this much
  return world;
}

// Every root for small worlds, a few for n = 8; `few`: the first and the last only (Reduce of the
// types other than fp32, for time).
std::vector<int> Roots(CollKind kind, int n, bool few = false) {
  if (kind != CollKind::kBroadcast && kind != CollKind::kReduce) {
    return {0};
  }
  if (few || n > 5) {
    std::vector<int> some = few ? std::vector<int>{0, n - 1} : std::vector<int>{0, 3, n - 1};
    some.erase(std::unique(some.begin(), some.end()), some.end());
    return some;
  }
  std::vector<int> all;
  for (int r = 0; r < n; ++r) {
    all.push_back(r);
  }
  return all;
}

bool HasInPlace(CollKind kind) {
  return kind != CollKind::kAllToAllV && kind != CollKind::kBarrier && kind != CollKind::kSend;
}

// Collectives whose send or recv buffer holds one block per rank.
bool Sharded(CollKind kind) {
  return kind == CollKind::kReduceScatter || kind == CollKind::kAllGather ||
         kind == CollKind::kAllGatherV || kind == CollKind::kAllToAll ||
         kind == CollKind::kAllToAllV;
}

bool IsV(CollKind kind) { return kind == CollKind::kAllGatherV || kind == CollKind::kAllToAllV; }

std::string Name(CollKind kind, int n) {
  return std::string(CollKindName(kind)) + "_n" + std::to_string(n);
}

void RunCases(int n, const std::vector<CollCase>& cases,
              const std::map<size_t, std::vector<uint8_t>>& expected = {}) {
  testing::RunCases(World(n), cases, expected);
}

// The reduction reference of every case, computed once for all ranks.
std::map<size_t, std::vector<uint8_t>> References(int n, const std::vector<CollCase>& cases) {
  std::map<size_t, std::vector<uint8_t>> refs;
  std::map<std::tuple<CollKind, DataType, ReduceOp, size_t>, size_t> seen;
  for (size_t k = 0; k < cases.size(); ++k) {
    const CollCase& c = cases[k];
    if (!testing::IsReduction(c.kind)) {
      continue;
    }
    const size_t elems = testing::ReferenceCount(c, n);
    const auto key = std::make_tuple(
        c.kind == CollKind::kReduceScatter ? c.kind : CollKind::kAllReduce, c.type, c.op, elems);
    const auto [it, inserted] = seen.emplace(key, k);
    refs[k] = inserted ? testing::Expected(c.type, c.op, n, 0, elems) : refs[it->second];
  }
  return refs;
}

// ---------------------------------------------------------------------------------------------
// Reductions: (collective, n, type, algorithm) per test; ops, counts, placements and roots inside.

struct ReductionParam {
  CollKind kind;
  int n;
  DataType type;
  Algorithm algorithm;
  bool one_host;  // kAuto on one host: AllReduce picks shm
};

std::vector<ReductionParam> ReductionParams() {
  std::vector<ReductionParam> params;
  for (CollKind kind : {CollKind::kAllReduce, CollKind::kReduceScatter, CollKind::kReduce}) {
    for (int n : kWorldSizes) {
      for (DataType type : kAllDataTypes) {
        for (Algorithm a : AlgorithmsWithAuto(kind, n)) {
          params.push_back({kind, n, type, a, false});
        }
        if (kind == CollKind::kAllReduce && n >= 2) {
          params.push_back({kind, n, type, Algorithm::kAuto, true});
        }
      }
    }
  }
  return params;
}

class ReductionMatrixTest : public ::testing::TestWithParam<ReductionParam> {};

TEST_P(ReductionMatrixTest, EveryOpCountAndPlacementMatchesTheReference) {
  const ReductionParam p = GetParam();
  std::vector<CollCase> cases;
  for (ReduceOp op : kAllReduceOps) {
    for (size_t count : kCounts) {
      for (bool in_place : {false, true}) {
        for (int root : Roots(p.kind, p.n, p.type != DataType::kFloat32)) {
          CollCase c;
          c.kind = p.kind;
          c.type = p.type;
          c.op = op;
          c.count = count;
          c.root = root;
          c.algorithm = p.algorithm;
          c.in_place = in_place;
          c.one_host = p.one_host;
          cases.push_back(c);
        }
      }
    }
  }
  RunCases(p.n, cases, References(p.n, cases));
}

INSTANTIATE_TEST_SUITE_P(Matrix, ReductionMatrixTest, ::testing::ValuesIn(ReductionParams()),
                         [](const ::testing::TestParamInfo<ReductionParam>& param_info) {
                           const ReductionParam& p = param_info.param;
                           return Name(p.kind, p.n) + "_" + std::string(DataTypeName(p.type)) +
                                  "_" + std::string(AlgorithmName(p.algorithm)) +
                                  (p.one_host ? "_onehost" : "");
                         });

// ---------------------------------------------------------------------------------------------
// Copies: (collective, n, algorithm) per test; every type, count, placement, root and layout
// inside. Barrier and the Send/Recv ring have one algorithm.

struct CopyParam {
  CollKind kind;
  int n;
  Algorithm algorithm;
};

constexpr CollKind kCopyKinds[] = {CollKind::kAllGather, CollKind::kAllGatherV,
                                   CollKind::kBroadcast, CollKind::kAllToAll,
                                   CollKind::kAllToAllV, CollKind::kSend};

std::vector<CopyParam> CopyParams() {
  std::vector<CopyParam> params;
  for (CollKind kind : kCopyKinds) {
    for (int n : kWorldSizes) {
      for (Algorithm a : AlgorithmsWithAuto(kind, n)) {
        if (kind == CollKind::kSend && a != Algorithm::kAuto) {
          continue;
        }
        params.push_back({kind, n, a});
      }
    }
  }
  return params;
}

class CopyMatrixTest : public ::testing::TestWithParam<CopyParam> {};

TEST_P(CopyMatrixTest, EveryTypeCountAndPlacementMatchesTheReference) {
  const CopyParam p = GetParam();
  std::vector<CollCase> cases;
  for (DataType type : kAllDataTypes) {
    for (size_t count : kCounts) {
      for (bool in_place : {false, true}) {
        if (in_place && !HasInPlace(p.kind)) {
          continue;
        }
        for (bool gaps : {false, true}) {
          if (gaps && !IsV(p.kind)) {
            continue;
          }
          for (int root : Roots(p.kind, p.n)) {
            CollCase c;
            c.kind = p.kind;
            c.type = type;
            c.count = count;
            c.root = root;
            c.algorithm = p.algorithm;
            c.in_place = in_place;
            c.gaps = gaps;
            cases.push_back(c);
          }
        }
      }
    }
  }
  RunCases(p.n, cases);
}

INSTANTIATE_TEST_SUITE_P(Matrix, CopyMatrixTest, ::testing::ValuesIn(CopyParams()),
                         [](const ::testing::TestParamInfo<CopyParam>& param_info) {
                           const CopyParam& p = param_info.param;
                           return Name(p.kind, p.n) + "_" + std::string(AlgorithmName(p.algorithm));
                         });

// ---------------------------------------------------------------------------------------------
// The large count with 4 KiB segments: many segments per step, pipelined, uneven chunks.

struct LargeParam {
  CollKind kind;
  int n;
  Algorithm algorithm;
};

std::vector<LargeParam> LargeParams() {
  std::vector<LargeParam> params;
  for (CollKind kind : {CollKind::kAllReduce, CollKind::kReduceScatter, CollKind::kReduce,
                        CollKind::kAllGather, CollKind::kAllGatherV, CollKind::kBroadcast,
                        CollKind::kAllToAll, CollKind::kAllToAllV, CollKind::kSend}) {
    for (int n : kWorldSizes) {
      for (Algorithm a : AlgorithmsWithAuto(kind, n)) {
        if (kind == CollKind::kSend && a != Algorithm::kAuto) {
          continue;
        }
        params.push_back({kind, n, a});
      }
    }
  }
  return params;
}

class LargeCountTest : public ::testing::TestWithParam<LargeParam> {};

TEST_P(LargeCountTest, ManySegmentsMatchTheReference) {
  const LargeParam p = GetParam();
  const bool reduction = testing::IsReduction(p.kind);
  // (type, op, in place): one type per element size.
  struct Pick {
    DataType type;
    ReduceOp op;
    bool in_place;
  };
  const std::vector<Pick> picks =
      reduction ? std::vector<Pick>{{DataType::kFloat32, ReduceOp::kSum, false},
                                    {DataType::kFloat32, ReduceOp::kAvg, true},
                                    {DataType::kInt8, ReduceOp::kProd, false},
                                    {DataType::kBFloat16, ReduceOp::kAvg, true},
                                    {DataType::kFloat64, ReduceOp::kMax, false}}
                : std::vector<Pick>{{DataType::kInt8, ReduceOp::kSum, false},
                                    {DataType::kFloat16, ReduceOp::kSum, true},
                                    {DataType::kFloat32, ReduceOp::kSum, false},
                                    {DataType::kFloat64, ReduceOp::kSum, true}};
  std::vector<CollCase> cases;
  for (const Pick& pick : picks) {
    CollCase c;
    c.kind = p.kind;
    c.type = pick.type;
    c.op = pick.op;
    // The sharded collectives' buffers hold n blocks: about kLargeCount elements in all.
    c.count = Sharded(p.kind) ? kLargeCount / static_cast<size_t>(p.n) : kLargeCount;
    c.root = p.n - 1;
    c.algorithm = p.algorithm;
    c.in_place = pick.in_place && HasInPlace(p.kind);
    c.gaps = IsV(p.kind) && pick.in_place;
    cases.push_back(c);
  }
  const ScopedEnv segment("TIDAL_SEGMENT_BYTES", "4096");
  RunCases(p.n, cases, References(p.n, cases));
}

INSTANTIATE_TEST_SUITE_P(Matrix, LargeCountTest, ::testing::ValuesIn(LargeParams()),
                         [](const ::testing::TestParamInfo<LargeParam>& param_info) {
                           const LargeParam& p = param_info.param;
                           return Name(p.kind, p.n) + "_" + std::string(AlgorithmName(p.algorithm));
                         });

// ---------------------------------------------------------------------------------------------
// Misaligned buffers: a byte offset of 1 (misaligns every multi-byte type) or of one element, on
// the send buffer, the recv buffer, both, or in place; n = 3 (ring order 0, 2, 1).

struct MisalignedParam {
  CollKind kind;
  bool one_byte;  // else one element
};

class MisalignedTest : public ::testing::TestWithParam<MisalignedParam> {};

TEST_P(MisalignedTest, OffsetBuffersMatchTheReference) {
  const MisalignedParam p = GetParam();
  constexpr int kN = 3;
  std::vector<CollCase> cases;
  for (DataType type : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16,
                        DataType::kBFloat16, DataType::kInt32, DataType::kInt64}) {
    const size_t offset = p.one_byte ? 1 : DataTypeSize(type);
    for (Algorithm a : AlgorithmsWithAuto(p.kind, kN)) {
      for (size_t count : {size_t{7}, size_t{1023}}) {
        // send offset, recv offset, both, in place (the shared buffer offset).
        for (int variant = 0; variant < 4; ++variant) {
          if (variant == 3 && !HasInPlace(p.kind)) {
            continue;
          }
          CollCase c;
          c.kind = p.kind;
          c.type = type;
          c.op = type == DataType::kBFloat16 ? ReduceOp::kAvg : ReduceOp::kSum;
          c.count = count;
          c.root = 1;
          c.algorithm = a;
          c.in_place = variant == 3;
          c.gaps = IsV(p.kind);
          c.send_offset = variant != 1 ? offset : 0;
          c.recv_offset = variant == 1 || variant == 2 ? offset : 0;
          if (c.in_place && (p.kind == CollKind::kAllGather || p.kind == CollKind::kAllGatherV ||
                             p.kind == CollKind::kBroadcast)) {
            // These collectives' in-place buffer is recv.
            std::swap(c.send_offset, c.recv_offset);
          }
          cases.push_back(c);
        }
      }
    }
  }
  RunCases(kN, cases, References(kN, cases));
}

INSTANTIATE_TEST_SUITE_P(Matrix, MisalignedTest, ::testing::ValuesIn([] {
                           std::vector<MisalignedParam> params;
                           for (CollKind kind :
                                {CollKind::kAllReduce, CollKind::kReduceScatter, CollKind::kReduce,
                                 CollKind::kAllGather, CollKind::kAllGatherV, CollKind::kBroadcast,
                                 CollKind::kAllToAll, CollKind::kAllToAllV, CollKind::kSend}) {
                             params.push_back({kind, true});
                             params.push_back({kind, false});
                           }
                           return params;
                         }()),
                         [](const ::testing::TestParamInfo<MisalignedParam>& param_info) {
                           return std::string(CollKindName(param_info.param.kind)) +
                                  (param_info.param.one_byte ? "_byte" : "_element");
                         });

}  // namespace
}  // namespace tidal::coll
