#include "tidal/store/in_proc_store.h"

#include <optional>

#include "tidal/store/store_util.h"
#include "tidal/transport/wait.h"

namespace tidal {

using store_internal::ElapsedMs;
using store_internal::QuoteKey;
using store_internal::ValidateKey;

InProcStore::InProcStore() = default;
InProcStore::~InProcStore() = default;

Status InProcStore::Set(std::string_view key, std::span<const uint8_t> value, Deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("set", key));
  MutexLock lock(&mu_);
  values_.insert_or_assign(std::string(key), Bytes(value.begin(), value.end()));
  changed_.SignalAll();
  return Status::Ok();
}

Result<Bytes> InProcStore::Get(std::string_view key, Deadline deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("get", key));
  const Clock::time_point start = Clock::now();
  MutexLock lock(&mu_);
  while (true) {
    const auto it = values_.find(key);
    if (it != values_.end()) return it->second;
    if (!AwaitChange(deadline)) {
      return TimedOutError("store get ", QuoteKey(key), " (in-process): timed out after ",
                           ElapsedMs(start), " ms");
    }
  }
}

Result<int64_t> InProcStore::Add(std::string_view key, int64_t delta, Deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("add", key));
  MutexLock lock(&mu_);
  const auto it = values_.find(key);
  std::optional<Bytes> current;
  if (it != values_.end()) current = it->second;
  TIDAL_ASSIGN_OR_RETURN(const int64_t sum, store_internal::AddToCounter(key, current, delta));
  values_.insert_or_assign(std::string(key), store_internal::FormatCounter(sum));
  changed_.SignalAll();
  return sum;
}

Status InProcStore::Wait(std::span<const std::string> keys, Deadline deadline) {
  for (const std::string& key : keys) TIDAL_RETURN_IF_ERROR(ValidateKey("wait", key));
  const Clock::time_point start = Clock::now();
  MutexLock lock(&mu_);
  while (true) {
    const std::string* missing = FirstMissing(keys);
    if (missing == nullptr) return Status::Ok();
    if (!AwaitChange(deadline)) {
      return TimedOutError("store wait for ", QuoteKey(*missing), " (in-process): timed out after ",
                           ElapsedMs(start), " ms");
    }
  }
}

Result<bool> InProcStore::Check(std::span<const std::string> keys, Deadline) {
  for (const std::string& key : keys) TIDAL_RETURN_IF_ERROR(ValidateKey("check", key));
  MutexLock lock(&mu_);
  return FirstMissing(keys) == nullptr;
}

Result<bool> InProcStore::Delete(std::string_view key, Deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("delete", key));
  MutexLock lock(&mu_);
  const auto it = values_.find(key);
  if (it == values_.end()) return false;
  values_.erase(it);
  return true;
}

const std::string* InProcStore::FirstMissing(std::span<const std::string> keys) const {
  for (const std::string& key : keys) {
    if (values_.find(key) == values_.end()) return &key;
  }
  return nullptr;
}

void InProcStore::SleepUntilChange(Deadline deadline) { changed_.WaitUntil(&mu_, deadline); }

bool InProcStore::AwaitChange(Deadline deadline) {
  if (deadline.Expired()) return false;
  const WaitHookSlot slot = GetThreadWaitHook();
  if (slot.hook == nullptr) {
    SleepUntilChange(deadline);
    return true;  // the caller re-checks; an expired deadline is caught on the next round
  }
  mu_.Unlock();
  slot.hook(slot.context);
  mu_.Lock();
  return true;
}

}  // namespace tidal
