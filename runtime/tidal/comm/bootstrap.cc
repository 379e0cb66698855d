// Communicator::CreateWorld: from the launcher's environment to the world communicator.
#include "tidal/comm/bootstrap.h"

#include <thread>

#include "tidal/comm/communicator.h"
#include "tidal/comm/launch_env.h"
#include "tidal/core/logging.h"
#include "tidal/store/file_store.h"
#include "tidal/store/in_proc_store.h"
#include "tidal/store/tcp_store.h"
#include "tidal/store/tcp_store_server.h"
#include "tidal/topology/topology.h"
#include "tidal/transport/ucx/ucx_transport.h"

namespace tidal {
namespace {

constexpr std::string_view kLeavingKey = "tidal/exit/count";

// Starts the store server when this process hosts it, and connects two clients: one for the
// ranks' calls, one for the liveness watcher (calls on one TcpStore are serialized).
Status OpenStores(const LaunchInfo& launch, CommWorld* world, std::unique_ptr<Store>* watcher_store,
                  Deadline deadline) {
  if (!launch.store_file.empty()) {
    TIDAL_ASSIGN_OR_RETURN(world->owned_store, FileStore::Open(launch.store_file));
    world->store = world->owned_store.get();
    TIDAL_ASSIGN_OR_RETURN(*watcher_store, FileStore::Open(launch.store_file));
    return Status::Ok();
  }
  if (launch.store_host.empty()) {
    world->owned_store = std::make_unique<InProcStore>();
    world->store = world->owned_store.get();
    return Status::Ok();
  }
  if (launch.secret.empty() && launch.rank == 0) {
    TIDAL_LOG(WARN, kComm) << "rank " << launch.rank << ": TIDAL_SECRET is not set: the store "
                           << "admits only loopback clients (single-host jobs)";
  }
  if (launch.hosts_store) {
    TcpStoreServerOptions server = TcpStoreServerOptions::FromEnv();
    server.bind_address = launch.store_bind;
    server.port = launch.store_port;
    server.secret = launch.secret;
    TIDAL_ASSIGN_OR_RETURN(world->server, TcpStoreServer::Start(server));
    TIDAL_LOG(INFO, kComm) << "rank 0 hosts the store on " << world->server->address();
  }
  TcpStoreOptions client{launch.store_host, launch.store_port, launch.secret};
  TIDAL_ASSIGN_OR_RETURN(std::unique_ptr<TcpStore> store, TcpStore::Connect(client, deadline));
  TIDAL_ASSIGN_OR_RETURN(std::unique_ptr<TcpStore> watch, TcpStore::Connect(client, deadline));
  world->owned_store = std::move(store);
  world->store = world->owned_store.get();
  *watcher_store = std::move(watch);
  return Status::Ok();
}

Result<std::shared_ptr<CommWorld>> OpenWorld(const LaunchInfo& launch, const CommOptions& options) {
  const Deadline deadline = Deadline::After(options.timeout);
  auto world = std::make_shared<CommWorld>();
  world->local_rank_hint = launch.local_rank;
  world->size = launch.size;
  world->timeout = options.timeout;
  world->hosts_store = launch.hosts_store;
  world->leaving_barrier = launch.launcher != Launcher::kTidalrun && !launch.store_host.empty();
  std::unique_ptr<Store> watcher_store;
  TIDAL_RETURN_IF_ERROR(OpenStores(launch, world.get(), &watcher_store, deadline));
  TIDAL_ASSIGN_OR_RETURN(
      std::unique_ptr<UcxTransport> transport,
      ConnectUcxWorld(*world->store, "tidal/world", launch.rank, launch.size, deadline));
  std::unique_ptr<LivenessWatcher> watcher;
  if (watcher_store != nullptr && launch.size > 1) {
    const bool heartbeat = launch.launcher != Launcher::kTidalrun;
    TIDAL_ASSIGN_OR_RETURN(LivenessOptions liveness, LivenessOptions::FromEnv(heartbeat));
    if (heartbeat && launch.store_file.empty()) liveness.store_host_rank = 0;
    watcher = LivenessWatcher::Start(std::move(watcher_store), launch.rank, launch.size, liveness,
                                     nullptr);
  }
  world->engine = Engine::Create(std::move(transport), std::move(watcher));
  return world;
}

}  // namespace

Placement DetectPlacement(int local_rank) {
  Result<TopoHost> host = DiscoverHost();
  if (host.ok()) {
    Result<Placement> placement = DetectLocalPlacement(*host, local_rank);
    if (placement.ok()) return *std::move(placement);
  }
  Result<std::string> id = LocalHostId();
  if (!id.ok()) {
    TIDAL_LOG(WARN, kComm) << "host id: " << id.status() << "; using 'localhost'";
  }
  return Placement{id.ok() ? *id : "localhost", -1, -1, local_rank};
}

CommWorld::~CommWorld() {
  engine.reset();  // stops the liveness watcher; the transport flushes
  if (leaving_barrier && store != nullptr) {
    const Deadline deadline = Deadline::After(timeout);
    Result<int64_t> left = store->Add(kLeavingKey, 1, deadline);
    // The host keeps serving until every rank has left (or the deadline passed).
    while (hosts_store && left.ok() && *left < size && !deadline.Expired()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      left = store->Add(kLeavingKey, 0, deadline);
    }
  }
  owned_store.reset();
  server.reset();
}

Result<std::unique_ptr<Communicator>> Communicator::CreateWorld() {
  TIDAL_ASSIGN_OR_RETURN(CommOptions options, CommOptions::FromEnv());
  return CreateWorld(options);
}

Result<std::unique_ptr<Communicator>> Communicator::CreateWorld(const CommOptions& options) {
  TIDAL_ASSIGN_OR_RETURN(LaunchInfo launch, ReadLaunchEnv(ProcessEnv()));
  TIDAL_LOG(INFO, kComm) << "rank " << launch.rank << "/" << launch.size << " launched by "
                         << LauncherName(launch.launcher);
  TIDAL_ASSIGN_OR_RETURN(std::shared_ptr<CommWorld> world, OpenWorld(launch, options));
  return Build(std::move(world), options);
}

}  // namespace tidal
