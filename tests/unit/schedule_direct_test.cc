// Direct, pairwise AllToAll and explicit-chunk ring schedules, checked without a transport by the
// symbolic executor in harness/schedule_sim.h: receives match sends, in-order execution never
// deadlocks, ReduceScatter and Reduce count every contribution exactly once, AllGather(V) and
// Broadcast copy the owner's (root's) bytes, AllToAll delivers block q -> p exactly, and the bytes
// on the wire are those the design notes claim. World sizes 1..9; counts 0, 1, 7, 1023, 4099;
// segment sizes 1, 5, 256 and larger than the count; chunk layouts even, permuted in the buffer,
// and uneven with empty chunks. The in/out mode of the simulator is tested in schedule_test.cc.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "harness/schedule_sim.h"
#include "tidal/coll/schedule/alltoall.h"
#include "tidal/coll/schedule/direct.h"
#include "tidal/coll/schedule/ring.h"

namespace tidal::coll {
namespace {

using testing::AllPositions;
using testing::ChunkBuffers;
using testing::InputBuffers;
using testing::SimBuffer;
using testing::SimElement;
using testing::SimResult;

constexpr size_t kCounts[] = {0, 1, 7, 1023, 4099};

enum class Layout { kEven, kPermuted, kUneven };

// Chunk c of n for `count` elements. kPermuted: the even chunks, assigned to positions in a
// scrambled order. kUneven: sizes from weights with zeros, laid out in reverse position order.
std::vector<ElementRange> Chunks(Layout layout, int n, size_t count) {
  std::vector<ElementRange> chunks;
  for (int p = 0; p < n; ++p) {
    const int shard = layout == Layout::kPermuted ? (2 * n - 1 - p + n / 2) % n : p;
    chunks.push_back(OwnedRange(shard, n, count));
  }
  if (layout != Layout::kUneven) return chunks;
  static constexpr size_t kWeights[] = {3, 0, 1, 7, 0, 2, 5, 1, 4};
  size_t next = 0;
  for (int p = n - 1; p >= 0; --p) {
    const size_t size = count * kWeights[p] / 23;  // 23 = sum of the weights: fits in count
    chunks[static_cast<size_t>(p)] = ElementRange{next, size};
    next += size;
  }
  return chunks;
}

size_t Total(const std::vector<ElementRange>& ranges) {
  size_t total = 0;
  for (const ElementRange& range : ranges) total += range.count;
  return total;
}

// Runs `check(n, count, segment)` for n = 1..9, every count and several segment sizes.
void Sweep(const std::function<void(int, size_t, size_t)>& check) {
  for (int n = 1; n <= 9; ++n) {
    for (size_t count : kCounts) {
      for (size_t segment : {size_t{1}, size_t{5}, size_t{256}, count + 1}) {
        SCOPED_TRACE(::testing::Message()
                     << "n=" << n << " count=" << count << " segment=" << segment);
        check(n, count, segment);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

using ChunkGenerator = Schedule (*)(int, std::span<const ElementRange>, size_t);

std::vector<Schedule> OfChunks(ChunkGenerator generate, const std::vector<ElementRange>& chunks,
                               size_t segment) {
  std::vector<Schedule> schedules;
  for (size_t p = 0; p < chunks.size(); ++p) {
    schedules.push_back(generate(static_cast<int>(p), chunks, segment));
    for (const Op& op : schedules.back().ops) EXPECT_NE(op.kind, Op::kCopy) << op;
  }
  return schedules;
}

// ReduceScatter: chunks[p] at p holds every contribution once. Both send total - |chunk p|; a
// direct owner receives n-1 copies of its chunk.
void CheckReduceScatter(ChunkGenerator generate, Layout layout, bool direct) {
  Sweep([&](int n, size_t count, size_t segment) {
    const std::vector<ElementRange> chunks = Chunks(layout, n, count);
    const SimResult result =
        testing::Simulate(OfChunks(generate, chunks, segment), InputBuffers(n, count));
    ASSERT_TRUE(result.ok) << result.error;
    for (size_t p = 0; p < chunks.size(); ++p) {
      for (size_t e = chunks[p].begin; e < chunks[p].end(); ++e) {
        ASSERT_EQ(result.buffers[p][e].contributors, AllPositions(n)) << "p " << p << " e " << e;
      }
      EXPECT_EQ(result.sent_elements[p], Total(chunks) - chunks[p].count) << "position " << p;
      if (direct) {
        EXPECT_EQ(result.recv_elements[p], (chunks.size() - 1) * chunks[p].count);
      }
    }
  });
}

// AllGather(V): every position ends with chunk c = position c's bytes (same value ids).
void CheckAllGather(ChunkGenerator generate, Layout layout, bool direct) {
  Sweep([&](int n, size_t count, size_t segment) {
    const std::vector<ElementRange> chunks = Chunks(layout, n, count);
    const std::vector<SimBuffer> initial = ChunkBuffers(chunks, count);
    const SimResult result = testing::Simulate(OfChunks(generate, chunks, segment), initial);
    ASSERT_TRUE(result.ok) << result.error;
    const size_t un = chunks.size();
    for (size_t p = 0; p < un; ++p) {
      for (size_t c = 0; c < un; ++c) {
        for (size_t e = chunks[c].begin; e < chunks[c].end(); ++e) {
          ASSERT_EQ(result.buffers[p][e], initial[c][e]) << "p " << p << " e " << e;
        }
      }
      const size_t sent = direct ? (un - 1) * chunks[p].count
                                 : Total(chunks) - (un > 1 ? chunks[(p + 1) % un].count : 0);
      EXPECT_EQ(result.sent_elements[p], un > 1 ? sent : 0) << "position " << p;
      EXPECT_EQ(result.recv_elements[p], un > 1 ? Total(chunks) - chunks[p].count : 0);
    }
  });
}

TEST(DirectSchedule, ReduceScatterCountsEveryContributionOnceAtTheOwner) {
  for (Layout layout : {Layout::kEven, Layout::kPermuted, Layout::kUneven}) {
    CheckReduceScatter(DirectReduceScatterSchedule, layout, /*direct=*/true);
  }
}

TEST(DirectSchedule, AllGatherAndAllGatherVCopyTheOwnersBytes) {
  for (Layout layout : {Layout::kEven, Layout::kPermuted, Layout::kUneven}) {
    CheckAllGather(DirectAllGatherSchedule, layout, /*direct=*/true);
  }
}

TEST(RingChunkSchedule, ReduceScatterOnAPermutedRingAndUnevenChunks) {
  CheckReduceScatter(RingReduceScatterChunks, Layout::kPermuted, /*direct=*/false);
  CheckReduceScatter(RingReduceScatterChunks, Layout::kUneven, /*direct=*/false);
}

TEST(RingChunkSchedule, AllGatherVWithEmptyAndPermutedChunks) {
  CheckAllGather(RingAllGatherChunks, Layout::kPermuted, /*direct=*/false);
  CheckAllGather(RingAllGatherChunks, Layout::kUneven, /*direct=*/false);
}

TEST(RingChunkSchedule, StrideIsTheLargestChunksSegmentsOnEveryPosition) {
  const std::vector<ElementRange> chunks = {{50, 10}, {0, 0}, {10, 40}};
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(RingReduceScatterChunks(p, chunks, 7).segments_per_step, 6u);
    EXPECT_EQ(RingAllGatherChunks(p, chunks, 7).segments_per_step, 6u);
  }
  EXPECT_FALSE(ChunksDisjoint(std::vector<ElementRange>{{0, 5}, {4, 2}}));
  EXPECT_TRUE(ChunksDisjoint(std::vector<ElementRange>{{4, 2}, {3, 0}, {0, 4}}));
}

TEST(DirectSchedule, OwnerAndRootReduceInAFixedOrder) {
  // Into each segment: from position-1, position-2, ..., position-(n-1), in op order.
  const int n = 5;
  const std::vector<ElementRange> chunks = Chunks(Layout::kEven, n, 100);
  for (int p = 0; p < n; ++p) {
    for (const Schedule& schedule :
         {DirectReduceScatterSchedule(p, chunks, 7), DirectReduceSchedule(p, n, p, 100, 7)}) {
      std::vector<std::vector<int>> peers(schedule.segments_per_step);
      for (const Op& op : schedule.ops) {
        if (op.kind == Op::kRecvReduce) peers[op.segment].push_back(op.peer_position);
      }
      for (const std::vector<int>& order : peers) {
        ASSERT_EQ(order.size(), static_cast<size_t>(n - 1));
        for (int s = 1; s < n; ++s) EXPECT_EQ(order[static_cast<size_t>(s - 1)], (p - s + n) % n);
      }
    }
  }
}

TEST(DirectSchedule, BroadcastCopiesTheRootsBytesEverywhere) {
  Sweep([](int n, size_t count, size_t segment) {
    for (int root : {0, n / 2, n - 1}) {
      std::vector<Schedule> schedules;
      for (int p = 0; p < n; ++p) {
        schedules.push_back(DirectBroadcastSchedule(p, n, root, count, segment));
      }
      const std::vector<SimBuffer> initial = InputBuffers(n, count);
      const SimResult result = testing::Simulate(schedules, initial);
      ASSERT_TRUE(result.ok) << "root " << root << ": " << result.error;
      for (int p = 0; p < n; ++p) {
        const size_t up = static_cast<size_t>(p);
        ASSERT_EQ(result.buffers[up], initial[static_cast<size_t>(root)]) << "position " << p;
        EXPECT_EQ(result.sent_elements[up], p == root ? static_cast<size_t>(n - 1) * count : 0);
        EXPECT_EQ(result.recv_elements[up], p == root ? 0 : count);
      }
    }
  });
}

TEST(DirectSchedule, ReduceGathersEveryContributionOnceAtTheRoot) {
  Sweep([](int n, size_t count, size_t segment) {
    for (int root : {0, n / 2, n - 1}) {
      std::vector<Schedule> schedules;
      for (int p = 0; p < n; ++p) {
        schedules.push_back(DirectReduceSchedule(p, n, root, count, segment));
      }
      const std::vector<SimBuffer> initial = InputBuffers(n, count);
      const SimResult result = testing::Simulate(schedules, initial);
      ASSERT_TRUE(result.ok) << "root " << root << ": " << result.error;
      for (int p = 0; p < n; ++p) {
        const size_t up = static_cast<size_t>(p);
        for (size_t e = 0; e < count && p == root; ++e) {
          ASSERT_EQ(result.buffers[up][e].contributors, AllPositions(n)) << "element " << e;
        }
        if (p != root) {
          EXPECT_EQ(result.buffers[up], initial[up]) << "non-root " << p;
        }
        EXPECT_EQ(result.sent_elements[up], p == root ? 0 : count);
        EXPECT_EQ(result.recv_elements[up], p == root ? static_cast<size_t>(n - 1) * count : 0);
      }
    }
  });
}

// AllToAllV block sizes, zeros included: q sends BlockCount(q, p) elements to p.
size_t BlockCount(int q, int p, size_t count) {
  return (q * 5 + p * 3) % 4 == 0 ? 0 : count / static_cast<size_t>(1 + (q + 2 * p) % 3);
}

TEST(PairwiseAllToAll, DeliversEveryBlockExactlyOnItsTagSteps) {
  Sweep([](int n, size_t count, size_t segment) {
    const size_t un = static_cast<size_t>(n);
    // send[q][p]: in q's input, blocks in destination order; recv[p][q]: in p's output, blocks in
    // reverse source order.
    std::vector<std::vector<ElementRange>> send(un, std::vector<ElementRange>(un));
    std::vector<std::vector<ElementRange>> recv = send;
    std::vector<SimBuffer> inputs(un), outputs(un);
    for (int q = 0; q < n; ++q) {
      for (int p = 0; p < n; ++p) {
        send[q][p] = {inputs[q].size(), BlockCount(q, p, count)};
        inputs[q].resize(send[q][p].end());
      }
    }
    for (int p = 0; p < n; ++p) {
      for (int q = n - 1; q >= 0; --q) {
        recv[p][q] = {outputs[p].size(), BlockCount(q, p, count)};
        outputs[p].resize(recv[p][q].end());
      }
    }
    uint64_t id = 1;
    for (size_t q = 0; q < un; ++q) {
      for (SimElement& element : inputs[q]) element = SimElement{uint64_t{1} << q, id++};
    }
    std::vector<Schedule> schedules;
    for (int p = 0; p < n; ++p) {
      schedules.push_back(PairwiseAllToAllSchedule(p, send[p], recv[p], segment));
      const Schedule& schedule = schedules.back();
      EXPECT_EQ(schedule.num_steps, un - 1);
      EXPECT_EQ(schedule.segments_per_step, 1u);
      for (const Op& op : schedule.ops) {
        // The tag convention: step = distance - 1, segment 0, one tag step per block.
        const int distance = op.kind == Op::kSend ? op.peer_position - p : p - op.peer_position;
        EXPECT_EQ(op.step, static_cast<uint32_t>((distance + n) % n - 1)) << op;
        EXPECT_EQ(op.segment, 0u) << op;
        EXPECT_TRUE(op.kind == Op::kSend || op.kind == Op::kRecv) << op;
      }
    }
    const SimResult result = testing::SimulateInOut(schedules, inputs, outputs);
    ASSERT_TRUE(result.ok) << result.error;
    for (size_t p = 0; p < un; ++p) {
      size_t sent = 0, received = 0;
      for (size_t q = 0; q < un; ++q) {
        const ElementRange from = send[q][p], to = recv[p][q];
        for (size_t i = 0; i < to.count; ++i) {
          // The self block is the executor's copy: no op writes it.
          const SimElement expected = p == q ? SimElement{} : inputs[q][from.begin + i];
          ASSERT_EQ(result.buffers[p][to.begin + i], expected) << "block " << q << "->" << p;
        }
        if (q != p) {
          sent += send[p][q].count;
          received += to.count;
        }
      }
      EXPECT_EQ(result.sent_elements[p], sent) << "position " << p;
      EXPECT_EQ(result.recv_elements[p], received) << "position " << p;
    }
  });
}

TEST(ChunkScheduleDeathTest, OverlappingChunksAreRejected) {
  const std::vector<ElementRange> overlapping = {{0, 5}, {4, 2}};
  EXPECT_DEATH(RingReduceScatterChunks(0, overlapping, 1), "ring chunks overlap");
  EXPECT_DEATH(DirectAllGatherSchedule(0, overlapping, 1), "direct schedule chunks overlap");
  EXPECT_DEATH(PairwiseAllToAllSchedule(0, overlapping, overlapping, 1), "receive ranges overlap");
}

}  // namespace
}  // namespace tidal::coll
