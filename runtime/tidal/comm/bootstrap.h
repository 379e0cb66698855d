// Bootstrap: what every communicator of a process shares, and how the world communicator finds
// its peers. CommWorld holds the rendezvous store (and its server when this process hosts it),
// and the progress engine with its transport and liveness watcher. The last communicator to go
// destroys it: the engine first (its transport flushes), then, when a rank hosts the store, a
// leaving barrier in the store ("tidal/exit/count") so that the host does not stop its server
// while the others still use it, then the store client and server.
//
// Thread safety: CommWorld is immutable after creation (the store and engine are thread-safe).
#pragma once

#include <chrono>
#include <memory>

#include "tidal/progress/engine.h"
#include "tidal/store/store.h"
#include "tidal/store/tcp_store_server.h"
#include "tidal/topology/placement.h"

namespace tidal {

struct CommWorld {
  CommWorld() = default;
  ~CommWorld();
  CommWorld(const CommWorld&) = delete;
  CommWorld& operator=(const CommWorld&) = delete;

  std::unique_ptr<TcpStoreServer> server;  // when this process hosts the store
  std::unique_ptr<Store> owned_store;
  Store* store = nullptr;
  std::shared_ptr<Engine> engine;
  int local_rank_hint = -1;  // the launcher's local rank, for the placement
  // Ranks meet in the store before the store's host stops its server.
  bool leaving_barrier = false;
  bool hosts_store = false;
  int size = 1;
  std::chrono::milliseconds timeout{10'000};
};

// This process's placement: host id (TIDAL_HOST_ID or the host name) and, when hwloc can tell, the
// NUMA node and core it is bound to. Never fails: unknown fields stay -1.
Placement DetectPlacement(int local_rank);

}  // namespace tidal
