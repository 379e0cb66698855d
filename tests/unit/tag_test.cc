// The tag layout round-trips every field and keeps fields from bleeding into each other.
#include "tidal/transport/tag.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>

namespace tidal {
namespace {

TEST(Tag, RoundTripsRandomFields) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const TagFields f{static_cast<uint32_t>(rng() & TagLayout::kCommMask),
                      static_cast<uint32_t>(rng() & TagLayout::kSeqMask),
                      static_cast<uint32_t>(rng() & TagLayout::kStepMask),
                      static_cast<uint32_t>(rng() & TagLayout::kSourceMask)};
    EXPECT_EQ(ParseTag(MakeTag(f.comm, f.seq, f.step, f.source)), f);
  }
}

TEST(Tag, DistinctFieldsGiveDistinctTags) {
  const Tag base = MakeTag(1, 2, 3, 4);
  EXPECT_NE(base, MakeTag(2, 2, 3, 4));
  EXPECT_NE(base, MakeTag(1, 3, 3, 4));
  EXPECT_NE(base, MakeTag(1, 2, 4, 4));
  EXPECT_NE(base, MakeTag(1, 2, 3, 5));
}

TEST(Tag, PrintsFields) {
  std::ostringstream os;
  os << ParseTag(MakeTag(1, 2, 3, 4));
  EXPECT_EQ(os.str(), "tag(comm 1 seq 2 step 3 src 4)");
}

}  // namespace
}  // namespace tidal
