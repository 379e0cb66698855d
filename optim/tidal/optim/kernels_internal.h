// Internal to the optimizer kernels (kernels*.cc): the per-variant kernel table, the per-call Adam
// coefficients shared by every variant, and the argument checks. Tests and benchmarks use
// KernelsFor to run one variant; trainers call kernels.h.
//
// Thread safety: the tables are immutable; the functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "tidal/coll/reduce.h"
#include "tidal/optim/kernels.h"

namespace tidal::optim::internal {

// One variant's kernels: the kernels.h signatures, arguments already checked.
struct OptimKernelTable {
  void (*sgd)(const SgdConfig& c, float* x, const float* g, float* buf, size_t n);
  void (*adam)(const AdamConfig& c, int64_t step, float* x, const float* g, float* m, float* v,
               float* vmax, size_t n);
  void (*slowmo)(float alpha, float beta, float gamma, float* shard, float* x0, float* u, size_t n);
  void (*pull_back)(float alpha, float* x, const float* z, size_t n);
  void (*anchor_reset)(float inv_n, const float* x, float* z, size_t n);
  void (*anchor_momentum)(float gmf, float gamma, float inv_n, const float* x, float* z, float* b,
                          size_t n);
};

const OptimKernelTable& ScalarOptimKernels();
const OptimKernelTable& Avx2OptimKernels();
const OptimKernelTable& Avx512OptimKernels();

// The table of `isa` (which this CPU must support: see coll::AvailableReduceIsas), and the one
// the top-level kernels use.
const OptimKernelTable& KernelsFor(coll::ReduceIsa isa);
const OptimKernelTable& ActiveKernels();

// Adam's per-call scalars (kernels.h), computed once per call by every variant and ref::.
struct AdamCoefficients {
  float one_minus_beta1;
  float one_minus_beta2;
  float step_size;  // lr / (1 - beta1^step), in double, rounded once
  float bc2_sqrt;   // sqrt(1 - beta2^step), in double, rounded once
};
AdamCoefficients ComputeAdamCoefficients(const AdamConfig& c, int64_t step);

// Contract checks (TIDAL_CHECK, abort on violation), once per call.
void CheckSgdArgs(const SgdConfig& c, const float* x, const float* g, const float* buf, size_t n);
void CheckAdamArgs(const AdamConfig& c, int64_t step, const float* x, const float* g,
                   const float* m, const float* v, const float* vmax, size_t n);
// Aborts when n > 0 and any of `arrays` is null.
void CheckArrays(const char* what, size_t n, std::initializer_list<const void*> arrays);

}  // namespace tidal::optim::internal
