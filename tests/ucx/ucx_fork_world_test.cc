// The fork-based world of the UCX tests (ucx_fork_world.h), and tests of the world itself: a
// failing or killed child is reported, never hidden.
#include "ucx/ucx_fork_world.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"
#include "tidal/transport/wait.h"

#ifdef TIDAL_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

namespace tidal::testing {

std::string UcxTlsName(UcxTls tls) {
  switch (tls) {
    case UcxTls::kTcp:
      return "tcp";
    case UcxTls::kSm:
      return "sm";
    case UcxTls::kDefault:
      return "default";
  }
  return "?";
}

namespace {

namespace fs = std::filesystem;

void SetChildEnvironment(UcxTls tls) {
  // The child is single-threaded here, before UCX starts: setenv is safe.
  if (tls == UcxTls::kTcp) {
    setenv("UCX_TLS", "tcp,self", 1);    // NOLINT(concurrency-mt-unsafe)
    setenv("UCX_NET_DEVICES", "lo", 1);  // NOLINT(concurrency-mt-unsafe)
  } else if (tls == UcxTls::kSm) {
    setenv("UCX_TLS", "sm,self", 1);  // NOLINT(concurrency-mt-unsafe)
  }
}

Status WriteAddress(const fs::path& dir, int rank, const std::vector<uint8_t>& address) {
  const fs::path tmp = dir / StrCat("tmp.", rank);
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(reinterpret_cast<const char*>(address.data()),
              static_cast<std::streamsize>(address.size()));
    if (!out) return IoError("rank ", rank, ": writing ", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, dir / StrCat("addr.", rank), ec);
  if (ec) return IoError("rank ", rank, ": rename: ", ec.message());
  return Status::Ok();
}

Result<std::vector<uint8_t>> ReadAddress(const fs::path& dir, int rank, int peer,
                                         Deadline deadline) {
  const fs::path path = dir / StrCat("addr.", peer);
  while (!fs::exists(path)) {
    if (deadline.Expired()) return TimedOutError("rank ", rank, ": no address from rank ", peer);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Status SetUpChild(const ForkWorldOptions& options, const fs::path& dir, int rank,
                  std::unique_ptr<UcxTransport>* transport) {
  SetThreadLogRank(rank);
  SetProcessLogRank(rank);
  UcxOptions ucx = options.ucx;
  if (KnobIsSet(Knob::kUcxPeerErrors)) {  // the environment overrides the test's choice
    TIDAL_ASSIGN_OR_RETURN(ucx, UcxOptions::FromEnv());
  }
  TIDAL_ASSIGN_OR_RETURN(std::shared_ptr<UcxContext> context, UcxContext::Create(ucx));
  TIDAL_RETURN_IF_ERROR(WriteAddress(dir, rank, context->worker_address()));
  const Deadline deadline = Deadline::After(options.timeout);
  std::vector<std::vector<uint8_t>> addresses(static_cast<size_t>(options.size));
  for (int peer = 0; peer < options.size; ++peer) {
    TIDAL_ASSIGN_OR_RETURN(addresses[peer], ReadAddress(dir, rank, peer, deadline));
  }
  TIDAL_ASSIGN_OR_RETURN(*transport,
                         UcxTransport::Create(std::move(context), rank, options.size, addresses));
  return Status::Ok();
}

[[noreturn]] void RunChild(const ForkWorldOptions& options, const fs::path& dir, int rank,
                           const std::function<void(ForkRank&)>& body) {
  SetChildEnvironment(options.tls);
  int code = 0;
  {
    std::unique_ptr<UcxTransport> transport;
    const Status setup = SetUpChild(options, dir, rank, &transport);
    if (!setup.ok()) {
      std::fprintf(stderr, "[rank %d] setup failed: %s\n", rank, setup.ToString().c_str());
      std::fflush(stderr);
      _exit(kExitSetupFailed);
    }
    ForkRank env(options, rank, *transport, dir.string());
    body(env);
    if (options.final_barrier && !::testing::Test::HasFailure()) {
      const Status barrier = ForkBarrier(env, 0xfff);
      EXPECT_TRUE(barrier.ok()) << "final barrier: " << barrier;
    }
    if (::testing::Test::HasFailure()) {
      std::printf("[rank %d of %s] FAILED\n", rank, UcxTlsName(options.tls).c_str());
      code = 1;
    }
  }  // transport and context destroyed here
#ifdef TIDAL_SANITIZED
  if (code == 0 && __lsan_do_recoverable_leak_check() != 0) code = kExitLeaks;
#endif
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(code);
}

}  // namespace

void ForkRank::SetFlag(std::string_view name) const {
  std::ofstream(fs::path(dir_) / StrCat("flag.", name)) << rank_;
}

Status ForkRank::WaitFlag(std::string_view name, Deadline deadline) {
  const fs::path path = fs::path(dir_) / StrCat("flag.", name);
  while (!fs::exists(path)) {
    if (deadline.Expired()) return TimedOutError("rank ", rank_, ": no flag ", name);
    // Keep serving the peers (UCX wire-up needs both sides to progress).
    for (int i = 0; i < 100; ++i) transport_.Progress();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

Status ForkBarrier(ForkRank& rank, uint32_t round) {
  Transport& t = rank.transport();
  const int n = rank.size();
  std::vector<Request> requests(2 * static_cast<size_t>(n));
  std::vector<Request*> pointers;
  for (int peer = 0; peer < n; ++peer) {
    const Tag tag = MakeTag(TagLayout::kMaxComms - 1, round, 0, 0);
    TIDAL_RETURN_IF_ERROR(t.PostRecv(peer, tag, nullptr, 0, &requests[2 * peer]));
    TIDAL_RETURN_IF_ERROR(t.PostSend(peer, tag, nullptr, 0, &requests[2 * peer + 1]));
    pointers.push_back(&requests[2 * peer]);
    pointers.push_back(&requests[2 * peer + 1]);
  }
  return WaitAll(t, pointers, rank.deadline(), "barrier");
}

std::vector<ForkOutcome> RunForked(const ForkWorldOptions& options,
                                   const std::function<void(ForkRank&)>& body) {
  char pattern[] = "/tmp/tidal-ucx-test-XXXXXX";
  const char* made = mkdtemp(pattern);
  EXPECT_NE(made, nullptr) << "mkdtemp";
  if (made == nullptr) return {};
  const fs::path dir(made);
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids;
  for (int rank = 0; rank < options.size; ++rank) {
    const pid_t pid = fork();
    if (pid == 0) RunChild(options, dir, rank, body);
    EXPECT_GT(pid, 0) << "fork";
    pids.push_back(pid);
  }
  std::vector<ForkOutcome> outcomes(pids.size());
  const Deadline watchdog = Deadline::After(3 * options.timeout);
  size_t left = pids.size();
  while (left > 0) {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (pids[i] <= 0) continue;
      int wstatus = 0;
      const pid_t got = waitpid(pids[i], &wstatus, WNOHANG);
      if (got == 0) continue;
      outcomes[i].rank = static_cast<int>(i);
      outcomes[i].exited = got > 0 && WIFEXITED(wstatus);
      outcomes[i].exit_code = outcomes[i].exited ? WEXITSTATUS(wstatus) : -1;
      outcomes[i].signal = got > 0 && WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
      pids[i] = 0;
      --left;
    }
    if (left == 0) break;
    if (watchdog.Expired()) {
      ADD_FAILURE() << "watchdog: killing ranks still running after " << 3 * options.timeout.count()
                    << " ms";
      for (pid_t pid : pids) {
        if (pid > 0) kill(pid, SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return outcomes;
}

namespace {

ForkWorldOptions TwoRanksNoBarrier() {
  ForkWorldOptions options;
  options.final_barrier = false;
  return options;
}

TEST(UcxForkWorld, ReportsAFailingRank) {
  // Rank 1 leaves only once rank 0 has set up its endpoints (else rank 0's setup may fail).
  const std::vector<ForkOutcome> outcomes = RunForked(TwoRanksNoBarrier(), [](ForkRank& env) {
    if (env.rank() == 0) env.SetFlag("ready");
    if (env.rank() == 1 && env.WaitFlag("ready", env.deadline()).ok()) _exit(7);
  });
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_TRUE(outcomes[0].ok());
  EXPECT_TRUE(outcomes[1].exited);
  EXPECT_EQ(outcomes[1].exit_code, 7);
}

TEST(UcxForkWorld, ReportsAKilledRank) {
  const std::vector<ForkOutcome> outcomes = RunForked(TwoRanksNoBarrier(), [](ForkRank& env) {
    if (env.rank() == 1) env.SetFlag("ready");
    if (env.rank() == 0 && env.WaitFlag("ready", env.deadline()).ok()) raise(SIGKILL);
  });
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_FALSE(outcomes[0].exited);
  EXPECT_EQ(outcomes[0].signal, SIGKILL);
  EXPECT_TRUE(outcomes[1].ok());
}

}  // namespace
}  // namespace tidal::testing
