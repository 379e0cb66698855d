// Forward and backward of the MLP (mlp.h) with cblas_sgemm, row-major throughout.
//   forward:  A_l = act(A_{l-1} W_l + b_l), A_0 = x; act = ReLU, except softmax on the last layer
//   loss:     mean over rows of -log softmax(z)[label], with z - max(z) so exp never overflows
//   backward: D_L = (softmax - onehot) / batch; dW_l = A_{l-1}^T D_l; db_l = column sums of D_l;
//             D_{l-1} = (D_l W_l^T) * [A_{l-1} > 0]
#include "train/mlp.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "tidal/core/check.h"

namespace tidal::train {

Mlp::Mlp(std::vector<int> sizes) : sizes_(std::move(sizes)) {
  TIDAL_CHECK_GE(sizes_.size(), size_t{2});
  size_t offset = 0;
  for (size_t l = 0; l + 1 < sizes_.size(); ++l) {
    TIDAL_CHECK_GT(sizes_[l], 0);
    TIDAL_CHECK_GT(sizes_[l + 1], 0);
    LayerSlice s;
    s.in = sizes_[l];
    s.out = sizes_[l + 1];
    s.w_begin = offset;
    s.b_begin = offset + static_cast<size_t>(s.in) * static_cast<size_t>(s.out);
    s.end = s.b_begin + static_cast<size_t>(s.out);
    offset = s.end;
    layers_.push_back(s);
  }
  num_params_ = offset;
  acts_.resize(layers_.size());
  delta_.resize(layers_.size());
}

std::vector<size_t> Mlp::TensorCounts() const {
  std::vector<size_t> counts;
  for (const LayerSlice& s : layers_) {
    counts.push_back(s.b_begin - s.w_begin);
    counts.push_back(s.end - s.b_begin);
  }
  return counts;
}

void Mlp::Init(std::span<float> params, uint64_t seed) const {
  TIDAL_CHECK_EQ(params.size(), num_params_);
  std::mt19937 gen(static_cast<std::mt19937::result_type>(seed));
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerSlice& s = layers_[l];
    const bool last = l + 1 == layers_.size();
    const double var = last ? 2.0 / (s.in + s.out) : 2.0 / s.in;
    std::normal_distribution<float> normal(0.0f, static_cast<float>(std::sqrt(var)));
    for (size_t i = s.w_begin; i < s.b_begin; ++i) {
      params[i] = normal(gen);
    }
    std::fill(params.begin() + static_cast<std::ptrdiff_t>(s.b_begin),
              params.begin() + static_cast<std::ptrdiff_t>(s.end), 0.0f);
  }
}

void Mlp::Reserve(int batch) {
  for (size_t l = 0; l < layers_.size(); ++l) {
    const size_t need = static_cast<size_t>(batch) * static_cast<size_t>(layers_[l].out);
    if (acts_[l].size() < need) {
      acts_[l].resize(need);
      delta_[l].resize(need);
    }
  }
}

float Mlp::Forward(std::span<const float> params, const float* x, const uint8_t* labels, int batch,
                   const BeforeLayerFn& before_layer) {
  TIDAL_CHECK_EQ(params.size(), num_params_);
  TIDAL_CHECK_GT(batch, 0);
  Reserve(batch);
  batch_ = batch;
  labels_ = labels;
  const float* input = x;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerSlice& s = layers_[l];
    if (before_layer) {
      before_layer(static_cast<int>(l));
    }
    float* out = acts_[l].data();
    const float* b = params.data() + s.b_begin;
    for (int r = 0; r < batch; ++r) {  // out = broadcast(b), then += input W
      std::copy(b, b + s.out, out + static_cast<size_t>(r) * static_cast<size_t>(s.out));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, s.out, s.in, 1.0f, input, s.in,
                params.data() + s.w_begin, s.out, 1.0f, out, s.out);
    if (l + 1 < layers_.size()) {
      const size_t n = static_cast<size_t>(batch) * static_cast<size_t>(s.out);
      for (size_t i = 0; i < n; ++i) {
        out[i] = std::max(out[i], 0.0f);
      }
    }
    input = out;
  }
  // Softmax cross-entropy; acts_.back() becomes the probabilities.
  const int k = layers_.back().out;
  float* z = acts_.back().data();
  double loss = 0;
  for (int r = 0; r < batch; ++r) {
    float* row = z + static_cast<size_t>(r) * static_cast<size_t>(k);
    const float m = *std::max_element(row, row + k);
    float sum = 0;
    for (int j = 0; j < k; ++j) {
      row[j] = std::exp(row[j] - m);
      sum += row[j];
    }
    const float label_term = row[labels[r]];  // exp(z_y - m)
    loss += static_cast<double>(std::log(sum) - std::log(label_term));
    const float inv = 1.0f / sum;
    for (int j = 0; j < k; ++j) {
      row[j] *= inv;
    }
  }
  return static_cast<float>(loss / batch);
}

void Mlp::Backward(std::span<const float> params, const float* x, std::span<float> grad) {
  TIDAL_CHECK_EQ(grad.size(), num_params_);
  TIDAL_CHECK_GT(batch_, 0);
  const int batch = batch_;
  const int k = layers_.back().out;
  {
    const float* p = acts_.back().data();
    float* d = delta_.back().data();
    const float inv = 1.0f / static_cast<float>(batch);
    for (int r = 0; r < batch; ++r) {
      for (int j = 0; j < k; ++j) {
        const size_t i = static_cast<size_t>(r) * static_cast<size_t>(k) + static_cast<size_t>(j);
        d[i] = (p[i] - (j == labels_[r] ? 1.0f : 0.0f)) * inv;
      }
    }
  }
  for (size_t l = layers_.size(); l-- > 0;) {
    const LayerSlice& s = layers_[l];
    const float* input = l == 0 ? x : acts_[l - 1].data();
    const float* d = delta_[l].data();
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.in, s.out, batch, 1.0f, input, s.in, d,
                s.out, 0.0f, grad.data() + s.w_begin, s.out);
    float* db = grad.data() + s.b_begin;
    std::fill(db, db + s.out, 0.0f);
    for (int r = 0; r < batch; ++r) {
      const float* row = d + static_cast<size_t>(r) * static_cast<size_t>(s.out);
      for (int j = 0; j < s.out; ++j) {
        db[j] += row[j];
      }
    }
    if (l == 0) {
      break;
    }
    float* prev = delta_[l - 1].data();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, s.in, s.out, 1.0f, d, s.out,
                params.data() + s.w_begin, s.out, 0.0f, prev, s.in);
    const float* a = acts_[l - 1].data();
    const size_t n = static_cast<size_t>(batch) * static_cast<size_t>(s.in);
    for (size_t i = 0; i < n; ++i) {
      prev[i] = a[i] > 0.0f ? prev[i] : 0.0f;
    }
  }
}

void Mlp::Evaluate(std::span<const float> params, const float* x, const uint8_t* labels, size_t n,
                   size_t* correct, double* loss_sum) {
  constexpr size_t kChunk = 500;
  const int k = layers_.back().out;
  *correct = 0;
  *loss_sum = 0;
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const int rows = static_cast<int>(std::min(kChunk, n - begin));
    const float loss =
        Forward(params, x + begin * static_cast<size_t>(inputs()), labels + begin, rows);
    *loss_sum += static_cast<double>(loss) * rows;
    const float* p = acts_.back().data();
    for (int r = 0; r < rows; ++r) {
      const float* row = p + static_cast<size_t>(r) * static_cast<size_t>(k);
      const auto best = static_cast<size_t>(std::max_element(row, row + k) - row);
      *correct += best == labels[begin + static_cast<size_t>(r)] ? 1 : 0;
    }
  }
  batch_ = 0;  // no Backward after Evaluate
}

}  // namespace tidal::train
