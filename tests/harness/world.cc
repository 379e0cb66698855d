// The harness's entry point and what all modes share: RankEnv's waits, seeds, failure
// attribution and the watchdog.
#include "harness/world.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "harness/world_internal.h"
#include "tidal/core/logging.h"
#include "tidal/core/mutex.h"
#include "tidal/core/random.h"
#include "tidal/transport/inproc/inproc_transport.h"
#include "tidal/transport/wait.h"

namespace tidal::testing {
namespace internal {
namespace {

thread_local int t_rank = -1;
thread_local const std::string* t_world = nullptr;

// Follows each failed assertion with the rank and world it happened on.
class RankFailureListener : public ::testing::EmptyTestEventListener {
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed() || t_rank < 0) return;
    std::printf("  ^ failed on rank %d of world %s\n", t_rank, t_world ? t_world->c_str() : "?");
    std::fflush(stdout);
  }
};

void InstallListenerOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::testing::UnitTest::GetInstance()->listeners().Append(new RankFailureListener);
  });
}

}  // namespace

uint64_t MixSeed(uint64_t seed, uint64_t salt) {
  return MixBits(seed + 0x9e3779b97f4a7c15ULL * (salt + 1));
}

void SetCurrentRank(int rank, const std::string* world) {
  t_rank = rank;
  t_world = world;
  SetThreadLogRank(rank);
}

RankEnvImpl::RankEnvImpl(const WorldOptions& options, int rank, Store* store,
                         std::unique_ptr<Transport> transport, FaultTransport* fault)
    : options_(options),
      rank_(rank),
      store_(store),
      transport_(std::move(transport)),
      fault_(fault) {}

Transport& RankEnvImpl::transport() {
  TIDAL_CHECK(transport_ != nullptr) << "rank " << rank_ << ": this world has no transport";
  return *transport_;
}

void RankEnvImpl::Yield() {
  const WaitHookSlot hook = GetThreadWaitHook();
  if (hook.hook != nullptr) {
    hook.hook(hook.context);
  } else {
    sched_yield();
  }
}

void RankEnvImpl::Shutdown() {
  if (transport_ == nullptr) return;
  if (!transport_->aborted()) transport_->Abort(AbortedError("rank ", rank_, " finished"));
  // Completions of aborted requests are delivered by Progress(); a few rounds suffice.
  for (int i = 0; i < 16; ++i) transport_->Progress();
}

std::unique_ptr<Transport> MaybeWrapInFault(const WorldOptions& options, int rank,
                                            std::unique_ptr<Transport> inner,
                                            FaultTransport** fault) {
  *fault = nullptr;
  if (!options.fault.has_value()) return inner;
  FaultOptions fault_options = *options.fault;
  fault_options.seed = MixSeed(fault_options.seed, static_cast<uint64_t>(rank));
  Result<std::unique_ptr<FaultTransport>> wrapped =
      FaultTransport::Create(std::move(inner), fault_options);
  TIDAL_CHECK_OK(wrapped.status());
  *fault = wrapped->get();
  return std::move(wrapped).value();
}

std::unique_ptr<InProcWorld> InProcWorld::Create(const WorldOptions& options) {
  std::unique_ptr<InProcWorld> world(new InProcWorld(options));
  InProcOptions inproc = InProcOptions::FromEnv();
  inproc.shuffle = options.shuffle;
  inproc.seed = MixSeed(options.seed, 0xfab);
  Result<std::shared_ptr<InProcFabric>> fabric = InProcFabric::Create(options.size, inproc);
  TIDAL_CHECK_OK(fabric.status());
  world->fabric_ = std::move(fabric).value();
  return world;
}

std::unique_ptr<Transport> InProcWorld::CreateTransport(int rank, FaultTransport** fault) {
  Result<std::unique_ptr<Transport>> endpoint = fabric_->CreateEndpoint(rank);
  TIDAL_CHECK_OK(endpoint.status());
  return MaybeWrapInFault(options_, rank, std::move(endpoint).value(), fault);
}

struct Watchdog::State {
  Mutex mu;
  CondVar cv;
  bool done TIDAL_GUARDED_BY(mu) = false;
  std::thread thread;
};

Watchdog::Watchdog(const WorldOptions& options, std::string description)
    : state_(std::make_unique<State>()) {
  const Deadline deadline = Deadline::After(3 * options.timeout);
  State* state = state_.get();
  state_->thread = std::thread([state, deadline, description = std::move(description)] {
    MutexLock lock(&state->mu);
    while (!state->done) {
      if (!state->cv.WaitUntil(&state->mu, deadline) && !state->done) {
        std::fprintf(stderr,
                     "tidal test harness: world %s still running after its watchdog deadline; "
                     "aborting so that CI does not hang\n",
                     description.c_str());
        std::abort();
      }
    }
  });
}

Watchdog::~Watchdog() {
  {
    MutexLock lock(&state_->mu);
    state_->done = true;
  }
  state_->cv.SignalAll();
  state_->thread.join();
}

void RunBody(const std::function<void(RankEnv&)>& body, RankEnv& env) {
  try {
    body(env);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "rank " << env.rank() << " threw: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "rank " << env.rank() << " threw a non-standard exception";
  }
}

}  // namespace internal

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kCooperative:
      return "cooperative";
    case Mode::kThreads:
      return "threads";
    case Mode::kProcesses:
      return "processes";
  }
  return "?";
}

std::string DescribeWorld(const WorldOptions& options) {
  std::string transport = "none";
  if (options.transport == TransportKind::kInProc) transport = "inproc";
  if (options.transport == TransportKind::kUcx) {
    transport = "ucx" + (options.ucx_tls.empty() ? std::string() : "(" + options.ucx_tls + ")");
  }
  if (options.fault.has_value()) transport = "fault(" + transport + ")";
  return StrCat(ModeName(options.mode), "/", options.size, "/", transport,
                options.shuffle ? "/shuffle" : "", "/seed", options.seed);
}

uint64_t RankEnv::seed() const {
  return internal::MixSeed(options().seed, static_cast<uint64_t>(rank()));
}

Deadline RankEnv::deadline() const { return Deadline::After(options().timeout); }

Status RankEnv::Wait(Request& request, std::string_view what) {
  return WaitRequest(transport(), request, deadline(), what);
}

Status RankEnv::WaitAll(std::span<Request* const> requests, std::string_view what) {
  return ::tidal::WaitAll(transport(), requests, deadline(), what);
}

Status RankEnv::WaitFor(const std::function<bool()>& done, std::string_view what) {
  if (options().transport != TransportKind::kNone) {
    return WaitUntil(transport(), done, deadline(), what);
  }
  const Deadline until = deadline();
  while (!done()) {
    if (until.Expired()) return TimedOutError("rank ", rank(), ": timed out waiting for ", what);
    Yield();
  }
  return Status::Ok();
}

void RunWorld(const WorldOptions& options, const std::function<void(RankEnv&)>& body) {
  internal::InstallListenerOnce();
  ASSERT_GE(options.size, 1) << "a world needs at least one rank";
  switch (options.mode) {
    case Mode::kCooperative:
      internal::RunCooperative(options, body);
      return;
    case Mode::kThreads:
      internal::RunThreads(options, body);
      return;
    case Mode::kProcesses:
      internal::RunProcesses(options, body);
      return;
  }
}

}  // namespace tidal::testing
