// The training loop of the benchmark (perf/train): data-parallel training of the Fashion-MNIST
// MLP (mlp.h) with one of the algorithms of algos.h, evaluation of the averaged model, the CSV log
// and the final summary line.
//
// Clocks: wall_s counts training only (forward, backward, optimizer, communication, the modelled
// slowdown). Evaluation, its averaging collectives (on a communicator of their own, so they never
// queue behind a training collective) and logging are outside it, and outside bytes_sent.
//
// Thread safety: one thread per rank.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "tidal/comm/communicator.h"
#include "tidal/core/status.h"
#include "train/algos.h"

namespace tidal::train {

struct TrainConfig {
  AlgoConfig algo;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  float lr = 0.05f;
  // Step decay: lr * lr_decay_gamma^(number of epochs in lr_decay_epochs already reached).
  std::vector<int> lr_decay_epochs;
  float lr_decay_gamma = 0.1f;
  int batch = 32;  // per rank
  int epochs = 10;
  int64_t steps = 0;       // > 0: stop after this many steps instead of `epochs` epochs
  int64_t eval_every = 0;  // 0: once per epoch (and always at the end)
  uint64_t seed = 0;
  size_t train_limit = 0;  // > 0: use only this many training items (tests)
  size_t test_limit = 0;   // > 0: evaluate on this many test items
  bool normalize = true;
  int slow_rank = -1;        // this rank's compute is slow_factor times slower ...
  double slow_factor = 1.0;  // ... by sleeping (factor - 1) x the measured compute time
  int delay_rank = -1;       // -1: every rank delays its collectives by algo.delay
  std::string csv;           // rank 0 writes the log here (empty: none)
  // Every evaluation also computes full_train_loss (the averaged model's mean loss over the whole
  // training set; otherwise only the final evaluation does), outside the clock.
  bool eval_full_loss = false;
  // Rank 0 writes `step,wall_s` after every step here (the training clock; written at the end).
  std::string wall_csv;
  bool quiet = false;  // no per-eval lines on stdout
};

// Runs the whole training on this rank. Collective over comm. Returns the first error (data
// files, collectives), naming the rank.
Status Train(Communicator& comm, TrainConfig config);

// Finite-difference check of Mlp::Backward on a small network and batch; prints the worst
// relative error. kInternal when it is above tolerance.
Status GradientSelfTest();

}  // namespace tidal::train
