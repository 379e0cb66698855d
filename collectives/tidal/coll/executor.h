// The executor: one engine Task (progress/task.h) that walks a collective's plan, a list of
// stages, each either a schedule (schedule/schedule.h) or a local step (a copy, the average's
// division, an owned-shard callback, a signature check).
//
// Design note. A schedule stage is a list of ops in issue order. The executor never blocks: each
// Poll() notes completed requests, applies finished receive-reductions, and posts every op that
// may go, scanning a window of ops past the first unfinished one. An op may go when
//   - no earlier unfinished op conflicts with it on the buffer: a send waits for earlier writes
//     of an overlapping range (read after write); a receive waits for earlier sends and writes of
//     an overlapping range (write after read / write);
//   - every earlier op to the same peer in the same direction has been posted (per-peer FIFO, so
//     wrapped tags still pair up, schedule.h);
//   - it is a receive-reduce: every earlier receive-reduce has been posted and a scratch slot is
//     free (TIDAL_PIPELINE_DEPTH slots of one segment each). Slots are handed out in op order, so
//     the oldest unapplied receive always has one: the pipeline cannot starve itself.
// A receive-reduce lands in its slot at any time, but is applied (Reduce into the buffer) only
// when no earlier unfinished op touches its range: reductions into one range happen in op order,
// hence in the same order on every run (ALGORITHMS.md §0), and a range is never overwritten
// while a send of it is in flight. Several segments are therefore in flight at once: the receive
// of segment k+1 is posted while segment k is reduced and segment k-1 is on its way out.
//
// Tags: MakeTag(comm, seq, stage_base + TagStep(op), 0), where stage_base is the sum of the
// previous stages' steps x strides, so the stages of one operation never share a tag (modulo the
// 16-bit wrap that FIFO matching makes harmless).
//
// Failure: a failed request, Stop() (timeout, abort) or the death of a member (OnDeath) cancels
// every pending request; the task finishes once the transport released them all, with the first
// error, prefixed by the operation's name.
//
// Thread safety: a Task, driven by the engine's driver only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tidal/coll/schedule/schedule.h"
#include "tidal/coll/types.h"
#include "tidal/progress/task.h"

namespace tidal::coll {

struct Stage {
  // kSchedule: `schedule` over `peers` (position -> world rank); sends read `send_base`,
  // receives write `recv_base` (often the same buffer). kLocal: `local()` runs once, on the
  // driver, when the stages before it finished.
  enum class Kind : uint8_t { kSchedule, kLocal };
  Kind kind = Kind::kLocal;
  Schedule schedule;
  std::vector<int> peers;
  const uint8_t* send_base = nullptr;
  uint8_t* recv_base = nullptr;
  // Bytes per schedule element; 0: the operation's DataTypeSize.
  size_t elem_bytes = 0;
  std::function<Status()> local;

  static Stage Local(std::function<Status()> fn);
  static Stage Run(Schedule schedule, std::vector<int> peers, const void* send_base,
                   void* recv_base);
};

struct ExecutorConfig {
  DataType type = DataType::kUint8;
  ReduceOp op = ReduceOp::kSum;
  uint32_t comm_id = 0;
  uint32_t seq = 0;
  int rank = 0;              // in the communicator, for messages
  std::vector<int> members;  // world ranks of the communicator (a death among them fails it)
  int depth = 4;             // scratch slots for receive-reduce
  std::string what;          // "allreduce #3 (comm 1, 1024 x float, sum)"
};

class CollectiveTask : public Task {
 public:
  // `keep_alive` holds buffers the stages point into (scratch copies, signatures).
  CollectiveTask(ExecutorConfig config, std::vector<Stage> stages,
                 std::shared_ptr<void> keep_alive = nullptr);
  ~CollectiveTask() override;

  bool Poll(Transport& transport) override;
  void Stop(Transport& transport, const Status& why) override;
  void OnDeath(Transport& transport, int rank, const Status& why) override;

 private:
  struct StageRun;

  bool StartStage(Transport& transport);
  void Cancel(Transport& transport);
  void Error(Transport& transport, Status why);

  ExecutorConfig config_;
  std::vector<Stage> stages_;
  std::shared_ptr<void> keep_alive_;
  size_t stage_ = 0;
  uint32_t tag_base_ = 0;
  std::unique_ptr<StageRun> run_;
  bool stopped_ = false;
};

}  // namespace tidal::coll
