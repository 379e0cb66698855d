// UcxContext: the one UCX context and worker of a process (DESIGN.md, Progress). Every
// UcxTransport of the process, hence every communicator, shares it; communicators are told apart
// by the comm id in the tag, not by workers. This header keeps <ucp/api/ucp.h> out of its users:
// only files in transport/ucx/ include UCX.
//
//   TIDAL_ASSIGN_OR_RETURN(std::shared_ptr<UcxContext> ctx, UcxContext::ForProcess());
//   store.Set("job/ucx/<rank>", ctx->worker_address(), deadline);   // then UcxTransport::Create
//
// The context reads UCX's own UCX_* variables (UCX_TLS, UCX_NET_DEVICES, ...) when it is created.
// Features: tag matching and wake-up (the worker's event fd). The worker runs in UCX's
// "serialized" thread mode: any thread may drive it, one at a time, which is tidal's progress
// model (one engine owns the worker: the caller's thread for blocking calls, or the background
// thread, never both at once).
//
// Peer-failure handling: UCX can report a dead peer (UCP_ERR_HANDLING_MODE_PEER) only over
// transports that support it (TCP, verbs); Debian's UCX 1.13 refuses the mode for its shared-memory
// transports (sysv, posix, and even self). Asking for it makes UCX pick TCP instead of shared
// memory between ranks of one host (measured: 64 MiB ping-pong 2.3 GB/s instead of 4.1 GB/s), so
// PeerErrors::kAuto asks for it only where shared memory would not be used anyway; see
// ucx_transport.h.
//
// Fork: create UCX objects only after fork(); a child must not use a context its parent created.
//
// Thread safety: the context's accessors are thread-safe. The worker follows the Transport rule
// (one thread at a time); Signal() is safe from any thread. ForProcess() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tidal/core/status.h"

// UCX's opaque handles (ucp_def.h), declared here so that users need not include UCX.
struct ucp_context;
struct ucp_worker;

namespace tidal {

struct UcxOptions {
  enum class PeerErrors {
    kAuto,  // UCP_ERR_HANDLING_MODE_PEER where the transports allow it, NONE elsewhere
    kOn,    // PEER on every endpoint; creating a transport fails where UCX refuses it
    kOff,   // NONE everywhere: UCX picks transports without regard to failure support
  };
  PeerErrors peer_errors = PeerErrors::kAuto;

  // Reads TIDAL_UCX_PEER_ERRORS (auto, on, off). kInvalidArgument for another value.
  static Result<UcxOptions> FromEnv();
};

std::string_view PeerErrorsName(UcxOptions::PeerErrors mode);

// The linked UCX library's version ("1.13.1"), without creating a context (tidal-info).
std::string UcxLibraryVersion();

class UcxContext {
 public:
  // Creates a context and its worker. kUnavailable (with UCX's error string) when UCX cannot
  // start, e.g. because UCX_TLS names no usable transport.
  static Result<std::shared_ptr<UcxContext>> Create(const UcxOptions& options);

  // The process's shared context, created on first use with UcxOptions::FromEnv() and kept while
  // anyone holds it (a later call after every holder let go creates a new one).
  static Result<std::shared_ptr<UcxContext>> ForProcess();

  ~UcxContext();
  UcxContext(const UcxContext&) = delete;
  UcxContext& operator=(const UcxContext&) = delete;

  const UcxOptions& options() const { return options_; }
  // This worker's address, to be published for the peers: opaque bytes (UCX's worker address
  // plus the host id that UcxTransport's auto peer-error policy uses).
  const std::vector<uint8_t>& worker_address() const { return address_; }
  // This machine's id as peers see it in worker_address().
  const std::string& host_id() const { return host_id_; }
  // Whether UCX_TLS lets UCX use shared memory between processes of one host.
  bool shared_memory() const { return shared_memory_; }
  // The worker's wake-up fd (ucp_worker_get_efd).
  int event_fd() const { return event_fd_; }
  // Wakes a thread asleep on event_fd(). Thread-safe.
  void Signal() const;
  // "ucx 1.13.1 tls=tcp,self": for logs and tidal-info.
  std::string Describe() const;

  // For the UCX seam only (transport/ucx/*.cc).
  ucp_context* ucp() const { return context_; }
  ucp_worker* worker() const { return worker_; }
  // Keeps `object` alive until the worker is destroyed: state that UCX callbacks may still reach
  // after its owner is gone (a send UCX never gave back, an endpoint that never finished closing).
  void KeepUntilWorkerDestroyed(std::shared_ptr<void> object);

 private:
  UcxContext() = default;

  UcxOptions options_;
  ucp_context* context_ = nullptr;
  ucp_worker* worker_ = nullptr;
  int event_fd_ = -1;
  std::vector<uint8_t> address_;
  std::string host_id_;
  bool shared_memory_ = false;
  std::mutex graveyard_mu_;
  std::vector<std::shared_ptr<void>> graveyard_;  // released after ucp_worker_destroy
};

}  // namespace tidal
