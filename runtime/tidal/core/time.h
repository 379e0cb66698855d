// Deadline: the point in time by which a blocking call must return. Every wait in tidal takes
// one, so a lost peer becomes kTimedOut instead of a hang.
//
// Thread safety: a Deadline is an immutable value.
#pragma once

#include <chrono>
#include <cstdint>

namespace tidal {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  // A deadline `timeout` from now. Negative timeouts are treated as zero.
  static Deadline After(std::chrono::nanoseconds timeout) {
    if (timeout < std::chrono::nanoseconds::zero()) timeout = std::chrono::nanoseconds::zero();
    return Deadline(Clock::now() + timeout);
  }
  static Deadline AfterMs(int64_t ms) { return After(std::chrono::milliseconds(ms)); }
  static Deadline At(Clock::time_point when) { return Deadline(when); }
  static Deadline Now() { return Deadline(Clock::now()); }
  static Deadline Never() { return Deadline(Clock::time_point::max()); }

  bool is_never() const { return when_ == Clock::time_point::max(); }
  Clock::time_point when() const { return when_; }
  bool Expired() const { return !is_never() && Clock::now() >= when_; }

  // Time left, zero when expired; a large value for Never().
  std::chrono::nanoseconds Remaining() const {
    if (is_never()) return std::chrono::hours(24 * 365);
    const auto left = when_ - Clock::now();
    return left > Clock::duration::zero()
               ? std::chrono::duration_cast<std::chrono::nanoseconds>(left)
               : std::chrono::nanoseconds::zero();
  }

  // Milliseconds for poll(2): -1 for Never(), rounded up so that poll does not wake early.
  int PollTimeoutMs() const {
    if (is_never()) return -1;
    const auto ns = Remaining().count();
    const int64_t ms = (ns + 999'999) / 1'000'000;
    return ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms);
  }

  // The earlier of two deadlines.
  static Deadline Min(Deadline a, Deadline b) { return a.when_ < b.when_ ? a : b; }

 private:
  explicit Deadline(Clock::time_point when) : when_(when) {}
  Clock::time_point when_;
};

}  // namespace tidal
