#include "tidal/comm/barrier_task.h"

#include <algorithm>

#include "tidal/core/check.h"
#include "tidal/transport/tag.h"

namespace tidal {

BarrierTask::BarrierTask(std::vector<int> members, int me, uint32_t comm_id)
    : members_(std::move(members)), me_(me), comm_id_(comm_id) {
  const int n = static_cast<int>(members_.size());
  TIDAL_CHECK(me >= 0 && me < n) << "member " << me << " of " << n;
  while ((1 << rounds_) < n) ++rounds_;
}

bool BarrierTask::PostRound(Transport& transport) {
  const int n = static_cast<int>(members_.size());
  const int distance = 1 << round_;
  const int to = members_[static_cast<size_t>((me_ + distance) % n)];
  const int from = members_[static_cast<size_t>((me_ - distance % n + n) % n)];
  const Tag tag = MakeTag(comm_id_, kBarrierSeq, static_cast<uint32_t>(round_), 0);
  Status st = transport.PostRecv(from, tag, &recv_byte_, 1, &recv_);
  if (st.ok()) st = transport.PostSend(to, tag, &send_byte_, 1, &send_);
  if (!st.ok()) {
    SetResult(st);
    stopped_ = true;
    if (recv_.pending()) transport.Cancel(&recv_);
    return false;
  }
  posted_ = true;
  return true;
}

bool BarrierTask::Poll(Transport& transport) {
  while (true) {
    if (send_.pending() || recv_.pending()) return false;
    if (posted_) {
      posted_ = false;
      if (!send_.status().ok()) SetResult(send_.status());
      if (!recv_.status().ok()) SetResult(recv_.status());
      if (!status().ok()) stopped_ = true;
      ++round_;
    }
    if (stopped_ || round_ >= rounds_) return true;
    if (!PostRound(transport)) return !(send_.pending() || recv_.pending());
  }
}

void BarrierTask::Stop(Transport& transport, const Status& why) {
  if (stopped_) return;
  stopped_ = true;
  SetResult(why);
  if (recv_.pending()) transport.Cancel(&recv_);
  if (send_.pending()) transport.Cancel(&send_);
}

void BarrierTask::OnDeath(Transport& transport, int rank, const Status& why) {
  if (std::find(members_.begin(), members_.end(), rank) != members_.end()) Stop(transport, why);
}

}  // namespace tidal
