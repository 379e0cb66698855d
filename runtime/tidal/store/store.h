// Store: the rendezvous key-value store ranks use to find each other (addresses, placements, the
// death notices of the liveness protocol). Three implementations share this interface:
//   InProcStore  (in_proc_store.h) ranks in one process (tests, cooperative and threads modes);
//   FileStore    (file_store.h)    a directory on a file system every rank sees;
//   TcpStore     (tcp_store.h)     a client of TcpStoreServer, hosted by tidalrun or rank 0.
// It is not a database: values are small (addresses, counters), the key space is flat, and
// nothing persists beyond the job.
//
// Every call takes a Deadline. Blocking calls (Get, Wait, and any call whose server is slow)
// return kTimedOut when it passes; a store that is gone returns kUnavailable.
//
// Thread safety: every implementation is thread-safe. Calls on one TcpStore object are serialized
// on its connection, so a thread blocked in Get delays other threads using the same object; give
// long waits (such as a liveness watcher) their own client.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tidal/core/status.h"
#include "tidal/core/time.h"

namespace tidal {

using Bytes = std::vector<uint8_t>;

inline Bytes ToBytes(std::string_view text) { return Bytes(text.begin(), text.end()); }
inline std::string ToString(std::span<const uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

class Store {
 public:
  virtual ~Store() = default;

  // Sets `key` to `value`, replacing any previous value, and wakes waiters on it.
  // Returns kInvalidArgument for an empty key or one over the size limit.
  virtual Status Set(std::string_view key, std::span<const uint8_t> value, Deadline deadline) = 0;

  // Returns the value of `key`, waiting until it is set or the deadline passes (kTimedOut).
  virtual Result<Bytes> Get(std::string_view key, Deadline deadline) = 0;

  // Atomically adds `delta` to the integer stored at `key` (absent counts as 0) and returns the
  // new value. The value is stored as decimal text, so Get of a counter returns e.g. "3".
  // Returns kInvalidArgument if the key holds something that is not a decimal integer.
  virtual Result<int64_t> Add(std::string_view key, int64_t delta, Deadline deadline) = 0;

  // Waits until every key in `keys` is set, or the deadline passes (kTimedOut naming a missing
  // key).
  virtual Status Wait(std::span<const std::string> keys, Deadline deadline) = 0;

  // Returns whether every key in `keys` is set, without waiting for them.
  virtual Result<bool> Check(std::span<const std::string> keys, Deadline deadline) = 0;

  // Removes `key`; returns whether it existed.
  virtual Result<bool> Delete(std::string_view key, Deadline deadline) = 0;
};

// Convenience overloads for text values.
Status SetString(Store& store, std::string_view key, std::string_view value, Deadline deadline);
Result<std::string> GetString(Store& store, std::string_view key, Deadline deadline);

}  // namespace tidal
