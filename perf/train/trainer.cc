#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <span>
#include <thread>
#include <vector>

#include "tidal/coll/collectives.h"
#include "train/data.h"
#include "train/idx.h"
#include "train/mlp.h"

namespace tidal::train {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kClasses = 10;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Wall clock of training only: Pause() before evaluation and logging, Resume() after.
class TrainClock {
 public:
  void Resume() { start_ = Clock::now(); }
  void Pause() { total_ += Clock::now() - start_; }
  double seconds() const { return Seconds(total_); }
  // While running: the total including the current stretch.
  double running_seconds() const { return Seconds(total_ + (Clock::now() - start_)); }

 private:
  Clock::time_point start_{};
  Clock::duration total_{};
};

double Median(std::vector<double> v) {
  if (v.empty()) {
    return 0;
  }
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

float LearningRate(const TrainConfig& c, int64_t epoch) {
  float lr = c.lr;
  for (int e : c.lr_decay_epochs) {
    if (epoch >= e) {
      lr *= c.lr_decay_gamma;
    }
  }
  return lr;
}

// Everything a rank holds during training.
struct State {
  Communicator* comm = nullptr;
  std::unique_ptr<Communicator> eval_comm;  // evaluation's collectives, off the training stream
  TrainConfig config;
  ImageSet train_set;
  ImageSet test_set;
  std::unique_ptr<Shard> shard;
  EvalSlice test;
  std::unique_ptr<Mlp> mlp;
  std::vector<float> x, g, eval_x;
  std::unique_ptr<Algo> algo;
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  int64_t eval_every = 0;
  std::ofstream csv;
  // The current evaluation interval: sum of minibatch losses and their number.
  double interval_loss = 0;
  double interval_batches = 0;
  TrainClock clock;
  std::vector<double> step_s;  // every step's training time
  std::vector<double> wall_s;  // --wall-csv (rank 0): the training clock after every step
  float last_train_loss = 0;
  double last_acc = 0;
  double full_train_loss = 0;
};

Status Load(State& s) {
  const TrainConfig& c = s.config;
  TIDAL_ASSIGN_OR_RETURN(s.train_set, ReadImageSet(c.data_dir, "train", kClasses));
  TIDAL_ASSIGN_OR_RETURN(s.test_set, ReadImageSet(c.data_dir, "t10k", kClasses));
  if (s.train_set.pixels != 784 || s.test_set.pixels != 784) {
    return InvalidArgumentError("rank ", s.comm->rank(), ": ", c.data_dir,
                                ": images are not 28x28");
  }
  const int rank = s.comm->rank();
  const int n = s.comm->size();
  s.shard = std::make_unique<Shard>(s.train_set, c.train_limit, c.seed, rank, n, c.normalize);
  s.test = MakeEvalSlice(s.test_set, c.test_limit, rank, n, c.normalize);
  s.steps_per_epoch = static_cast<int64_t>(s.shard->size()) / c.batch;
  if (s.steps_per_epoch == 0) {
    return InvalidArgumentError("rank ", rank, ": a shard of ", s.shard->size(),
                                " items has no full batch of ", c.batch);
  }
  s.total_steps = c.steps > 0 ? c.steps : s.steps_per_epoch * c.epochs;
  s.eval_every = c.eval_every > 0 ? c.eval_every : s.steps_per_epoch;
  return Status::Ok();
}

// The model to evaluate: x itself when every rank holds the same, else the exact average over
// ranks in a copy (the training state is not touched).
Result<std::span<const float>> EvalParams(State& s) {
  TIDAL_RETURN_IF_ERROR(s.algo->Quiesce());
  if (!s.algo->replicas_differ()) {
    return std::span<const float>(s.x);
  }
  s.eval_x.resize(s.x.size());
  TIDAL_RETURN_IF_ERROR(coll::AllReduce(*s.eval_comm, s.x.data(), s.eval_x.data(), s.x.size(),
                                        coll::DataType::kFloat32, coll::ReduceOp::kAvg));
  return std::span<const float>(s.eval_x);
}

// Mean loss of `params` over this rank's whole shard (sum and count, for a global average).
void ShardLoss(State& s, std::span<const float> params, double* loss_sum, double* count) {
  constexpr size_t kChunk = 500;
  std::vector<float> xs(kChunk * 784);
  std::vector<uint8_t> ys(kChunk);
  *loss_sum = 0;
  *count = static_cast<double>(s.shard->size());
  for (size_t b = 0; b < s.shard->size(); b += kChunk) {
    const size_t rows = std::min(kChunk, s.shard->size() - b);
    s.shard->Items(b, rows, xs.data(), ys.data());
    size_t correct = 0;
    double sum = 0;
    s.mlp->Evaluate(params, xs.data(), ys.data(), rows, &correct, &sum);
    *loss_sum += sum;
  }
}

Status Evaluate(State& s, int64_t step, bool final) {
  TIDAL_ASSIGN_OR_RETURN(std::span<const float> params, EvalParams(s));
  size_t correct = 0;
  double test_loss = 0;
  s.mlp->Evaluate(params, s.test.x.data(), s.test.labels.data(), s.test.n, &correct, &test_loss);
  double full_loss = 0;
  double full_count = 0;
  if (final || s.config.eval_full_loss) {
    ShardLoss(s, params, &full_loss, &full_count);
  }
  double sums[6] = {s.interval_loss,
                    s.interval_batches,
                    static_cast<double>(correct),
                    static_cast<double>(s.test.n),
                    full_loss,
                    full_count};
  TIDAL_RETURN_IF_ERROR(
      coll::AllReduce(*s.eval_comm, sums, sums, 6, coll::DataType::kFloat64, coll::ReduceOp::kSum));
  s.interval_loss = 0;
  s.interval_batches = 0;
  s.last_train_loss = static_cast<float>(sums[0] / std::max(1.0, sums[1]));
  s.last_acc = sums[2] / std::max(1.0, sums[3]);
  const double full_train_loss = sums[4] / std::max(1.0, sums[5]);
  if (final) {
    s.full_train_loss = full_train_loss;
  }
  if (s.comm->rank() != 0) {
    return Status::Ok();
  }
  const double epoch = static_cast<double>(step) / static_cast<double>(s.steps_per_epoch);
  const double bytes = s.algo->stats().bytes;
  if (s.csv.is_open()) {
    char line[256];
    std::snprintf(line, sizeof(line), "%lld,%.4f,%.4f,%.6f,%.5f,%.0f", static_cast<long long>(step),
                  epoch, s.clock.seconds(), static_cast<double>(s.last_train_loss), s.last_acc,
                  bytes);
    s.csv << line;
    if (s.config.eval_full_loss) {
      std::snprintf(line, sizeof(line), ",%.6f", full_train_loss);
      s.csv << line;
    }
    s.csv << "\n" << std::flush;
  }
  if (!s.config.quiet) {
    std::printf("step %lld epoch %.2f wall %.2fs loss %.4f acc %.4f bytes %.3g\n",
                static_cast<long long>(step), epoch, s.clock.seconds(),
                static_cast<double>(s.last_train_loss), s.last_acc, bytes);
    std::fflush(stdout);
  }
  return Status::Ok();
}

Status OpenCsv(State& s) {
  if (s.comm->rank() != 0 || s.config.csv.empty()) {
    return Status::Ok();
  }
  s.csv.open(s.config.csv, std::ios::trunc);
  if (!s.csv) {
    return IoError("rank 0: cannot write --csv ", s.config.csv);
  }
  const TrainConfig& c = s.config;
  s.csv << "# tidal perf/train: algo=" << c.algo.algo << " lr=" << c.lr << " seed=" << c.seed
        << " ranks=" << s.comm->size() << " batch=" << c.batch << " tau=" << c.algo.tau
        << " alpha=" << c.algo.alpha << " beta=" << c.algo.beta << " gmf=" << c.algo.gmf
        << " momentum=" << c.algo.momentum << " delay_us=" << c.algo.delay.count() << "\n"
        << "# wall_s: training time of rank 0 (evaluation and logging excluded); train_loss: mean"
           " minibatch loss since the previous row, over all ranks; test_acc: the average model"
           " over ranks on the test set; bytes_sent: cumulative per-rank bytes of the training"
           " collectives, counted as a ring AllReduce moves them, 2(n-1)/n*4*count each";
  if (c.eval_full_loss) {
    s.csv << "; full_train_loss (--eval-full-loss): the average model's mean loss over the whole"
             " training set\n"
          << "step,epoch,wall_s,train_loss,test_acc,bytes_sent,full_train_loss\n";
  } else {
    s.csv << "\nstep,epoch,wall_s,train_loss,test_acc,bytes_sent\n";
  }
  return Status::Ok();
}

Status TrainStep(State& s, int64_t step, std::vector<float>& xb, std::vector<uint8_t>& yb) {
  const TrainConfig& c = s.config;
  const int64_t epoch = step / s.steps_per_epoch;
  const int64_t index = step % s.steps_per_epoch;
  if (index == 0) {
    s.shard->StartEpoch(static_cast<uint64_t>(epoch));
  }
  const auto t0 = Clock::now();
  s.shard->Batch(static_cast<size_t>(index), c.batch, xb.data(), yb.data());
  Status layer_status;
  const BeforeLayerFn before = [&](int layer) {
    if (layer_status.ok()) {
      layer_status = s.algo->BeforeLayer(layer);
    }
  };
  const float loss = s.mlp->Forward(s.x, xb.data(), yb.data(), c.batch, before);
  TIDAL_RETURN_IF_ERROR(layer_status);
  s.mlp->Backward(s.x, xb.data(), s.g);
  if (s.comm->rank() == c.slow_rank && c.slow_factor > 1) {
    const double compute = Seconds(Clock::now() - t0);
    std::this_thread::sleep_for(std::chrono::duration<double>((c.slow_factor - 1) * compute));
  }
  TIDAL_RETURN_IF_ERROR(s.algo->Step(LearningRate(c, epoch)));
  s.step_s.push_back(Seconds(Clock::now() - t0));
  s.interval_loss += static_cast<double>(loss);
  s.interval_batches += 1;
  return Status::Ok();
}

// --wall-csv: `step,wall_s` after every step (wall_s: the training clock, evaluation excluded).
Status WriteWallCsv(const State& s) {
  std::ofstream out(s.config.wall_csv, std::ios::trunc);
  out << "# tidal perf/train: wall_s = training clock of rank 0 after the step (evaluation and "
         "logging excluded)\nstep,wall_s\n";
  char line[64];
  for (size_t i = 0; i < s.wall_s.size(); ++i) {
    std::snprintf(line, sizeof(line), "%zu,%.5f\n", i + 1, s.wall_s[i]);
    out << line;
  }
  out.flush();
  if (!out) {
    return IoError("rank 0: cannot write --wall-csv ", s.config.wall_csv);
  }
  return Status::Ok();
}

void PrintSummary(const State& s) {
  if (s.comm->rank() != 0) {
    return;
  }
  const TrainConfig& c = s.config;
  const CommStats& st = s.algo->stats();
  const double steps = static_cast<double>(s.total_steps);
  const double blocking_ms = st.blocking_rounds ? 1e3 * st.blocking_s / st.blocking_rounds : 0;
  const double exposed_ms = st.exposed_rounds ? 1e3 * st.exposed_s / st.exposed_rounds : 0;
  std::printf(
      "summary algo=%s lr=%g seed=%llu ranks=%d tau=%d alpha=%g beta=%g gmf=%g delay_us=%lld "
      "bucket_per_layer=%d steps=%lld final_train_loss=%.5f full_train_loss=%.5f test_acc=%.4f "
      "wall_s=%.3f ms_per_step=%.4f median_step_ms=%.4f bytes=%.0f rounds=%lld "
      "blocking_comm_ms=%.4f exposed_comm_ms=%.4f\n",
      c.algo.algo.c_str(), static_cast<double>(c.lr), static_cast<unsigned long long>(c.seed),
      s.comm->size(), c.algo.tau, static_cast<double>(c.algo.alpha),
      static_cast<double>(c.algo.beta), static_cast<double>(c.algo.gmf),
      static_cast<long long>(c.algo.delay.count()), c.algo.bucket_per_layer ? 1 : 0,
      static_cast<long long>(s.total_steps), static_cast<double>(s.last_train_loss),
      s.full_train_loss, s.last_acc, s.clock.seconds(), 1e3 * s.clock.seconds() / steps,
      1e3 * Median(s.step_s), st.bytes, static_cast<long long>(st.rounds), blocking_ms, exposed_ms);
  if (c.algo.bucket_per_layer && blocking_ms > 0) {
    std::printf(
        "bucketed outer step: blocking %.3f ms (%lld probe rounds), exposed %.3f ms (%lld "
        "async rounds): %.1f%% hidden\n",
        blocking_ms, static_cast<long long>(st.blocking_rounds), exposed_ms,
        static_cast<long long>(st.exposed_rounds), 100.0 * (1.0 - exposed_ms / blocking_ms));
  }
  std::fflush(stdout);
}

}  // namespace

Status Train(Communicator& comm, TrainConfig config) {
  State s;
  s.comm = &comm;
  if (config.delay_rank >= 0 && config.delay_rank != comm.rank()) {
    config.algo.delay = std::chrono::microseconds(0);
  }
  s.config = std::move(config);
  TIDAL_RETURN_IF_ERROR(Load(s));
  TIDAL_ASSIGN_OR_RETURN(s.eval_comm, comm.Split(0, comm.rank()));
  s.mlp = std::make_unique<Mlp>(std::vector<int>{784, 256, 128, kClasses});
  s.x.assign(s.mlp->num_params(), 0.0f);
  s.g.assign(s.mlp->num_params(), 0.0f);
  s.mlp->Init(s.x, s.config.seed);
  TIDAL_ASSIGN_OR_RETURN(s.algo, MakeAlgo(comm, s.config.algo, *s.mlp, s.x.data(), s.g.data()));
  TIDAL_RETURN_IF_ERROR(OpenCsv(s));
  std::vector<float> xb(static_cast<size_t>(s.config.batch) * 784);
  std::vector<uint8_t> yb(static_cast<size_t>(s.config.batch));
  s.step_s.reserve(static_cast<size_t>(s.total_steps));
  TIDAL_RETURN_IF_ERROR(comm.Barrier());
  s.clock.Resume();
  const bool log_wall = comm.rank() == 0 && !s.config.wall_csv.empty();
  if (log_wall) {
    s.wall_s.reserve(static_cast<size_t>(s.total_steps));
  }
  for (int64_t step = 0; step < s.total_steps; ++step) {
    TIDAL_RETURN_IF_ERROR(TrainStep(s, step, xb, yb));
    if (log_wall) {
      s.wall_s.push_back(s.clock.running_seconds());
    }
    const bool last = step + 1 == s.total_steps;
    if (last || (step + 1) % s.eval_every == 0) {
      s.clock.Pause();
      TIDAL_RETURN_IF_ERROR(Evaluate(s, step + 1, last));
      s.clock.Resume();
    }
  }
  s.clock.Pause();
  TIDAL_RETURN_IF_ERROR(s.algo->Finish());
  if (log_wall) {
    TIDAL_RETURN_IF_ERROR(WriteWallCsv(s));
  }
  PrintSummary(s);
  return Status::Ok();
}

Status GradientSelfTest() {
  Mlp mlp({7, 6, 5, 4});
  const int batch = 5;
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> params(mlp.num_params());
  mlp.Init(params, 3);
  for (float& p : params) {
    p += 0.1f * normal(gen);  // nonzero biases too
  }
  std::vector<float> x(static_cast<size_t>(batch) * 7);
  for (float& v : x) {
    v = normal(gen);
  }
  const uint8_t labels[batch] = {0, 3, 1, 2, 3};
  std::vector<float> grad(params.size());
  mlp.Forward(params, x.data(), labels, batch);
  mlp.Backward(params, x.data(), grad);
  double worst = 0;
  size_t worst_i = 0;
  constexpr float kEps = 1e-2f;
  for (size_t i = 0; i < params.size(); ++i) {
    const float saved = params[i];
    params[i] = saved + kEps;
    const double up = static_cast<double>(mlp.Forward(params, x.data(), labels, batch));
    params[i] = saved - kEps;
    const double down = static_cast<double>(mlp.Forward(params, x.data(), labels, batch));
    params[i] = saved;
    const double fd = (up - down) / (2.0 * static_cast<double>(kEps));
    const double err = std::abs(fd - static_cast<double>(grad[i])) /
                       std::max(1e-2, std::abs(fd) + std::abs(static_cast<double>(grad[i])));
    if (err > worst) {
      worst = err;
      worst_i = i;
    }
  }
  std::printf("gradient check: %zu parameters, worst relative error %.3g at %zu\n", params.size(),
              worst, worst_i);
  if (worst > 2e-2) {
    return InternalError("gradient check failed: relative error ", worst, " at parameter ",
                         worst_i);
  }
  return Status::Ok();
}

}  // namespace tidal::train
