#include "train/algos.h"

#include <fstream>
#include <mutex>
#include <utility>

#include "tidal/coll/collectives.h"
#include "tidal/optim/buckets.h"
#include "tidal/optim/kernels.h"
#include "tidal/optim/local_sgd.h"
#include "tidal/optim/overlap_local_sgd.h"
#include "tidal/optim/slowmo.h"

namespace tidal::train {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Base optimizer state shared by the four algorithms.
class Base : public Algo {
 public:
  Base(Communicator& comm, const AlgoConfig& config, size_t count, float* x, float* g)
      : comm_(comm), config_(config), count_(count), x_(x), g_(g), momentum_(count, 0.0f) {
    coll_.delay = config.delay;
  }

 protected:
  void SgdLocal(float lr) {
    optim::SgdConfig c;
    c.lr = lr;
    c.momentum = config_.momentum;
    c.nesterov = config_.nesterov;
    c.weight_decay = config_.weight_decay;
    optim::SgdStep(c, x_, g_, config_.momentum != 0.0f ? momentum_.data() : nullptr, count_);
  }
  void CountRound() {
    const double n = comm_.size();
    stats_.rounds += 1;
    stats_.bytes += 2.0 * (n - 1) / n * 4.0 * static_cast<double>(count_);
  }

  Communicator& comm_;
  AlgoConfig config_;
  size_t count_;
  float* x_;
  float* g_;
  std::vector<float> momentum_;
  coll::CollOptions coll_;
};

class SyncSgd : public Base {
 public:
  using Base::Base;
  Status Step(float lr) override {
    const auto t0 = Clock::now();
    TIDAL_RETURN_IF_ERROR(coll::AllReduce(comm_, g_, g_, count_, coll::DataType::kFloat32,
                                          coll::ReduceOp::kAvg, coll_));
    stats_.blocking_s += Since(t0);
    stats_.blocking_rounds += 1;
    CountRound();
    SgdLocal(lr);
    return Status::Ok();
  }
  bool replicas_differ() const override { return false; }
};

class LocalSgdAlgo : public Base {
 public:
  LocalSgdAlgo(Communicator& comm, const AlgoConfig& config, size_t count, float* x, float* g)
      : Base(comm, config, count, x, g) {}
  Status Init() {
    optim::LocalSgdOptions o;
    o.tau = config_.tau;
    o.coll = coll_;
    TIDAL_ASSIGN_OR_RETURN(local_, optim::LocalSgd::Create(comm_, x_, count_, std::move(o)));
    return Status::Ok();
  }
  Status Step(float lr) override {
    SgdLocal(lr);
    const auto t0 = Clock::now();
    TIDAL_ASSIGN_OR_RETURN(const bool averaged, local_->AfterInnerStep());
    if (averaged) {
      stats_.blocking_s += Since(t0);
      stats_.blocking_rounds += 1;
      CountRound();
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<optim::LocalSgd> local_;
};

class SlowMoAlgo : public Base {
 public:
  SlowMoAlgo(Communicator& comm, const AlgoConfig& config, const Mlp& mlp, float* x, float* g)
      : Base(comm, config, mlp.num_params(), x, g) {
    for (int l = 0; l < mlp.num_layers(); ++l) {
      layers_.push_back({mlp.layer(l).w_begin, mlp.layer(l).end - mlp.layer(l).w_begin});
    }
  }
  Status Init() {
    optim::SlowMoOptions o;
    o.alpha = config_.alpha;
    o.beta = config_.beta;
    o.tau = config_.tau;
    o.coll = coll_;
    if (config_.bucket_per_layer) {
      // One bucket per layer (W_l and b_l together): MakeBuckets over the per-layer counts with
      // max_bytes 0 gives each its own bucket.
      std::vector<size_t> per_layer;
      for (const optim::Bucket& l : layers_) {
        per_layer.push_back(l.count);
      }
      o.buckets = optim::MakeBuckets(per_layer, 0);
      buckets_ = o.buckets;
    }
    TIDAL_ASSIGN_OR_RETURN(slowmo_, optim::SlowMo::Create(comm_, x_, count_, std::move(o)));
    return Status::Ok();
  }
  Status Step(float lr) override {
    SgdLocal(lr);
    if (!config_.bucket_per_layer) {
      const auto t0 = Clock::now();
      TIDAL_ASSIGN_OR_RETURN(const bool outer, slowmo_->AfterInnerStep(lr));
      if (outer) {
        stats_.blocking_s += Since(t0);
        stats_.blocking_rounds += 1;
        CountRound();
      }
      return Status::Ok();
    }
    if (++inner_ % config_.tau != 0) {
      return Status::Ok();
    }
    CountRound();
    const auto t0 = Clock::now();
    if (config_.probe_every > 0 && outer_++ % config_.probe_every == 0) {
      TIDAL_RETURN_IF_ERROR(slowmo_->OuterStep(lr));  // a probe: the blocking outer step
      stats_.blocking_s += Since(t0);
      stats_.blocking_rounds += 1;
      return Status::Ok();
    }
    TIDAL_ASSIGN_OR_RETURN(pending_, slowmo_->OuterStepAsync(lr));
    stats_.exposed_s += Since(t0);
    stats_.exposed_rounds += 1;
    return Status::Ok();
  }
  // Waits for every pending bucket that overlaps layer l.
  Status BeforeLayer(int layer) override {
    if (pending_.empty()) {
      return Status::Ok();
    }
    const optim::Bucket& l = layers_[static_cast<size_t>(layer)];
    const auto t0 = Clock::now();
    for (size_t k = 0; k < pending_.size(); ++k) {
      const optim::Bucket& b = buckets_[k];
      const bool overlaps = b.begin < l.begin + l.count && l.begin < b.begin + b.count;
      if (overlaps && pending_[k].valid()) {
        TIDAL_RETURN_IF_ERROR(pending_[k].Wait());
        pending_[k] = Work();
      }
    }
    stats_.exposed_s += Since(t0);
    if (layer + 1 == static_cast<int>(layers_.size())) {
      return Quiesce();
    }
    return Status::Ok();
  }
  Status Quiesce() override {
    const auto t0 = Clock::now();
    for (Work& w : pending_) {
      if (w.valid()) {
        TIDAL_RETURN_IF_ERROR(w.Wait());
      }
    }
    if (!pending_.empty()) {
      stats_.exposed_s += Since(t0);
    }
    pending_.clear();
    return Status::Ok();
  }

 private:
  std::vector<optim::Bucket> layers_;   // [w_begin, end) of each layer
  std::vector<optim::Bucket> buckets_;  // the SlowMo's buckets (bucket_per_layer)
  std::unique_ptr<optim::SlowMo> slowmo_;
  std::vector<Work> pending_;
  int64_t inner_ = 0;
  int64_t outer_ = 0;
};

class OverlapAlgo : public Base {
 public:
  OverlapAlgo(Communicator& comm, const AlgoConfig& config, size_t count, float* x, float* g)
      : Base(comm, config, count, x, g) {}
  Status Init() {
    optim::OverlapLocalSgdOptions o;
    o.tau = config_.tau;
    o.alpha = config_.alpha;
    o.gmf = config_.gmf;
    o.coll = coll_;
    if (!config_.round_trace.empty()) {
      // Runs on the engine's thread when each collective finished (CollOptions::on_finish).
      o.coll.on_finish = [this](const Status&) {
        std::lock_guard<std::mutex> lock(trace_mu_);
        finished_.push_back(Clock::now());
      };
    }
    TIDAL_ASSIGN_OR_RETURN(overlap_,
                           optim::OverlapLocalSgd::Create(comm_, x_, count_, std::move(o)));
    std::lock_guard<std::mutex> lock(trace_mu_);
    finished_.clear();  // Create's broadcast of x (blocking, so already finished)
    return Status::Ok();
  }
  Status Step(float lr) override {
    SgdLocal(lr);
    const int64_t itr = overlap_->iteration();
    const bool sync = itr != 0 && itr % config_.tau == 0;  // the rule of overlap_local_sgd.h
    const auto t0 = Clock::now();
    TIDAL_RETURN_IF_ERROR(overlap_->AfterLocalStep(lr));
    if (sync) {
      if (!config_.round_trace.empty()) {
        arrived_.push_back(t0);
        issued_.push_back(Clock::now());
      }
      stats_.exposed_s += Since(t0);  // the wait for the previous round plus the issue
      stats_.exposed_rounds += 1;
      CountRound();
    }
    return Status::Ok();
  }
  Status Finish() override {
    TIDAL_RETURN_IF_ERROR(overlap_->Finish());  // every anchor AllReduce has finished
    return config_.round_trace.empty() ? Status::Ok() : WriteTrace();
  }

 private:
  Status WriteTrace() {
    const std::string path = config_.round_trace + "." + std::to_string(comm_.rank());
    std::ofstream out(path, std::ios::trunc);
    const auto us = [](Clock::time_point t) {
      return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    };
    std::lock_guard<std::mutex> lock(trace_mu_);
    out << "round,arrive_us,issued_us,finished_us\n";
    for (size_t k = 0; k < issued_.size() && k < finished_.size(); ++k) {
      out << k << "," << us(arrived_[k]) << "," << us(issued_[k]) << "," << us(finished_[k])
          << "\n";
    }
    out.close();
    if (!out) return IoError("rank ", comm_.rank(), ": cannot write --round-trace ", path);
    return Status::Ok();
  }

  std::unique_ptr<optim::OverlapLocalSgd> overlap_;
  // --round-trace: per sync, when the trainer reached it and when it had issued the next anchor
  // AllReduce; per collective after Create, when it finished (the anchors in order, then Finish's
  // average).
  std::vector<Clock::time_point> arrived_;
  std::vector<Clock::time_point> issued_;
  std::mutex trace_mu_;
  std::vector<Clock::time_point> finished_;
};

template <typename T, typename... Args>
Result<std::unique_ptr<Algo>> Make(Args&&... args) {
  auto algo = std::make_unique<T>(std::forward<Args>(args)...);
  TIDAL_RETURN_IF_ERROR(algo->Init());
  return std::unique_ptr<Algo>(std::move(algo));
}

}  // namespace

Result<std::unique_ptr<Algo>> MakeAlgo(Communicator& comm, const AlgoConfig& config, const Mlp& mlp,
                                       float* x, float* g) {
  const size_t d = mlp.num_params();
  if (!config.round_trace.empty() && config.algo != "overlap") {
    return InvalidArgumentError("--round-trace applies to --algo overlap only");
  }
  if (config.bucket_per_layer && config.algo != "slowmo") {
    return InvalidArgumentError("--bucket-per-layer applies to --algo slowmo only");
  }
  if (config.algo == "sync") {
    return std::unique_ptr<Algo>(std::make_unique<SyncSgd>(comm, config, d, x, g));
  }
  if (config.algo == "local") {
    return Make<LocalSgdAlgo>(comm, config, d, x, g);
  }
  if (config.algo == "slowmo") {
    return Make<SlowMoAlgo>(comm, config, mlp, x, g);
  }
  if (config.algo == "overlap") {
    return Make<OverlapAlgo>(comm, config, d, x, g);
  }
  return InvalidArgumentError("--algo ", config.algo, ": expected sync, local, slowmo or overlap");
}

}  // namespace tidal::train
