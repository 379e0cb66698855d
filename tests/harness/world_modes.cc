// The in-process modes: cooperative (fibers on one thread) and threads.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "harness/fiber.h"
#include "harness/world_internal.h"
#include "tidal/store/in_proc_store.h"
#include "tidal/transport/wait.h"

namespace tidal::testing::internal {
namespace {

struct InProcRanks {
  std::unique_ptr<InProcStore> store;
  std::vector<std::unique_ptr<RankEnvImpl>> envs;
};

InProcRanks MakeRanks(const WorldOptions& options) {
  InProcRanks ranks;
  ranks.store = std::make_unique<InProcStore>();
  std::unique_ptr<InProcWorld> world;
  if (options.transport == TransportKind::kInProc) world = InProcWorld::Create(options);
  TIDAL_CHECK(options.transport != TransportKind::kUcx)
      << "UCX runs in processes mode only (one UCX context per process)";
  for (int r = 0; r < options.size; ++r) {
    FaultTransport* fault = nullptr;
    std::unique_ptr<Transport> transport = world ? world->CreateTransport(r, &fault) : nullptr;
    ranks.envs.push_back(
        std::make_unique<RankEnvImpl>(options, r, ranks.store.get(), std::move(transport), fault));
  }
  return ranks;
}

void YieldFiber(void* scheduler) { static_cast<FiberScheduler*>(scheduler)->Yield(); }

}  // namespace

void RunCooperative(const WorldOptions& options, const std::function<void(RankEnv&)>& body) {
  const std::string description = DescribeWorld(options);
  Watchdog watchdog(options, description);
  InProcRanks ranks = MakeRanks(options);
  FiberScheduler scheduler;
  for (auto& env : ranks.envs) {
    RankEnvImpl* rank_env = env.get();
    scheduler.Add([&body, rank_env] {
      RunBody(body, *rank_env);
      // A finished rank keeps its transport alive (peers may still be receiving its eager
      // messages or rendezvous sends); it is shut down after every rank returned.
    });
  }
  scheduler.set_on_switch_in([&description](int rank) { SetCurrentRank(rank, &description); });
  const WaitHookSlot previous = SetThreadWaitHook({&YieldFiber, &scheduler});
  scheduler.Run();
  SetThreadWaitHook(previous);
  SetCurrentRank(-1, nullptr);
  for (auto& env : ranks.envs) env->Shutdown();
}

void RunThreads(const WorldOptions& options, const std::function<void(RankEnv&)>& body) {
  const std::string description = DescribeWorld(options);
  Watchdog watchdog(options, description);
  InProcRanks ranks = MakeRanks(options);
  std::vector<std::thread> threads;
  threads.reserve(ranks.envs.size());
  for (auto& env : ranks.envs) {
    RankEnvImpl* rank_env = env.get();
    threads.emplace_back([&body, &description, rank_env] {
      SetCurrentRank(rank_env->rank(), &description);
      RunBody(body, *rank_env);
      SetCurrentRank(-1, nullptr);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (auto& env : ranks.envs) env->Shutdown();
}

}  // namespace tidal::testing::internal
