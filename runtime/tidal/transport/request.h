// Request: the completion record of one posted send or receive. The caller owns it; the
// transport keeps a pointer to it from the post until completion, then never touches it again.
//
//   Request req;
//   TIDAL_RETURN_IF_ERROR(transport.PostRecv(peer, tag, buf, bytes, &req));
//   TIDAL_RETURN_IF_ERROR(WaitRequest(transport, req, deadline, "recv from rank 1"));
//
// Lifetime: a Request and its buffer must stay alive and unmoved while pending(); destroying a
// pending Request is a bug (checked). After a timeout, Cancel() the request (or Abort() the
// transport) and keep driving Progress() until it completes before freeing its buffer.
//
// Thread safety: the transport completes a request on the thread that drives it; any thread may
// read done() (acquire), and after done() the status and byte count are immutable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tidal/core/status.h"
#include "tidal/transport/tag.h"

namespace tidal {

class Request {
 public:
  enum class Kind : uint8_t { kNone, kSend, kRecv };

  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();

  // True between a successful post and completion.
  bool pending() const { return state_.load(std::memory_order_acquire) == State::kPending; }
  // True once the transport completed the request (successfully or not).
  bool done() const { return state_.load(std::memory_order_acquire) == State::kDone; }

  // REQUIRES: done().
  const Status& status() const { return status_; }
  // Bytes sent, or bytes received (at most the posted capacity). REQUIRES: done().
  size_t bytes() const { return bytes_; }

  Kind kind() const { return kind_; }
  int peer() const { return peer_; }
  Tag tag() const { return tag_; }

  // Returns the request to the idle state so it can be posted again. REQUIRES: !pending().
  void Reset();

 private:
  friend class TransportAccess;
  enum class State : uint8_t { kIdle, kPending, kDone };

  std::atomic<State> state_{State::kIdle};
  Kind kind_ = Kind::kNone;
  int peer_ = -1;
  Tag tag_ = 0;
  size_t bytes_ = 0;
  Status status_;

 public:
  // Slots a transport may use while the request is pending (e.g. the UCX request handle).
  void* transport_slot_[2] = {nullptr, nullptr};
};

// The transport side of Request. Only transport implementations use it.
class TransportAccess {
 public:
  // Moves an idle or done request to pending. REQUIRES: !request->pending().
  static void MarkPosted(Request* request, Request::Kind kind, int peer, Tag tag);
  // Completes a pending request; the caller must not touch it afterwards.
  static void Complete(Request* request, Status status, size_t bytes);
};

}  // namespace tidal
