// Bucketing of flat buffers (tidal/optim/buckets.h): greedy grouping of whole tensors, big tensors
// alone, empty tensors and lists, and CheckBuckets' tiling rules (gaps, overlaps, empty buckets,
// short and long coverage).
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "tidal/optim/buckets.h"

namespace tidal::optim {
namespace {

std::vector<std::pair<size_t, size_t>> Pairs(const std::vector<Bucket>& buckets) {
  std::vector<std::pair<size_t, size_t>> out;
  for (const Bucket& b : buckets) out.emplace_back(b.begin, b.count);
  return out;
}

using P = std::vector<std::pair<size_t, size_t>>;

TEST(OptimBuckets, GroupsConsecutiveTensorsGreedily) {
  const std::vector<size_t> t = {3, 5, 2, 4, 1};
  // 40 bytes = 10 floats: {3, 5} fits (8), +2 fits exactly (10), 4 opens a new bucket, +1 fits.
  EXPECT_EQ(Pairs(MakeBuckets(t, 40)), (P{{0, 10}, {10, 5}}));
  // 9 floats: {3, 5}; 2 would make 10, so {2, 4, 1}.
  EXPECT_EQ(Pairs(MakeBuckets(t, 39)), (P{{0, 8}, {8, 7}}));
  EXPECT_EQ(Pairs(MakeBuckets(t, 23)), (P{{0, 3}, {3, 5}, {8, 2}, {10, 5}}));  // 5 floats
  EXPECT_EQ(Pairs(MakeBuckets(t, 1 << 20)), (P{{0, 15}}));
}

TEST(OptimBuckets, LargerTensorGetsItsOwnBucket) {
  const std::vector<size_t> t = {2, 20, 3, 30};
  EXPECT_EQ(Pairs(MakeBuckets(t, 40)), (P{{0, 2}, {2, 20}, {22, 3}, {25, 30}}));
  EXPECT_EQ(Pairs(MakeBuckets(std::vector<size_t>{20, 1}, 40)), (P{{0, 20}, {20, 1}}));
  // max_bytes 0 (or below one float): one bucket per non-empty tensor.
  EXPECT_EQ(Pairs(MakeBuckets(t, 0)), (P{{0, 2}, {2, 20}, {22, 3}, {25, 30}}));
  EXPECT_EQ(Pairs(MakeBuckets(std::vector<size_t>{1, 1}, 3)), (P{{0, 1}, {1, 1}}));
}

TEST(OptimBuckets, EmptyTensorsAndListsMakeNoBuckets) {
  EXPECT_TRUE(MakeBuckets({}, 40).empty());
  EXPECT_TRUE(MakeBuckets(std::vector<size_t>{0, 0, 0}, 40).empty());
  EXPECT_EQ(Pairs(MakeBuckets(std::vector<size_t>{0, 4, 0, 4, 0}, 16)), (P{{0, 4}, {4, 4}}));
  EXPECT_EQ(Pairs(MakeBuckets(std::vector<size_t>{20, 0, 2}, 40)), (P{{0, 20}, {20, 2}}));
  EXPECT_TRUE(SingleBucket(0).empty());
  EXPECT_EQ(Pairs(SingleBucket(7)), (P{{0, 7}}));
}

TEST(OptimBuckets, MadeBucketsTileTheBuffer) {
  std::vector<size_t> t;
  size_t total = 0;
  for (size_t i = 0; i < 200; ++i) {
    t.push_back((i * 7919) % 97);
    total += t.back();
  }
  for (size_t max_bytes : {size_t{0}, size_t{4}, size_t{100}, size_t{388}, size_t{4096}}) {
    const std::vector<Bucket> buckets = MakeBuckets(t, max_bytes);
    EXPECT_TRUE(CheckBuckets(buckets, total).ok()) << max_bytes;
    for (const Bucket& b : buckets) {
      // Only a single tensor may exceed the limit, and then it is alone.
      if (b.count * sizeof(float) > max_bytes) {
        bool alone = false;
        size_t at = 0;
        for (size_t c : t) {
          if (at == b.begin && c == b.count) alone = true;
          at += c;
        }
        EXPECT_TRUE(alone) << "bucket at " << b.begin << " of " << b.count;
      }
    }
  }
}

TEST(OptimBuckets, CheckBucketsRejectsBadTilings) {
  EXPECT_TRUE(CheckBuckets({}, 0).ok());
  EXPECT_TRUE(CheckBuckets(std::vector<Bucket>{{0, 3}, {3, 4}}, 7).ok());
  const std::vector<std::vector<Bucket>> bad = {
      {},                        // nothing covered
      {{1, 6}},                  // does not start at 0
      {{0, 3}, {4, 3}},          // gap
      {{0, 4}, {3, 4}},          // overlap
      {{0, 3}, {3, 0}, {3, 4}},  // empty bucket
      {{0, 3}},                  // short
      {{0, 8}},                  // long
      {{0, 3}, {3, 5}},          // long at the end
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    const Status s = CheckBuckets(bad[i], 7);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "case " << i << ": " << s;
  }
  EXPECT_EQ(CheckBuckets(std::vector<Bucket>{{0, 0}}, 0).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tidal::optim
