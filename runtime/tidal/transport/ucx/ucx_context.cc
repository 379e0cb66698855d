#include "tidal/transport/ucx/ucx_context.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>

#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"
#include "tidal/transport/ucx/ucx_internal.h"

namespace tidal {
namespace ucx {

bool IsPeerFailure(ucs_status_t status) {
  if (UCS_IS_LINK_ERROR(status) || UCS_IS_ENDPOINT_ERROR(status)) return true;
  switch (status) {
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_NOT_CONNECTED:
    case UCS_ERR_REJECTED:
    case UCS_ERR_ENDPOINT_TIMEOUT:
      return true;
    default:
      return false;
  }
}

StatusCode CodeFor(ucs_status_t status) {
  if (IsPeerFailure(status)) return StatusCode::kUnavailable;
  switch (status) {
    case UCS_ERR_CANCELED:
      return StatusCode::kAborted;
    case UCS_ERR_TIMED_OUT:
      return StatusCode::kTimedOut;
    case UCS_ERR_UNSUPPORTED:
      return StatusCode::kNotSupported;
    default:
      return StatusCode::kIoError;
  }
}

Status FromUcs(ucs_status_t status, int rank, std::string_view what) {
  return FromUcsAs(CodeFor(status), status, rank, what);
}

Status FromUcsAs(StatusCode code, ucs_status_t status, int rank, std::string_view what) {
  return Status(code, StrCat("rank ", rank, ": ", what, ": ", ucs_status_string(status),
                             " (UCX status ", static_cast<int>(status), ")"));
}

std::string HostId() {
  std::ifstream boot_id("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (std::getline(boot_id, id) && !id.empty()) return id;
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

bool SharedMemoryEnabled(std::string_view ucx_tls) {
  // Shared-memory transports that carry messages (cma, knem, xpmem only help them).
  bool bundle = false, posix = false, sysv = false;
  const bool exclude = !ucx_tls.empty() && ucx_tls.front() == '^';
  if (exclude) ucx_tls.remove_prefix(1);
  if (ucx_tls.empty()) return true;
  for (size_t start = 0; start <= ucx_tls.size();) {
    const size_t end = std::min(ucx_tls.find(',', start), ucx_tls.size());
    const std::string_view token = ucx_tls.substr(start, end - start);
    bundle |= token == "all" || token == "sm" || token == "shm";
    posix |= token == "posix";
    sysv |= token == "sysv";
    start = end + 1;
  }
  return exclude ? !(bundle || (posix && sysv)) : bundle || posix || sysv;
}

namespace {
constexpr char kMagic[4] = {'T', 'D', 'L', 'X'};
constexpr uint8_t kAddressVersion = 1;
constexpr size_t kHeaderBytes = sizeof(kMagic) + 1 + 2;
}  // namespace

std::vector<uint8_t> EncodeAddress(std::string_view host_id, std::span<const uint8_t> ucp_address) {
  std::vector<uint8_t> out(kMagic, kMagic + sizeof(kMagic));
  const auto host_bytes = static_cast<uint16_t>(std::min<size_t>(host_id.size(), 0xffff));
  out.push_back(kAddressVersion);
  out.push_back(static_cast<uint8_t>(host_bytes & 0xff));
  out.push_back(static_cast<uint8_t>(host_bytes >> 8));
  out.insert(out.end(), host_id.begin(), host_id.begin() + host_bytes);
  out.insert(out.end(), ucp_address.begin(), ucp_address.end());
  return out;
}

Result<DecodedAddress> DecodeAddress(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes || !std::equal(kMagic, kMagic + sizeof(kMagic), bytes.begin())) {
    return InvalidArgumentError("not a tidal UCX worker address (", bytes.size(), " bytes)");
  }
  if (bytes[4] != kAddressVersion) {
    return InvalidArgumentError("tidal UCX worker address of version ", int{bytes[4]},
                                "; this build reads version ", int{kAddressVersion});
  }
  const size_t host_bytes = size_t{bytes[5]} | (size_t{bytes[6]} << 8);
  if (bytes.size() <= kHeaderBytes + host_bytes) {
    return InvalidArgumentError("truncated tidal UCX worker address (", bytes.size(), " bytes)");
  }
  DecodedAddress decoded;
  const auto* host = reinterpret_cast<const char*>(bytes.data() + kHeaderBytes);
  decoded.host_id.assign(host, host_bytes);
  decoded.ucp_address = bytes.subspan(kHeaderBytes + host_bytes);
  return decoded;
}

std::string UcxTls() {
  const char* tls = std::getenv("UCX_TLS");  // NOLINT(concurrency-mt-unsafe): tidal never setenv
  return tls != nullptr ? tls : "";
}

}  // namespace ucx

using ucx::UcxTls;

std::string_view PeerErrorsName(UcxOptions::PeerErrors mode) {
  switch (mode) {
    case UcxOptions::PeerErrors::kAuto:
      return "auto";
    case UcxOptions::PeerErrors::kOn:
      return "on";
    case UcxOptions::PeerErrors::kOff:
      return "off";
  }
  return "?";
}

Result<UcxOptions> UcxOptions::FromEnv() {
  UcxOptions options;
  const std::string value = KnobString(Knob::kUcxPeerErrors);
  if (value == "auto" || value.empty()) {
    options.peer_errors = PeerErrors::kAuto;
  } else if (value == "on") {
    options.peer_errors = PeerErrors::kOn;
  } else if (value == "off") {
    options.peer_errors = PeerErrors::kOff;
  } else {
    return InvalidArgumentError("TIDAL_UCX_PEER_ERRORS=", value, ": expected auto, on or off");
  }
  return options;
}

Result<std::shared_ptr<UcxContext>> UcxContext::Create(const UcxOptions& options) {
  std::shared_ptr<UcxContext> self(new UcxContext());
  self->options_ = options;
  const int rank = LogRank();

  ucp_config_t* config = nullptr;
  ucs_status_t status = ucp_config_read(nullptr, nullptr, &config);
  if (status != UCS_OK) return ucx::FromUcs(status, rank, "reading UCX configuration");
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES;
  params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
  status = ucp_init(&params, config, &self->context_);
  ucp_config_release(config);
  if (status != UCS_OK) {
    self->context_ = nullptr;
    return ucx::FromUcsAs(StatusCode::kUnavailable, status, rank,
                          StrCat("ucp_init [UCX_TLS=", UcxTls(), "]"));
  }

  ucp_worker_params_t worker_params{};
  worker_params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  worker_params.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  status = ucp_worker_create(self->context_, &worker_params, &self->worker_);
  if (status != UCS_OK) {
    self->worker_ = nullptr;
    return ucx::FromUcsAs(StatusCode::kUnavailable, status, rank, "ucp_worker_create");
  }
  status = ucp_worker_get_efd(self->worker_, &self->event_fd_);
  if (status != UCS_OK) return ucx::FromUcs(status, rank, "ucp_worker_get_efd");

  ucp_address_t* address = nullptr;
  size_t length = 0;
  status = ucp_worker_get_address(self->worker_, &address, &length);
  if (status != UCS_OK) return ucx::FromUcs(status, rank, "ucp_worker_get_address");
  self->host_id_ = ucx::HostId();
  self->address_ =
      ucx::EncodeAddress(self->host_id_, {reinterpret_cast<const uint8_t*>(address), length});
  ucp_worker_release_address(self->worker_, address);
  self->shared_memory_ = ucx::SharedMemoryEnabled(UcxTls());

  TIDAL_LOG(INFO, kTransport) << "UCX context up: " << self->Describe() << ", worker address "
                              << length << " bytes, peer errors "
                              << PeerErrorsName(options.peer_errors);
  return self;
}

Result<std::shared_ptr<UcxContext>> UcxContext::ForProcess() {
  static std::mutex mu;
  static std::weak_ptr<UcxContext> shared;
  std::lock_guard<std::mutex> lock(mu);
  if (std::shared_ptr<UcxContext> existing = shared.lock()) return existing;
  TIDAL_ASSIGN_OR_RETURN(const UcxOptions options, UcxOptions::FromEnv());
  TIDAL_ASSIGN_OR_RETURN(std::shared_ptr<UcxContext> created, Create(options));
  shared = created;
  return created;
}

UcxContext::~UcxContext() {
  if (worker_ != nullptr) ucp_worker_destroy(worker_);
  if (context_ != nullptr) ucp_cleanup(context_);
  graveyard_.clear();
}

void UcxContext::KeepUntilWorkerDestroyed(std::shared_ptr<void> object) {
  std::lock_guard<std::mutex> lock(graveyard_mu_);
  graveyard_.push_back(std::move(object));
}

void UcxContext::Signal() const {
  const ucs_status_t status = ucp_worker_signal(worker_);
  if (status != UCS_OK) {
    TIDAL_LOG(WARN, kTransport) << ucx::FromUcs(status, LogRank(), "ucp_worker_signal");
  }
}

std::string UcxContext::Describe() const {
  const std::string tls = UcxTls();
  return StrCat("ucx ", ucp_get_version_string(), " tls=", tls.empty() ? "(default)" : tls);
}

std::string UcxLibraryVersion() { return ucp_get_version_string(); }

}  // namespace tidal
