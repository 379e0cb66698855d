// The training benchmark's data: Fashion-MNIST as read by idx.h, cut into per-rank shards and
// minibatches.
//
// Sharding: one permutation of the training set from std::mt19937_64(seed) (the same on every
// rank); rank r of n takes items [r*m, (r+1)*m) of it, m = floor(N/n), so every rank has the same
// number of steps per epoch. Each epoch reshuffles the rank's own shard with a generator seeded by
// (seed, epoch, rank). Pixels become floats: x/255, then optionally (x - 0.2860) / 0.3530 (the
// training set's mean and standard deviation).
//
// Thread safety: none; one thread per Shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "train/idx.h"

namespace tidal::train {

// The whole test set, or `limit` items of it (0: all), as normalized floats; rank r of n keeps
// its contiguous part [r*T/n, (r+1)*T/n) for evaluation.
struct EvalSlice {
  size_t n = 0;
  std::vector<float> x;         // n * pixels
  std::vector<uint8_t> labels;  // n
};

void PixelsToFloat(const uint8_t* in, size_t count, bool normalize, float* out);

EvalSlice MakeEvalSlice(const ImageSet& set, size_t limit, int rank, int size, bool normalize);

class Shard {
 public:
  // Items of `set` this rank trains on; `limit` > 0 uses only the first `limit` items of the
  // permutation (small test runs). REQUIRES: set outlives the Shard.
  Shard(const ImageSet& set, size_t limit, uint64_t seed, int rank, int size, bool normalize);

  size_t size() const { return order_.size(); }
  // Reshuffles the shard for `epoch` (seed, epoch, rank).
  void StartEpoch(uint64_t epoch);
  // Batch `index` of the current epoch: rows [index*batch, (index+1)*batch) of the shuffled
  // shard into x ([batch x pixels] floats) and labels. REQUIRES: (index+1)*batch <= size().
  void Batch(size_t index, int batch, float* x, uint8_t* labels) const;
  // Items [begin, begin+count) of the shard in its initial order, for full-loss evaluation.
  void Items(size_t begin, size_t count, float* x, uint8_t* labels) const;

 private:
  const ImageSet& set_;
  uint64_t seed_;
  int rank_;
  bool normalize_;
  std::vector<uint32_t> items_;  // the shard, fixed
  std::vector<uint32_t> order_;  // this epoch's order
};

}  // namespace tidal::train
