// Element-wise optimizer kernels over fp32 arrays on the CPU: the base optimizers (SGD, Adam) and
// the outer updates the runtime fuses into its collectives (SlowMo's owner update, Overlap
// Local-SGD's pull-back and anchor). Not optimizers themselves: no state allocation, no step
// counting, no communication; callers own every buffer and pass the learning rate on every call
// (ALGORITHMS.md §0).
//
// Two implementations with the same bits: ref:: is the plain scalar oracle, one element at a time
// in the order written in the comments below; the top-level functions run a vectorized variant
// (baseline SSE2, AVX2 or AVX-512F, chosen once at first use, the same choice as the reduction
// kernels: coll::ActiveReduceIsa, TIDAL_REDUCE_ISA) whose results are bit-identical to ref:: for
// every input, infinities, subnormals and signed zeros included: the same IEEE operations in the
// same order, compiled with -ffp-contract=off (no FMA), correctly rounded division and sqrt. One
// exception: a NaN result is NaN in every variant, but when two operands of one operation are both
// NaN, which payload survives is the compiler's choice (it may swap the operands of + and *).
// Tests check every variant the CPU runs. (A process running with FTZ/DAZ set, e.g. by
// -ffast-math code, flushes subnormals in every variant alike.)
//
// Common contract for every function below. REQUIRES: each array holds n floats (n == 0 is a
// no-op and then any pointer may be null); arrays do not overlap each other (no aliasing, in-place
// arguments are the ones marked in/out); pointers need only float alignment. A null array that is
// required with n > 0 aborts (TIDAL_CHECK; checked once per call, not per element).
//
// Thread safety: pure functions over the caller's arrays; calls on disjoint arrays may run
// concurrently.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tidal::optim {

struct SgdConfig {
  float lr = 0.01f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

// One torch.optim.SGD step with dampening 0, per element:
//   g' = g + wd*x            (only when wd != 0, as PyTorch skips it)
//   buf = momentum*buf + g'  (only when momentum != 0; buf starting at zero equals PyTorch's
//                             first-step buf = g')
//   d = momentum == 0 ? g' : nesterov ? g' + momentum*buf : buf
//   x = x - lr*d
// x and momentum_buf are in/out, g is read. momentum_buf may be null when momentum == 0
// (nesterov is then ignored).
void SgdStep(const SgdConfig& c, float* x, const float* g, float* momentum_buf, size_t n);

struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool amsgrad = false;
};

// One torch.optim.Adam step (L2 weight decay added to the gradient, not AdamW). `step` is 1-based
// (the step being taken). Per call, in double then rounded once to float:
//   step_size = lr / (1 - beta1^step),  bc2_sqrt = sqrt(1 - beta2^step)
// and 1 - beta1, 1 - beta2 in float. Per element:
//   g' = g + wd*x (only when wd != 0);  m = beta1*m + (1-beta1)*g';  v = beta2*v +
//   ((1-beta2)*g')*g' vmax = vmax > v ? vmax : v (amsgrad only; a NaN v propagates);  v^ = amsgrad
//   ? vmax : v x = x - step_size*(m / (sqrt(v^)/bc2_sqrt + eps))
// REQUIRES: step >= 1; vmax non-null (in/out) when amsgrad, else unused and may be null.
// x, m, v are in/out; g is read.
void AdamStep(const AdamConfig& c, int64_t step, float* x, const float* g, float* m, float* v,
              float* vmax, size_t n);

// SlowMo's owner update (ALGORITHMS.md §1) on the owned shard. On entry shard = xbar (the average);
// per element:  u = beta*u + (x0 - xbar)/gamma;  x0 = x0 - (alpha*gamma)*u;  shard = x0.
// (alpha*gamma is rounded once per call.) REQUIRES: shard, x0 and u distinct (all in/out).
void SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0, float* u,
                       size_t n);

// Overlap Local-SGD's pull-back toward the anchor (ALGORITHMS.md §3): x = (1-alpha)*x + alpha*z,
// with 1-alpha rounded once per call. x in/out, z read.
void PullBack(float alpha, float* x, const float* z, size_t n);

// Overlap Local-SGD's anchor without momentum (gmf == 0): z = x * inv_n. x read, z written.
void AnchorReset(float inv_n, const float* x, float* z, size_t n);

// Overlap Local-SGD's anchor with slow momentum (gmf > 0):
//   b = gmf*b + (z - x)/gamma;  z = (z - gamma*b) * inv_n.
// x read; z and b in/out.
void AnchorMomentum(float gmf, float gamma, float inv_n, const float* x, float* z, float* b,
                    size_t n);

// The scalar oracle: same contracts and bits as the functions above, one element at a time.
namespace ref {
void SgdStep(const SgdConfig& c, float* x, const float* g, float* momentum_buf, size_t n);
void AdamStep(const AdamConfig& c, int64_t step, float* x, const float* g, float* m, float* v,
              float* vmax, size_t n);
void SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0, float* u,
                       size_t n);
void PullBack(float alpha, float* x, const float* z, size_t n);
void AnchorReset(float inv_n, const float* x, float* z, size_t n);
void AnchorMomentum(float gmf, float gamma, float inv_n, const float* x, float* z, float* b,
                    size_t n);
}  // namespace ref

}  // namespace tidal::optim
