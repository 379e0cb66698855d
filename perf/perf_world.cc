#include "perf_world.h"

#include <utility>

namespace tidal::perf {

Result<PerfWorld> ConnectPerfWorld(std::string_view prefix, Deadline deadline) {
  PerfWorld world;
  TIDAL_ASSIGN_OR_RETURN(world.launch, ReadLaunchEnv(ProcessEnv()));
  if (world.launch.hosts_store || world.launch.store_host.empty()) {
    return InvalidArgumentError("rank ", world.launch.rank,
                                ": no rendezvous store to join (launcher ",
                                LauncherName(world.launch.launcher),
                                "): start the job with tidalrun, e.g. "
                                "`tidalrun -n 2 <prog>`");
  }
  TIDAL_ASSIGN_OR_RETURN(TcpStoreOptions options, TcpStoreOptions::FromEnv());
  TIDAL_ASSIGN_OR_RETURN(world.store, TcpStore::Connect(options, deadline));
  TIDAL_ASSIGN_OR_RETURN(world.transport, ConnectUcxWorld(*world.store, prefix, world.launch.rank,
                                                          world.launch.size, deadline));
  return world;
}

}  // namespace tidal::perf
