// Liveness over real UCX: one of 4 ranks is SIGKILLed in the middle of a large transfer; the
// harness's parent posts its death to the store as tidalrun does, and the other 3 ranks' pending
// receives return kUnavailable naming it within twice the deadline, over shared memory (where
// UCX itself cannot tell) and over TCP.
//
// Shared memory runs as "posix,sysv,self", not "sm,self": with "sm" UCX 1.13 moves large messages
// with CMA (process_vm_readv), and a CMA read from a process that has died is a fatal error in
// UCX ("process_vm_readv ... No such process", then abort) that kills the receiving rank too.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "harness/world.h"
#include "tidal/comm/communicator.h"
#include "tidal/progress/engine.h"

namespace tidal {
namespace {

using testing::Mode;
using testing::RankEnv;
using testing::RunWorld;
using testing::TransportKind;
using testing::WorldOptions;

constexpr auto kDeadline = std::chrono::milliseconds(2000);
constexpr size_t kChunk = size_t{16} << 20;
constexpr int kVictim = 3;

void Body(RankEnv& env) {
  LivenessOptions liveness;
  liveness.poll_period = std::chrono::milliseconds(100);
  auto engine = Engine::CreateBorrowed(
      env.transport(),
      LivenessWatcher::StartBorrowed(env.store(), env.rank(), env.size(), liveness, nullptr));
  CommOptions options;
  options.timeout = kDeadline;
  options.placement = Placement{"host", -1, -1, env.rank()};
  Result<std::unique_ptr<Communicator>> made =
      Communicator::CreateOver(std::move(engine), env.store(), options);
  ASSERT_TRUE(made.ok()) << made.status();
  Communicator& comm = **made;
  ASSERT_OK(comm.Barrier());
  std::vector<uint8_t> buffer(kChunk, static_cast<uint8_t>(env.rank()));
  if (env.rank() == kVictim) {
    // Large sends to rank 0 until the killer thread ends this process mid-transfer.
    std::thread killer([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ::kill(::getpid(), SIGKILL);
    });
    killer.detach();
    while (true) comm.Send(0, buffer.data(), buffer.size()).IgnoreError();
  }
  const auto start = std::chrono::steady_clock::now();
  Status st;
  while (st.ok()) {
    // Rank 0 receives the large messages; the others wait for one that never comes.
    st = env.rank() == 0 ? comm.Recv(kVictim, buffer.data(), buffer.size())
                         : comm.Recv(kVictim, buffer.data(), 1, /*tag=*/1);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st;
  EXPECT_NE(st.ToString().find("rank 3"), std::string::npos) << st;
  EXPECT_LT(took, 2 * kDeadline) << st;
}

class CommLivenessUcxTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CommLivenessUcxTest, KilledRankIsReportedToEveryOtherRank) {
  WorldOptions options;
  options.mode = Mode::kProcesses;
  options.transport = TransportKind::kUcx;
  options.size = 4;
  options.timeout = std::chrono::milliseconds(10'000);
  options.ucx_tls = GetParam();
  options.ranks_allowed_to_die = {kVictim};
  RunWorld(options, Body);
}

INSTANTIATE_TEST_SUITE_P(Tls, CommLivenessUcxTest, ::testing::Values("posix,sysv,self", "tcp,self"),
                         [](const auto& param_info) {
                           return std::string(param_info.param[0] == 'p' ? "shm" : "tcp");
                         });

}  // namespace
}  // namespace tidal
