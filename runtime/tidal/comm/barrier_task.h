// BarrierTask: a dissemination barrier as an engine Task (progress/task.h). In round k each
// member sends one byte to the member 2^k places after it and receives one from the member 2^k
// places before it; after ceil(log2 n) rounds every member has heard, directly or not, from every
// other, so none leaves before all arrived. Messages use the communicator's reserved barrier
// sequence (kBarrierSeq) with the round as the step; FIFO matching per (source, tag) keeps
// consecutive barriers apart. A member's death stops the barrier with kUnavailable naming it.
//
// Thread safety: driven by the engine's driver only.
#pragma once

#include <cstdint>
#include <vector>

#include "tidal/progress/task.h"

namespace tidal {

// Tag sequences reserved on every communicator (the op sequence field of tag.h); collectives
// number their operations below kFirstReservedSeq.
inline constexpr uint32_t kP2pSeq = 0xFFFF;
inline constexpr uint32_t kBarrierSeq = 0xFFFE;
inline constexpr uint32_t kFirstReservedSeq = 0xFFFE;

class BarrierTask : public Task {
 public:
  // `members[i]` is member i's world rank; `me` this rank's index. REQUIRES: 0 <= me < size.
  BarrierTask(std::vector<int> members, int me, uint32_t comm_id);
  bool Poll(Transport& transport) override;
  void Stop(Transport& transport, const Status& why) override;
  void OnDeath(Transport& transport, int rank, const Status& why) override;

 private:
  bool PostRound(Transport& transport);

  std::vector<int> members_;
  int me_;
  uint32_t comm_id_;
  int round_ = 0;
  int rounds_ = 0;
  bool stopped_ = false;
  bool posted_ = false;
  uint8_t send_byte_ = 1;
  uint8_t recv_byte_ = 0;
  Request send_;
  Request recv_;
};

}  // namespace tidal
