// Split grouping and ordering, split entries on the wire, and comm id agreement.
#include <gtest/gtest.h>

#include "harness/world.h"
#include "tidal/comm/split.h"
#include "tidal/store/in_proc_store.h"
#include "tidal/transport/tag.h"

namespace tidal {
namespace {

TEST(SplitMembersTest, GroupsByColorAndOrdersByKeyThenRank) {
  const std::vector<SplitEntry> entries = {{0, 5}, {1, 0}, {0, 5}, {0, -1}, {-1, 0}, {1, 0}};
  EXPECT_EQ(SplitMembers(entries, 0), (std::vector<int>{3, 0, 2}));
  EXPECT_EQ(SplitMembers(entries, 1), (std::vector<int>{1, 5}));
  EXPECT_TRUE(SplitMembers(entries, -1).empty());
  EXPECT_TRUE(SplitMembers(entries, 9).empty());
}

TEST(SplitMembersTest, ReversedKeysReverseTheOrder) {
  std::vector<SplitEntry> entries;
  for (int r = 0; r < 8; ++r) entries.push_back({r % 2, -r});
  EXPECT_EQ(SplitMembers(entries, 0), (std::vector<int>{6, 4, 2, 0}));
  EXPECT_EQ(SplitMembers(entries, 1), (std::vector<int>{7, 5, 3, 1}));
}

TEST(SplitEntryTest, RoundTripsAndRejectsGarbage) {
  for (const SplitEntry& e : {SplitEntry{0, 0}, SplitEntry{-1, 7}, SplitEntry{12, -3}}) {
    Result<SplitEntry> back = DecodeSplitEntry(EncodeSplitEntry(e));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, e);
  }
  for (const char* bad : {"", "1", "1 x", "a 1", "1  2", "1 2 3"}) {
    EXPECT_EQ(DecodeSplitEntry(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(AgreeCommIdTest, LeadersTakeDistinctIdsAndMembersReadThem) {
  InProcStore store;
  const Deadline deadline = Deadline::AfterMs(1000);
  Result<uint32_t> a = AgreeCommId(store, "split/0/id/0", true, deadline);
  Result<uint32_t> b = AgreeCommId(store, "split/0/id/1", true, deadline);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, 2u);
  EXPECT_EQ(*b, 3u);
  Result<uint32_t> member = AgreeCommId(store, "split/0/id/1", false, deadline);
  ASSERT_TRUE(member.ok()) << member.status();
  EXPECT_EQ(*member, 3u);
  EXPECT_EQ(AgreeCommId(store, "split/9/id/0", false, Deadline::AfterMs(20)).status().code(),
            StatusCode::kTimedOut);
}

TEST(AgreeCommIdTest, ExhaustedIdsAreUnavailable) {
  InProcStore store;
  const Deadline deadline = Deadline::AfterMs(1000);
  ASSERT_OK(store.Add(kNextCommIdKey, TagLayout::kMaxComms - 3, deadline).status());
  Result<uint32_t> last = AgreeCommId(store, "k1", true, deadline);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, TagLayout::kMaxComms - 1);
  EXPECT_EQ(AgreeCommId(store, "k2", true, deadline).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tidal
