// Overlap Local-SGD (ALGORITHMS.md §3), exactly the official code (JYWa/Overlap_Local_SGD,
// distoptim/OverlapLocalSGD.py). Not the base optimizer: the trainer runs its local step on x
// (Nesterov 0.9, wd 1e-4 in the paper's runs) and calls AfterLocalStep(gamma) after each.
//
// Design note. State: the anchor z (d floats; also the communication buffer) and, when gmf > 0,
// the anchor momentum b (d); one Work h; the counter itr. After every local step:
//   if itr ≠ 0 and itr mod τ = 0:
//     Wait(h, deadline)              z = Σ_i z_i of the previous round: the anchor, one round stale
//     x ← (1−α)·x + α·z              PullBack
//     gmf = 0: z ← x/n               AnchorReset (multiplies by 1/n)
//     gmf > 0: b ← gmf·b + (z − x)/γ; z ← (z − γ·b)/n     AnchorMomentum
//     h ← AllReduceAsync(z, sum)     in place; overlaps the next τ local steps
//   itr ← itr + 1
// so with gmf = 0 the next anchor is z_new = (1−α)·x̄ + α·z_old. Bytes: 2(n−1)/n·4d every τ
// steps, hidden while the AllReduce takes at most τ local steps.
// Pitfalls handled here:
// - z is never read or written in flight: only the Wait at the next sync (or Finish) gives it
//   back, and anchor() refuses while h has not finished.
// - Exactly one outstanding round: the Wait at sync r completes round r−1 before round r starts.
// - The first sync comes after τ+1 local steps (itr = τ; the itr ≠ 0 test), and its pull-back goes
//   toward z = x_0, the start that Create broadcast from rank 0.
// - At the end, Finish() drains h and sets x to the exact average over ranks (project choice).
// - The hand-over (cpu_yield). On a host with more ranks than CPUs the AllReduce advances only
//   when the progress threads of all ranks get a CPU, and the kernel's scheduler prefers the
//   trainer threads that are busy computing: a round that should take a millisecond stretches
//   over the whole τ steps and the next sync waits for it. So, when on, the trainer's thread calls
//   sched_yield right after issuing h (its own progress thread posts the first sends at once) and
//   after every local step while h is in flight (each peer's progress thread gets a turn per step,
//   not one per scheduler slice). Measured on 8 ranks / 2 cores with every collective delayed by
//   D ≈ τ·t: 1.62x Local SGD's time per step without it, 1.21x with it; with no delay it costs
//   5-9% (README, Training).
//   It changes when things run, never what is computed: results are bit-identical either way.
//
// Thread safety: one thread at a time calls an OverlapLocalSgd (the thread that issues on `comm`).
// While h is in flight the engine (progress thread, or a waiting caller) writes z.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tidal/coll/collectives.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"

namespace tidal::optim {

struct OverlapLocalSgdOptions {
  int tau = 2;             // local steps per round (a sync at itr = τ, 2τ, ...)
  float alpha = 0.6f;      // pull-back strength toward the anchor (0: no consensus; 1: reset to it)
  float gmf = 0.0f;        // anchor (slow) momentum; 0: none, and no b is kept
  coll::CollOptions coll;  // algorithm / delay of every collective (Finish's deadline too)
  // How long a sync waits for the previous round's AllReduce; 0: comm.timeout().
  std::chrono::milliseconds wait_timeout{0};
  // The hand-over of the CPU after issuing and after each step in flight (design note).
  // kAuto follows TIDAL_OVERLAP_YIELD (on, off, or auto: on when comm.local_size() exceeds the
  // host's online CPUs).
  enum class CpuYield { kAuto, kOn, kOff };
  CpuYield cpu_yield = CpuYield::kAuto;
};

class OverlapLocalSgd {
 public:
  // Collective over `comm`: broadcasts x from rank 0 (blocking), then z ← x_0 (and b ← 0 when
  // gmf > 0).
  // REQUIRES: comm and x (count floats) outlive the object and its AllReduce (Finish drains it);
  // every rank passes the same count and options.
  // Errors: kInvalidArgument naming the rank and the argument (x null with count > 0, tau < 1,
  // alpha not finite, gmf negative or not finite, wait_timeout negative, TIDAL_OVERLAP_YIELD not
  // auto, on or off while cpu_yield is kAuto); the broadcast's errors.
  static Result<std::unique_ptr<OverlapLocalSgd>> Create(Communicator& comm, float* x, size_t count,
                                                         OverlapLocalSgdOptions options);
  // The destructor waits for an AllReduce still in flight (up to wait_timeout), as z dies with it.
  ~OverlapLocalSgd();
  OverlapLocalSgd(const OverlapLocalSgd&) = delete;
  OverlapLocalSgd& operator=(const OverlapLocalSgd&) = delete;

  // After every local step, with that step's learning rate gamma (used by the gmf > 0 anchor
  // update). At a sync: waits for the previous round (wait_timeout), pulls x back toward the
  // anchor, updates the anchor and issues the next AllReduce; otherwise returns at once.
  // Errors: kInvalidArgument for gamma not > 0 and finite (checked on every call); the previous
  // round's failure or kTimedOut (named with rank, operation and round); the collective's
  // errors. After an error the object is unusable: rebuild the communicator.
  Status AfterLocalStep(float gamma);

  // Drains h (wait_timeout), then x ← (1/n) Σ_i x_i (blocking AllReduce avg, options.coll.deadline
  // else comm's timeout): every rank ends with bit-identical x. Collective.
  Status Finish();

  // True while the anchor's AllReduce has been issued and has not finished. Never blocks and
  // drives nothing: in cooperative mode an operation only finishes while someone waits.
  bool in_flight() const;
  // The anchor z, for inspection. kInvalidArgument naming the rank while its AllReduce is in
  // flight (tidal has no failed-precondition code: read it after the next sync or Finish);
  // the AllReduce's error when it failed.
  Result<std::span<const float>> anchor() const;

  int64_t iteration() const { return itr_; }
  // Whether this object hands its CPU over (cpu_yield resolved at Create), and how many times
  // it has (sched_yield calls).
  bool yields_cpu() const { return yield_; }
  int64_t cpu_yields() const { return yields_; }
  // Floats of state besides x: z, plus b when gmf > 0.
  size_t state_floats() const { return z_.size() + b_.size(); }
  const OverlapLocalSgdOptions& options() const { return options_; }

 private:
  OverlapLocalSgd(Communicator& comm, float* x, size_t count, OverlapLocalSgdOptions options);
  Status Sync(float gamma);
  // Waits for h (wait_timeout); clears it when it succeeded.
  Status Drain(std::string_view op);
  // sched_yield when yield_ (counted).
  void YieldCpu();

  Communicator& comm_;
  float* x_;
  size_t count_;
  OverlapLocalSgdOptions options_;
  std::vector<float> z_;  // the anchor and communication buffer
  std::vector<float> b_;  // anchor momentum (gmf > 0 only)
  Work h_;                // the anchor's AllReduce of the last round
  int64_t itr_ = 0;
  int64_t round_ = 0;   // AllReduces issued
  bool yield_ = false;  // cpu_yield resolved
  int64_t yields_ = 0;
};

}  // namespace tidal::optim
