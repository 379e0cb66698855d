// The four training algorithms of the benchmark behind one interface, on the model's flat
// parameter vector x and gradient vector g (mlp.h):
//   sync     gradient AllReduce(avg) every step, then the base SGD step on every rank
//   local    Local SGD: base SGD step, then optim::LocalSgd::AfterInnerStep (average every tau)
//   slowmo   base SGD step, then optim::SlowMo::AfterInnerStep(lr) (outer step every tau); with
//            bucket_per_layer the outer step is OuterStepAsync with one bucket per layer, and the
//            next forward pass waits for layer l's bucket just before layer l (BeforeLayer)
//   overlap  base SGD step, then optim::OverlapLocalSgd::AfterLocalStep(lr)
// The base optimizer is optim::SgdStep (momentum, Nesterov, weight decay), with buffers kept
// across outer steps.
//
// Bytes are counted as a ring AllReduce moves them: 2(n-1)/n * 4 * count per rank per AllReduce
// (ALGORITHMS.md §0), for the training collectives only (not the initial broadcast of x, not the
// evaluation's averaging, not Overlap's final drain-and-average).
//
// Thread safety: one thread (the trainer's); only Overlap's --round-trace hook runs on the engine's
// thread, under its own mutex.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tidal/comm/communicator.h"
#include "tidal/core/status.h"
#include "train/mlp.h"

namespace tidal::train {

struct AlgoConfig {
  std::string algo = "sync";  // sync, local, slowmo, overlap
  float momentum = 0.9f;
  bool nesterov = false;
  float weight_decay = 0.0f;
  int tau = 12;
  float alpha = 1.0f;             // slowmo: slow learning rate; overlap: pull-back strength
  float beta = 0.5f;              // slowmo: slow momentum
  float gmf = 0.0f;               // overlap: anchor momentum
  bool bucket_per_layer = false;  // slowmo only
  int probe_every = 4;            // bucket_per_layer: every k-th outer step blocks (to measure it)
  std::chrono::microseconds delay{0};  // per-collective delay of this rank (CollOptions::delay)
  // overlap: each rank writes its rounds' timeline to "<round_trace>.<rank>" at Finish (CSV:
  // round, arrive_us, issued_us, finished_us on the host's monotonic clock; see round_trace.sh).
  // issued_us is when AfterLocalStep returned: after the CPU hand-over when that is on.
  std::string round_trace;
};

// Time spent in the training collectives, as the trainer saw it.
struct CommStats {
  int64_t rounds = 0;     // AllReduces issued by the algorithm
  double blocking_s = 0;  // time in blocking communication calls (sync/local/slowmo)
  int64_t blocking_rounds = 0;
  double exposed_s = 0;  // slowmo bucketed: time in OuterStepAsync plus waits for buckets
  int64_t exposed_rounds = 0;
  double bytes = 0;  // per rank, ring accounting
};

class Algo {
 public:
  virtual ~Algo() = default;
  // After Backward filled g: the base step and the algorithm's communication for this step.
  virtual Status Step(float lr) = 0;
  // Before layer l's matrix product reads x (forward pass).
  virtual Status BeforeLayer(int /*layer*/) { return Status::Ok(); }
  // Makes x readable and writable by the trainer: waits for anything in flight that touches x.
  virtual Status Quiesce() { return Status::Ok(); }
  // End of training: drains, and leaves x as the algorithm's final model on this rank.
  virtual Status Finish() { return Quiesce(); }
  // Whether x differs between ranks (then evaluation uses the average over ranks).
  virtual bool replicas_differ() const { return true; }
  const CommStats& stats() const { return stats_; }

 protected:
  CommStats stats_;
};

// Builds the algorithm for x and g (each mlp.num_params() floats, outliving the result). The
// optim objects broadcast x from rank 0 (collective). kInvalidArgument for an unknown algorithm or
// bad options; the optim Create errors.
Result<std::unique_ptr<Algo>> MakeAlgo(Communicator& comm, const AlgoConfig& config, const Mlp& mlp,
                                       float* x, float* g);

}  // namespace tidal::train
