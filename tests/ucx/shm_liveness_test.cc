// Liveness of the on-host AllReduce (shm/): one of 4 rank processes is SIGKILLed while all of them
// run AllReduces back to back through the shared-memory segment. Nothing in the segment tells a
// waiter that a peer died; the harness's parent posts the death to the store as tidalrun does, and
// every survivor's AllReduce must then fail with kUnavailable naming rank 3 within twice the
// deadline: no hang, no silent wrong answer. Runs with each one-shot reducer (every rank, last
// arriver: there the dead rank may be the one the others wait on for the result) and with a
// buffer that takes the fused protocol.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness/coll_check.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"
#include "tidal/comm/communicator.h"

namespace tidal {
namespace {

using testing::CommSetup;
using testing::Layout;
using testing::MakeCommunicator;
using testing::Mode;
using testing::RankEnv;
using testing::RunWorld;
using testing::TransportKind;
using testing::WorldOptions;

constexpr auto kDeadline = std::chrono::milliseconds(2000);
constexpr int kVictim = 3;

struct Case {
  const char* reducer;  // TIDAL_SHM_REDUCER
  size_t count;         // floats per AllReduce
};

void Body(RankEnv& env, size_t count) {
  CommSetup setup;
  setup.layout = Layout::kOneHost;
  setup.liveness_poll = std::chrono::milliseconds(100);
  setup.timeout = kDeadline;
  std::unique_ptr<Communicator> made = MakeCommunicator(env, setup);
  ASSERT_NE(made, nullptr);
  Communicator& comm = *made;
  std::vector<float> x(count, 1.0f);
  // One AllReduce that everyone completes: the segment is attached and the sum is right.
  ASSERT_OK(coll::AllReduce(comm, x.data(), x.data(), count, coll::DataType::kFloat32,
                            coll::ReduceOp::kSum));
  ASSERT_EQ(x[0], static_cast<float>(env.size()));
  if (env.rank() == kVictim) {
    std::thread killer([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ::kill(::getpid(), SIGKILL);
    });
    killer.detach();
  }
  Status st;
  std::chrono::steady_clock::time_point failed_from = std::chrono::steady_clock::now();
  for (int i = 0; st.ok(); ++i) {
    failed_from = std::chrono::steady_clock::now();
    std::fill(x.begin(), x.end(), 1.0f);
    st = coll::AllReduce(comm, x.data(), x.data(), count, coll::DataType::kFloat32,
                         coll::ReduceOp::kSum);
    if (st.ok()) {
      ASSERT_EQ(x[count - 1], static_cast<float>(env.size())) << "operation " << i;
    }
  }
  ASSERT_NE(env.rank(), kVictim) << st;  // the victim never gets here alive
  const auto took = std::chrono::steady_clock::now() - failed_from;
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st;
  EXPECT_NE(st.ToString().find("rank 3"), std::string::npos) << st;
  EXPECT_NE(st.ToString().find("allreduce"), std::string::npos) << st;
  EXPECT_LT(took, 2 * kDeadline) << st;
}

class ShmLivenessTest : public ::testing::TestWithParam<Case> {
 private:
  testing::ScopedEnv reducer_{"TIDAL_SHM_REDUCER", GetParam().reducer};
};

TEST_P(ShmLivenessTest, KilledRankFailsEverySurvivorNamingIt) {
  WorldOptions options;
  options.mode = Mode::kProcesses;
  options.transport = TransportKind::kUcx;
  options.size = 4;
  options.timeout = std::chrono::milliseconds(10'000);
  options.ucx_tls = "posix,sysv,self";
  options.ranks_allowed_to_die = {kVictim};
  const size_t count = GetParam().count;
  RunWorld(options, [count](RankEnv& env) { Body(env, count); });
}

INSTANTIATE_TEST_SUITE_P(Protocols, ShmLivenessTest,
                         ::testing::Values(Case{"every", 1}, Case{"last", 1}, Case{"last", 1000},
                                           Case{"auto", 100000}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           return std::string(p.param.reducer) + "_" +
                                  std::to_string(p.param.count);
                         });

}  // namespace
}  // namespace tidal
