// train: the training benchmark (perf/train). Trains the Fashion-MNIST MLP under tidalrun with one
// of sync / local / slowmo / overlap and writes a CSV log; see trainer.h for what is timed and
// counted, and compare.sh / timing.sh for the protocols that use it.
//
//   tidalrun -n 4 train --algo slowmo --lr 0.05 --tau 12 --beta 0.7 --csv slowmo.csv
//   train --self-test          (finite-difference check of the MLP's backward; no ranks)
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string>

#include "tidal/comm/communicator.h"
#include "train/trainer.h"

namespace {

struct Flags {
  tidal::train::TrainConfig config;
  float alpha = NAN;  // default by algorithm
  int64_t delay_us = 0;
  std::string slowdown;  // "rank:factor"
  double timeout_s = 0;
  bool self_test = false;
};

void AddFlags(CLI::App& app, Flags& f) {
  tidal::train::TrainConfig& c = f.config;
  tidal::train::AlgoConfig& a = c.algo;
  app.add_option("--algo", a.algo, "sync, local, slowmo or overlap")
      ->check(CLI::IsMember({"sync", "local", "slowmo", "overlap"}));
  app.add_option("--lr", c.lr, "base learning rate (constant unless --lr-decay-epochs)")
      ->check(CLI::PositiveNumber);
  app.add_option("--lr-decay-epochs", c.lr_decay_epochs,
                 "epochs at which lr is multiplied by "
                 "--lr-decay-gamma")
      ->delimiter(',');
  app.add_option("--lr-decay-gamma", c.lr_decay_gamma, "step decay factor");
  app.add_option("--momentum", a.momentum, "base SGD momentum")->check(CLI::Range(0.0, 1.0));
  app.add_flag("--nesterov", a.nesterov, "Nesterov momentum");
  app.add_option("--weight-decay", a.weight_decay, "L2 weight decay")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--tau", a.tau, "inner (local) steps per outer step / average")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--alpha", f.alpha,
                 "slowmo: slow learning rate (default 1); overlap: pull-back (default 0.6)");
  app.add_option("--beta", a.beta, "slowmo: slow momentum")->check(CLI::Range(0.0, 1.0));
  app.add_option("--gmf", a.gmf, "overlap: anchor momentum")->check(CLI::Range(0.0, 1.0));
  app.add_flag("--bucket-per-layer", a.bucket_per_layer,
               "slowmo: one bucket per layer, asynchronous outer step waited per layer");
  app.add_option("--probe-every", a.probe_every,
                 "with --bucket-per-layer: every k-th outer step blocks, to measure it (0: none)")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--batch", c.batch, "per-rank minibatch")->check(CLI::Range(1, 1 << 16));
  app.add_option("--epochs", c.epochs, "epochs over each rank's shard")
      ->check(CLI::Range(1, 10000));
  app.add_option("--steps", c.steps, "stop after this many steps (overrides --epochs)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--eval-every", c.eval_every, "steps between evaluations (0: once per epoch)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", c.seed, "seed of the shards, the shuffles and the initial model");
  app.add_option("--data-dir", c.data_dir, "directory of the gzip'd Fashion-MNIST IDX files");
  app.add_option("--train-subset", c.train_limit, "use only this many training images (0: all)");
  app.add_option("--test-subset", c.test_limit, "evaluate on this many test images (0: all)");
  app.add_flag("--normalize,!--no-normalize", c.normalize, "standardize pixels (default on)");
  app.add_option("--delay-us", f.delay_us,
                 "each collective of the delayed ranks starts this long after it is issued")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--round-trace", a.round_trace,
                 "overlap: each rank writes its rounds' timeline (reached, issued, anchor "
                 "AllReduce finished) to FILE.<rank>; perf/train/round_trace.sh reads them");
  app.add_option("--delay-rank", c.delay_rank, "the rank --delay-us applies to (-1: every rank)");
  app.add_option("--slowdown", f.slowdown,
                 "rank:factor, e.g. 3:2.0: that rank computes factor x "
                 "slower (sleeps (factor-1) x its compute time)");
  app.add_option("--csv", c.csv, "rank 0 writes the log here");
  app.add_flag("--quiet", c.quiet, "no per-evaluation lines");
  app.add_option("--wall-csv", c.wall_csv,
                 "rank 0 writes step,wall_s after every step here (training clock)");
  app.add_flag(
      "--eval-full-loss", c.eval_full_loss,
      "every evaluation also computes the averaged model's loss over the whole training set "
      "(CSV column 7, full_train_loss)");
  app.add_option("--timeout", f.timeout_s, "deadline of each blocking collective, in seconds");
  app.add_flag("--self-test", f.self_test, "check the MLP's gradient by finite differences, exit");
}

tidal::Status Resolve(Flags& f) {
  tidal::train::TrainConfig& c = f.config;
  c.algo.alpha = std::isnan(f.alpha) ? (c.algo.algo == "overlap" ? 0.6f : 1.0f) : f.alpha;
  c.algo.delay = std::chrono::microseconds(f.delay_us);
  if (!f.slowdown.empty()) {
    const size_t colon = f.slowdown.find(':');
    char* end = nullptr;
    const long rank = std::strtol(f.slowdown.c_str(), &end, 10);
    const double factor =
        colon == std::string::npos ? 0 : std::strtod(f.slowdown.c_str() + colon + 1, nullptr);
    if (colon == std::string::npos || end != f.slowdown.c_str() + colon || rank < 0 ||
        !(factor >= 1)) {
      return tidal::InvalidArgumentError("--slowdown ", f.slowdown,
                                         ": expected rank:factor with factor >= 1, e.g. 3:2.0");
    }
    c.slow_rank = static_cast<int>(rank);
    c.slow_factor = factor;
  }
  return tidal::Status::Ok();
}

tidal::Status Run(Flags& f) {
  TIDAL_RETURN_IF_ERROR(Resolve(f));
  if (f.self_test) {
    return tidal::train::GradientSelfTest();
  }
  TIDAL_ASSIGN_OR_RETURN(std::unique_ptr<tidal::Communicator> comm,
                         tidal::Communicator::CreateWorld());
  if (f.timeout_s > 0) {
    comm->set_timeout(std::chrono::milliseconds(std::llround(f.timeout_s * 1e3)));
  }
  return tidal::train::Train(*comm, f.config);
}

}  // namespace

int main(int argc, char** argv) {
  openblas_set_num_threads(1);  // one BLAS thread per rank: ranks share the cores
  Flags flags;
  CLI::App app{"train: data-parallel MLP training on Fashion-MNIST (run under tidalrun)"};
  AddFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const tidal::Status status = Run(flags);
  if (!status.ok()) {
    std::fprintf(stderr, "train: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
