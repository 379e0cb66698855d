#include "tidal/progress/liveness.h"

#include <algorithm>
#include <charconv>

#include "tidal/core/check.h"
#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"
#include "tidal/store/job_keys.h"

namespace tidal {
namespace {

Result<std::chrono::milliseconds> KnobMs(Knob knob, int64_t fallback, int64_t min) {
  TIDAL_ASSIGN_OR_RETURN(int64_t value, KnobInt(knob, fallback));
  if (value < min) {
    return InvalidArgumentError(GetKnobInfo(knob).name, "=", value, " is below ", min);
  }
  return std::chrono::milliseconds(value);
}

std::optional<int64_t> ParseCount(const Bytes& bytes) {
  int64_t value = 0;
  const auto* begin = reinterpret_cast<const char*>(bytes.data());
  const auto [end, error] = std::from_chars(begin, begin + bytes.size(), value);
  if (error != std::errc() || end != begin + bytes.size()) return std::nullopt;
  return value;
}

}  // namespace

Status DeathStatus(int rank, std::string_view how) {
  const std::string prefix = "rank " + std::to_string(rank) + " ";
  if (how.substr(0, prefix.size()) == prefix) how.remove_prefix(prefix.size());
  return UnavailableError("rank ", rank, " died: ", how);
}

Result<LivenessOptions> LivenessOptions::FromEnv(bool heartbeat) {
  LivenessOptions options;
  TIDAL_ASSIGN_OR_RETURN(options.poll_period, KnobMs(Knob::kLivenessPollMs, 100, 1));
  TIDAL_ASSIGN_OR_RETURN(options.heartbeat_period, KnobMs(Knob::kHeartbeatMs, 1000, 0));
  TIDAL_ASSIGN_OR_RETURN(options.heartbeat_timeout, KnobMs(Knob::kHeartbeatTimeoutMs, 30000, 1));
  if (!heartbeat) options.heartbeat_period = std::chrono::milliseconds(0);
  return options;
}

HeartbeatMonitor::HeartbeatMonitor(int rank, int size, int watched,
                                   std::chrono::milliseconds timeout, Clock::time_point start)
    : timeout_(timeout) {
  const int count = std::clamp(watched, 0, std::max(size - 1, 0));
  for (int i = 1; i <= count; ++i) {
    const int peer = (rank + i) % size;
    watched_.push_back(peer);
    peers_.push_back(Peer{peer, -1, start, true});
  }
}

void HeartbeatMonitor::Observe(int peer, int64_t value, Clock::time_point now) {
  for (Peer& p : peers_) {
    if (p.rank != peer || value == p.value) continue;
    p.value = value;
    p.changed = now;
  }
}

std::vector<int> HeartbeatMonitor::TakeExpired(Clock::time_point now) {
  std::vector<int> expired;
  for (Peer& p : peers_) {
    if (p.active && now - p.changed > timeout_) {
      p.active = false;
      expired.push_back(p.rank);
    }
  }
  return expired;
}

void HeartbeatMonitor::Forget(int peer) {
  for (Peer& p : peers_) {
    if (p.rank == peer) p.active = false;
  }
}

std::unique_ptr<LivenessWatcher> LivenessWatcher::Start(std::unique_ptr<Store> store, int rank,
                                                        int size, const LivenessOptions& options,
                                                        std::function<void()> wake) {
  TIDAL_CHECK(store != nullptr);
  Store* raw = store.get();
  std::unique_ptr<LivenessWatcher> watcher(
      new LivenessWatcher(std::move(store), raw, rank, size, options, std::move(wake)));
  watcher->thread_ = std::thread([w = watcher.get()] { w->Loop(); });
  return watcher;
}

std::unique_ptr<LivenessWatcher> LivenessWatcher::StartBorrowed(Store& store, int rank, int size,
                                                                const LivenessOptions& options,
                                                                std::function<void()> wake) {
  std::unique_ptr<LivenessWatcher> watcher(
      new LivenessWatcher(nullptr, &store, rank, size, options, std::move(wake)));
  watcher->thread_ = std::thread([w = watcher.get()] { w->Loop(); });
  return watcher;
}

LivenessWatcher::LivenessWatcher(std::unique_ptr<Store> owned, Store* store, int rank, int size,
                                 const LivenessOptions& options, std::function<void()> wake)
    : owned_store_(std::move(owned)),
      store_(store),
      rank_(rank),
      size_(size),
      options_(options),
      monitor_(rank, size, options.heartbeat_period.count() > 0 ? options.watched_peers : 0,
               options.heartbeat_timeout, Clock::now()),
      last_store_ok_(Clock::now()),
      wake_(std::move(wake)) {
  TIDAL_CHECK(rank >= 0 && rank < size) << "rank " << rank << " of " << size;
}

LivenessWatcher::~LivenessWatcher() { Stop(); }

void LivenessWatcher::Stop() {
  {
    MutexLock lock(&mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void LivenessWatcher::SetWake(std::function<void()> wake) {
  MutexLock lock(&mu_);
  wake_ = std::move(wake);
}

std::vector<Death> LivenessWatcher::DeathsSince(size_t from) const {
  MutexLock lock(&mu_);
  if (from >= deaths_.size()) return {};
  return std::vector<Death>(deaths_.begin() + static_cast<std::ptrdiff_t>(from), deaths_.end());
}

bool LivenessWatcher::Known(int rank) const {
  MutexLock lock(&mu_);
  return std::any_of(deaths_.begin(), deaths_.end(),
                     [rank](const Death& d) { return d.rank == rank; });
}

void LivenessWatcher::Record(int rank, Status why) {
  std::function<void()> wake;
  {
    MutexLock lock(&mu_);
    for (const Death& d : deaths_) {
      if (d.rank == rank) return;
    }
    TIDAL_LOG(INFO, kProgress) << "rank " << rank_ << " learned: " << why.message();
    deaths_.push_back(Death{rank, std::move(why)});
    death_count_.store(deaths_.size(), std::memory_order_release);
    wake = wake_;
  }
  monitor_.Forget(rank);
  if (wake) wake();
}

Status LivenessWatcher::Post(int rank, std::string_view how, Deadline deadline) {
  TIDAL_RETURN_IF_ERROR(SetString(*store_, DeathKey(rank), how, deadline));
  return store_->Add(kDeathCountKey, 1, deadline).status();
}

void LivenessWatcher::Loop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      if (!stop_) cv_.WaitUntil(&mu_, Deadline::After(options_.poll_period));
      if (stop_) return;
    }
    const Deadline deadline =
        Deadline::After(std::max(options_.poll_period * 5, std::chrono::milliseconds(500)));
    PollDeaths(deadline);
    if (options_.heartbeat_period.count() > 0) Heartbeat(deadline);
  }
}

void LivenessWatcher::PollDeaths(Deadline deadline) {
  const std::string count_key(kDeathCountKey);
  Result<bool> posted = store_->Check(std::span<const std::string>(&count_key, 1), deadline);
  CheckStoreHost(posted.status());
  if (!posted.ok() || !*posted) return;
  Result<Bytes> count = store_->Get(kDeathCountKey, deadline);
  if (!count.ok()) return;
  const std::optional<int64_t> value = ParseCount(*count);
  if (!value || *value <= seen_count_) return;
  int64_t found = 0;
  for (int r = 0; r < size_; ++r) {
    const std::string key = DeathKey(r);
    Result<bool> dead = store_->Check(std::span<const std::string>(&key, 1), deadline);
    if (!dead.ok() || !*dead) continue;
    ++found;
    if (Known(r)) continue;
    Result<Bytes> how = store_->Get(key, deadline);
    if (!how.ok()) continue;
    if (r == rank_) {
      TIDAL_LOG(WARN, kProgress) << "rank " << rank_ << " was reported dead: " << ToString(*how);
      continue;
    }
    Record(r, DeathStatus(r, ToString(*how)));
  }
  seen_count_ = std::min(found, *value);
}

void LivenessWatcher::Heartbeat(Deadline deadline) {
  const Clock::time_point now = Clock::now();
  if (now - last_beat_ < options_.heartbeat_period) return;
  last_beat_ = now;
  CheckStoreHost(store_->Add(HeartbeatKey(rank_), 1, deadline).status());
  for (int peer : monitor_.watched()) {
    const std::string key = HeartbeatKey(peer);
    Result<bool> set = store_->Check(std::span<const std::string>(&key, 1), deadline);
    if (!set.ok() || !*set) continue;
    Result<Bytes> value = store_->Get(key, deadline);
    if (!value.ok()) continue;
    monitor_.Observe(peer, ParseCount(*value).value_or(-1), Clock::now());
  }
  for (int peer : monitor_.TakeExpired(Clock::now())) {
    if (Known(peer)) continue;
    const std::string how =
        StrCat("rank ", peer, " stopped its heartbeat (none for ",
               options_.heartbeat_timeout.count(), " ms; noticed by rank ", rank_, ")");
    Result<int64_t> claim = store_->Add(DeathClaimKey(peer), 1, deadline);
    if (claim.ok() && *claim == 1) Post(peer, how, deadline).IgnoreError();
    Record(peer, DeathStatus(peer, how));
  }
}

void LivenessWatcher::CheckStoreHost(const Status& status) {
  const Clock::time_point now = Clock::now();
  if (status.ok()) {
    last_store_ok_ = now;
    return;
  }
  if (failures_logged_++ < 3) {
    TIDAL_LOG(WARN, kProgress) << "rank " << rank_ << " liveness: " << status;
  }
  const int host = options_.store_host_rank;
  if (host < 0 || host == rank_ || options_.heartbeat_period.count() == 0) return;
  if (now - last_store_ok_ > options_.heartbeat_timeout && !Known(host)) {
    Record(host,
           DeathStatus(host, StrCat("the store it hosts is unreachable (", status.message(), ")")));
  }
}

}  // namespace tidal
