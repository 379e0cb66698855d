#include "tidalrun/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/store/job_keys.h"
#include "tidal/store/tcp_store.h"
#include "tidal/store/tcp_store_server.h"
#include "tidalrun/line_forwarder.h"

namespace tidal::tools {
namespace {

constexpr int kSignals[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT};

void Say(const std::string& text) {
  const std::string line = "tidalrun: " + text + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

Result<std::string> FreshSecret() {
  unsigned char bytes[16];
  if (::getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) {
    return ErrnoError("getrandom", errno);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string secret;
  for (unsigned char b : bytes) {
    secret += kHex[b >> 4];
    secret += kHex[b & 15];
  }
  return secret;
}

std::string DescribeEnd(int rank, int status) {
  if (WIFEXITED(status)) return StrCat("rank ", rank, " exited with code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return StrCat("rank ", rank, " was killed by signal ", sig, " (SIG", name ? name : "?", ")");
  }
  return StrCat("rank ", rank, " ended abnormally");
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

struct Rank {
  pid_t pid = -1;
  bool running = false;
  int status = 0;
  std::unique_ptr<LineForwarder> out;
  std::unique_ptr<LineForwarder> err;
};

class Job {
 public:
  explicit Job(const LaunchOptions& options) : options_(options), ranks_(options.ranks) {}
  int Run();

 private:
  Status StartStore();
  Status SetUpSignals();
  Status Spawn(int rank);
  [[noreturn]] void ExecChild(int rank, int out_fd, int err_fd, char* const* argv,
                              char* const* envp);
  std::vector<std::string> RankEnvironment(int rank) const;
  void Loop();
  void OnSignal();
  void ReapChildren();
  void OnRankEnded(int rank, int status);
  void PostDeath(int rank, const std::string& how);
  void SignalAll(int sig);
  void Escalate();
  bool AnyRunning() const;
  bool AnyPipeOpen() const;
  Deadline NextDeadline() const;

  const LaunchOptions& options_;
  std::vector<Rank> ranks_;
  std::unique_ptr<TcpStoreServer> server_;
  std::unique_ptr<TcpStore> client_;
  std::string secret_;
  int signal_fd_ = -1;
  sigset_t old_mask_{};
  // What went wrong first, if anything: the job's exit code and why.
  std::optional<int> failure_code_;
  // Escalation: SIGTERM at stop_term_, SIGKILL at stop_kill_.
  std::optional<Deadline> stop_term_;
  std::optional<Deadline> stop_kill_;
  Deadline job_deadline_ = Deadline::Never();
};

Status Job::StartStore() {
  TIDAL_ASSIGN_OR_RETURN(secret_, FreshSecret());
  TcpStoreServerOptions server_options = TcpStoreServerOptions::FromEnv();
  server_options.secret = secret_;
  TIDAL_ASSIGN_OR_RETURN(server_, TcpStoreServer::Start(server_options));
  TcpStoreOptions client_options;
  client_options.host =
      server_options.bind_address == "0.0.0.0" ? "127.0.0.1" : server_options.bind_address;
  client_options.port = server_->port();
  client_options.secret = secret_;
  TIDAL_ASSIGN_OR_RETURN(client_, TcpStore::Connect(client_options, Deadline::AfterMs(5000)));
  return Status::Ok();
}

Status Job::SetUpSignals() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : kSignals) sigaddset(&mask, sig);
  if (::sigprocmask(SIG_BLOCK, &mask, &old_mask_) != 0) return ErrnoError("sigprocmask", errno);
  signal_fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) return ErrnoError("signalfd", errno);
  return Status::Ok();
}

// Runs in the forked child of a multi-threaded process: only async-signal-safe calls until exec.
void Job::ExecChild(int rank, int out_fd, int err_fd, char* const* argv, char* const* envp) {
  ::setpgid(0, 0);
  ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  ::execvpe(argv[0], argv, envp);
  static constexpr char kMessage[] = "tidalrun: cannot run the program (execvp failed)\n";
  ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  (void)ignored;
  (void)rank;
  ::_exit(127);
}

std::vector<std::string> Job::RankEnvironment(int rank) const {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "TIDAL_", 6) != 0) env.emplace_back(*e);
  }
  // Knobs the user set for the job pass through; the job's identity is tidalrun's to set.
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view var(*e);
    if (var.starts_with("TIDAL_") && !var.starts_with("TIDAL_RANK=") &&
        !var.starts_with("TIDAL_WORLD_SIZE=") && !var.starts_with("TIDAL_LOCAL_") &&
        !var.starts_with("TIDAL_STORE_ADDR=") && !var.starts_with("TIDAL_STORE_PORT=") &&
        !var.starts_with("TIDAL_SECRET=")) {
      env.emplace_back(var);
    }
  }
  const std::string size = std::to_string(options_.ranks);
  env.push_back("TIDAL_RANK=" + std::to_string(rank));
  env.push_back("TIDAL_WORLD_SIZE=" + size);
  env.push_back("TIDAL_LOCAL_RANK=" + std::to_string(rank));
  env.push_back("TIDAL_LOCAL_SIZE=" + size);
  env.push_back("TIDAL_STORE_ADDR=127.0.0.1");
  env.push_back("TIDAL_STORE_PORT=" + std::to_string(server_->port()));
  env.push_back("TIDAL_SECRET=" + secret_);
  return env;
}

Status Job::Spawn(int rank) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    return ErrnoError("pipe2", errno);
  }
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
  const std::vector<std::string> env = RankEnvironment(rank);
  std::vector<char*> envp;
  for (const std::string& var : env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (const std::string& arg : options_.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(StrCat("fork of rank ", rank), errno);
  if (pid == 0) ExecChild(rank, out[1], err[1], argv.data(), envp.data());
  ::setpgid(pid, pid);  // also here, so that signalling the group cannot race the child's call
  ::close(out[1]);
  ::close(err[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  Rank& r = ranks_[static_cast<size_t>(rank)];
  const std::string prefix = options_.tag_output ? StrCat("[", rank, "] ") : std::string();
  r.pid = pid;
  r.running = true;
  r.out = std::make_unique<LineForwarder>(out[0], STDOUT_FILENO, prefix);
  r.err = std::make_unique<LineForwarder>(err[0], STDERR_FILENO, prefix);
  return Status::Ok();
}

void Job::PostDeath(int rank, const std::string& how) {
  const Deadline deadline = Deadline::AfterMs(1000);
  Status st = SetString(*client_, DeathKey(rank), how, deadline);
  if (st.ok()) st = client_->Add(kDeathCountKey, 1, deadline).status();
  if (!st.ok())
    Say("could not post the death of rank " + std::to_string(rank) + ": " + st.ToString());
}

void Job::SignalAll(int sig) {
  for (const Rank& r : ranks_) {
    if (r.running) ::kill(-r.pid, sig);
  }
}

void Job::OnRankEnded(int rank, int status) {
  Rank& r = ranks_[static_cast<size_t>(rank)];
  r.running = false;
  r.status = status;
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (clean) return;
  const std::string how = DescribeEnd(rank, status);
  PostDeath(rank, how);
  if (failure_code_.has_value()) return;  // already stopping: later deaths are consequences
  failure_code_ = ExitCodeOf(status);
  Say(how + "; stopping the other ranks");
  stop_term_ = Deadline::After(options_.grace);
}

void Job::ReapChildren() {
  while (true) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (size_t i = 0; i < ranks_.size(); ++i) {
      if (ranks_[i].pid == pid && ranks_[i].running) OnRankEnded(static_cast<int>(i), status);
    }
  }
}

void Job::OnSignal() {
  signalfd_siginfo info;
  while (::read(signal_fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    const int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) continue;  // reaped below
    if (failure_code_.has_value() && stop_kill_.has_value()) {
      SignalAll(SIGKILL);  // a second interrupt while stopping: no more patience
      continue;
    }
    Say(StrCat("received signal ", sig, "; forwarding it to every rank"));
    SignalAll(sig);
    if (!failure_code_.has_value()) failure_code_ = 128 + sig;
    stop_term_ = Deadline::Now();
    stop_kill_ = Deadline::After(options_.grace);
  }
  ReapChildren();
}

void Job::Escalate() {
  if (!job_deadline_.is_never() && job_deadline_.Expired() && !failure_code_.has_value()) {
    Say(StrCat("timed out after ", options_.timeout.count(), " ms; stopping every rank"));
    failure_code_ = 124;
    stop_term_ = Deadline::Now();
  }
  if (stop_term_.has_value() && stop_term_->Expired()) {
    SignalAll(SIGTERM);
    stop_term_.reset();
    stop_kill_ = Deadline::After(options_.grace);
  }
  if (stop_kill_.has_value() && stop_kill_->Expired()) {
    SignalAll(SIGKILL);
    stop_kill_.reset();
  }
}

bool Job::AnyRunning() const {
  for (const Rank& r : ranks_) {
    if (r.running) return true;
  }
  return false;
}

bool Job::AnyPipeOpen() const {
  for (const Rank& r : ranks_) {
    if ((r.out && r.out->open()) || (r.err && r.err->open())) return true;
  }
  return false;
}

Deadline Job::NextDeadline() const {
  Deadline next = job_deadline_;
  if (stop_term_.has_value()) next = Deadline::Min(next, *stop_term_);
  if (stop_kill_.has_value()) next = Deadline::Min(next, *stop_kill_);
  return next;
}

void Job::Loop() {
  // Once every rank is gone, pipes held open by their own children get a short drain period.
  std::optional<Deadline> drain;
  while (AnyRunning() || (AnyPipeOpen() && !(drain && drain->Expired()))) {
    if (!AnyRunning() && !drain) drain = Deadline::AfterMs(500);
    std::vector<pollfd> fds{{signal_fd_, POLLIN, 0}};
    std::vector<LineForwarder*> forwarders{nullptr};
    for (Rank& r : ranks_) {
      for (LineForwarder* f : {r.out.get(), r.err.get()}) {
        if (f && f->open()) {
          fds.push_back({f->fd(), POLLIN, 0});
          forwarders.push_back(f);
        }
      }
    }
    const Deadline wake = drain ? Deadline::Min(*drain, NextDeadline()) : NextDeadline();
    ::poll(fds.data(), fds.size(), wake.PollTimeoutMs());
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) forwarders[i]->OnReadable();
    }
    if (fds[0].revents != 0) OnSignal();
    ReapChildren();
    Escalate();
  }
}

int Job::Run() {
  // Signals are blocked before the store's thread starts, so that it inherits the mask and every
  // SIGCHLD reaches the signalfd instead of being discarded by that thread.
  if (Status st = SetUpSignals(); !st.ok()) {
    Say(st.ToString());
    return 1;
  }
  if (Status st = StartStore(); !st.ok()) {
    Say("cannot start the rendezvous store: " + st.ToString());
    return 1;
  }
  if (options_.timeout.count() > 0) job_deadline_ = Deadline::After(options_.timeout);
  for (int rank = 0; rank < options_.ranks; ++rank) {
    if (Status st = Spawn(rank); !st.ok()) {
      Say(st.ToString() + "; stopping the ranks already started");
      failure_code_ = 1;
      stop_term_ = Deadline::Now();
      break;
    }
  }
  Loop();
  for (Rank& r : ranks_) {
    if (r.out) r.out->Close();
    if (r.err) r.err->Close();
  }
  return failure_code_.value_or(0);
}

}  // namespace

int Launch(const LaunchOptions& options) {
  Job job(options);
  return job.Run();
}

}  // namespace tidal::tools
