// Ring and chain schedules, checked without a transport by the symbolic executor in
// harness/schedule_sim.h: every receive matches a send of the same range, in-order execution never
// deadlocks, every element is reduced exactly once from every position, the all-gather and the
// broadcast only copy the owner's (root's) bytes, and the bytes on the wire are the ring's
// 2(n-1)/n * count. World sizes 1, 2, 3, 4, 5, 8, 16; counts 0, 1, n-1, n, n+1, 1023 and a large
// non-multiple of n; segment sizes 1, 3, 1024 and larger than the count. Also the simulator's
// out-of-place mode (SimulateInOut).
#include "tidal/coll/schedule/schedule.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <set>
#include <vector>

#include "harness/schedule_sim.h"
#include "tidal/coll/schedule/chain.h"
#include "tidal/coll/schedule/ring.h"

namespace tidal::coll {
namespace {

using testing::AllPositions;
using testing::InputBuffers;
using testing::ShardBuffers;
using testing::SimBuffer;
using testing::SimElement;
using testing::SimResult;
using testing::Simulate;

constexpr int kWorldSizes[] = {1, 2, 3, 4, 5, 8, 16};
constexpr size_t kLargeCount = 10007;  // prime: a non-multiple of every world size above

std::vector<size_t> Counts(int n) {
  const size_t un = static_cast<size_t>(n);
  return {0, 1, un - 1, un, un + 1, 1023, kLargeCount};
}

std::vector<size_t> SegmentSizes(size_t count) { return {1, 3, 1024, count + 1}; }

using Generator = std::function<Schedule(int position, int n, size_t count, size_t segment)>;

std::vector<Schedule> AllPositionsOf(const Generator& generate, int n, size_t count,
                                     size_t segment) {
  std::vector<Schedule> schedules;
  for (int p = 0; p < n; ++p) schedules.push_back(generate(p, n, count, segment));
  return schedules;
}

// The position owning element e.
int Owner(int n, size_t count, size_t e) {
  for (int p = 0; p < n; ++p) {
    const ElementRange owned = OwnedRange(p, n, count);
    if (e >= owned.begin && e < owned.end()) return p;
  }
  ADD_FAILURE() << "element " << e << " has no owner";
  return 0;
}

// |n * sent - factor * (n-1) * count| <= factor * n: the ring's volume up to one element per phase
// and chunk-size rounding.
void ExpectRingVolume(const SimResult& result, int n, size_t count, int64_t factor) {
  for (int p = 0; p < n; ++p) {
    const int64_t sent = static_cast<int64_t>(result.sent_elements[static_cast<size_t>(p)]);
    const int64_t ideal = factor * (n - 1) * static_cast<int64_t>(count);
    EXPECT_LE(std::llabs(n * sent - ideal), factor * n) << "position " << p << " sent " << sent;
    EXPECT_EQ(result.recv_elements[static_cast<size_t>(p)],
              result.sent_elements[static_cast<size_t>((p + n - 1) % n)]);
  }
}

// Runs `check` for every world size, count and segment size.
void Sweep(const std::function<void(int, size_t, size_t)>& check) {
  for (int n : kWorldSizes) {
    for (size_t count : Counts(n)) {
      for (size_t segment : SegmentSizes(count)) {
        SCOPED_TRACE(::testing::Message()
                     << "n=" << n << " count=" << count << " segment=" << segment);
        check(n, count, segment);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(OwnedRange, ContiguousBalancedEarlierPositionsLarger) {
  for (int n : kWorldSizes) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, kLargeCount}) {
      size_t next = 0;
      for (int p = 0; p < n; ++p) {
        const ElementRange range = OwnedRange(p, n, count);
        EXPECT_EQ(range.begin, next) << "n=" << n << " count=" << count << " p=" << p;
        EXPECT_EQ(range.count, count / static_cast<size_t>(n) +
                                   (static_cast<size_t>(p) < count % static_cast<size_t>(n)))
            << "n=" << n << " count=" << count << " p=" << p;
        EXPECT_EQ(range, OwnedRange(p, n, count)) << "deterministic";
        next = range.end();
      }
      EXPECT_EQ(next, count);
    }
  }
  EXPECT_EQ(OwnedRange(0, 4, 10), (ElementRange{0, 3}));
  EXPECT_EQ(OwnedRange(1, 4, 10), (ElementRange{3, 3}));
  EXPECT_EQ(OwnedRange(2, 4, 10), (ElementRange{6, 2}));
  EXPECT_EQ(OwnedRange(3, 4, 10), (ElementRange{8, 2}));
  EXPECT_EQ(OwnedRange(2, 3, 1), (ElementRange{1, 0}));
}

TEST(Schedule, SegmentsCoverTheRange) {
  const ElementRange range{5, 10};
  EXPECT_EQ(NumSegments(10, 3), 4u);
  EXPECT_EQ(NumSegments(0, 3), 0u);
  EXPECT_EQ(SegmentOf(range, 3, 0), (ElementRange{5, 3}));
  EXPECT_EQ(SegmentOf(range, 3, 3), (ElementRange{14, 1}));
  EXPECT_EQ(SegmentOf(range, 11, 0), range);
}

TEST(Schedule, TagStepIsStepTimesStridePlusSegmentModulo16Bits) {
  EXPECT_EQ(TagStep(Op{Op::kSend, 1, {}, 0, 0}, 7), 0u);
  EXPECT_EQ(TagStep(Op{Op::kSend, 1, {}, 2, 3}, 7), 17u);
  EXPECT_EQ(TagStep(Op{Op::kSend, 1, {}, 1, 0}, 65536), 0u);  // wraps
  // Within one schedule of fewer than 2^16 (step, segment) pairs the tag steps are distinct.
  const Schedule schedule = RingAllReduceSchedule(1, 5, 1000, 7);
  std::set<std::pair<uint32_t, uint32_t>> pairs;
  std::set<uint32_t> tags;
  for (const Op& op : schedule.ops) {
    if (op.kind != Op::kSend) continue;
    pairs.insert({op.step, op.segment});
    tags.insert(TagStep(op, schedule.segments_per_step));
  }
  EXPECT_EQ(pairs.size(), tags.size());
}

TEST(RingSchedule, ReduceScatterLeavesEachOwnedRangeReducedOnceAtItsOwner) {
  Sweep([](int n, size_t count, size_t segment) {
    const SimResult result = Simulate(AllPositionsOf(RingReduceScatterSchedule, n, count, segment),
                                      InputBuffers(n, count));
    ASSERT_TRUE(result.ok) << result.error;
    for (int p = 0; p < n; ++p) {
      const ElementRange owned = OwnedRange(p, n, count);
      for (size_t e = owned.begin; e < owned.end(); ++e) {
        ASSERT_EQ(result.buffers[static_cast<size_t>(p)][e].contributors, AllPositions(n))
            << "position " << p << " element " << e;
      }
    }
    ExpectRingVolume(result, n, count, 1);
  });
}

TEST(RingSchedule, AllGatherCopiesTheOwnersBytesUnchanged) {
  Sweep([](int n, size_t count, size_t segment) {
    std::vector<Schedule> schedules = AllPositionsOf(RingAllGatherSchedule, n, count, segment);
    for (int p = 0; p < n; ++p) {
      if (count > 0 && OwnedRange(p, n, count).count > 0) {
        ASSERT_EQ(schedules[static_cast<size_t>(p)].ops.front().kind, Op::kCopy);
      }
    }
    const std::vector<testing::SimBuffer> initial = ShardBuffers(n, count);
    const SimResult result = Simulate(schedules, initial);
    ASSERT_TRUE(result.ok) << result.error;
    for (int p = 0; p < n; ++p) {
      for (size_t e = 0; e < count; ++e) {
        const SimElement& owners = initial[static_cast<size_t>(Owner(n, count, e))][e];
        ASSERT_EQ(result.buffers[static_cast<size_t>(p)][e], owners)
            << "position " << p << " element " << e;
      }
    }
    ExpectRingVolume(result, n, count, 1);
  });
}

TEST(RingSchedule, AllReduceReducesEveryElementOnceAndReplicatesTheOwnersBytes) {
  Sweep([](int n, size_t count, size_t segment) {
    const SimResult result =
        Simulate(AllPositionsOf(RingAllReduceSchedule, n, count, segment), InputBuffers(n, count));
    ASSERT_TRUE(result.ok) << result.error;
    for (size_t e = 0; e < count; ++e) {
      const SimElement& owners = result.buffers[static_cast<size_t>(Owner(n, count, e))][e];
      ASSERT_EQ(owners.contributors, AllPositions(n)) << "element " << e;
      for (int p = 0; p < n; ++p) {
        // Same value id: a copy of the owner's reduction, never a reduction of its own.
        ASSERT_EQ(result.buffers[static_cast<size_t>(p)][e], owners)
            << "position " << p << " element " << e;
      }
    }
    ExpectRingVolume(result, n, count, 2);
  });
}

TEST(RingSchedule, AllReduceSurvivesTagStepWrapAround) {
  // 2(n-1) steps * segments per step > 2^16: tag steps repeat; FIFO matching must still pair
  // each receive with the right send.
  const int n = 16;
  const size_t count = 100003;
  const Schedule probe = RingAllReduceSchedule(0, n, count, 1);
  ASSERT_GT(uint64_t{probe.num_steps} * probe.segments_per_step, uint64_t{1} << 16);
  const SimResult result =
      Simulate(AllPositionsOf(RingAllReduceSchedule, n, count, 1), InputBuffers(n, count));
  ASSERT_TRUE(result.ok) << result.error;
  for (size_t e = 0; e < count; e += 97) {
    EXPECT_EQ(result.buffers[3][e].contributors, AllPositions(n));
    EXPECT_EQ(result.buffers[3][e], result.buffers[11][e]);
  }
}

TEST(RingSchedule, SegmentsOfOneChunkFormIndependentChains) {
  // The range a position receives at step s, segment k, is exactly the range it sends at step s+1,
  // segment k (within one phase): an executor may pipeline segments independently.
  for (int n : {3, 5, 8}) {
    const Schedule schedule = RingAllReduceSchedule(1, n, 1000, 7);
    for (const Op& recv : schedule.ops) {
      if (recv.kind == Op::kSend || recv.step + 1 == schedule.num_steps) continue;
      if (recv.kind == Op::kRecvReduce && recv.step + 2 == static_cast<uint32_t>(n)) continue;
      bool forwarded = false;
      for (const Op& send : schedule.ops) {
        forwarded = forwarded || (send.kind == Op::kSend && send.step == recv.step + 1 &&
                                  send.segment == recv.segment && send.range == recv.range);
      }
      EXPECT_TRUE(forwarded) << recv;
    }
  }
}

TEST(ChainSchedule, BroadcastCopiesTheRootsBytesEverywhere) {
  Sweep([](int n, size_t count, size_t segment) {
    for (int root : {0, n / 2, n - 1}) {
      auto generate = [root](int p, int size, size_t c, size_t s) {
        return ChainBroadcastSchedule(p, size, root, c, s);
      };
      const std::vector<testing::SimBuffer> initial = InputBuffers(n, count);
      const SimResult result = Simulate(AllPositionsOf(generate, n, count, segment), initial);
      ASSERT_TRUE(result.ok) << "root " << root << ": " << result.error;
      for (int p = 0; p < n; ++p) {
        ASSERT_EQ(result.buffers[static_cast<size_t>(p)], initial[static_cast<size_t>(root)])
            << "root " << root << " position " << p;
        EXPECT_EQ(result.sent_elements[static_cast<size_t>(p)],
                  (p - root + n) % n == n - 1 ? 0 : count);
      }
    }
  });
}

TEST(ChainSchedule, ReduceGathersEveryContributionOnceAtTheRoot) {
  Sweep([](int n, size_t count, size_t segment) {
    for (int root : {0, n / 2, n - 1}) {
      auto generate = [root](int p, int size, size_t c, size_t s) {
        return ChainReduceSchedule(p, size, root, c, s);
      };
      const SimResult result =
          Simulate(AllPositionsOf(generate, n, count, segment), InputBuffers(n, count));
      ASSERT_TRUE(result.ok) << "root " << root << ": " << result.error;
      for (size_t e = 0; e < count; ++e) {
        ASSERT_EQ(result.buffers[static_cast<size_t>(root)][e].contributors, AllPositions(n))
            << "root " << root << " element " << e;
      }
    }
  });
}

TEST(ScheduleSim, InOutSendsAndCopiesFromTheInputIntoTheOutput) {
  // Position 0 copies [0, 2) and sends [2, 4) of its input; position 1 receives into [0, 2).
  const std::vector<Schedule> schedules = {
      Schedule{{Op{Op::kCopy, 0, {0, 2}, 0, 0}, Op{Op::kSend, 1, {2, 2}, 0, 0}}, 1, 1},
      Schedule{{Op{Op::kRecv, 0, {0, 2}, 0, 0}}, 1, 1}};
  const std::vector<SimBuffer> inputs = InputBuffers(2, 4);
  std::vector<SimBuffer> outputs = {SimBuffer(4), SimBuffer(3)};  // sizes may differ
  outputs[0][2] = SimElement{1, 99};
  const SimResult result = testing::SimulateInOut(schedules, inputs, outputs);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.buffers[0], (SimBuffer{inputs[0][0], inputs[0][1], SimElement{1, 99}, {}}));
  EXPECT_EQ(result.buffers[1], (SimBuffer{inputs[0][2], inputs[0][3], {}}));
}

}  // namespace
}  // namespace tidal::coll
