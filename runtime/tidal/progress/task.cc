#include "tidal/progress/task.h"

namespace tidal {

void Task::OnDeath(Transport& /*transport*/, int /*rank*/, const Status& /*why*/) {}

bool RequestTask::Poll(Transport& transport) {
  if (!posted_) {
    if (!status().ok()) return true;  // stopped before it was posted
    const Status posted = kind_ == Kind::kSend
                              ? transport.PostSend(peer_, tag_, data_, bytes_, &request_)
                              : transport.PostRecv(peer_, tag_, data_, bytes_, &request_);
    if (!posted.ok()) {
      SetResult(posted);
      return true;
    }
    posted_ = true;
  }
  if (!request_.done()) return false;
  SetResult(request_.status());
  if (request_.status().ok() && transferred_ != nullptr) *transferred_ = request_.bytes();
  return true;
}

void RequestTask::Stop(Transport& transport, const Status& why) {
  if (posted_ && request_.pending()) transport.Cancel(&request_);
  SetResult(why);
}

void RequestTask::OnDeath(Transport& transport, int rank, const Status& why) {
  if (rank != peer_) return;
  Stop(transport, why);
  Fail(why);
}

}  // namespace tidal
