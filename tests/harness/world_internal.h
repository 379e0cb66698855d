// Internals shared by the harness's three modes (world.cc, world_modes.cc, world_processes.cc).
//
// Thread safety: a RankEnvImpl belongs to its rank's thread or fiber; InProcWorld is used by the
// thread that runs the world; SetCurrentRank is per thread.
#pragma once

#include <memory>
#include <string>

#include "harness/world.h"
#include "tidal/core/check.h"
#include "tidal/transport/inproc/inproc_transport.h"

namespace tidal::testing::internal {

uint64_t MixSeed(uint64_t seed, uint64_t salt);

// One rank's environment, as every mode builds it.
class RankEnvImpl : public RankEnv {
 public:
  RankEnvImpl(const WorldOptions& options, int rank, Store* store,
              std::unique_ptr<Transport> transport, FaultTransport* fault);
  int rank() const override { return rank_; }
  int size() const override { return options_.size; }
  const WorldOptions& options() const override { return options_; }
  Transport& transport() override;
  FaultTransport* fault() override { return fault_; }
  Store& store() override { return *store_; }
  void Yield() override;
  bool has_transport() const { return transport_ != nullptr; }
  // Aborts the transport (if any) and drives it until its requests completed, so that buffers of
  // a failed body are released before the rank's objects are destroyed.
  void Shutdown();

 private:
  const WorldOptions& options_;
  int rank_;
  Store* store_;
  std::unique_ptr<Transport> transport_;
  FaultTransport* fault_;
};

// Creates rank `rank`'s in-process transports for a world: the fabric is shared.
class InProcWorld {
 public:
  static std::unique_ptr<InProcWorld> Create(const WorldOptions& options);
  // The rank's transport, wrapped in a FaultTransport when options.fault is set; *fault receives
  // the wrapper (or nullptr).
  std::unique_ptr<Transport> CreateTransport(int rank, FaultTransport** fault);

 private:
  explicit InProcWorld(const WorldOptions& options) : options_(options) {}
  const WorldOptions& options_;
  std::shared_ptr<InProcFabric> fabric_;
};

// Wraps `inner` in a FaultTransport when options.fault is set.
std::unique_ptr<Transport> MaybeWrapInFault(const WorldOptions& options, int rank,
                                            std::unique_ptr<Transport> inner,
                                            FaultTransport** fault);

// Marks the calling thread (or fiber) as running `rank` of `world` for failure messages and logs.
void SetCurrentRank(int rank, const std::string* world);

// Aborts the process with a message naming the world if it runs past its watchdog.
class Watchdog {
 public:
  Watchdog(const WorldOptions& options, std::string description);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Runs body(env) catching anything thrown, so that one rank's exception becomes a test failure.
void RunBody(const std::function<void(RankEnv&)>& body, RankEnv& env);

void RunCooperative(const WorldOptions& options, const std::function<void(RankEnv&)>& body);
void RunThreads(const WorldOptions& options, const std::function<void(RankEnv&)>& body);
void RunProcesses(const WorldOptions& options, const std::function<void(RankEnv&)>& body);

// Processes mode: the transport a child uses (kNone gives nullptr; kUcx connects through the
// store). Defined in world_processes.cc.
Result<std::unique_ptr<Transport>> CreateProcessTransport(const WorldOptions& options, Store& store,
                                                          int rank);

}  // namespace tidal::testing::internal
