#include "tidal/transport/request.h"

#include "tidal/core/check.h"

namespace tidal {

Request::~Request() {
  TIDAL_CHECK(!pending()) << "a Request was destroyed while the transport still owns it (peer "
                          << peer_ << ")";
}

void Request::Reset() {
  TIDAL_CHECK(!pending()) << "Reset of a pending Request";
  state_.store(State::kIdle, std::memory_order_relaxed);
  kind_ = Kind::kNone;
  peer_ = -1;
  tag_ = 0;
  bytes_ = 0;
  status_ = Status();
}

void TransportAccess::MarkPosted(Request* request, Request::Kind kind, int peer, Tag tag) {
  TIDAL_CHECK(!request->pending()) << "a Request was posted twice (peer " << peer << ")";
  request->kind_ = kind;
  request->peer_ = peer;
  request->tag_ = tag;
  request->bytes_ = 0;
  request->status_ = Status();
  request->transport_slot_[0] = request->transport_slot_[1] = nullptr;
  request->state_.store(Request::State::kPending, std::memory_order_release);
}

void TransportAccess::Complete(Request* request, Status status, size_t bytes) {
  TIDAL_CHECK(request->pending()) << "completion of a Request that is not pending";
  request->status_ = std::move(status);
  request->bytes_ = bytes;
  request->state_.store(Request::State::kDone, std::memory_order_release);
}

}  // namespace tidal
