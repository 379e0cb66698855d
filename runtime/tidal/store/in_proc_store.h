// InProcStore: a Store for ranks that live in one process (tests in threads and cooperative
// modes). A map under a mutex, with a condition variable that wakes waiters when a key is set.
// It is not shared between processes; use FileStore or TcpStore for that.
//
// Cooperative mode runs many ranks as fibers on one thread, so Get and Wait never block the
// thread while a key is missing: when the thread has a wait hook installed
// (tidal/transport/wait.h) they call it, letting another fiber run, and check again; otherwise they
// sleep on the condition variable until the key is set or the deadline passes.
//
// Limits: keys of 1 to 4096 bytes (store_internal::kMaxKeyBytes); values of any size.
//
// Thread safety: thread-safe; one object is shared by every rank of the process.
#pragma once

#include <map>
#include <string>

#include "tidal/core/mutex.h"
#include "tidal/store/store.h"

namespace tidal {

class InProcStore : public Store {
 public:
  InProcStore();
  ~InProcStore() override;
  InProcStore(const InProcStore&) = delete;
  InProcStore& operator=(const InProcStore&) = delete;

  Status Set(std::string_view key, std::span<const uint8_t> value, Deadline deadline) override;
  Result<Bytes> Get(std::string_view key, Deadline deadline) override;
  Result<int64_t> Add(std::string_view key, int64_t delta, Deadline deadline) override;
  Status Wait(std::span<const std::string> keys, Deadline deadline) override;
  Result<bool> Check(std::span<const std::string> keys, Deadline deadline) override;
  Result<bool> Delete(std::string_view key, Deadline deadline) override;

 private:
  // Returns the first key of `keys` that is not set, or nullptr when all are.
  const std::string* FirstMissing(std::span<const std::string> keys) const TIDAL_REQUIRES(mu_);
  // Waits once for a change: calls the wait hook (mutex released around it) or the condvar.
  // Returns false when the deadline has passed.
  bool AwaitChange(Deadline deadline) TIDAL_REQUIRES(mu_);
  void SleepUntilChange(Deadline deadline) TIDAL_REQUIRES(mu_);

  mutable Mutex mu_;
  CondVar changed_;
  std::map<std::string, Bytes, std::less<>> values_ TIDAL_GUARDED_BY(mu_);
};

}  // namespace tidal
