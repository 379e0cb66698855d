// The keys of tidal's job-level protocol in the rendezvous store, named in one place.
//
//   tidal/dead/count   number of ranks reported dead (decimal; Add'ed by whoever reports)
//   tidal/dead/<r>     how rank r ended: "rank 3 was killed by signal 9 (SIGKILL)"
//
// tidalrun posts a death when a child exits abnormally; every rank's engine watches the count
// beside its transport's event fd and fails pending operations that involve the dead rank with
// kUnavailable. Under other launchers a heartbeat with a deadline reports the same keys.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace tidal {

inline constexpr std::string_view kDeathCountKey = "tidal/dead/count";

inline std::string DeathKey(int rank) { return "tidal/dead/" + std::to_string(rank); }

}  // namespace tidal
