#include "tidal/comm/split.h"

#include <algorithm>
#include <charconv>

#include "tidal/transport/tag.h"

namespace tidal {
namespace {

bool ParseInt(std::string_view text, int* value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::vector<int> SplitMembers(std::span<const SplitEntry> entries, int color) {
  std::vector<int> members;
  if (color < 0) return members;
  for (size_t r = 0; r < entries.size(); ++r) {
    if (entries[r].color == color) members.push_back(static_cast<int>(r));
  }
  std::stable_sort(members.begin(), members.end(), [&entries](int a, int b) {
    return entries[static_cast<size_t>(a)].key < entries[static_cast<size_t>(b)].key;
  });
  return members;
}

std::string EncodeSplitEntry(const SplitEntry& entry) {
  return std::to_string(entry.color) + " " + std::to_string(entry.key);
}

Result<SplitEntry> DecodeSplitEntry(std::string_view text) {
  const size_t space = text.find(' ');
  SplitEntry entry;
  if (space == std::string_view::npos || !ParseInt(text.substr(0, space), &entry.color) ||
      !ParseInt(text.substr(space + 1), &entry.key)) {
    return InvalidArgumentError("malformed split entry '", text, "'");
  }
  return entry;
}

Result<uint32_t> AgreeCommId(Store& store, std::string_view key, bool leader, Deadline deadline) {
  if (leader) {
    TIDAL_ASSIGN_OR_RETURN(int64_t taken, store.Add(kNextCommIdKey, 1, deadline));
    const int64_t id = int64_t{kWorldCommId} + taken;
    if (id >= int64_t{TagLayout::kMaxComms}) {
      return UnavailableError("no communicator id left: a job may create at most ",
                              TagLayout::kMaxComms - 2, " split communicators");
    }
    TIDAL_RETURN_IF_ERROR(SetString(store, key, std::to_string(id), deadline));
    return static_cast<uint32_t>(id);
  }
  TIDAL_ASSIGN_OR_RETURN(std::string text, GetString(store, key, deadline));
  int id = 0;
  if (!ParseInt(text, &id) || id <= static_cast<int>(kWorldCommId) ||
      id >= static_cast<int>(TagLayout::kMaxComms)) {
    return InvalidArgumentError("malformed communicator id '", text, "' under '", key, "'");
  }
  return static_cast<uint32_t>(id);
}

}  // namespace tidal
