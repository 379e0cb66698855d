#include "tidal/store/tcp_store_server.h"

#include <sys/eventfd.h>

#include <cerrno>

#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"
#include "tidal/store/tcp_store_server_loop.h"

namespace tidal {

using store_internal::kFrameOverhead;
using store_internal::kMaxSecretBytes;
using store_internal::ServerLoop;
using store_internal::UniqueFd;

namespace {

// Reads a positive byte count from `knob`; keeps `*value` when unset or malformed.
void ReadLimit(Knob knob, size_t* value) {
  if (!KnobIsSet(knob)) return;
  Result<int64_t> parsed = KnobInt(knob);
  if (!parsed.ok() || *parsed <= 0) {
    TIDAL_LOG(WARN, kStore) << "ignoring " << GetKnobInfo(knob).name << ": "
                            << (parsed.ok() ? "not positive" : parsed.status().ToString());
    return;
  }
  *value = static_cast<size_t>(*parsed);
}

Status Validate(const TcpStoreServerOptions& options) {
  if (options.bind_address.empty()) return InvalidArgumentError("store server: empty bind address");
  if (options.secret.size() > kMaxSecretBytes) {
    return InvalidArgumentError("store server: secret of ", options.secret.size(),
                                " bytes is longer than ", kMaxSecretBytes, " (TIDAL_SECRET)");
  }
  if (options.max_request_bytes == 0 || options.max_request_bytes > UINT32_MAX - kFrameOverhead) {
    return InvalidArgumentError("store server: max_request_bytes must be in 1..",
                                UINT32_MAX - kFrameOverhead, " (TIDAL_STORE_MAX_VALUE)");
  }
  if (options.max_total_bytes == 0 || options.max_connections <= 0 ||
      options.auth_timeout.count() <= 0) {
    return InvalidArgumentError(
        "store server: max_total_bytes, max_connections and auth_timeout must be positive");
  }
  return Status::Ok();
}

}  // namespace

TcpStoreServerOptions TcpStoreServerOptions::FromEnv() {
  TcpStoreServerOptions options;
  options.bind_address = KnobString(Knob::kStoreBind);
  options.secret = KnobString(Knob::kSecret);
  ReadLimit(Knob::kStoreMaxValue, &options.max_request_bytes);
  ReadLimit(Knob::kStoreMaxBytes, &options.max_total_bytes);
  return options;
}

Result<std::unique_ptr<TcpStoreServer>> TcpStoreServer::Start(
    const TcpStoreServerOptions& options) {
  TIDAL_RETURN_IF_ERROR(Validate(options));
  uint16_t port = 0;
  TIDAL_ASSIGN_OR_RETURN(UniqueFd listener,
                         store_internal::Listen(options.bind_address, options.port, &port));
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return ErrnoError("store server: eventfd", errno);
  const std::string address = store_internal::JoinHostPort(options.bind_address, port);
  if (options.secret.empty()) {
    TIDAL_LOG(WARN, kStore) << "store server " << address
                            << " has no secret (TIDAL_SECRET): only loopback clients are admitted";
  }
  auto loop = std::make_unique<ServerLoop>(options, std::move(listener), std::move(wake), address);
  std::unique_ptr<TcpStoreServer> server(new TcpStoreServer(std::move(loop), port, address));
  return server;
}

TcpStoreServer::TcpStoreServer(std::unique_ptr<ServerLoop> loop, uint16_t port, std::string address)
    : loop_(std::move(loop)), port_(port), address_(std::move(address)) {
  MutexLock lock(&stop_mu_);
  thread_ = std::thread([loop = loop_.get()] { loop->Run(); });
}

TcpStoreServer::~TcpStoreServer() { Stop(); }

void TcpStoreServer::Stop() {
  MutexLock lock(&stop_mu_);
  if (!thread_.joinable()) return;
  loop_->Wake();
  thread_.join();
}

size_t TcpStoreServer::connection_count() const {
  return loop_->stats().connections.load(std::memory_order_relaxed);
}

size_t TcpStoreServer::stored_bytes() const {
  return loop_->stats().stored_bytes.load(std::memory_order_relaxed);
}

size_t TcpStoreServer::waiting_count() const {
  return loop_->stats().waiting.load(std::memory_order_relaxed);
}

size_t TcpStoreServer::buffered_bytes() const {
  return loop_->stats().buffered_bytes.load(std::memory_order_relaxed);
}

size_t TcpStoreServer::peak_buffered_bytes() const {
  return loop_->stats().peak_buffered_bytes.load(std::memory_order_relaxed);
}

}  // namespace tidal
