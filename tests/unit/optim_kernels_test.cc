// The optimizer kernels (tidal/optim/kernels.h): every vectorized variant this CPU runs, and the
// dispatched entry points, against the scalar oracle ref::, bit for bit, over several steps, for
// n in {0, 1, 7, 8, 15, 16, 17, 1023, 100003} (empty, tails only, whole vectors, tails after
// vectors), every array at its own misalignment (0-3 floats), and every configuration (momentum
// 0 / 0.9, Nesterov, weight decay, amsgrad, SlowMo's and the anchor's coefficients). Data are
// signed, of exponents 2^-30..2^4, with zeros, negative zeros and subnormals; a second case feeds
// NaN and infinities, where a NaN result must be NaN in both (its payload may differ).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "tidal/coll/reduce.h"
#include "tidal/optim/kernels.h"
#include "tidal/optim/kernels_internal.h"

namespace tidal::optim {
namespace {

constexpr size_t kSizes[] = {0, 1, 7, 8, 15, 16, 17, 1023, 100003};
constexpr int kSteps = 3;

// An implementation under test: the dispatched entry points or one variant, as a kernel table
// (ref:: and the entry points have the tables' signatures).
struct Impl {
  std::string name;
  internal::OptimKernelTable table;
};

const internal::OptimKernelTable kRef{&ref::SgdStep,  &ref::AdamStep,    &ref::SlowMoShardUpdate,
                                      &ref::PullBack, &ref::AnchorReset, &ref::AnchorMomentum};
const internal::OptimKernelTable kDispatched{&SgdStep,  &AdamStep,    &SlowMoShardUpdate,
                                             &PullBack, &AnchorReset, &AnchorMomentum};

std::vector<Impl> Impls() {
  std::vector<Impl> impls = {{"dispatched", kDispatched}};
  for (coll::ReduceIsa isa : coll::AvailableReduceIsas()) {
    impls.push_back({std::string(coll::ReduceIsaName(isa)), internal::KernelsFor(isa)});
  }
  return impls;
}

// What an array holds: state (signed), non-negative state (Adam's v, vmax), or an input that
// is refilled before every step (the gradient).
enum class Role { kState, kNonNegative, kInput };

// Runs one step of a kernel from table t on arrays a[k]; `step` is 1-based.
using T = const internal::OptimKernelTable&;
using StepFn = std::function<void(T t, float* const* a, size_t n, int step)>;

float Value(uint32_t seed, size_t i, bool special) {
  uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ (seed * 40503u + 1u);
  h ^= h >> 15;
  h *= 2246822519u;
  h ^= h >> 13;
  const uint32_t kind = h & 15u;
  if (kind == 0) return (h & 16u) != 0 ? -0.0f : 0.0f;
  if (kind == 1) return std::bit_cast<float>((h & 0x807FFFFFu) | 1u);              // subnormal
  if (special && kind == 2) return std::bit_cast<float>(0x7FC00000u | (h >> 12));  // NaN
  if (special && kind == 3) return (h & 16u) != 0 ? -INFINITY : INFINITY;
  const uint32_t exponent = 127u - 30u + (h >> 8) % 35u;  // 2^-30 .. 2^4
  return std::bit_cast<float>((h & 0x80000000u) | (exponent << 23) | ((h >> 4) & 0x7FFFFFu));
}

void Fill(float* p, size_t n, Role role, uint32_t seed, bool special) {
  for (size_t i = 0; i < n; ++i) {
    const float v = Value(seed, i, special);
    p[i] = role == Role::kNonNegative ? std::fabs(v) : v;
  }
}

// Same bits, or (when NaNs are allowed) both NaN.
bool Same(float a, float b, bool nan_any) {
  if (nan_any && std::isnan(a) && std::isnan(b)) return true;
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// The first element where `got` differs from `want` (see Same), or n.
size_t FirstDifference(const float* want, const float* got, size_t n, bool nan_any) {
  if (!nan_any) {
    if (std::memcmp(want, got, n * sizeof(float)) == 0) return n;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!Same(want[i], got[i], nan_any)) return i;
  }
  return n;
}

// Buffers with array k starting (offset + k) % 4 floats past a 64-byte boundary.
struct Arrays {
  Arrays(size_t num, size_t n, size_t offset) : store(num) {
    for (size_t k = 0; k < num; ++k) {
      store[k].assign(n + 16 + 4, 0.0f);
      auto base = reinterpret_cast<uintptr_t>(store[k].data());
      const size_t skip = ((64 - base % 64) % 64) / sizeof(float) + (offset + k) % 4;
      ptr.push_back(store[k].data() + skip);
    }
  }
  std::vector<std::vector<float>> store;
  std::vector<float*> ptr;
};

void CheckAgainstRef(const std::vector<Role>& roles, const StepFn& step, bool special = false) {
  for (const Impl& impl : Impls()) {
    for (size_t n : kSizes) {
      for (size_t offset = 0; offset < 4; ++offset) {
        SCOPED_TRACE(::testing::Message()
                     << impl.name << " n " << n << " offset " << offset << " special " << special);
        Arrays want(roles.size(), n, offset);
        Arrays got(roles.size(), n, offset + 1);
        for (size_t k = 0; k < roles.size(); ++k) {
          Fill(want.ptr[k], n, roles[k], static_cast<uint32_t>(k), special);
          std::memcpy(got.ptr[k], want.ptr[k], n * sizeof(float));
        }
        for (int s = 1; s <= kSteps; ++s) {
          for (size_t k = 0; k < roles.size(); ++k) {
            if (roles[k] != Role::kInput) continue;
            Fill(want.ptr[k], n, roles[k], static_cast<uint32_t>(100 * s + k), special);
            std::memcpy(got.ptr[k], want.ptr[k], n * sizeof(float));
          }
          step(kRef, want.ptr.data(), n, s);
          step(impl.table, got.ptr.data(), n, s);
          for (size_t k = 0; k < roles.size(); ++k) {
            const size_t i = FirstDifference(want.ptr[k], got.ptr[k], n, special);
            ASSERT_EQ(i, n) << "step " << s << " array " << k << " element " << i << ": want "
                            << want.ptr[k][i] << " got " << got.ptr[k][i];
          }
        }
      }
    }
  }
}

void CheckSgd(const SgdConfig& c, bool special = false) {
  SCOPED_TRACE(::testing::Message() << "SGD lr " << c.lr << " momentum " << c.momentum << " wd "
                                    << c.weight_decay << " nesterov " << c.nesterov);
  // x, g, buf (null without momentum: the kernels must not touch it).
  CheckAgainstRef(
      {Role::kState, Role::kInput, Role::kState},
      [&](T t, float* const* a, size_t n, int) {
        t.sgd(c, a[0], a[1], c.momentum == 0.0f ? nullptr : a[2], n);
      },
      special);
}

void CheckAdam(const AdamConfig& c, bool special = false) {
  SCOPED_TRACE(::testing::Message()
               << "Adam lr " << c.lr << " beta1 " << c.beta1 << " beta2 " << c.beta2 << " wd "
               << c.weight_decay << " amsgrad " << c.amsgrad);
  // x, g, m, v, vmax (null without amsgrad).
  CheckAgainstRef(
      {Role::kState, Role::kInput, Role::kState, Role::kNonNegative, Role::kNonNegative},
      [&](T t, float* const* a, size_t n, int step) {
        t.adam(c, step, a[0], a[1], a[2], a[3], c.amsgrad ? a[4] : nullptr, n);
      },
      special);
}

TEST(OptimKernels, SgdMatchesRefBitForBit) {
  for (float momentum : {0.0f, 0.9f}) {
    for (bool nesterov : {false, true}) {
      for (float wd : {0.0f, 1e-4f}) {
        CheckSgd(
            SgdConfig{.lr = 0.1f, .momentum = momentum, .weight_decay = wd, .nesterov = nesterov});
      }
    }
  }
}

TEST(OptimKernels, AdamMatchesRefBitForBit) {
  for (bool amsgrad : {false, true}) {
    for (float wd : {0.0f, 0.01f}) {
      CheckAdam(AdamConfig{.weight_decay = wd, .amsgrad = amsgrad});
    }
  }
  CheckAdam(AdamConfig{.lr = 0.5f, .beta1 = 0.5f, .beta2 = 0.75f, .amsgrad = true});
}

TEST(OptimKernels, SlowMoMatchesRefBitForBit) {
  for (float alpha : {1.0f, 0.5f}) {
    for (float beta : {0.0f, 0.5f}) {
      SCOPED_TRACE(::testing::Message() << "alpha " << alpha << " beta " << beta);
      // shard (xbar, refilled each outer step), x0, u.
      CheckAgainstRef({Role::kInput, Role::kState, Role::kState},
                      [&](T t, float* const* a, size_t n, int) {
                        t.slowmo(alpha, beta, 0.1f, a[0], a[1], a[2], n);
                      });
    }
  }
}

TEST(OptimKernels, OverlapLocalSgdMatchesRefBitForBit) {
  // x, z (refilled: the AllReduce result), b.
  const std::vector<Role> roles = {Role::kState, Role::kInput, Role::kState};
  CheckAgainstRef(roles,
                  [](T t, float* const* a, size_t n, int) { t.pull_back(0.6f, a[0], a[1], n); });
  for (float inv_n : {0.125f, 1.0f / 3.0f}) {
    SCOPED_TRACE(::testing::Message() << "inv_n " << inv_n);
    CheckAgainstRef(roles, [inv_n](T t, float* const* a, size_t n, int) {
      t.anchor_reset(inv_n, a[0], a[1], n);
    });
    CheckAgainstRef(roles, [inv_n](T t, float* const* a, size_t n, int) {
      t.anchor_momentum(0.7f, 0.1f, inv_n, a[0], a[1], a[2], n);
    });
  }
}

TEST(OptimKernels, NanAndInfinityStayNanAndInfinity) {
  CheckSgd(SgdConfig{.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-4f, .nesterov = true}, true);
  CheckAdam(AdamConfig{.weight_decay = 0.01f, .amsgrad = true}, true);
}

}  // namespace
}  // namespace tidal::optim
