// The collectives' matrix beyond plain data (collectives_matrix_test.cc has the data): 16
// operations in flight on different buffers (each with its own result; completion in issue order,
// seen through Test()); NaN propagation by every reduction; barriers that really wait; a count of
// 0 with null buffers; pointer forms the matrix does not use; the pipeline knobs at their edges
// (one scratch slot, tag steps past 2^16); and AllGatherV's algorithm choice with uneven counts.
// Bad arguments are in collectives_args_test.cc. Cooperative mode, in-process transport.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness/coll_check.h"
#include "harness/coll_data.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"

namespace tidal::coll {
namespace {

using testing::CompareElements;
using testing::MakeCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::ScopedEnv;
using testing::WorldOptions;

constexpr int kWorldSizes[] = {1, 2, 3, 4, 5, 8};

WorldOptions World(int n) {
  WorldOptions world;
  world.size = n;
  world.timeout = std::chrono::milliseconds(15'000);  // a hang costs this much
  return world;
}

// Runs body(env, comm, one_host) in a world on two interleaved hosts and then, for n >= 2, in a
// one-host world (shm runs only there); body runs the algorithms of Algorithms(kind, n, one_host).
void RunLayouts(const WorldOptions& world,
                const std::function<void(RankEnv&, Communicator&, bool)>& body) {
  for (bool one_host : {false, true}) {
    if ((one_host && world.size < 2) || ::testing::Test::HasFailure()) {
      continue;
    }
    testing::CommSetup setup;
    setup.layout = one_host ? testing::Layout::kOneHost : testing::Layout::kInterleaved;
    RunWorld(world, [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env, setup);
      ASSERT_NE(comm, nullptr);
      body(env, *comm, one_host);
    });
  }
}

// kAuto and the algorithms of `kind` that run in this layout.
std::vector<Algorithm> Algorithms(CollKind kind, int n, bool one_host) {
  std::vector<Algorithm> some;
  for (Algorithm a : testing::AlgorithmsWithAuto(kind, n)) {
    if (testing::NeedsOneHost(a) == one_host) {
      some.push_back(a);
    }
  }
  return some;
}

// ---------------------------------------------------------------------------------------------
// Many operations in flight: AllReduceAsync (every type and op, in and out of place) and
// BroadcastAsync (every root) on 16 different buffers; each gets its own result, and a later
// operation is never seen finished before an earlier one.

struct InFlightParam {
  int n;
  Algorithm algorithm;  // of the AllReduces; the Broadcasts alternate chain and direct
};

class InFlightTest : public ::testing::TestWithParam<InFlightParam> {};

TEST_P(InFlightTest, SixteenOperationsFinishInIssueOrderWithTheirOwnResults) {
  const InFlightParam p = GetParam();
  constexpr int kOps = 16;
  RunWorld(World(p.n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, testing::SetupFor(p.algorithm));
    ASSERT_NE(comm, nullptr);
    const int rank = env.rank();
    std::vector<std::vector<uint8_t>> send(kOps);
    std::vector<std::vector<uint8_t>> recv(kOps);
    std::vector<std::vector<uint8_t>> expected(kOps);
    std::vector<std::string> what(kOps);
    std::vector<Work> works;
    for (int k = 0; k < kOps; ++k) {
      const DataType type = kAllDataTypes[static_cast<size_t>(k / 2) % 8];
      const ReduceOp op = kAllReduceOps[static_cast<size_t>(k) % 5];
      const size_t count = 1 + 613 * static_cast<size_t>(k);
      const size_t bytes = count * DataTypeSize(type);
      const bool in_place = k % 4 < 2;
      send[k].resize(bytes);
      recv[k].assign(in_place ? 0 : bytes, 0xA5);
      void* out = in_place ? send[k].data() : recv[k].data();
      CollOptions options;
      Result<Work> work = Work();
      if (k % 2 == 0) {
        testing::FillInput(type, op, rank, p.n, 0, count, send[k].data());
        expected[k] = testing::Expected(type, op, p.n, 0, count);
        options.algorithm = p.algorithm;
        work = AllReduceAsync(*comm, send[k].data(), out, count, type, op, options);
        what[k] =
            "allreduce " + std::string(DataTypeName(type)) + " " + std::string(ReduceOpName(op));
      } else {
        const int root = (k / 2) % p.n;
        options.algorithm = k % 4 == 1 ? Algorithm::kChain : Algorithm::kDirect;
        expected[k] = testing::Pattern(type, root, static_cast<size_t>(k) << 20, count);
        if (rank == root) {
          send[k] = expected[k];
        }
        work = BroadcastAsync(*comm, send[k].data(), out, count, type, root, options);
        what[k] = "broadcast " + std::string(DataTypeName(type)) + " root " + std::to_string(root);
      }
      ASSERT_OK(work);
      works.push_back(std::move(work).value());
    }
    // Poll from the last: once operation k is seen finished, every earlier one must be.
    int finished = 0;
    const Deadline deadline = env.deadline();
    while (finished < kOps) {
      ASSERT_FALSE(deadline.Expired()) << finished << " of " << kOps << " finished";
      for (int k = kOps - 1; k >= finished; --k) {
        if (!works[k].Test()) {
          continue;
        }
        for (int j = 0; j < k; ++j) {
          ASSERT_TRUE(works[j].Test()) << "op " << j << " (" << what[j] << ") unfinished after op "
                                       << k << " (" << what[k] << ")";
        }
        finished = k + 1;
        break;
      }
      env.Yield();
    }
    for (int k = 0; k < kOps; ++k) {
      ASSERT_OK(works[k].status());
      const DataType type = kAllDataTypes[static_cast<size_t>(k / 2) % 8];
      const void* out = k % 4 < 2 ? send[k].data() : recv[k].data();
      EXPECT_EQ(
          CompareElements(type, out, expected[k].data(), expected[k].size() / DataTypeSize(type)),
          "")
          << "op " << k << ": " << what[k];
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Matrix, InFlightTest, ::testing::ValuesIn([] {
                           std::vector<InFlightParam> params;
                           for (int n : kWorldSizes) {
                             for (Algorithm a :
                                  testing::AlgorithmsWithAuto(CollKind::kAllReduce, n)) {
                               params.push_back({n, a});
                             }
                           }
                           return params;
                         }()),
                         [](const ::testing::TestParamInfo<InFlightParam>& param_info) {
                           return std::string(AlgorithmName(param_info.param.algorithm)) + "_n" +
                                  std::to_string(param_info.param.n);
                         });

// ---------------------------------------------------------------------------------------------
// NaN: rank r contributes a quiet NaN at local index (5r + 3) mod count of every block; every op
// gives NaN there on every rank (min and max propagate NaN; sum, prod and avg do too) and the
// reference elsewhere.

struct NanParam {
  int n;
  DataType type;
};

class NanTest : public ::testing::TestWithParam<NanParam> {};

TEST_P(NanTest, EveryReductionPropagatesNan) {
  const NanParam p = GetParam();
  constexpr size_t kCount = 37;
  const size_t elem = DataTypeSize(p.type);
  RunLayouts(World(p.n), [&](RankEnv& env, Communicator& world_comm, bool one_host) {
    Communicator* comm = &world_comm;
    std::vector<bool> nan_at(kCount, false);
    for (int r = 0; r < p.n; ++r) {
      nan_at[(5 * static_cast<size_t>(r) + 3) % kCount] = true;
    }
    const size_t mine = (5 * static_cast<size_t>(env.rank()) + 3) % kCount;
    for (CollKind kind : {CollKind::kAllReduce, CollKind::kReduceScatter, CollKind::kReduce}) {
      const size_t blocks = kind == CollKind::kReduceScatter ? static_cast<size_t>(p.n) : 1;
      const int root = p.n - 1;
      for (Algorithm algorithm : Algorithms(kind, p.n, one_host)) {
        for (ReduceOp op : kAllReduceOps) {
          const std::string desc =
              std::string(CollKindName(kind)) + " " + std::string(DataTypeName(p.type)) + " " +
              std::string(ReduceOpName(op)) + " " + std::string(AlgorithmName(algorithm));
          std::vector<uint8_t> in(blocks * kCount * elem);
          testing::FillInput(p.type, op, env.rank(), p.n, 0, blocks * kCount, in.data());
          for (size_t b = 0; b < blocks; ++b) {
            testing::StoreElement(p.type, in.data(), b * kCount + mine, testing::QuietNan(p.type));
          }
          std::vector<uint8_t> out(kCount * elem, 0);
          CollOptions options;
          options.algorithm = algorithm;
          Status st;
          if (kind == CollKind::kAllReduce) {
            st = AllReduce(*comm, in.data(), out.data(), kCount, p.type, op, options);
          } else if (kind == CollKind::kReduceScatter) {
            st = ReduceScatter(*comm, in.data(), out.data(), kCount, p.type, op, options);
          } else {
            st = Reduce(*comm, in.data(), out.data(), kCount, p.type, op, root, options);
          }
          ASSERT_TRUE(st.ok()) << desc << ": " << st;
          if (kind == CollKind::kReduce && env.rank() != root) {
            continue;
          }
          const size_t block =
              kind == CollKind::kReduceScatter ? static_cast<size_t>(env.rank()) : 0;
          const std::vector<uint8_t> ref =
              testing::Expected(p.type, op, p.n, block * kCount, kCount);
          for (size_t i = 0; i < kCount; ++i) {
            const uint64_t got = testing::LoadElement(p.type, out.data(), i);
            if (nan_at[i]) {
              EXPECT_TRUE(testing::IsNanBits(p.type, got))
                  << desc << ": [" << i << "] = 0x" << std::hex << got << ", expected NaN";
            } else {
              EXPECT_EQ(got, testing::LoadElement(p.type, ref.data(), i))
                  << desc << ": [" << i << "]";
            }
          }
          if (::testing::Test::HasFailure()) {
            return;
          }
        }
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Matrix, NanTest, ::testing::ValuesIn([] {
                           std::vector<NanParam> params;
                           for (int n : {1, 2, 3, 5, 8}) {
                             for (DataType type : {DataType::kFloat32, DataType::kFloat64,
                                                   DataType::kFloat16, DataType::kBFloat16}) {
                               params.push_back({n, type});
                             }
                           }
                           return params;
                         }()),
                         [](const ::testing::TestParamInfo<NanParam>& param_info) {
                           return std::string(DataTypeName(param_info.param.type)) + "_n" +
                                  std::to_string(param_info.param.n);
                         });

// ---------------------------------------------------------------------------------------------
// Barrier: no rank leaves round k before every rank entered it (ranks arrive in a rank-dependent
// order; the fibers share the counters).

class BarrierTest : public ::testing::TestWithParam<int> {};

TEST_P(BarrierTest, NoRankLeavesBeforeEveryRankArrived) {
  const int n = GetParam();
  constexpr int kRounds = 6;
  std::vector<std::atomic<int>> arrived(kRounds);
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    for (int round = 0; round < kRounds; ++round) {
      for (int y = 0; y < (env.rank() * 3 + round) % (n + 1); ++y) {
        env.Yield();
      }
      arrived[round].fetch_add(1);
      CollOptions options;
      options.algorithm = round % 2 == 0 ? Algorithm::kAuto : Algorithm::kDirect;
      ASSERT_OK(Barrier(*comm, options));
      EXPECT_EQ(arrived[round].load(), n) << "round " << round;
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Matrix, BarrierTest, ::testing::ValuesIn(kWorldSizes),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return "n" + std::to_string(param_info.param);
                         });

// ---------------------------------------------------------------------------------------------
// A count of 0 is valid with null buffers, for every collective and algorithm.

class ZeroCountTest : public ::testing::TestWithParam<int> {};

TEST_P(ZeroCountTest, NullBuffersWithCountZeroAreValid) {
  const int n = GetParam();
  RunLayouts(World(n), [&](RankEnv& env, Communicator& world_comm, bool one_host) {
    Communicator* comm = &world_comm;
    const std::vector<size_t> zeros(static_cast<size_t>(n), 0);
    const DataType t = DataType::kFloat32;
    const ReduceOp s = ReduceOp::kSum;
    for (CollKind kind : {CollKind::kAllReduce, CollKind::kReduceScatter, CollKind::kAllGather,
                          CollKind::kAllGatherV, CollKind::kBroadcast, CollKind::kReduce,
                          CollKind::kAllToAll, CollKind::kAllToAllV}) {
      for (Algorithm a : Algorithms(kind, n, one_host)) {
        CollOptions o;
        o.algorithm = a;
        Status st;
        switch (kind) {
          case CollKind::kAllReduce:
            st = AllReduce(*comm, nullptr, nullptr, 0, t, s, o);
            break;
          case CollKind::kReduceScatter:
            st = ReduceScatter(*comm, nullptr, nullptr, 0, t, s, o);
            break;
          case CollKind::kAllGather:
            st = AllGather(*comm, nullptr, nullptr, 0, t, o);
            break;
          case CollKind::kAllGatherV:
            st = AllGatherV(*comm, nullptr, 0, nullptr, zeros, {}, t, o);
            break;
          case CollKind::kBroadcast:
            st = Broadcast(*comm, nullptr, nullptr, 0, t, 0, o);
            break;
          case CollKind::kReduce:
            st = Reduce(*comm, nullptr, nullptr, 0, t, s, n - 1, o);
            break;
          case CollKind::kAllToAll:
            st = AllToAll(*comm, nullptr, nullptr, 0, t, o);
            break;
          default:
            st = AllToAllV(*comm, nullptr, zeros, zeros, nullptr, zeros, zeros, t, o);
            break;
        }
        ASSERT_TRUE(st.ok()) << CollKindName(kind) << " " << AlgorithmName(a) << ": " << st;
      }
    }
    Result<Work> sent = SendAsync(*comm, nullptr, 0, t, (env.rank() + 1) % n);
    ASSERT_OK(sent);
    ASSERT_OK(Recv(*comm, nullptr, 0, t, (env.rank() + n - 1) % n));
    ASSERT_OK(sent->Wait());
  });
}

INSTANTIATE_TEST_SUITE_P(Matrix, ZeroCountTest, ::testing::Values(1, 2, 3, 8),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return "n" + std::to_string(param_info.param);
                         });

// ---------------------------------------------------------------------------------------------
// Pointer forms the matrix does not use: ReduceScatter with recv == send (the header's "same
// pointer" in place; the matrix uses recv = send + rank * count), and Reduce with a null recv on
// the non-roots ("not touched, may be null").

class PointerFormsTest : public ::testing::TestWithParam<int> {};

TEST_P(PointerFormsTest, SamePointerReduceScatterAndNullNonRootRecv) {
  const int n = GetParam();
  const auto un = static_cast<size_t>(n);
  const DataType f = DataType::kFloat32;
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    const auto me = static_cast<size_t>(env.rank());
    for (size_t count : {size_t{7}, size_t{1023}}) {
      const std::vector<uint8_t> all = testing::Expected(f, ReduceOp::kSum, n, 0, un * count);
      for (Algorithm a : testing::AlgorithmsWithAuto(CollKind::kReduceScatter, n)) {
        std::vector<float> buf(un * count);
        testing::FillInput(f, ReduceOp::kSum, env.rank(), n, 0, un * count, buf.data());
        CollOptions options;
        options.algorithm = a;
        ASSERT_OK(ReduceScatter(*comm, buf.data(), buf.data(), count, f, ReduceOp::kSum, options));
        EXPECT_EQ(CompareElements(f, buf.data(), all.data() + me * count * 4, count), "")
            << "reduce_scatter recv == send, count " << count << ", " << AlgorithmName(a);
      }
      for (Algorithm a : testing::AlgorithmsWithAuto(CollKind::kReduce, n)) {
        const int root = static_cast<int>(count % un);
        std::vector<float> in(count);
        testing::FillInput(f, ReduceOp::kMax, env.rank(), n, 0, count, in.data());
        std::vector<float> out(count, 0.0f);
        CollOptions options;
        options.algorithm = a;
        float* recv = env.rank() == root ? out.data() : nullptr;
        ASSERT_OK(Reduce(*comm, in.data(), recv, count, f, ReduceOp::kMax, root, options));
        if (env.rank() != root) {
          continue;
        }
        EXPECT_EQ(CompareElements(f, out.data(),
                                  testing::Expected(f, ReduceOp::kMax, n, 0, count).data(), count),
                  "")
            << "reduce with null non-root recv, count " << count << ", " << AlgorithmName(a);
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Matrix, PointerFormsTest, ::testing::Values(1, 2, 3, 5, 8),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return "n" + std::to_string(param_info.param);
                         });

// ---------------------------------------------------------------------------------------------
// Pipeline knobs at their edges: one scratch slot (TIDAL_PIPELINE_DEPTH=1) with many small
// segments; and segments so small that an operation's tag steps wrap past 2^16 (schedule.h: FIFO
// matching keeps wrapped tags paired).

struct KnobParam {
  const char* name;
  const char* depth;
  const char* segment_bytes;
  int n;
  size_t count;
  std::vector<CollKind> kinds;
  std::vector<DataType> types;  // fp32: sum out of place; bf16: avg in place
};

const std::vector<CollKind> kKnobKinds = {CollKind::kAllReduce, CollKind::kReduceScatter,
                                          CollKind::kReduce,    CollKind::kBroadcast,
                                          CollKind::kAllGather, CollKind::kAllToAll};

class PipelineKnobsTest : public ::testing::TestWithParam<KnobParam> {};

TEST_P(PipelineKnobsTest, EveryAlgorithmMatchesTheReference) {
  const KnobParam& p = GetParam();
  std::vector<testing::CollCase> cases;
  for (CollKind kind : p.kinds) {
    for (Algorithm a : AlgorithmsFor(kind)) {
      if (!testing::Runnable(a, p.n)) {
        continue;
      }
      for (DataType type : p.types) {
        testing::CollCase c;
        c.kind = kind;
        c.type = type;
        c.op = type == DataType::kFloat32 ? ReduceOp::kSum : ReduceOp::kAvg;
        c.count = p.count;
        c.root = p.n - 1;
        c.algorithm = a;
        c.in_place = type == DataType::kBFloat16;
        cases.push_back(c);
      }
    }
  }
  const ScopedEnv depth("TIDAL_PIPELINE_DEPTH", p.depth);
  const ScopedEnv segment("TIDAL_SEGMENT_BYTES", p.segment_bytes);
  testing::RunCases(World(p.n), cases);
}

INSTANTIATE_TEST_SUITE_P(Matrix, PipelineKnobsTest,
                         ::testing::Values(KnobParam{"depth1_n3",
                                                     "1",
                                                     "1024",
                                                     3,
                                                     10007,
                                                     kKnobKinds,
                                                     {DataType::kFloat32, DataType::kBFloat16}},
                                           KnobParam{"depth1_n5",
                                                     "1",
                                                     "1000",
                                                     5,
                                                     10007,
                                                     kKnobKinds,
                                                     {DataType::kFloat32, DataType::kBFloat16}}),
                         [](const ::testing::TestParamInfo<KnobParam>& param_info) {
                           return std::string(param_info.param.name);
                         });

// Tag steps past 2^16 in one operation: n = 2 AllReduce in 8-byte segments (2 fp32 elements).
// Ring: reduce-scatter and all-gather stages of count / 4 segments each, so the all-gather's tag
// steps pass 65536; chain: reduce and broadcast stages of count / 2 segments, so the broadcast's
// do. About 65 thousand messages each way: slow under ASan, hence the longer deadline.
TEST(TagWrapTest, TagStepsPast65536StayPaired) {
  const ScopedEnv segment("TIDAL_SEGMENT_BYTES", "8");
  WorldOptions world = World(2);
  world.timeout = std::chrono::milliseconds(60'000);
  RunWorld(world, [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    for (Algorithm a : {Algorithm::kRing, Algorithm::kChain}) {
      testing::CollCase c;
      c.kind = CollKind::kAllReduce;
      c.count = a == Algorithm::kRing ? 131075 : 65539;
      c.algorithm = a;
      testing::RunCollective(*comm, c);
      if (::testing::Test::HasFailure()) {
        return;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// AllGatherV with kAuto and uneven counts: every rank must pick the same algorithm. (A regression
// test: the selection once used this rank's own send bytes, so rank 0 here, with 0 elements,
// picked direct and rank 1, with 64 KiB, ring; the ranks hung, and LargeCountTest's
// allgatherv_n*_auto timed out. Fixed in gather.cc by selecting on the mean count.) With
// TIDAL_CHECK_COLLECTIVES=1 a disagreement fails at once, naming it, instead of hanging.

TEST(AllGatherVAutoTest, EveryRankPicksTheSameAlgorithm) {
  const ScopedEnv check("TIDAL_CHECK_COLLECTIVES", "1");
  WorldOptions world = World(2);
  world.timeout = std::chrono::milliseconds(5'000);
  RunWorld(world, [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    const std::vector<size_t> counts = {0, 16384};
    std::vector<float> send(counts[static_cast<size_t>(env.rank())], 1.0f);
    std::vector<float> recv(counts[0] + counts[1], 0.0f);
    ASSERT_OK(
        AllGatherV(*comm, send.data(), send.size(), recv.data(), counts, {}, DataType::kFloat32));
    for (float v : recv) {
      ASSERT_EQ(v, 1.0f);
    }
  });
}

}  // namespace
}  // namespace tidal::coll
