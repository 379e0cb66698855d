// Helpers shared by the store implementations: key limits and validation, the decimal counter
// format of Add, printable keys for messages, and a pause that yields to cooperative fibers.
// Internal to runtime/tidal/store; not part of the public API.
//
// Thread safety: pure functions, except PauseBriefly, which calls the calling thread's wait hook.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/store/store.h"

namespace tidal::store_internal {

// Longest key any store accepts, in bytes. Keys are otherwise arbitrary bytes (NUL included).
inline constexpr size_t kMaxKeyBytes = 4096;

// OK, or kInvalidArgument "store <op>: empty key" / "... key of N bytes exceeds the limit ...".
Status ValidateKey(std::string_view op, std::string_view key);

// The key as it appears in messages: quoted, non-printable bytes as \xNN, cut after 128 bytes.
std::string QuoteKey(std::string_view key);

// Adds `delta` to the decimal counter in `current` (nullopt counts as 0). Returns the new value,
// or kInvalidArgument when `current` is not a decimal int64 or the sum overflows.
Result<int64_t> AddToCounter(std::string_view key, const std::optional<Bytes>& current,
                             int64_t delta);

// The stored form of a counter: decimal text such as "-3".
Bytes FormatCounter(int64_t value);

// Compares two secrets in time that depends only on their lengths, never on where they differ;
// a length mismatch does not end the comparison early.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Milliseconds elapsed since `start`, for "timed out after N ms".
int64_t ElapsedMs(Clock::time_point start);

// Lets time pass while polling for a condition: calls the thread's wait hook when one is
// installed (cooperative mode: another fiber runs), else sleeps min(`pause`, time left).
void PauseBriefly(std::chrono::microseconds pause, Deadline deadline);

}  // namespace tidal::store_internal
