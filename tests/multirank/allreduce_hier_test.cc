// The hierarchical AllReduce (Algorithm::kHier, coll/hier.h) in cooperative mode on synthetic
// hosts whose ranks interleave (rank r on host r % H), so that ring order, host order and rank
// order all differ: 2x2, 2x3, 3x2, 2x4 and 4x2 ranks; counts 0, 1, 7, 1023 and 100003; fp32
// sum/avg, bf16 avg, int32 max and fp64 prod against the plain reference (harness/coll_data.h),
// in and out of place. The owned-shard contract (OwnedRange(ring_position, ...), bit-identical
// results on data whose sum depends on the order), uneven hosts (forced hier: kNotSupported;
// kAuto and a TIDAL_ALGO=hier knob fall back to ring) and one host (forced hier runs as a plain
// ring; kAuto keeps shm) are checked too.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "harness/coll_check.h"
#include "harness/coll_data.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"
#include "tidal/coll/hier.h"

namespace tidal::coll {
namespace {

using testing::CollCase;
using testing::CommSetup;
using testing::MakeCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

WorldOptions World(int n) {
  WorldOptions world;
  world.size = n;
  world.timeout = std::chrono::milliseconds(20'000);
  return world;
}

// Rank r on host r % hosts.
CommSetup Interleaved(int n, int hosts) {
  CommSetup setup;
  setup.layout = testing::Layout::kHosts;
  for (int r = 0; r < n; ++r) setup.hosts.push_back(r % hosts);
  return setup;
}

CommSetup Explicit(std::vector<int> hosts) {
  CommSetup setup;
  setup.layout = testing::Layout::kHosts;
  setup.hosts = std::move(hosts);
  return setup;
}

struct Shape {
  int hosts;
  int per_host;
};

class HierShapeTest : public ::testing::TestWithParam<Shape> {};

TEST_P(HierShapeTest, MatchesTheReferenceForEveryCountTypeAndOp) {
  const Shape shape = GetParam();
  const int n = shape.hosts * shape.per_host;
  struct Pick {
    DataType type;
    ReduceOp op;
    bool large;  // also at 100003 elements
  };
  const Pick picks[] = {{DataType::kFloat32, ReduceOp::kSum, true},
                        {DataType::kFloat32, ReduceOp::kAvg, true},
                        {DataType::kBFloat16, ReduceOp::kAvg, false},
                        {DataType::kInt32, ReduceOp::kMax, false},
                        {DataType::kFloat64, ReduceOp::kProd, false}};
  std::vector<CollCase> cases;
  for (const Pick& pick : picks) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, size_t{100003}}) {
      if (count > 1023 && !pick.large) continue;
      for (bool in_place : {false, true}) {
        CollCase c;
        c.type = pick.type;
        c.op = pick.op;
        c.count = count;
        c.algorithm = Algorithm::kHier;
        c.in_place = in_place;
        cases.push_back(c);
      }
    }
  }
  std::map<std::tuple<DataType, ReduceOp, size_t>, std::vector<uint8_t>> refs;
  for (const CollCase& c : cases) {
    auto& ref = refs[{c.type, c.op, c.count}];
    if (ref.empty()) ref = testing::Expected(c.type, c.op, n, 0, c.count);
  }
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, Interleaved(n, shape.hosts));
    ASSERT_NE(comm, nullptr);
    ASSERT_EQ(HostShapeOf(*comm), (HostShape{shape.hosts, shape.per_host}));
    for (const CollCase& c : cases) {
      testing::RunCollective(*comm, c, &refs[{c.type, c.op, c.count}]);
      if (::testing::Test::HasFailure()) return;
    }
  });
}

// Data whose fp32 sum depends on the order of the additions: any rank reducing on its own, or in
// another order, would differ in the last bits.
float Messy(int rank, size_t i) {
  const uint32_t h = static_cast<uint32_t>(i * 2654435761u) ^ static_cast<uint32_t>(rank * 40503);
  return static_cast<float>(h % 100003) * 1.0e-3f + static_cast<float>(rank) * 1.0e5f;
}

TEST_P(HierShapeTest, OwnedShardIsTheRingPositionsRangeAndResultsAreBitIdentical) {
  const Shape shape = GetParam();
  const int n = shape.hosts * shape.per_host;
  const size_t count = 100003;
  std::vector<std::vector<float>> results(static_cast<size_t>(n));
  int moved = 0;  // ranks whose ring position is not their rank
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, Interleaved(n, shape.hosts));
    ASSERT_NE(comm, nullptr);
    if (comm->ring_position() != comm->rank()) ++moved;
    std::vector<float> in(count);
    for (size_t i = 0; i < count; ++i) in[i] = Messy(env.rank(), i);
    std::vector<float>& out = results[static_cast<size_t>(env.rank())];
    out.assign(count, -1.0f);
    int calls = 0;
    const ElementRange expected = OwnedRange(comm->ring_position(), n, count);
    CollOptions options;
    options.algorithm = Algorithm::kHier;
    ASSERT_OK(AllReduceOwned(
        *comm, in.data(), out.data(), count, DataType::kFloat32, ReduceOp::kAvg,
        [&](ElementRange range, void* shard) {
          ++calls;
          EXPECT_EQ(range, expected) << "rank " << env.rank();
          EXPECT_EQ(shard, out.data() + range.begin);
          // The owner's update reaches every rank through the all-gather.
          float* data = static_cast<float*>(shard);
          for (size_t i = 0; i < range.count; ++i) data[i] = data[i] * 0.5f + 1.0f;
          return Status::Ok();
        },
        options));
    EXPECT_EQ(calls, 1);
  });
  EXPECT_GT(moved, 0) << "the layout should move ring positions away from ranks";
  for (int r = 1; r < n; ++r) {
    ASSERT_EQ(std::memcmp(results[0].data(), results[static_cast<size_t>(r)].data(),
                          count * sizeof(float)),
              0)
        << "rank " << r << " differs from rank 0";
  }
  // Close to the plain average (not bit-equal: the order of additions differs).
  for (size_t i = 0; i < count; i += 997) {
    double sum = 0;
    for (int r = 0; r < n; ++r) sum += static_cast<double>(Messy(r, i));
    EXPECT_NEAR(static_cast<double>(results[0][i]), sum / n * 0.5 + 1.0, 0.1) << "i=" << i;
  }
}

TEST_P(HierShapeTest, AutoPicksHierForLargeBuffers) {
  const Shape shape = GetParam();
  const int n = shape.hosts * shape.per_host;
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, Interleaved(n, shape.hosts));
    ASSERT_NE(comm, nullptr);
    EXPECT_EQ(
        *SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, 1 << 20, n, HostShapeOf(*comm)),
        Algorithm::kHier);
    CollCase c;
    c.count = 70001;
    testing::RunCollective(*comm, c);
  });
}

INSTANTIATE_TEST_SUITE_P(Shapes, HierShapeTest,
                         ::testing::Values(Shape{2, 2}, Shape{2, 3}, Shape{3, 2}, Shape{2, 4},
                                           Shape{4, 2}),
                         [](const ::testing::TestParamInfo<Shape>& param_info) {
                           return std::to_string(param_info.param.hosts) + "hosts_x" +
                                  std::to_string(param_info.param.per_host);
                         });

TEST(HierUneven, ForcedHierIsNotSupportedAndAutoFallsBackToRing) {
  RunWorld(World(4), [&](RankEnv& env) {
    // Three ranks on host 0, one on host 1; rank 1 alone so the ring moves it.
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, Explicit({0, 1, 0, 0}));
    ASSERT_NE(comm, nullptr);
    std::vector<float> data(4096, 1.0f);
    CollOptions options;
    options.algorithm = Algorithm::kHier;
    const Status forced = AllReduce(*comm, data.data(), data.data(), data.size(),
                                    DataType::kFloat32, ReduceOp::kSum, options);
    EXPECT_EQ(forced.code(), StatusCode::kNotSupported) << forced;
    const Status owned = AllReduceOwned(*comm, data.data(), data.data(), data.size(),
                                        DataType::kFloat32, ReduceOp::kSum, nullptr, options);
    EXPECT_EQ(owned.code(), StatusCode::kNotSupported) << owned;
    EXPECT_EQ(
        *SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, 1 << 20, 4, HostShapeOf(*comm)),
        Algorithm::kRing);
    CollCase c;
    c.count = 100003;
    testing::RunCollective(*comm, c);  // kAuto: ring
  });
}

TEST(HierUneven, AHierKnobIsIgnoredWhereHierCannotRun) {
  testing::ScopedEnv knob("TIDAL_ALGO", "hier");
  RunWorld(World(4), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, Explicit({0, 0, 0, 1}));
    ASSERT_NE(comm, nullptr);
    CollCase c;
    c.count = 1023;
    testing::RunCollective(*comm, c);
  });
}

TEST(HierOneHost, ForcedHierRunsAsAPlainRingAndAutoKeepsShm) {
  RunWorld(World(4), [&](RankEnv& env) {
    CommSetup setup;
    setup.layout = testing::Layout::kOneHost;
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, setup);
    ASSERT_NE(comm, nullptr);
    EXPECT_EQ(
        *SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, 1 << 20, 4, HostShapeOf(*comm)),
        Algorithm::kShm);
    CollCase c;
    c.count = 1023;
    c.algorithm = Algorithm::kHier;
    testing::RunCollective(*comm, c);
  });
}

TEST(HierSegments, ManySegmentsInFlight) {
  // Small segments: hundreds of ops per phase, several blocks interleaved per step.
  testing::ScopedEnv segment("TIDAL_SEGMENT_BYTES", "1024");
  RunWorld(World(6), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, Interleaved(6, 3));
    ASSERT_NE(comm, nullptr);
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMin}) {
      CollCase c;
      c.count = 20011;
      c.op = op;
      c.algorithm = Algorithm::kHier;
      testing::RunCollective(*comm, c);
    }
  });
}

}  // namespace
}  // namespace tidal::coll
