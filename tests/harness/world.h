// The multi-rank test harness: runs one test body on every rank of a world, in one of three modes,
// and reports the first failure with its rank. Every test that needs more than one rank uses it.
//
//   WorldOptions options{.size = 4, .mode = Mode::kCooperative};
//   RunWorld(options, [](RankEnv& env) {
//     Request req;
//     ASSERT_OK(env.transport().PostSend((env.rank() + 1) % env.size(), tag, buf, n, &req));
//     ASSERT_OK(env.Wait(req, "send"));
//   });
//
// Modes:
// - kCooperative: every rank is a fiber on the calling thread; a rank that waits yields to the
//   next (tidal's wait functions call the thread's WaitHook). Deterministic for a given seed, and
//   cheap even at 16 ranks on 2 cores. The default for algorithm tests.
// - kThreads: every rank is a thread; waits spin briefly then sleep on the transport's event fd.
// - kProcesses: every rank is a forked child process; the store is a TcpStore whose server the
//   parent hosts; the transport is UCX (Foundation II) or none. Exit codes report failures.
//   UCX and CUDA must not be initialized in the parent before the fork.
//
// The store is shared by all ranks: an InProcStore in the first two modes, TCP in processes mode.
// Failures: gtest assertions inside the body work in every mode (a failing rank's messages are
// followed by a line naming the rank). The whole world has a watchdog of 3 x options.timeout:
// a body that hangs outside tidal's waits fails the test (threads: aborts the binary with a
// message; processes: children are killed) instead of hanging CI.
//
// Thread safety: RunWorld is called from the test's main thread; RankEnv belongs to its rank.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/store/store.h"
#include "tidal/transport/fault/fault_transport.h"
#include "tidal/transport/transport.h"

namespace tidal::testing {

enum class Mode { kCooperative, kThreads, kProcesses };
enum class TransportKind { kNone, kInProc, kUcx };

std::string_view ModeName(Mode mode);

struct WorldOptions {
  int size = 4;
  Mode mode = Mode::kCooperative;
  TransportKind transport = TransportKind::kInProc;
  // Seeds the test data (RankEnv::seed) and the in-process delivery shuffle.
  uint64_t seed = 1;
  // In-process transport: vary completion order within what the contract allows.
  bool shuffle = false;
  // When set, each rank's transport is wrapped in a FaultTransport with these options (the seed
  // is mixed with the rank).
  std::optional<FaultOptions> fault;
  // Deadline of each wait (RankEnv::deadline()); the world's watchdog is three times this.
  std::chrono::milliseconds timeout{10'000};
  // Processes mode with UCX: the UCX_TLS the children use ("tcp,self" or "sm,self"; empty = UCX's
  // default). UCX_NET_DEVICES is set to lo for TCP.
  std::string ucx_tls;
  // Processes mode: ranks that the test kills or that exit abnormally on purpose; their exit is
  // not a failure.
  std::vector<int> ranks_allowed_to_die;
};

// "cooperative/4/inproc/seed1": for test names and failure messages.
std::string DescribeWorld(const WorldOptions& options);

class RankEnv {
 public:
  virtual ~RankEnv() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const WorldOptions& options() const = 0;
  // options().seed mixed with the rank: distinct per rank, reproducible per world.
  uint64_t seed() const;

  // REQUIRES: options().transport != kNone.
  virtual Transport& transport() = 0;
  // The fault wrapper, when options().fault is set; nullptr otherwise.
  virtual FaultTransport* fault() = 0;
  // The store every rank of this world shares.
  virtual Store& store() = 0;

  // Now + options().timeout.
  Deadline deadline() const;

  // Waits for `request` (kTimedOut at deadline()), driving this rank's transport in the way the
  // mode requires; returns the request's status.
  Status Wait(Request& request, std::string_view what = "request");
  Status WaitAll(std::span<Request* const> requests, std::string_view what = "requests");
  // Drives the transport (if any) until `done()`; kTimedOut naming `what` at deadline().
  // REQUIRES: `done` turns true only through this rank's transport events; the wait sleeps on the
  // transport's event fd, so a condition on the store or on another thread is not seen in time
  // (wait on the store with Store::Wait instead).
  Status WaitFor(const std::function<bool()>& done, std::string_view what);
  // Lets other ranks run once (cooperative: switch fiber; otherwise sched_yield).
  virtual void Yield() = 0;
};

// Runs `body` on every rank and returns when all ranks returned (or the watchdog fired). Failures
// are reported through gtest; the call itself never throws.
void RunWorld(const WorldOptions& options, const std::function<void(RankEnv&)>& body);

}  // namespace tidal::testing

// gtest helpers for Status and Result.
#define ASSERT_OK(expr)                                                     \
  do {                                                                      \
    const auto& tidal_assert_st_ = (expr);                                  \
    ASSERT_TRUE(tidal_assert_st_.ok())                                      \
        << #expr << ": " << ::tidal::internal::GetStatus(tidal_assert_st_); \
  } while (0)
#define EXPECT_OK(expr)                                                     \
  do {                                                                      \
    const auto& tidal_expect_st_ = (expr);                                  \
    EXPECT_TRUE(tidal_expect_st_.ok())                                      \
        << #expr << ": " << ::tidal::internal::GetStatus(tidal_expect_st_); \
  } while (0)
