#include "tidal/store/store_util.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "tidal/transport/wait.h"

namespace tidal::store_internal {

Status ValidateKey(std::string_view op, std::string_view key) {
  if (key.empty()) return InvalidArgumentError("store ", op, ": empty key");
  if (key.size() > kMaxKeyBytes) {
    return InvalidArgumentError("store ", op, ": key ", QuoteKey(key), " of ", key.size(),
                                " bytes exceeds the limit of ", kMaxKeyBytes, " bytes");
  }
  return Status::Ok();
}

std::string QuoteKey(std::string_view key) {
  constexpr size_t kShown = 128;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < key.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  out += key.size() > kShown ? "'..." : "'";
  return out;
}

Result<int64_t> AddToCounter(std::string_view key, const std::optional<Bytes>& current,
                             int64_t delta) {
  int64_t value = 0;
  if (current.has_value()) {
    const auto* first = reinterpret_cast<const char*>(current->data());
    const auto* last = first + current->size();
    const auto [end, err] = std::from_chars(first, last, value);
    if (current->empty() || err != std::errc() || end != last) {
      return InvalidArgumentError("store add ", QuoteKey(key),
                                  ": the key holds a value that is not a decimal integer");
    }
  }
  int64_t sum = 0;
  if (__builtin_add_overflow(value, delta, &sum)) {
    return InvalidArgumentError("store add ", QuoteKey(key), ": ", value, " + ", delta,
                                " overflows int64");
  }
  return sum;
}

Bytes FormatCounter(int64_t value) { return ToBytes(std::to_string(value)); }

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  volatile uint8_t diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<uint8_t>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<uint8_t>(i < b.size() ? b[i] : 0);
    diff = diff | static_cast<uint8_t>(x ^ y);
  }
  return diff == 0;
}

int64_t ElapsedMs(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

void PauseBriefly(std::chrono::microseconds pause, Deadline deadline) {
  const WaitHookSlot slot = GetThreadWaitHook();
  if (slot.hook != nullptr) {
    slot.hook(slot.context);
    return;
  }
  const auto left = deadline.Remaining();
  std::this_thread::sleep_for(left < pause ? left : std::chrono::nanoseconds(pause));
}

}  // namespace tidal::store_internal
