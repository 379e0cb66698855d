// Communicator: a group of ranks that talk in their own tag space (DESIGN.md, Runtime). The world
// communicator comes from the environment (CreateWorld: tidalrun, torchrun, Open MPI, Slurm or a
// single process); Split() makes sub-communicators. Every communicator of a process shares the
// process's one progress engine (progress/engine.h), hence its one transport and UCX worker:
// a communicator is a comm id (tag.h), a member list and the topology facts, not a worker or a
// thread. Collectives (the Collectives issue) build on engine() and NextOpSeq().
//
// At creation the members exchange placements (topology/placement.h) through the store and
// compute the ring order (topology/ring.h), so every member agrees on ring_order() and on local
// rank/size (ranks of one host) without further messages.
//
// Errors: kInvalidArgument for bad arguments (peer out of range, tag too large); kUnavailable
// naming the rank when a peer died (learned from the transport or the store's death notices);
// kTimedOut when timeout() passes; kAborted after Abort(). After any error but kInvalidArgument
// the buffers of the failed call may still be in use by tidal until Abort() returns (or the
// failed operation's requests completed): call Abort() before freeing them.
//
// Ordering: operations (these and the collectives of tidal/coll) run as a stream in issue order
// and finish in issue order (ordered_task.h). The *Async variants return a
// Work handle (work.h); the blocking calls are the Async call followed by Wait().
//
// Thread safety: a communicator's accessors are thread-safe; its operations (Send, Recv,
// Barrier, Split) are collective or point-to-point calls that one thread at a time issues per
// communicator, in the same order on every member. Different communicators may be used from
// different threads (the engine serializes their driving). Abort() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "tidal/comm/ordered_task.h"
#include "tidal/comm/work.h"
#include "tidal/core/mutex.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/progress/engine.h"
#include "tidal/store/store.h"
#include "tidal/topology/placement.h"

namespace tidal {

struct CommWorld;  // the process's shared state: store, server, engine (bootstrap.h)

struct CommOptions {
  // Default deadline of blocking calls (TIDAL_TIMEOUT_MS, 300 s).
  std::chrono::milliseconds timeout{300'000};
  // This rank's placement; unset: detected (host id, CPU binding, launcher's local rank).
  std::optional<Placement> placement;
  // Reads TIDAL_TIMEOUT_MS (kInvalidArgument when malformed).
  static Result<CommOptions> FromEnv();
};

class Communicator {
 public:
  // The world communicator, from the environment (launch_env.h). Under torchrun, Open MPI and
  // Slurm rank 0 hosts the store server; without TIDAL_SECRET only loopback clients are admitted
  // (a WARN line says so). Collective over every rank of the job. Blocks until every rank joined
  // or options.timeout passed (kTimedOut naming what is missing).
  static Result<std::unique_ptr<Communicator>> CreateWorld(const CommOptions& options);
  // CreateWorld with CommOptions::FromEnv().
  static Result<std::unique_ptr<Communicator>> CreateWorld();

  // The world communicator over an existing store and engine (in-process tests, embedders): the
  // engine's rank and size are the world's. `store` must outlive every communicator made from
  // the result. Collective over the engine's world.
  static Result<std::unique_ptr<Communicator>> CreateOver(std::shared_ptr<Engine> engine,
                                                          Store& store, const CommOptions& options);

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return static_cast<int>(world_ranks_.size()); }
  // This rank's index among the members on its host (in ring order), and their number.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  // ring_order()[i] is the communicator rank at ring position i.
  const std::vector<int>& ring_order() const { return ring_; }
  int ring_position() const { return ring_position_; }
  // REQUIRES: 0 <= r < size().
  const Placement& placement(int r) const;
  int world_rank(int r) const;
  // The tag space (comm id, tag.h).
  uint32_t id() const { return id_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  Engine& engine() const { return *engine_; }
  // Now + timeout().
  Deadline NextDeadline() const { return Deadline::After(timeout_); }
  // The next collective's op sequence (tag.h), skipping the reserved ones (barrier_task.h).
  uint32_t NextOpSeq();
  // The rendezvous store of the job (for collective set-up steps of the layers above).
  Store& store() const;
  // State the collectives layer keeps per communicator (e.g. its shared-memory segment); set and
  // read by that layer only, from the thread that issues operations.
  std::shared_ptr<void>& coll_state() { return coll_state_; }

  // Splits this communicator: members with the same color >= 0 form a new communicator, ranked by
  // (key, rank here). Collective over this communicator. Returns nullptr for color < 0.
  Result<std::unique_ptr<Communicator>> Split(int color, int key);

  // Blocking point-to-point messages in this communicator's tag space; `tag` < 65536 tells
  // messages between the same pair apart (FIFO per peer and tag). Recv of a shorter message
  // fills a prefix (*received, if given, says how much); a longer one fails with kIoError.
  Status Send(int peer, const void* data, size_t bytes, uint32_t tag = 0);
  Status Recv(int peer, void* data, size_t capacity, uint32_t tag = 0, size_t* received = nullptr);
  // Returns once every member has entered the barrier.
  Status Barrier();
  // Asynchronous versions; the buffers belong to tidal until the Work finished.
  Result<Work> SendAsync(int peer, const void* data, size_t bytes, uint32_t tag = 0);
  Result<Work> RecvAsync(int peer, void* data, size_t capacity, uint32_t tag = 0,
                         size_t* received = nullptr);
  Result<Work> BarrierAsync();

  // For collective implementations: queues `op` (a Task that posts this communicator's messages)
  // behind the operations issued before it (ordered_task.h) and returns its Work. `what` names it
  // in errors. async: progress on the background thread; otherwise the caller waits right away.
  // `hooks` (ordered_task.h): a delay (`op` starts no earlier than that from now), a start
  // condition and a finish callback (CollOptions::delay, ready, on_finish).
  enum class OpClass { kCollective, kPointToPoint };
  Result<Work> Enqueue(std::shared_ptr<Task> op, OpClass op_class, std::string what, bool async,
                       OpHooks hooks = {});

  // Whether every operation issued so far has finished (a blocking call may then run inline,
  // bypassing the engine, without breaking the stream order).
  bool idle() const;

  // Posts this rank's abort as a death notice (so peers fail fast), then aborts the process's
  // engine: every pending operation of every communicator completes with kAborted and later
  // calls return kAborted. Blocks until the buffers of failed operations are released.
  void Abort(const Status& why);

 private:
  struct Members {
    uint32_t id = 0;
    std::vector<int> world_ranks;
    std::vector<Placement> placements;
    int rank = 0;
  };
  Communicator(std::shared_ptr<CommWorld> world, Members members,
               std::chrono::milliseconds timeout);
  static Result<std::unique_ptr<Communicator>> Build(std::shared_ptr<CommWorld> world,
                                                     const CommOptions& options);
  Status CheckPeer(int peer, uint32_t tag, std::string_view op) const;
  Result<Work> StartRequest(bool send, int peer, void* data, size_t bytes, uint32_t tag,
                            size_t* transferred, bool async);

  std::shared_ptr<CommWorld> world_;
  std::shared_ptr<Engine> engine_;
  uint32_t id_;
  int rank_;
  std::vector<int> world_ranks_;
  std::vector<Placement> placements_;
  std::vector<int> ring_;
  int ring_position_ = 0;
  int local_rank_ = 0;
  int local_size_ = 1;
  std::chrono::milliseconds timeout_;
  uint32_t split_seq_ = 0;
  uint32_t op_seq_ = 0;

  std::shared_ptr<void> coll_state_;

  mutable Mutex order_mu_;
  std::shared_ptr<Task> last_ TIDAL_GUARDED_BY(order_mu_);             // the last op issued
  std::shared_ptr<Task> last_collective_ TIDAL_GUARDED_BY(order_mu_);  // ... not point-to-point
};

}  // namespace tidal
