// The hierarchical AllReduce's pure parts: its four-phase plan (schedule/hier.h) run by the
// symbolic executor (harness/schedule_sim.h) on H hosts x L ranks, host shapes, selection with a
// host shape (algorithm.h), and the selection table tidal-info prints (selection_table.h).
#include "tidal/coll/schedule/hier.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "harness/coll_check.h"
#include "harness/schedule_sim.h"
#include "tidal/coll/algorithm.h"
#include "tidal/coll/schedule/ring.h"
#include "tidal/coll/selection_table.h"

namespace tidal::coll {
namespace {

using testing::AllPositions;
using testing::InputBuffers;
using testing::SimBuffer;
using testing::SimResult;

struct Shape {
  int hosts;
  int per_host;
};

constexpr Shape kShapes[] = {{1, 1}, {1, 3}, {2, 1}, {2, 2}, {2, 3},
                             {3, 2}, {2, 4}, {4, 2}, {3, 3}};

// One phase of every position, as n schedules over ring positions (group positions mapped back).
std::vector<Schedule> Globalize(const std::vector<HierPhase>& phases) {
  std::vector<Schedule> schedules;
  for (const HierPhase& phase : phases) {
    Schedule global = phase.schedule;
    for (Op& op : global.ops) op.peer_position = phase.group[static_cast<size_t>(op.peer_position)];
    schedules.push_back(global);
  }
  return schedules;
}

// Runs the four phases of every position in turn; returns the buffers after `phases` of them.
SimResult RunPlan(Shape shape, size_t count, size_t segment, int phases) {
  const int n = shape.hosts * shape.per_host;
  std::vector<HierPlan> plans;
  for (int p = 0; p < n; ++p) {
    plans.push_back(HierAllReducePlan(p, shape.hosts, shape.per_host, count, segment));
  }
  HierPhase HierPlan::*const kOrder[] = {&HierPlan::local_reduce_scatter,
                                         &HierPlan::cross_reduce_scatter,
                                         &HierPlan::cross_all_gather, &HierPlan::local_all_gather};
  SimResult result;
  result.ok = true;
  result.buffers = InputBuffers(n, count);
  for (int k = 0; k < phases && result.ok; ++k) {
    std::vector<HierPhase> of_phase;
    for (const HierPlan& plan : plans) of_phase.push_back(plan.*kOrder[k]);
    result = testing::Simulate(Globalize(of_phase), result.buffers);
  }
  return result;
}

TEST(HierSchedule, OwnerHoldsItsOwnedRangeFullyReducedAfterTheCrossReduceScatter) {
  for (Shape shape : kShapes) {
    const int n = shape.hosts * shape.per_host;
    for (size_t count : {size_t{0}, size_t{1}, size_t(n - 1), size_t(n + 1), size_t{1023}}) {
      for (size_t segment : {size_t{1}, size_t{3}, size_t{1024}}) {
        SCOPED_TRACE(::testing::Message() << shape.hosts << "x" << shape.per_host
                                          << " count=" << count << " segment=" << segment);
        const SimResult result = RunPlan(shape, count, segment, 2);
        ASSERT_TRUE(result.ok) << result.error;
        for (int p = 0; p < n; ++p) {
          const ElementRange owned = OwnedRange(p, n, count);
          for (size_t e = owned.begin; e < owned.end(); ++e) {
            ASSERT_EQ(result.buffers[static_cast<size_t>(p)][e].contributors, AllPositions(n))
                << "position " << p << " element " << e;
          }
        }
      }
    }
  }
}

TEST(HierSchedule, EveryPositionEndsWithTheOwnersBytes) {
  for (Shape shape : kShapes) {
    const int n = shape.hosts * shape.per_host;
    for (size_t count : {size_t{0}, size_t{1}, size_t(n), size_t{1023}, size_t{10007}}) {
      for (size_t segment : {size_t{3}, size_t{1024}, count + 1}) {
        SCOPED_TRACE(::testing::Message() << shape.hosts << "x" << shape.per_host
                                          << " count=" << count << " segment=" << segment);
        const SimResult reduced = RunPlan(shape, count, segment, 2);
        const SimResult result = RunPlan(shape, count, segment, 4);
        ASSERT_TRUE(result.ok) << result.error;
        for (int owner = 0; owner < n; ++owner) {
          const ElementRange owned = OwnedRange(owner, n, count);
          for (size_t e = owned.begin; e < owned.end(); ++e) {
            const auto& expected = reduced.buffers[static_cast<size_t>(owner)][e];
            for (int p = 0; p < n; ++p) {
              ASSERT_EQ(result.buffers[static_cast<size_t>(p)][e], expected)
                  << "position " << p << " element " << e << " (owner " << owner << ")";
            }
          }
        }
      }
    }
  }
}

TEST(HierSchedule, CrossHostTrafficIsTheRingsShareOfOneLocalIndex) {
  // 2 hosts x 4, count divisible: each position sends (L-1)/L * count twice on the host and
  // (H-1)/H * count/L twice across hosts.
  const Shape shape{2, 4};
  const size_t count = 8 * 1000;
  const HierPlan plan = HierAllReducePlan(5, shape.hosts, shape.per_host, count, 1024);
  auto sent = [](const Schedule& s) {
    size_t total = 0;
    for (const Op& op : s.ops) total += op.kind == Op::kSend ? op.range.count : 0;
    return total;
  };
  EXPECT_EQ(sent(plan.local_reduce_scatter.schedule), count * 3 / 4);
  EXPECT_EQ(sent(plan.local_all_gather.schedule), count * 3 / 4);
  EXPECT_EQ(sent(plan.cross_reduce_scatter.schedule), count / 4 / 2);
  EXPECT_EQ(sent(plan.cross_all_gather.schedule), count / 4 / 2);
  EXPECT_EQ(plan.local_reduce_scatter.group, (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(plan.cross_reduce_scatter.group, (std::vector<int>{1, 5}));
  EXPECT_EQ(plan.local_reduce_scatter.schedule.num_steps, 3u);
  EXPECT_EQ(plan.cross_reduce_scatter.schedule.num_steps, 1u);
}

TEST(HierSchedule, InterleavedPartsKeepDistinctTagSteps) {
  const std::vector<ElementRange> a = {{0, 5}, {5, 5}, {10, 5}};
  const std::vector<ElementRange> b = {{15, 2}, {17, 2}, {19, 7}};
  const std::vector<Schedule> parts = {RingReduceScatterChunks(1, a, 3),
                                       RingReduceScatterChunks(1, b, 3)};
  const Schedule merged = InterleaveSchedules(parts);
  EXPECT_EQ(merged.num_steps, 2u);
  EXPECT_EQ(merged.segments_per_step, 2u * 3u);  // largest stride (7 / 3 -> 3) per part
  std::set<std::pair<int, uint32_t>> tags;
  for (const Op& op : merged.ops) {
    EXPECT_TRUE(
        tags.insert({op.kind == Op::kSend ? 0 : 1, TagStep(op, merged.segments_per_step)}).second)
        << op;
  }
  EXPECT_EQ(merged.ops.size(), parts[0].ops.size() + parts[1].ops.size());
}

TEST(HostShape, FromHostsPerMember) {
  EXPECT_EQ(ShapeOfHosts(std::vector<int>{0, 1, 0, 1}), (HostShape{2, 2}));
  EXPECT_EQ(ShapeOfHosts(std::vector<int>{7, 7, 7}), (HostShape{1, 3}));
  EXPECT_EQ(ShapeOfHosts(std::vector<int>{0, 0, 0, 1}), (HostShape{2, 0}));
  EXPECT_EQ(ShapeOfHosts(std::vector<int>{0}), (HostShape{1, 1}));
  EXPECT_TRUE((HostShape{1, 4}).one_host());
  EXPECT_FALSE((HostShape{1, 1}).one_host());
  EXPECT_TRUE((HostShape{2, 2}).hierarchical());
  EXPECT_FALSE((HostShape{2, 1}).hierarchical());
  EXPECT_TRUE((HostShape{2, 1}).even());
  EXPECT_FALSE((HostShape{2, 0}).even());
}

constexpr size_t kLarge = size_t{1} << 20;

TEST(HierSelection, AutoPicksHierForLargeMessagesOnEvenHosts) {
  const HostShape two_by_two{2, 2};
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, kLarge, 4, two_by_two),
            Algorithm::kHier);
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, 64, 4, two_by_two),
            Algorithm::kDirect);
  // Past direct's world size, hier's 2(L-1) + 2(H-1) steps beat the ring's 2(n-1) at any size.
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, 64, 16, HostShape{2, 8}),
            Algorithm::kHier);
  // Only AllReduce has hier.
  EXPECT_EQ(*SelectAlgorithm(CollKind::kReduceScatter, Algorithm::kAuto, kLarge, 4, two_by_two),
            Algorithm::kRing);
  // One host: shm as before; one rank per host: the ring.
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, kLarge, 4, HostShape{1, 4}),
            Algorithm::kShm);
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, kLarge, 4, HostShape{4, 1}),
            Algorithm::kRing);
}

TEST(HierSelection, UnevenHostsFallBackToRingAndRefuseAForcedHier) {
  const HostShape uneven{2, 0};
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, kLarge, 4, uneven),
            Algorithm::kRing);
  const Result<Algorithm> forced =
      SelectAlgorithm(CollKind::kAllReduce, Algorithm::kHier, kLarge, 4, uneven);
  ASSERT_FALSE(forced.ok());
  EXPECT_EQ(forced.status().code(), StatusCode::kNotSupported) << forced.status();
  EXPECT_EQ(SelectAlgorithm(CollKind::kBroadcast, Algorithm::kHier, kLarge, 4, HostShape{2, 2})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  // Forced on one host (or one rank per host) it runs: it is then a plain ring.
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kHier, kLarge, 4, HostShape{1, 4}),
            Algorithm::kHier);
  // A knob naming hier where it cannot run is ignored.
  testing::ScopedEnv knob("TIDAL_ALGO", "hier");
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, kLarge, 4, uneven),
            Algorithm::kRing);
  EXPECT_EQ(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, 64, 4, HostShape{2, 2}),
            Algorithm::kHier);
}

TEST(HierSelection, ParsesAndNamesHier) {
  EXPECT_EQ(*ParseAlgorithm("hier"), Algorithm::kHier);
  EXPECT_EQ(AlgorithmName(Algorithm::kHier), "hier");
}

// The row of `table` for `size` ("  4 B", "  1 GiB"), split into words.
std::vector<std::string> Row(const std::string& table, const std::string& size) {
  const size_t at = table.find("\n  " + size + " ");
  if (at == std::string::npos) return {};
  const std::string line = table.substr(at + 3, table.find('\n', at + 1) - at - 3);
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    const size_t j = line.find(' ', i);
    const std::string word = line.substr(i, j == std::string::npos ? std::string::npos : j - i);
    if (!word.empty()) words.push_back(word);
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return words;
}

TEST(SelectionTable, RowsAreSelectAlgorithmsChoices) {
  const std::string table = SelectionTable(8, HostShape{2, 4});
  EXPECT_NE(table.find("8 ranks on 2 host(s) x 4"), std::string::npos) << table;
  // size (2 words), then allreduce, reduce_scatter, allgather, broadcast, reduce, alltoall.
  EXPECT_EQ(Row(table, "4 B"), (std::vector<std::string>{"4", "B", "direct", "direct", "direct",
                                                         "direct", "direct", "pairwise"}))
      << table;
  EXPECT_EQ(Row(table, "1 GiB"), (std::vector<std::string>{"1", "GiB", "hier", "ring", "ring",
                                                           "chain", "chain", "pairwise"}))
      << table;
  EXPECT_EQ(SelectionSizes().size(), 15u);
  EXPECT_NE(table.find("TIDAL_ALGO_ALLREDUCE"), std::string::npos);
  for (size_t bytes : SelectionSizes()) {
    EXPECT_EQ(SelectedName(CollKind::kAllReduce, bytes, 8, HostShape{2, 4}),
              AlgorithmName(*SelectAlgorithm(CollKind::kAllReduce, Algorithm::kAuto, bytes, 8,
                                             HostShape{2, 4})));
  }
}

TEST(SelectionTable, FollowsTheKnobs) {
  testing::ScopedEnv knob("TIDAL_ALGO_ALLREDUCE", "ring");
  const std::string table = SelectionTable(4, HostShape{1, 4});
  EXPECT_EQ(Row(table, "4 B").at(2), "ring") << table;
  EXPECT_NE(table.find("knobs set now: TIDAL_ALGO_ALLREDUCE=ring"), std::string::npos) << table;
}

// One host: the allreduce column names the on-host protocol, as the shm path would choose it.
TEST(SelectionTable, NamesTheOnHostProtocol) {
  {
    testing::ScopedEnv reducer("TIDAL_SHM_REDUCER", "every");
    const std::string table = SelectionTable(4, HostShape{1, 4});
    EXPECT_EQ(Row(table, "4 KiB").at(2), "shm/one-shot") << table;
    EXPECT_EQ(Row(table, "16 KiB").at(2), "shm/one-shot") << table;  // 4 x 16 KiB <= 4 x 32 KiB
    EXPECT_EQ(Row(table, "64 KiB").at(2), "shm/fused") << table;     // past 32 KiB
  }
  {
    testing::ScopedEnv reducer("TIDAL_SHM_REDUCER", "last");
    const std::string table = SelectionTable(8, HostShape{1, 8});
    EXPECT_EQ(Row(table, "64 KiB").at(2), "shm/last") << table;  // up to 2 x 32 KiB, any n
    EXPECT_EQ(Row(table, "256 KiB").at(2), "shm/fused") << table;
    EXPECT_NE(table.find("TIDAL_SHM_REDUCER=last"), std::string::npos) << table;
  }
  {
    testing::ScopedEnv reducer("TIDAL_SHM_REDUCER", "sometimes");
    const std::string table = SelectionTable(4, HostShape{1, 4});
    EXPECT_NE(table.find("TIDAL_SHM_REDUCER=sometimes: expected auto, every or last"),
              std::string::npos)
        << table;
  }
}

}  // namespace
}  // namespace tidal::coll
