// The UCX seam's private helpers: ucs_status_t to Status, UCX's pointer-or-status return values
// without C casts in tidal code, and tidal's published worker address. Included only by
// transport/ucx/*.cc.
//
// Published address (UcxContext::worker_address()), version 1:
//   "TDLX" | version u8 = 1 | host-id length u16 (little endian) | host id | UCX worker address
// The host id (the kernel's boot_id, else the host name) tells the auto peer-error policy which
// peers UCX will reach over shared memory.
//
// Thread safety: pure functions.
#pragma once

#include <ucp/api/ucp.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tidal/core/status.h"

namespace tidal::ucx {

// UCS_PTR_IS_ERR / UCS_PTR_STATUS / UCS_PTR_IS_PTR, spelled in C++.
inline bool PtrIsErr(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) >= static_cast<uintptr_t>(UCS_ERR_LAST);
}
inline bool PtrIsRequest(const void* ptr) { return ptr != nullptr && !PtrIsErr(ptr); }
inline ucs_status_t PtrStatus(const void* ptr) {
  if (ptr == nullptr) return UCS_OK;
  if (!PtrIsErr(ptr)) return UCS_INPROGRESS;
  return static_cast<ucs_status_t>(reinterpret_cast<intptr_t>(ptr));
}

// True for UCX's errors that mean a peer or link is gone (connection reset, unreachable,
// endpoint timeout, link failures...).
bool IsPeerFailure(ucs_status_t status);

// The tidal code for a UCX error: kUnavailable for peer failures, kAborted for cancellation,
// kIoError for truncation and everything else (kTimedOut for UCS_ERR_TIMED_OUT).
StatusCode CodeFor(ucs_status_t status);

// "rank 2: <what>: <UCX error string> (UCX status -25)". `what` names the operation and peer,
// e.g. "send to rank 3 tag(comm 1 seq 2 step 3 src 2)". REQUIRES: status != UCS_OK.
Status FromUcs(ucs_status_t status, int rank, std::string_view what);
// The same message with the code chosen by the caller (e.g. kUnavailable for set-up failures).
Status FromUcsAs(StatusCode code, ucs_status_t status, int rank, std::string_view what);

// The UCX_TLS of this process ("" when unset).
std::string UcxTls();

// This machine's host id (boot_id, else host name).
std::string HostId();

// Whether the UCX_TLS of this process lets UCX use shared memory (unset, "all", sm/shm/posix/
// sysv/cma/knem/xpmem, or an exclusion list "^..." that does not exclude them all).
bool SharedMemoryEnabled(std::string_view ucx_tls);

std::vector<uint8_t> EncodeAddress(std::string_view host_id, std::span<const uint8_t> ucp_address);

struct DecodedAddress {
  std::string host_id;
  std::span<const uint8_t> ucp_address;  // points into the encoded bytes
};
// kInvalidArgument when `bytes` is not a version-1 address.
Result<DecodedAddress> DecodeAddress(std::span<const uint8_t> bytes);

}  // namespace tidal::ucx
