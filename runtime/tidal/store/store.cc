#include "tidal/store/store.h"

namespace tidal {

Status SetString(Store& store, std::string_view key, std::string_view value, Deadline deadline) {
  const auto* data = reinterpret_cast<const uint8_t*>(value.data());
  return store.Set(key, std::span<const uint8_t>(data, value.size()), deadline);
}

Result<std::string> GetString(Store& store, std::string_view key, Deadline deadline) {
  TIDAL_ASSIGN_OR_RETURN(Bytes bytes, store.Get(key, deadline));
  return ToString(bytes);
}

}  // namespace tidal
