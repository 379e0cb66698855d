#include "train/data.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "tidal/core/check.h"

namespace tidal::train {
namespace {

constexpr float kMean = 0.2860f;  // Fashion-MNIST training set, pixels in [0, 1]
constexpr float kStd = 0.3530f;

}  // namespace

void PixelsToFloat(const uint8_t* in, size_t count, bool normalize, float* out) {
  const float scale = normalize ? 1.0f / (255.0f * kStd) : 1.0f / 255.0f;
  const float shift = normalize ? kMean / kStd : 0.0f;
  for (size_t i = 0; i < count; ++i) {
    out[i] = static_cast<float>(in[i]) * scale - shift;
  }
}

EvalSlice MakeEvalSlice(const ImageSet& set, size_t limit, int rank, int size, bool normalize) {
  const size_t total = limit > 0 ? std::min(limit, set.n) : set.n;
  const size_t n = static_cast<size_t>(size);
  const size_t begin = total * static_cast<size_t>(rank) / n;
  const size_t end = total * static_cast<size_t>(rank + 1) / n;
  EvalSlice slice;
  slice.n = end - begin;
  slice.x.resize(slice.n * set.pixels);
  PixelsToFloat(set.images.data() + begin * set.pixels, slice.n * set.pixels, normalize,
                slice.x.data());
  slice.labels.assign(set.labels.begin() + static_cast<std::ptrdiff_t>(begin),
                      set.labels.begin() + static_cast<std::ptrdiff_t>(end));
  return slice;
}

Shard::Shard(const ImageSet& set, size_t limit, uint64_t seed, int rank, int size, bool normalize)
    : set_(set), seed_(seed), rank_(rank), normalize_(normalize) {
  TIDAL_CHECK_GT(size, 0);
  std::vector<uint32_t> perm(set.n);
  std::iota(perm.begin(), perm.end(), 0u);
  std::mt19937_64 gen(seed);
  std::shuffle(perm.begin(), perm.end(), gen);
  const size_t total = limit > 0 ? std::min(limit, set.n) : set.n;
  const size_t m = total / static_cast<size_t>(size);
  const auto begin = static_cast<std::ptrdiff_t>(m * static_cast<size_t>(rank));
  items_.assign(perm.begin() + begin, perm.begin() + begin + static_cast<std::ptrdiff_t>(m));
  order_ = items_;
}

void Shard::StartEpoch(uint64_t epoch) {
  std::seed_seq seq{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32),
                    static_cast<uint32_t>(epoch), static_cast<uint32_t>(rank_), 0x7e11u};
  std::mt19937_64 gen(seq);
  order_ = items_;
  std::shuffle(order_.begin(), order_.end(), gen);
}

void Shard::Batch(size_t index, int batch, float* x, uint8_t* labels) const {
  const size_t b = static_cast<size_t>(batch);
  TIDAL_CHECK_LE((index + 1) * b, order_.size());
  for (size_t r = 0; r < b; ++r) {
    const uint32_t item = order_[index * b + r];
    PixelsToFloat(set_.images.data() + size_t{item} * set_.pixels, set_.pixels, normalize_,
                  x + r * set_.pixels);
    labels[r] = set_.labels[item];
  }
}

void Shard::Items(size_t begin, size_t count, float* x, uint8_t* labels) const {
  TIDAL_CHECK_LE(begin + count, items_.size());
  for (size_t r = 0; r < count; ++r) {
    const uint32_t item = items_[begin + r];
    PixelsToFloat(set_.images.data() + size_t{item} * set_.pixels, set_.pixels, normalize_,
                  x + r * set_.pixels);
    labels[r] = set_.labels[item];
  }
}

}  // namespace tidal::train
