// A small fork-based world for the UCX transport's own tests, until the shared harness's
// processes mode (harness/world.h, Mode::kProcesses) is available: forks `size` children before
// any UCX object exists, sets UCX_TLS (and UCX_NET_DEVICES=lo for TCP) in each child, exchanges
// worker addresses through files in a fresh temporary directory, runs the body on every rank, and
// reports each child's fate (exit code or signal) to the parent. A child's gtest failures are
// printed by the child and turn into exit code 1; a child that outlives 3 x timeout is killed.
//
// Thread safety: RunForked is called from the test's main thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tidal/core/time.h"
#include "tidal/transport/ucx/ucx_transport.h"

namespace tidal::testing {

// kDefault leaves UCX_TLS and UCX_NET_DEVICES as the environment has them.
enum class UcxTls { kTcp, kSm, kDefault };
std::string UcxTlsName(UcxTls tls);  // "tcp" / "sm" / "default"

struct ForkWorldOptions {
  int size = 2;
  UcxTls tls = UcxTls::kTcp;
  std::chrono::milliseconds timeout{10'000};
  UcxOptions ucx;
  // End with an all-to-all handshake before the transports are destroyed.
  bool final_barrier = true;
};

class ForkRank {
 public:
  ForkRank(const ForkWorldOptions& options, int rank, UcxTransport& transport, std::string dir)
      : options_(options), rank_(rank), transport_(transport), dir_(std::move(dir)) {}
  int rank() const { return rank_; }
  int size() const { return options_.size; }
  const ForkWorldOptions& options() const { return options_; }
  UcxTransport& transport() { return transport_; }
  // Now + options().timeout.
  Deadline deadline() const { return Deadline::After(options_.timeout); }
  // Out-of-band flags (files in the world's directory), for tests whose transports are broken on
  // purpose: SetFlag("done") on one rank, WaitFlag("done", deadline) on another. WaitFlag drives
  // the transport while it waits.
  void SetFlag(std::string_view name) const;
  Status WaitFlag(std::string_view name, Deadline deadline);

 private:
  const ForkWorldOptions& options_;
  int rank_;
  UcxTransport& transport_;
  std::string dir_;
};

struct ForkOutcome {
  int rank = -1;
  bool exited = false;  // else killed by `signal`
  int exit_code = -1;
  int signal = 0;
  bool ok() const { return exited && exit_code == 0; }
};

// Child exit codes besides 0 (success) and 1 (a gtest failure in the body).
inline constexpr int kExitSetupFailed = 2;
inline constexpr int kExitLeaks = 3;

// Runs `body` on every rank in its own child process; returns when every child ended.
std::vector<ForkOutcome> RunForked(const ForkWorldOptions& options,
                                   const std::function<void(ForkRank&)>& body);

// All ranks exchange zero-byte messages on a reserved tag (comm 4095); returns the first error.
Status ForkBarrier(ForkRank& rank, uint32_t round);

}  // namespace tidal::testing
