// The 64-bit message tag. UCX matches receives on the tag alone, so the tag carries everything
// that tells two messages apart: the communicator, the operation, the step within it, and the
// sending rank.
//
//    63          52 51                36 35                20 19                   0
//   +--------------+--------------------+--------------------+---------------------+
//   | comm id (12) | op sequence (16)   | step (16)          | source rank (20)    |
//   +--------------+--------------------+--------------------+---------------------+
//
// - comm id: 0 is reserved for the runtime itself (bootstrap, barriers of the world); every
//   communicator, split ones included, gets its own id, hence its own tag space.
// - op sequence: the collective's issue number on its communicator, modulo 2^16. Operations on one
//   communicator complete in issue order, so wrap-around cannot confuse two live operations.
// - step: the algorithm's step (and segment), modulo 2^16. Matching is FIFO per (source, tag), so
//   a wrapped step still pairs messages in order.
// - source rank: the sender's rank in the world, up to 2^20 - 1 ranks.
//
// Thread safety: pure values and functions.
#pragma once

#include <cstdint>
#include <ostream>

namespace tidal {

using Tag = uint64_t;

struct TagLayout {
  static constexpr int kCommBits = 12;
  static constexpr int kSeqBits = 16;
  static constexpr int kStepBits = 16;
  static constexpr int kSourceBits = 20;

  static constexpr int kSourceShift = 0;
  static constexpr int kStepShift = kSourceShift + kSourceBits;
  static constexpr int kSeqShift = kStepShift + kStepBits;
  static constexpr int kCommShift = kSeqShift + kSeqBits;

  static constexpr uint64_t kCommMask = (uint64_t{1} << kCommBits) - 1;
  static constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;
  static constexpr uint64_t kStepMask = (uint64_t{1} << kStepBits) - 1;
  static constexpr uint64_t kSourceMask = (uint64_t{1} << kSourceBits) - 1;

  static constexpr uint32_t kMaxComms = uint32_t{1} << kCommBits;
  static constexpr int kMaxRanks = 1 << kSourceBits;
};

static_assert(TagLayout::kCommBits + TagLayout::kSeqBits + TagLayout::kStepBits +
                      TagLayout::kSourceBits ==
                  64,
              "the tag fields fill 64 bits exactly");
static_assert(TagLayout::kCommShift + TagLayout::kCommBits == 64, "comm id is the top field");

struct TagFields {
  uint32_t comm = 0;
  uint32_t seq = 0;
  uint32_t step = 0;
  uint32_t source = 0;
  friend bool operator==(const TagFields&, const TagFields&) = default;
};

// Packs the fields; seq and step wrap modulo 2^16. REQUIRES: comm < 2^12, source < 2^20.
constexpr Tag MakeTag(uint32_t comm, uint32_t seq, uint32_t step, uint32_t source) {
  return ((uint64_t{comm} & TagLayout::kCommMask) << TagLayout::kCommShift) |
         ((uint64_t{seq} & TagLayout::kSeqMask) << TagLayout::kSeqShift) |
         ((uint64_t{step} & TagLayout::kStepMask) << TagLayout::kStepShift) |
         ((uint64_t{source} & TagLayout::kSourceMask) << TagLayout::kSourceShift);
}

constexpr TagFields ParseTag(Tag tag) {
  return TagFields{
      static_cast<uint32_t>((tag >> TagLayout::kCommShift) & TagLayout::kCommMask),
      static_cast<uint32_t>((tag >> TagLayout::kSeqShift) & TagLayout::kSeqMask),
      static_cast<uint32_t>((tag >> TagLayout::kStepShift) & TagLayout::kStepMask),
      static_cast<uint32_t>((tag >> TagLayout::kSourceShift) & TagLayout::kSourceMask)};
}

constexpr uint32_t TagSource(Tag tag) { return ParseTag(tag).source; }

// `tag` with its source field replaced: what a transport puts on the wire (sends) or matches
// (receives). REQUIRES: source < 2^20.
constexpr Tag WithSource(Tag tag, uint32_t source) {
  return (tag & ~(TagLayout::kSourceMask << TagLayout::kSourceShift)) |
         ((uint64_t{source} & TagLayout::kSourceMask) << TagLayout::kSourceShift);
}
static_assert(WithSource(MakeTag(1, 2, 3, 4), 9) == MakeTag(1, 2, 3, 9), "only the source changes");

static_assert(ParseTag(MakeTag(4095, 65535, 65535, (1u << 20) - 1)) ==
                  TagFields{4095, 65535, 65535, (1u << 20) - 1},
              "every field round-trips at its maximum");
static_assert(MakeTag(1, 0, 0, 0) == uint64_t{1} << 52, "comm id starts at bit 52");
static_assert(MakeTag(0, 1, 0, 0) == uint64_t{1} << 36, "op sequence starts at bit 36");
static_assert(MakeTag(0, 0, 1, 0) == uint64_t{1} << 20, "step starts at bit 20");
static_assert(ParseTag(MakeTag(0, 65536 + 7, 65536 + 9, 3)) == TagFields{0, 7, 9, 3},
              "seq and step wrap modulo 2^16");

// "tag(comm 1 seq 2 step 3 src 4)" for error messages.
std::ostream& operator<<(std::ostream& os, const TagFields& fields);

}  // namespace tidal
