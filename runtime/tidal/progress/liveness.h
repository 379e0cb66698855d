// Liveness: how a rank learns that another rank of its job died (DESIGN.md, Liveness). UCX reports
// dead peers only on transports with peer-failure support, so deaths also travel through the
// rendezvous store, under the keys of store/job_keys.h:
//   - tidalrun posts "tidal/dead/<r>" = how rank r ended, then Adds 1 to "tidal/dead/count";
//   - under other launchers (torchrun, Open MPI, Slurm) every rank Adds 1 to
//     "tidal/heartbeat/<r>" every heartbeat period and watches the counters of the next
//     `watched_peers` ranks (r+1, r+2, ... modulo the size); a counter that has not moved for
//     heartbeat_timeout gets its rank posted dead by whoever notices first (a claim key
//     "tidal/dead/claim/<r>" makes the first one win);
//   - when the store's host rank (rank 0 under those launchers) is unreachable for
//     heartbeat_timeout, that rank is taken for dead locally.
//
// LivenessWatcher runs one thread with its own store client (calls on one TcpStore are
// serialized, so it must not share the ranks' client). Every poll period (TIDAL_LIVENESS_POLL_MS,
// default 100 ms) it makes one cheap call, Check("tidal/dead/count"), and reads the death keys
// only when the count changed; so an idle rank costs one small store round trip per period.
// A new death is recorded and the `wake` callback runs (the engine signals its transport); the
// engine reads deaths() from its driving thread and fails the dead rank's requests.
//
// HeartbeatMonitor is the watcher's pure bookkeeping, tested on its own.
//
// Thread safety: LivenessWatcher's methods are thread-safe; `wake` runs on the watcher thread.
// HeartbeatMonitor is not thread-safe (the watcher thread owns it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tidal/core/mutex.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/store/store.h"

namespace tidal {

// A rank known dead: `why` is kUnavailable "rank r died: <how>".
struct Death {
  int rank = -1;
  Status why;
};

// The status a death turns into: kUnavailable "rank <r> died: <how>" (a leading "rank <r> " of
// `how`, as tidalrun writes it, is not repeated).
Status DeathStatus(int rank, std::string_view how);

inline std::string HeartbeatKey(int rank) { return "tidal/heartbeat/" + std::to_string(rank); }
inline std::string DeathClaimKey(int rank) { return "tidal/dead/claim/" + std::to_string(rank); }

struct LivenessOptions {
  // How often the watcher checks the death count (TIDAL_LIVENESS_POLL_MS).
  std::chrono::milliseconds poll_period{100};
  // Heartbeat period; zero disables heartbeats (tidalrun posts deaths itself).
  // TIDAL_HEARTBEAT_MS.
  std::chrono::milliseconds heartbeat_period{0};
  // A heartbeat counter that has not moved for this long means its rank died.
  // TIDAL_HEARTBEAT_TIMEOUT_MS.
  std::chrono::milliseconds heartbeat_timeout{30'000};
  // How many following ranks each rank watches.
  int watched_peers = 2;
  // The rank hosting the store (-1: none of the ranks, e.g. tidalrun hosts it).
  int store_host_rank = -1;
  // Reads the knobs; `heartbeat` says whether the launcher needs heartbeats (all but tidalrun).
  // kInvalidArgument naming a malformed knob.
  static Result<LivenessOptions> FromEnv(bool heartbeat);
};

// Which peers' heartbeats a rank watches and when they stopped. Pure bookkeeping.
class HeartbeatMonitor {
 public:
  // Watches ranks rank+1 .. rank+watched (mod size), never itself. `start` counts as every
  // watched rank's last beat.
  HeartbeatMonitor(int rank, int size, int watched, std::chrono::milliseconds timeout,
                   Clock::time_point start);
  const std::vector<int>& watched() const { return watched_; }
  // Records peer's counter (-1: no counter yet) as seen at `now`.
  void Observe(int peer, int64_t value, Clock::time_point now);
  // Watched peers whose counter has not changed for longer than the timeout; each is returned
  // once and then forgotten.
  std::vector<int> TakeExpired(Clock::time_point now);
  // Stops watching `peer` (known dead).
  void Forget(int peer);

 private:
  struct Peer {
    int rank;
    int64_t value = -1;
    Clock::time_point changed;
    bool active = true;
  };
  std::vector<int> watched_;
  std::vector<Peer> peers_;
  std::chrono::milliseconds timeout_;
};

class LivenessWatcher {
 public:
  // Starts the watcher thread for `rank` of `size`, polling `store` (owned by the watcher: give
  // it a client of its own). `wake` runs on the watcher thread after a new death was recorded.
  // REQUIRES: 0 <= rank < size; store != nullptr.
  static std::unique_ptr<LivenessWatcher> Start(std::unique_ptr<Store> store, int rank, int size,
                                                const LivenessOptions& options,
                                                std::function<void()> wake);
  // As Start, with a store the caller keeps alive longer than the watcher (in-process tests).
  static std::unique_ptr<LivenessWatcher> StartBorrowed(Store& store, int rank, int size,
                                                        const LivenessOptions& options,
                                                        std::function<void()> wake);
  // Stops and joins the thread.
  ~LivenessWatcher();
  LivenessWatcher(const LivenessWatcher&) = delete;
  LivenessWatcher& operator=(const LivenessWatcher&) = delete;

  // Sets the wake-up callback (the engine installs its own). Thread-safe.
  void SetWake(std::function<void()> wake) TIDAL_EXCLUDES(mu_);
  // Deaths known so far, in the order they were learned; the first `from` are skipped.
  std::vector<Death> DeathsSince(size_t from) const TIDAL_EXCLUDES(mu_);
  size_t death_count() const { return death_count_.load(std::memory_order_acquire); }
  // Posts rank `rank`'s death to the store (key, then count), e.g. this rank's own Abort. Blocks
  // for at most `deadline`.
  Status Post(int rank, std::string_view how, Deadline deadline);
  // Stops the thread (idempotent). Called before the store's server may go away.
  void Stop() TIDAL_EXCLUDES(mu_);
  const LivenessOptions& options() const { return options_; }

 private:
  LivenessWatcher(std::unique_ptr<Store> owned, Store* store, int rank, int size,
                  const LivenessOptions& options, std::function<void()> wake);
  void Loop() TIDAL_EXCLUDES(mu_);
  void PollDeaths(Deadline deadline);
  void Heartbeat(Deadline deadline);
  void CheckStoreHost(const Status& status);
  void Record(int rank, Status why) TIDAL_EXCLUDES(mu_);
  bool Known(int rank) const TIDAL_EXCLUDES(mu_);

  std::unique_ptr<Store> owned_store_;
  Store* store_;
  const int rank_;
  const int size_;
  const LivenessOptions options_;
  HeartbeatMonitor monitor_;  // watcher thread only
  int64_t seen_count_ = 0;    // watcher thread only
  Clock::time_point last_beat_{};
  Clock::time_point last_store_ok_;
  int failures_logged_ = 0;

  mutable Mutex mu_;
  CondVar cv_;
  bool stop_ TIDAL_GUARDED_BY(mu_) = false;
  std::function<void()> wake_ TIDAL_GUARDED_BY(mu_);
  std::vector<Death> deaths_ TIDAL_GUARDED_BY(mu_);
  std::atomic<size_t> death_count_{0};
  std::thread thread_;
};

}  // namespace tidal
