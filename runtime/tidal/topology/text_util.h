// Small text helpers shared by the topology parsers (dump, synthetic spec). Internal to
// runtime/topology; not part of tidal's API.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace tidal::topo_internal {

// Splits on spaces and tabs, dropping empty pieces.
std::vector<std::string_view> SplitWhitespace(std::string_view text);

// Splits on `sep`, keeping empty pieces ("a,,b" gives three).
std::vector<std::string_view> Split(std::string_view text, char sep);

// Trims spaces, tabs and carriage returns at both ends.
std::string_view Trim(std::string_view text);

// A decimal integer in [min, max], digits with an optional leading '-' only; nullopt otherwise.
std::optional<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max);

// The same for unsigned 64-bit values.
std::optional<uint64_t> ParseUint64(std::string_view text);

}  // namespace tidal::topo_internal
