// Processes mode: every rank is a forked child. The parent hosts a TcpStore server on loopback
// with a fresh secret, forks the children (which wait on a pipe until all exist, so that no child
// inherits another's store connection), then reaps them against the watchdog deadline. A child
// reports failure through its exit code; gtest prints its messages on the child's stdout.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "harness/world_internal.h"
#include "tidal/store/job_keys.h"
#include "tidal/store/tcp_store.h"
#include "tidal/store/tcp_store_server.h"
#include "tidal/transport/ucx/ucx_transport.h"

namespace tidal::testing::internal {
namespace {

std::string FreshSecret() {
  std::random_device device;
  std::string secret;
  for (int i = 0; i < 4; ++i) secret += StrCat(std::hex, device());
  return secret;
}

// The child's side: connect, build the transport, run the body, exit with its verdict.
[[noreturn]] void RunChild(const WorldOptions& options, int rank,
                           const TcpStoreOptions& store_options, int go_fd,
                           const std::string& description,
                           const std::function<void(RankEnv&)>& body) {
  char go = 0;
  const bool released = ::read(go_fd, &go, 1) == 1;
  ::close(go_fd);
  if (!released) std::_Exit(3);
  SetCurrentRank(rank, &description);
  if (!options.ucx_tls.empty()) {
    ::setenv("UCX_TLS", options.ucx_tls.c_str(), 1);
    if (options.ucx_tls.find("tcp") != std::string::npos) ::setenv("UCX_NET_DEVICES", "lo", 1);
  }
  Result<std::unique_ptr<TcpStore>> store =
      TcpStore::Connect(store_options, Deadline::After(options.timeout));
  if (!store.ok()) {
    ADD_FAILURE() << "rank " << rank << ": store connect: " << store.status();
  } else {
    Result<std::unique_ptr<Transport>> transport = CreateProcessTransport(options, **store, rank);
    if (!transport.ok()) {
      ADD_FAILURE() << "rank " << rank << ": transport: " << transport.status();
    } else {
      FaultTransport* fault = nullptr;
      std::unique_ptr<Transport> wrapped =
          MaybeWrapInFault(options, rank, std::move(transport).value(), &fault);
      RankEnvImpl env(options, rank, store->get(), std::move(wrapped), fault);
      RunBody(body, env);
      env.Shutdown();
    }
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(::testing::Test::HasFailure() ? 1 : 0);
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return StrCat("exited with code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return StrCat("was killed by signal ", WTERMSIG(status));
  return "ended abnormally";
}

bool AllowedToDie(const WorldOptions& options, int rank) {
  for (int r : options.ranks_allowed_to_die) {
    if (r == rank) return true;
  }
  return false;
}

// Posts a child's abnormal end to the store as tidalrun does (job_keys.h), so that the other
// ranks' liveness watchers learn of it.
void PostDeath(Store* store, int rank, int status) {
  if (store == nullptr || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) return;
  const Deadline deadline = Deadline::AfterMs(1000);
  Status st =
      SetString(*store, DeathKey(rank), StrCat("rank ", rank, " ", DescribeExit(status)), deadline);
  if (st.ok()) st = store->Add(kDeathCountKey, 1, deadline).status();
  if (!st.ok())
    std::fprintf(stderr, "harness: posting the death of rank %d: %s\n", rank,
                 st.ToString().c_str());
}

// Reaps every child by the deadline, posting abnormal ends to `store`; kills the rest. Returns
// each rank's wait status (-1: killed by the harness after the deadline).
std::vector<int> ReapChildren(const std::vector<pid_t>& pids, Deadline deadline, Store* store) {
  std::vector<int> statuses(pids.size(), -1);
  std::vector<bool> reaped(pids.size(), false);
  size_t remaining = pids.size();
  while (remaining > 0 && !deadline.Expired()) {
    for (size_t r = 0; r < pids.size(); ++r) {
      int status = 0;
      if (!reaped[r] && ::waitpid(pids[r], &status, WNOHANG) == pids[r]) {
        reaped[r] = true;
        statuses[r] = status;
        --remaining;
        PostDeath(store, static_cast<int>(r), status);
      }
    }
    if (remaining > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (size_t r = 0; r < pids.size(); ++r) {
    if (reaped[r]) continue;
    ::kill(pids[r], SIGKILL);
    int status = 0;
    ::waitpid(pids[r], &status, 0);
  }
  return statuses;
}

// The store server runs in a process of its own, forked while this process is still
// single-threaded: forking rank children from a process with a live server thread would hand
// them locks that thread may hold (UCX's memory hooks deadlocked on exactly that). It reports
// its port through `port_pipe` and exits when `stop_fd` reaches end of file.
[[noreturn]] void RunStoreServer(const TcpStoreServerOptions& options, int port_fd, int stop_fd) {
  Result<std::unique_ptr<TcpStoreServer>> server = TcpStoreServer::Start(options);
  const uint16_t port = server.ok() ? (*server)->port() : 0;
  if (!server.ok())
    std::fprintf(stderr, "harness: store server: %s\n", server.status().ToString().c_str());
  ssize_t ignored = ::write(port_fd, &port, sizeof(port));
  (void)ignored;
  ::close(port_fd);
  char byte;
  while (::read(stop_fd, &byte, 1) > 0) {
  }
  if (server.ok()) (*server)->Stop();
  std::_Exit(0);
}

// Starts the store server process; returns its pid and port (0 on failure).
pid_t StartStoreProcess(const TcpStoreServerOptions& options, int stop_pipe[2], uint16_t* port) {
  int port_pipe[2];
  *port = 0;
  if (::pipe(port_pipe) != 0 || ::pipe(stop_pipe) != 0) return -1;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(port_pipe[0]);
    ::close(stop_pipe[1]);
    RunStoreServer(options, port_pipe[1], stop_pipe[0]);
  }
  ::close(port_pipe[1]);
  ::close(stop_pipe[0]);
  if (pid > 0 && ::read(port_pipe[0], port, sizeof(*port)) != static_cast<ssize_t>(sizeof(*port))) {
    *port = 0;
  }
  ::close(port_pipe[0]);
  return pid;
}

}  // namespace

void RunProcesses(const WorldOptions& options, const std::function<void(RankEnv&)>& body) {
  const std::string description = DescribeWorld(options);
  TcpStoreServerOptions server_options;
  server_options.secret = FreshSecret();
  int stop_pipe[2] = {-1, -1};
  uint16_t port = 0;
  const pid_t server_pid = StartStoreProcess(server_options, stop_pipe, &port);
  ASSERT_GT(server_pid, 0) << "fork of the store server failed";
  // Stops the server process however this function returns.
  const auto stop_server = [&] {
    ::close(stop_pipe[1]);
    int status = 0;
    ::waitpid(server_pid, &status, 0);
  };
  if (port == 0) {
    stop_server();
    FAIL() << "the store server did not start";
  }
  TcpStoreOptions store_options;
  store_options.port = port;
  store_options.secret = server_options.secret;

  int go_pipe[2];
  ASSERT_EQ(::pipe(go_pipe), 0);
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids;
  for (int r = 0; r < options.size; ++r) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(go_pipe[1]);
      RunChild(options, r, store_options, go_pipe[0], description, body);
    }
    ASSERT_GT(pid, 0) << "fork of rank " << r << " failed";
    pids.push_back(pid);
  }
  ::close(go_pipe[0]);
  const std::string go(pids.size(), 'g');
  EXPECT_EQ(::write(go_pipe[1], go.data(), go.size()), static_cast<ssize_t>(go.size()));
  ::close(go_pipe[1]);

  Result<std::unique_ptr<TcpStore>> parent_store =
      TcpStore::Connect(store_options, Deadline::After(options.timeout));
  const std::vector<int> statuses = ReapChildren(pids, Deadline::After(3 * options.timeout),
                                                 parent_store.ok() ? parent_store->get() : nullptr);
  for (int r = 0; r < options.size; ++r) {
    const int status = statuses[static_cast<size_t>(r)];
    if (status == -1) {
      ADD_FAILURE() << "rank " << r << " of world " << description
                    << " was still running at the watchdog deadline and was killed";
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !AllowedToDie(options, r)) {
      ADD_FAILURE() << "rank " << r << " of world " << description << " " << DescribeExit(status)
                    << " (its messages are above)";
    }
  }
  parent_store = Status(StatusCode::kAborted, "world finished");  // disconnect before stopping
  stop_server();
}

Result<std::unique_ptr<Transport>> CreateProcessTransport(const WorldOptions& options, Store& store,
                                                          int rank) {
  switch (options.transport) {
    case TransportKind::kNone:
      return std::unique_ptr<Transport>();
    case TransportKind::kInProc:
      return InvalidArgumentError("rank ", rank,
                                  ": the in-process transport cannot join processes");
    case TransportKind::kUcx: {
      // One UCX context per process, created here in the child (never before fork()).
      TIDAL_ASSIGN_OR_RETURN(
          std::unique_ptr<UcxTransport> ucx,
          ConnectUcxWorld(store, "world", rank, options.size, Deadline::After(options.timeout)));
      return std::unique_ptr<Transport>(std::move(ucx));
    }
  }
  return InternalError("unknown transport kind");
}

}  // namespace tidal::testing::internal
