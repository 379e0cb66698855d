// Fault-injecting Transport wrapper (see fault_transport.h). Design:
//
// - A post that passes validation is numbered (posts()). If it is chosen to fail (fail_after_posts
//   or fail_probability, drawn from a splitmix64 seeded with options.seed), or the transport was
//   aborted or killed, the request is marked posted here and its completion is queued in local_,
//   delivered by the next Progress().
// - Receives, and sends when neither delay nor rate limit is set, pass straight through to the
//   wrapped transport with the caller's Request (no overhead).
// - Otherwise a send is held in held_ with a due time: max(now + send_delay, the rate limiter's
//   time). The rate limiter is a token bucket of depth zero: a send of b bytes leaves once the
//   bucket has earned b bytes since the previous send left, i.e. sends are paced at
//   bytes_per_second. Due times never decrease in post order, so releasing held_ from its front
//   keeps the order of all sends, per (peer, tag) included. A released send is posted to the
//   wrapped transport with a proxy Request owned here; Progress() copies the proxy's outcome to the
//   caller's Request once the wrapped transport completes it.
// - EventFd() is an epoll fd over the wrapped transport's fd, a timerfd set by Arm() to the next
// due
//   time, and an eventfd for Signal().
#include "tidal/transport/fault/fault_transport.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <list>
#include <string>
#include <utility>
#include <vector>

#include "tidal/core/check.h"
#include "tidal/core/logging.h"
#include "tidal/core/random.h"
#include "tidal/core/time.h"

namespace tidal {
namespace {

std::string Describe(int rank, bool send, int peer, Tag tag) {
  return StrCat("rank ", rank, send ? " send to rank " : " recv from rank ", peer, " ",
                ParseTag(tag));
}

std::string Describe(int rank, const Request& request) {
  return Describe(rank, request.kind() == Request::Kind::kSend, request.peer(), request.tag());
}

// Closes a file descriptor on scope exit unless released.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status AddToEpoll(int epoll_fd, int fd) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = fd;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) return ErrnoError("epoll_ctl", errno);
  return Status::Ok();
}

void DrainFd(int fd) {
  uint64_t count = 0;
  while (::read(fd, &count, sizeof(count)) > 0) {
  }
}

struct HeldSend {
  int peer;
  const void* data;
  size_t bytes;
  Request* request;  // the caller's; its tag is stamped
  Clock::time_point due;
};

// A released send: the wrapped transport completes `inner`; then the caller's request completes.
struct Proxy {
  explicit Proxy(Request* u) : user(u) {}
  Request* user;
  Request inner;
};

struct LocalCompletion {
  Request* request;
  Status status;
};

class FaultTransportImpl final : public FaultTransport {
 public:
  FaultTransportImpl(std::unique_ptr<Transport> inner, const FaultOptions& options, int epoll_fd,
                     int timer_fd, int signal_fd)
      : inner_(std::move(inner)),
        options_(options),
        name_(StrCat("fault(", inner_->name(), ")")),
        rng_(options.seed),
        epoll_fd_(epoll_fd),
        timer_fd_(timer_fd),
        signal_fd_(signal_fd) {}
  ~FaultTransportImpl() override;

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::string_view name() const override { return name_; }

  Status PostSend(int peer, Tag tag, const void* data, size_t bytes, Request* request) override;
  Status PostRecv(int peer, Tag tag, void* data, size_t capacity, Request* request) override;
  void Cancel(Request* request) override;
  int Progress() override;

  int EventFd() const override { return epoll_fd_; }
  bool Arm() override;
  void Signal() override;

  void FailPeer(int peer, const Status& why) override;
  void Abort(const Status& why) override;
  bool aborted() const override { return !abort_status_.ok(); }

  void Kill() override;
  bool killed() const override { return killed_; }
  const FaultOptions& options() const override { return options_; }
  int64_t posts() const override { return posts_; }

 private:
  Status Validate(bool send, int peer, const void* data, size_t bytes,
                  const Request* request) const;
  // Numbers the post and decides whether it fails: the failure, or OK.
  Status InjectedFailure(const std::string& what);
  // Marks `request` posted here and queues its completion with `why`.
  void CompleteLocally(Request* request, Request::Kind kind, int peer, Tag tag, Status why);
  Clock::time_point DueTime(size_t bytes);
  void ReleaseDueSends();
  void ReapProxies();
  int DeliverLocal();
  bool HeldSendDue() const { return !held_.empty() && held_.front().due <= Clock::now(); }
  void SetTimer();

  std::unique_ptr<Transport> inner_;
  const FaultOptions options_;
  const std::string name_;
  SplitMix64 rng_;
  int64_t posts_ = 0;
  bool killed_ = false;
  Status abort_status_;
  std::deque<HeldSend> held_;
  std::list<Proxy> proxies_;
  std::vector<LocalCompletion> local_;
  Clock::time_point rate_free_at_{};  // when the bucket has paid for every scheduled send
  Clock::time_point last_due_{};
  const int epoll_fd_;
  const int timer_fd_;
  const int signal_fd_;
};

FaultTransportImpl::~FaultTransportImpl() {
  if (!aborted()) Abort(AbortedError("rank ", rank(), ": fault transport destroyed"));
  DeliverLocal();
  inner_.reset();  // completes every request still in the wrapped transport, proxies included
  ReapProxies();
  ::close(epoll_fd_);
  ::close(timer_fd_);
  ::close(signal_fd_);
}

Status FaultTransportImpl::Validate(bool send, int peer, const void* data, size_t bytes,
                                    const Request* request) const {
  const char* op = send ? " send to rank " : " recv from rank ";
  if (peer < 0 || peer >= size()) {
    return InvalidArgumentError("rank ", rank(), op, peer, ": peer out of range [0, ", size(), ")");
  }
  if (data == nullptr && bytes > 0) {
    return InvalidArgumentError("rank ", rank(), op, peer, ": null buffer of ", bytes, " bytes");
  }
  if (request == nullptr) return InvalidArgumentError("rank ", rank(), op, peer, ": null request");
  if (request->pending()) {
    return InvalidArgumentError("rank ", rank(), op, peer, ": the request is still pending");
  }
  return Status::Ok();
}

Status FaultTransportImpl::InjectedFailure(const std::string& what) {
  const int64_t index = posts_++;
  if (options_.fail_after_posts >= 0 && index >= options_.fail_after_posts) {
    return IoError(what, ": injected failure (post ", index, ", fail_after_posts ",
                   options_.fail_after_posts, ")");
  }
  if (options_.fail_probability > 0 && rng_.Uniform() < options_.fail_probability) {
    return IoError(what, ": injected failure (post ", index, ", probability ",
                   options_.fail_probability, ")");
  }
  return Status::Ok();
}

void FaultTransportImpl::CompleteLocally(Request* request, Request::Kind kind, int peer, Tag tag,
                                         Status why) {
  TransportAccess::MarkPosted(request, kind, peer, tag);
  local_.push_back(LocalCompletion{request, std::move(why)});
}

Status FaultTransportImpl::PostSend(int peer, Tag tag, const void* data, size_t bytes,
                                    Request* request) {
  TIDAL_RETURN_IF_ERROR(Validate(true, peer, data, bytes, request));
  const Tag stamped = WithSource(tag, static_cast<uint32_t>(rank()));
  const std::string what = Describe(rank(), true, peer, stamped);
  Status failure = InjectedFailure(what);
  if (failure.ok() && aborted()) failure = abort_status_.WithContext(what);
  if (!failure.ok()) {
    CompleteLocally(request, Request::Kind::kSend, peer, stamped, std::move(failure));
    return Status::Ok();
  }
  if (options_.send_delay.count() <= 0 && options_.bytes_per_second <= 0) {
    return inner_->PostSend(peer, tag, data, bytes, request);
  }
  TransportAccess::MarkPosted(request, Request::Kind::kSend, peer, stamped);
  held_.push_back(HeldSend{peer, data, bytes, request, DueTime(bytes)});
  return Status::Ok();
}

Status FaultTransportImpl::PostRecv(int peer, Tag tag, void* data, size_t capacity,
                                    Request* request) {
  TIDAL_RETURN_IF_ERROR(Validate(false, peer, data, capacity, request));
  const Tag stamped = WithSource(tag, static_cast<uint32_t>(peer));
  const std::string what = Describe(rank(), false, peer, stamped);
  Status failure = InjectedFailure(what);
  if (failure.ok() && aborted()) failure = abort_status_.WithContext(what);
  if (!failure.ok()) {
    CompleteLocally(request, Request::Kind::kRecv, peer, stamped, std::move(failure));
    return Status::Ok();
  }
  return inner_->PostRecv(peer, tag, data, capacity, request);
}

Clock::time_point FaultTransportImpl::DueTime(size_t bytes) {
  const Clock::time_point now = Clock::now();
  Clock::time_point due = now + std::chrono::duration_cast<Clock::duration>(options_.send_delay);
  if (options_.bytes_per_second > 0) {
    const std::chrono::duration<double> cost(static_cast<double>(bytes) /
                                             options_.bytes_per_second);
    rate_free_at_ =
        std::max(rate_free_at_, now) + std::chrono::duration_cast<Clock::duration>(cost);
    due = std::max(due, rate_free_at_);
  }
  last_due_ = std::max(last_due_, due);  // never earlier than an earlier send: keeps the order
  return last_due_;
}

void FaultTransportImpl::Cancel(Request* request) {
  if (request == nullptr || !request->pending()) return;
  for (auto it = held_.begin(); it != held_.end(); ++it) {
    if (it->request != request) continue;
    held_.erase(it);
    local_.push_back(
        LocalCompletion{request, AbortedError(Describe(rank(), *request), ": cancelled")});
    return;
  }
  for (Proxy& proxy : proxies_) {
    if (proxy.user != request) continue;
    inner_->Cancel(&proxy.inner);
    return;
  }
  for (const LocalCompletion& c : local_) {
    if (c.request == request) return;
  }
  inner_->Cancel(request);
}

int FaultTransportImpl::Progress() {
  ReleaseDueSends();
  const int inner_completed = inner_->Progress();
  if (inner_completed > 0 && !proxies_.empty()) ReapProxies();
  // Each proxy the wrapped transport completed completes exactly one caller request.
  return inner_completed + DeliverLocal();
}

void FaultTransportImpl::ReleaseDueSends() {
  while (HeldSendDue()) {
    HeldSend send = held_.front();
    held_.pop_front();
    Proxy& proxy = proxies_.emplace_back(send.request);
    Status posted =
        inner_->PostSend(send.peer, send.request->tag(), send.data, send.bytes, &proxy.inner);
    if (!posted.ok()) {
      proxies_.pop_back();
      local_.push_back(LocalCompletion{send.request, std::move(posted)});
    }
  }
}

void FaultTransportImpl::ReapProxies() {
  for (auto it = proxies_.begin(); it != proxies_.end();) {
    if (!it->inner.done()) {
      ++it;
      continue;
    }
    TransportAccess::Complete(it->user, it->inner.status(), it->inner.bytes());
    it = proxies_.erase(it);
  }
}

int FaultTransportImpl::DeliverLocal() {
  std::vector<LocalCompletion> ready = std::move(local_);
  local_.clear();
  for (LocalCompletion& c : ready) TransportAccess::Complete(c.request, std::move(c.status), 0);
  return static_cast<int>(ready.size());
}

bool FaultTransportImpl::Arm() {
  if (!local_.empty() || HeldSendDue()) return false;
  DrainFd(signal_fd_);
  DrainFd(timer_fd_);
  if (!inner_->Arm()) return false;
  SetTimer();
  // A send may have become due while arming; the timer fired then, but say so directly.
  return !HeldSendDue();
}

void FaultTransportImpl::SetTimer() {
  itimerspec spec{};  // all zero: disarmed
  if (!held_.empty()) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(held_.front().due.time_since_epoch())
            .count();
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  // steady_clock is CLOCK_MONOTONIC on Linux, the clock the timerfd was created with.
  TIDAL_CHECK(::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr) == 0)
      << "timerfd_settime: errno " << errno;
}

void FaultTransportImpl::Signal() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(signal_fd_, &one, sizeof(one));
}

void FaultTransportImpl::FailPeer(int peer, const Status& why) {
  TIDAL_CHECK(!why.ok()) << "FailPeer with an OK status";
  inner_->FailPeer(peer, why);
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->peer != peer) {
      ++it;
      continue;
    }
    local_.push_back(LocalCompletion{it->request, why.WithContext(Describe(rank(), *it->request))});
    it = held_.erase(it);
  }
}

void FaultTransportImpl::Abort(const Status& why) {
  TIDAL_CHECK(!why.ok()) << "Abort with an OK status";
  if (aborted()) return;
  abort_status_ = why;
  inner_->Abort(why);
  for (const HeldSend& send : held_) {
    local_.push_back(
        LocalCompletion{send.request, why.WithContext(Describe(rank(), *send.request))});
  }
  held_.clear();
}

void FaultTransportImpl::Kill() {
  if (killed_) return;
  killed_ = true;
  TIDAL_LOG(INFO, kTransport) << "rank " << rank() << ": killed by fault injection";
  Abort(AbortedError("killed by fault injection"));
}

}  // namespace

Result<std::unique_ptr<FaultTransport>> FaultTransport::Create(std::unique_ptr<Transport> inner,
                                                               const FaultOptions& options) {
  if (inner == nullptr) return InvalidArgumentError("fault transport: no wrapped transport");
  if (options.send_delay.count() < 0) {
    return InvalidArgumentError("fault transport: negative send_delay");
  }
  if (!(options.bytes_per_second >= 0)) {
    return InvalidArgumentError("fault transport: bytes_per_second ", options.bytes_per_second,
                                " is negative");
  }
  if (!(options.fail_probability >= 0 && options.fail_probability <= 1)) {
    return InvalidArgumentError("fault transport: fail_probability ", options.fail_probability,
                                " is outside [0, 1]");
  }
  ScopedFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (epoll_fd.get() < 0) return ErrnoError("fault transport: epoll_create1", errno);
  ScopedFd timer_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (timer_fd.get() < 0) return ErrnoError("fault transport: timerfd_create", errno);
  ScopedFd signal_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (signal_fd.get() < 0) return ErrnoError("fault transport: eventfd", errno);
  TIDAL_RETURN_IF_ERROR(AddToEpoll(epoll_fd.get(), timer_fd.get()));
  TIDAL_RETURN_IF_ERROR(AddToEpoll(epoll_fd.get(), signal_fd.get()));
  if (inner->EventFd() >= 0) TIDAL_RETURN_IF_ERROR(AddToEpoll(epoll_fd.get(), inner->EventFd()));
  return std::unique_ptr<FaultTransport>(new FaultTransportImpl(
      std::move(inner), options, epoll_fd.release(), timer_fd.release(), signal_fd.release()));
}

}  // namespace tidal
