// PerfWorld: how a perf tool joins its job until the Communicator API exists. It reads the launch
// environment (tidalrun, torchrun, Open MPI, Slurm; comm/launch_env.h), connects to the job's TCP
// store and builds the UCX transport of the world. When Communicator::CreateWorld lands, perf tools
// switch to it by changing ConnectPerfWorld only.
//
// Not for library code: it prints nothing, but owns process-wide choices (the store client, the
// UCX context of the process).
//
// Thread safety: a PerfWorld is driven by one thread, like its transport.
#pragma once

#include <memory>
#include <string_view>

#include "tidal/comm/launch_env.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/store/tcp_store.h"
#include "tidal/transport/ucx/ucx_transport.h"

namespace tidal::perf {

struct PerfWorld {
  LaunchInfo launch;
  std::unique_ptr<TcpStore> store;
  std::unique_ptr<UcxTransport> transport;  // destroy before `store` (declaration order)

  int rank() const { return launch.rank; }
  int size() const { return launch.size; }
};

// Joins the job: ReadLaunchEnv -> TcpStore::Connect(TcpStoreOptions::FromEnv()) ->
// ConnectUcxWorld(store, prefix, rank, size). Every wait ends by `deadline`. Returns
// kInvalidArgument for a malformed environment or one without a store (e.g. not started by
// tidalrun), kTimedOut / kUnavailable when the store or a peer cannot be reached.
Result<PerfWorld> ConnectPerfWorld(std::string_view prefix, Deadline deadline);

}  // namespace tidal::perf
