// The pure parts of Communicator::Split and of communicator ids: who joins which group in which
// order, how a split's (color, key) travels through the store, and how a new group agrees on its
// comm id (tag.h: the id is the communicator's tag space).
//
// Comm ids: 0 is the runtime's own, 1 the world communicator's. Every split group takes the next
// id from the job-wide store counter "tidal/comm/next_id" (its new rank 0 Adds 1 and publishes
// the id under the split's key; the other members read it), so ids are unique in the job and two
// communicators never share a tag space. Ids are not reused: a job creates at most
// TagLayout::kMaxComms - 2 split communicators.
//
// Thread safety: pure functions; AgreeCommId is as thread-safe as its Store.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/store/store.h"

namespace tidal {

inline constexpr uint32_t kRuntimeCommId = 0;
inline constexpr uint32_t kWorldCommId = 1;
inline constexpr std::string_view kNextCommIdKey = "tidal/comm/next_id";

struct SplitEntry {
  int color = -1;  // < 0: not a member of any new communicator
  int key = 0;
  friend bool operator==(const SplitEntry&, const SplitEntry&) = default;
};

// The members of group `color`: parent ranks ordered by (key, parent rank); entries[r] is parent
// rank r's. Empty for color < 0.
std::vector<int> SplitMembers(std::span<const SplitEntry> entries, int color);

// "color key" as decimal text, and back (kInvalidArgument for anything else).
std::string EncodeSplitEntry(const SplitEntry& entry);
Result<SplitEntry> DecodeSplitEntry(std::string_view text);

// Agrees on a new comm id: the `leader` takes the next id from kNextCommIdKey and publishes it
// under `key`; the others wait for it there. Returns kUnavailable when ids are exhausted, the
// store's error (e.g. kTimedOut) otherwise.
Result<uint32_t> AgreeCommId(Store& store, std::string_view key, bool leader, Deadline deadline);

}  // namespace tidal
