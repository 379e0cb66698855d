#include "harness/comm_world.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "tidal/progress/engine.h"
#include "tidal/progress/liveness.h"

namespace tidal::testing {

std::unique_ptr<Communicator> MakeCommunicator(RankEnv& env, const CommSetup& setup) {
  LivenessOptions liveness;
  liveness.poll_period = setup.liveness_poll;
  auto engine = Engine::CreateBorrowed(
      env.transport(),
      LivenessWatcher::StartBorrowed(env.store(), env.rank(), env.size(), liveness, nullptr));
  CommOptions options;
  options.timeout = setup.timeout.count() > 0 ? setup.timeout : env.options().timeout;
  int host = setup.layout == Layout::kInterleaved ? env.rank() % 2 : 0;
  if (setup.layout == Layout::kHosts) {
    EXPECT_EQ(setup.hosts.size(), static_cast<size_t>(env.size())) << "CommSetup::hosts";
    if (setup.hosts.size() != static_cast<size_t>(env.size())) return nullptr;
    host = setup.hosts[static_cast<size_t>(env.rank())];
  }
  options.placement = Placement{"h" + std::to_string(host), -1, -1, -1};
  Result<std::unique_ptr<Communicator>> comm =
      Communicator::CreateOver(std::move(engine), env.store(), options);
  EXPECT_TRUE(comm.ok()) << "rank " << env.rank() << ": " << comm.status();
  return comm.ok() ? std::move(comm).value() : nullptr;
}

std::unique_ptr<Communicator> MakeOneHostCommunicator(RankEnv& env) {
  CommSetup setup;
  setup.layout = Layout::kOneHost;
  return MakeCommunicator(env, setup);
}

}  // namespace tidal::testing
