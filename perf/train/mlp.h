// A multilayer perceptron for the training benchmark: fully connected layers with ReLU between
// them and softmax cross-entropy on the last (784-256-128-10 for Fashion-MNIST).
//
// Parameters live in ONE flat fp32 vector, layer by layer: W1, b1, W2, b2, ..., with W_l stored
// row-major as [in_l x out_l] (so a layer is H = X W + b with X [batch x in]). Gradients use a
// second flat vector of the same layout. The optimizers (tidal::optim) work on these flat buffers;
// the model only reads parameters and writes gradients. Matrix products go through cblas_sgemm.
//
// Not a framework: no autograd, no other layers or losses.
//
// Thread safety: an Mlp holds scratch buffers (activations); one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace tidal::train {

struct LayerSlice {
  size_t w_begin = 0;  // offset of W_l in the flat vector
  size_t b_begin = 0;  // offset of b_l
  size_t end = 0;      // one past b_l
  int in = 0;
  int out = 0;
};

// Called just before layer l's matrix product reads its parameters (forward pass). The trainer uses
// it to wait for that layer's bucket of an outer step still in flight.
using BeforeLayerFn = std::function<void(int layer)>;

class Mlp {
 public:
  // sizes = {inputs, hidden..., classes}; REQUIRES: at least 2 entries, all positive.
  explicit Mlp(std::vector<int> sizes);

  size_t num_params() const { return num_params_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  const LayerSlice& layer(int l) const { return layers_[static_cast<size_t>(l)]; }
  // Element counts of the 2L tensors in flat order (W1, b1, W2, ...): for bucketing.
  std::vector<size_t> TensorCounts() const;
  int inputs() const { return sizes_.front(); }
  int classes() const { return sizes_.back(); }

  // He-normal weights for ReLU layers (std sqrt(2/in)), Glorot-normal for the last layer
  // (std sqrt(2/(in+out))), zero biases; from std::mt19937(seed): the same on every rank.
  void Init(std::span<float> params, uint64_t seed) const;

  // Forward pass over `batch` rows of x ([batch x inputs]); returns the mean softmax
  // cross-entropy over the rows. Keeps the activations for Backward. `before_layer`, when set, is
  // called before each layer reads its parameters.
  float Forward(std::span<const float> params, const float* x, const uint8_t* labels, int batch,
                const BeforeLayerFn& before_layer = nullptr);
  // Gradient of the last Forward's mean loss with respect to params, written (not added) to grad.
  // REQUIRES: Forward was called with the same params, x and batch.
  void Backward(std::span<const float> params, const float* x, std::span<float> grad);

  // Correct predictions (argmax) and the summed loss over n rows, in chunks (no Backward after).
  void Evaluate(std::span<const float> params, const float* x, const uint8_t* labels, size_t n,
                size_t* correct, double* loss_sum);

 private:
  void Reserve(int batch);

  std::vector<int> sizes_;
  std::vector<LayerSlice> layers_;
  size_t num_params_ = 0;
  int batch_ = 0;
  const uint8_t* labels_ = nullptr;
  // acts_[l]: output of layer l (post-ReLU for hidden layers, logits then probabilities for the
  // last), [batch x out_l]. delta_[l]: gradient with respect to layer l's pre-activation output.
  std::vector<std::vector<float>> acts_;
  std::vector<std::vector<float>> delta_;
};

}  // namespace tidal::train
