// The TCP store server's connection handling: one poll() loop over the listener, the wake-up
// eventfd and every client socket (see tcp_store_server.h for the behaviour it guarantees).
#include "tidal/store/tcp_store_server_loop.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tidal/core/logging.h"

namespace tidal::store_internal {
namespace {

// A parked connection, or one whose replies are not being read, buffers at most this much input.
constexpr size_t kReadAheadLimit = 64 * 1024;
// A connection stops being served while this many reply bytes wait to be sent.
constexpr size_t kOutputHighWater = 256 * 1024;
// Buffers larger than this are released when they empty.
constexpr size_t kKeepCapacity = 64 * 1024;
// How long a closing connection may take to take its last reply and close.
constexpr auto kLinger = std::chrono::seconds(1);
// Accept no more for this long after accept() failed for lack of descriptors.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr int kMaxAcceptsPerRound = 64;
constexpr int kWarnsPerSecond = 10;

// Best effort: tells a refused peer why in one error frame, without blocking.
void SendRefusal(int fd, std::string_view message) {
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(0);
  w.U8(static_cast<uint8_t>(StatusCode::kInvalidArgument));
  w.Blob(message);
  w.Finish();
  [[maybe_unused]] const ssize_t ignored =
      ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

size_t Pending(const Connection& c) { return c.out.size() - c.out_offset; }

void ReleaseIfLarge(Bytes& buffer) {
  if (buffer.empty() && buffer.capacity() > kKeepCapacity) Bytes().swap(buffer);
}

}  // namespace

ServerLoop::ServerLoop(const TcpStoreServerOptions& options, UniqueFd listener, UniqueFd wake,
                       std::string address)
    : options_(options),
      max_payload_(options.max_request_bytes + kFrameOverhead),
      listener_(std::move(listener)),
      wake_(std::move(wake)),
      address_(std::move(address)) {}

ServerLoop::~ServerLoop() = default;

void ServerLoop::Wake() {
  const uint64_t one = 1;
  while (::write(wake_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void ServerLoop::Run() {
  TIDAL_LOG(INFO, kStore) << "store server listening on " << address_;
  while (true) {
    pollfds_.clear();
    polled_.clear();
    pollfds_.push_back({wake_.get(), POLLIN, 0});
    const bool accepting = Clock::now() >= accept_paused_until_;
    pollfds_.push_back({accepting ? listener_.get() : -1, POLLIN, 0});
    for (auto& [id, c] : connections_) {
      pollfds_.push_back({c->fd.get(), PollEvents(*c), 0});
      polled_.push_back(c.get());
    }
    const int rc = ::poll(pollfds_.data(), pollfds_.size(), NextTimeoutMs());
    if (rc < 0 && errno != EINTR) {
      TIDAL_LOG(ERROR, kStore) << "store server " << address_ << ": poll: " << std::strerror(errno);
    }
    if (rc > 0 && pollfds_[0].revents != 0) break;
    if (rc > 0 && (pollfds_[1].revents & POLLIN) != 0) AcceptAll();
    for (size_t i = 0; rc > 0 && i < polled_.size(); ++i) {
      const short revents = pollfds_[i + 2].revents;
      if (revents != 0 && polled_[i]->state != Connection::State::kDead) {
        HandleEvents(*polled_[i], revents);
      }
    }
    RunReady();
    ExpireTimers();
    RunReady();
    Reap();
  }
  CloseAll();
}

short ServerLoop::PollEvents(const Connection& c) const {
  switch (c.state) {
    case Connection::State::kOpen: {
      short events = POLLRDHUP;
      const bool backlogged = c.parked.has_value() || Pending(c) >= kOutputHighWater;
      if (!backlogged || c.in.size() < kReadAheadLimit) events |= POLLIN;
      if (Pending(c) > 0) events |= POLLOUT;
      return events;
    }
    case Connection::State::kClosing:
      return POLLOUT;
    case Connection::State::kDraining:
      return POLLIN;
    case Connection::State::kDead:
      return 0;
  }
  return 0;
}

int ServerLoop::NextTimeoutMs() const {
  Clock::time_point next = Clock::time_point::max();
  if (Clock::now() < accept_paused_until_) next = accept_paused_until_;
  for (const auto& [id, c] : connections_) {
    const bool timed = c->state == Connection::State::kClosing ||
                       c->state == Connection::State::kDraining ||
                       (c->state == Connection::State::kOpen && !c->authenticated);
    if (timed) next = std::min(next, c->timer);
    if (c->parked.has_value()) next = std::min(next, c->parked->deadline);
  }
  return next == Clock::time_point::max() ? -1 : Deadline::At(next).PollTimeoutMs();
}

void ServerLoop::AcceptAll() {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    sockaddr_storage peer{};
    Result<UniqueFd> fd = Accept(listener_.get(), &peer);
    if (!fd.ok()) {
      TIDAL_LOG(WARN, kStore) << "store server " << address_ << ": " << fd.status()
                              << "; pausing accepts";
      accept_paused_until_ = Clock::now() + kAcceptPause;
      return;
    }
    if (!fd->valid()) return;
    Admit(std::move(*fd), peer);
  }
}

void ServerLoop::Admit(UniqueFd fd, const sockaddr_storage& peer) {
  const std::string peer_text = FormatAddress(peer);
  const auto at_cap = [&] {
    return connections_.size() - dying_ >= static_cast<size_t>(options_.max_connections);
  };
  if (at_cap()) EvictOldestUnauthenticated();
  if (at_cap()) {
    if (WarnAllowed()) {
      TIDAL_LOG(WARN, kStore) << "store server " << address_ << ": refusing " << peer_text
                              << ": already " << options_.max_connections << " connections";
    }
    return;
  }
  if (options_.secret.empty() && !IsLoopback(peer)) {
    if (WarnAllowed()) {
      TIDAL_LOG(WARN, kStore) << "store server " << address_ << ": refusing " << peer_text
                              << ": without a secret only loopback clients are admitted";
    }
    SendRefusal(fd.get(),
                "unauthenticated: the server has no secret (TIDAL_SECRET) and admits "
                "only loopback clients");
    return;
  }
  SetNoDelay(fd.get());
  auto c = std::make_unique<Connection>();
  c->id = next_id_++;
  c->fd = std::move(fd);
  c->peer = peer_text;
  c->timer = Clock::now() + options_.auth_timeout;
  TIDAL_LOG(DEBUG, kStore) << "store server " << address_ << ": connection from " << peer_text;
  connections_.emplace(c->id, std::move(c));
  stats_.connections.store(connections_.size(), std::memory_order_relaxed);
}

// Connections are ordered by id, so the first unauthenticated one is the oldest: most likely an
// idle or hostile peer, since a real client sends HELLO as soon as it connects.
void ServerLoop::EvictOldestUnauthenticated() {
  for (auto& [id, c] : connections_) {
    if (c->state != Connection::State::kDead && !c->authenticated) {
      Kill(*c, "evicted: connection limit reached before it authenticated");
      return;
    }
  }
}

void ServerLoop::HandleEvents(Connection& c, short revents) {
  if ((revents & (POLLERR | POLLNVAL)) != 0) {
    Kill(c, "socket error");
    return;
  }
  if ((revents & POLLOUT) != 0) Flush(c);
  if (c.state != Connection::State::kDead && (revents & (POLLIN | POLLHUP | POLLRDHUP)) != 0) {
    ReadSome(c);
  }
}

void ServerLoop::ReadSome(Connection& c) {
  if (c.state == Connection::State::kOpen && (PollEvents(c) & POLLIN) == 0) {
    // Only POLLRDHUP/POLLHUP brought us here: the peer stopped sending while its input is
    // backlogged; a client never half-closes, so it is gone.
    Kill(c, "peer shut down while its requests were backlogged");
    return;
  }
  ssize_t n = 0;
  do {
    n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) Kill(c, std::strerror(errno));
    return;
  }
  if (n == 0) {
    Kill(c, "closed by peer");
    return;
  }
  if (c.state != Connection::State::kOpen) return;  // closing: input is discarded
  c.in.insert(c.in.end(), scratch_.begin(), scratch_.begin() + n);
  Account(c);
  ProcessInput(c);
  Flush(c);
}

// Handles every complete frame in c.in, unless the connection is parked or backlogged. The
// length prefix is checked as soon as its 4 bytes are in, before more input is kept for it.
void ServerLoop::ProcessInput(Connection& c) {
  size_t pos = 0;
  while (c.state == Connection::State::kOpen && !c.parked.has_value() &&
         Pending(c) < kOutputHighWater && c.in.size() - pos >= kLengthBytes) {
    const uint32_t length = LoadLength(c.in.data() + pos);
    const size_t limit = c.authenticated ? max_payload_ : kMaxHelloPayload;
    if (length > limit || length < kPayloadHeaderBytes) {
      Fail(c, 0, StatusCode::kInvalidArgument,
           StrCat("frame of ", length, " bytes is outside the accepted ", kPayloadHeaderBytes, "..",
                  limit, c.authenticated ? "" : " (before authentication)"));
      break;
    }
    if (c.in.size() - pos - kLengthBytes < length) break;
    HandleFrame(c, std::span<const uint8_t>(c.in.data() + pos + kLengthBytes, length));
    pos += kLengthBytes + length;
  }
  if (c.state != Connection::State::kOpen) {
    c.in.clear();
  } else {
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(pos));
  }
  ReleaseIfLarge(c.in);
  Account(c);
}

void ServerLoop::Flush(Connection& c) {
  while (Pending(c) > 0 && c.state != Connection::State::kDead) {
    const ssize_t n =
        ::send(c.fd.get(), c.out.data() + c.out_offset, Pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) Kill(c, std::strerror(errno));
      break;
    }
    c.out_offset += static_cast<size_t>(n);
  }
  if (c.state == Connection::State::kDead || Pending(c) > 0) return;
  const bool was_backlogged = c.out.size() >= kOutputHighWater;
  c.out.clear();
  c.out_offset = 0;
  ReleaseIfLarge(c.out);
  Account(c);
  if (c.state == Connection::State::kClosing) {
    ::shutdown(c.fd.get(), SHUT_WR);
    c.state = Connection::State::kDraining;
  } else if (was_backlogged && !c.in.empty()) {
    ready_.push_back(c.id);
  }
}

void ServerLoop::RunReady() {
  while (!ready_.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(ready_);
    for (const uint64_t id : ids) {
      Connection* c = Find(id);
      if (c == nullptr || c->state != Connection::State::kOpen) continue;
      ProcessInput(*c);
      Flush(*c);
    }
  }
}

void ServerLoop::ExpireTimers() {
  const Clock::time_point now = Clock::now();
  for (auto& [id, c] : connections_) {
    switch (c->state) {
      case Connection::State::kOpen:
        if (!c->authenticated && now >= c->timer) {
          Fail(*c, 0, StatusCode::kTimedOut,
               StrCat("no hello within ", options_.auth_timeout.count(), " ms"));
        } else if (c->parked.has_value() && now >= c->parked->deadline) {
          ReplyTimedOut(*c);
          ready_.push_back(c->id);
        }
        break;
      case Connection::State::kClosing:
      case Connection::State::kDraining:
        if (now >= c->timer) Kill(*c, "linger timeout");
        break;
      case Connection::State::kDead:
        break;
    }
  }
}

void ServerLoop::Reap() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->second->state == Connection::State::kDead) {
      stats_.buffered_bytes.fetch_sub(it->second->accounted, std::memory_order_relaxed);
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
  dying_ = 0;
  stats_.connections.store(connections_.size(), std::memory_order_relaxed);
}

void ServerLoop::CloseAll() {
  for (auto& [id, c] : connections_) Kill(*c, "server stopping");
  Reap();
  listener_.Reset();
  TIDAL_LOG(INFO, kStore) << "store server " << address_ << " stopped";
}

void ServerLoop::Fail(Connection& c, uint32_t request_id, StatusCode code,
                      const std::string& message) {
  if (WarnAllowed()) {
    TIDAL_LOG(WARN, kStore) << "store server " << address_ << ": closing connection from " << c.peer
                            << ": " << message;
  }
  ReplyError(c, request_id, Status(code, message));
  StartClose(c);
}

void ServerLoop::StartClose(Connection& c) {
  Unpark(c);
  c.state = Connection::State::kClosing;
  c.timer = Clock::now() + kLinger;  // the next poll round flushes it (POLLOUT)
}

void ServerLoop::Kill(Connection& c, std::string_view reason) {
  if (c.state == Connection::State::kDead) return;
  TIDAL_LOG(DEBUG, kStore) << "store server " << address_ << ": closed connection from " << c.peer
                           << ": " << reason;
  Unpark(c);
  c.state = Connection::State::kDead;
  ++dying_;
  c.fd.Reset();
  Bytes().swap(c.in);
  Bytes().swap(c.out);
  c.out_offset = 0;
  Account(c);
}

void ServerLoop::Account(Connection& c) {
  const size_t now = c.in.capacity() + c.out.capacity();
  size_t total = 0;
  if (now >= c.accounted) {
    total = stats_.buffered_bytes.fetch_add(now - c.accounted, std::memory_order_relaxed) +
            (now - c.accounted);
  } else {
    total = stats_.buffered_bytes.fetch_sub(c.accounted - now, std::memory_order_relaxed) -
            (c.accounted - now);
  }
  c.accounted = now;
  if (total > stats_.peak_buffered_bytes.load(std::memory_order_relaxed)) {
    stats_.peak_buffered_bytes.store(total, std::memory_order_relaxed);
  }
}

bool ServerLoop::WarnAllowed() {
  const Clock::time_point now = Clock::now();
  if (now - warn_window_start_ >= std::chrono::seconds(1)) {
    if (warns_suppressed_ > 0) {
      TIDAL_LOG(WARN, kStore) << "store server " << address_ << ": " << warns_suppressed_
                              << " more warnings about peers suppressed";
    }
    warn_window_start_ = now;
    warns_in_window_ = 0;
    warns_suppressed_ = 0;
  }
  if (warns_in_window_ < kWarnsPerSecond) {
    ++warns_in_window_;
    return true;
  }
  ++warns_suppressed_;
  return false;
}

Connection* ServerLoop::Find(uint64_t id) {
  const auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

}  // namespace tidal::store_internal
