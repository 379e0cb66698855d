// ConnectUcxWorld: the store exchange of worker addresses that precedes UcxTransport::Create.
#include "tidal/core/logging.h"
#include "tidal/transport/ucx/ucx_transport.h"

namespace tidal {

Result<std::unique_ptr<UcxTransport>> ConnectUcxWorld(Store& store, std::string_view prefix,
                                                      int rank, int size, Deadline deadline) {
  if (size < 1 || rank < 0 || rank >= size) {
    return InvalidArgumentError("ConnectUcxWorld: rank ", rank, " of ", size, " is out of range");
  }
  TIDAL_ASSIGN_OR_RETURN(std::shared_ptr<UcxContext> context, UcxContext::ForProcess());
  const auto key = [&prefix](int r) { return StrCat(prefix, "/ucx/", r); };
  TIDAL_RETURN_IF_ERROR(store.Set(key(rank), context->worker_address(), deadline)
                            .WithContext(StrCat("rank ", rank, ": publishing the UCX address")));
  std::vector<std::vector<uint8_t>> addresses(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) {
    if (r == rank) {
      addresses[r] = context->worker_address();
      continue;
    }
    Result<Bytes> address = store.Get(key(r), deadline);
    if (!address.ok()) {
      return address.status().WithContext(
          StrCat("rank ", rank, ": reading rank ", r, "'s UCX address"));
    }
    addresses[r] = std::move(address).value();
  }
  TIDAL_LOG(INFO, kTransport) << "rank " << rank << ": connecting " << size << " ranks over "
                              << context->Describe();
  return UcxTransport::Create(std::move(context), rank, size, addresses);
}

}  // namespace tidal
