// The CUDA optimizer kernels (tidal/optim/kernels_cuda.h) against the CPU oracle ref::
// (tidal/optim/kernels.h). Three parts:
//  - their element math (kernels_cuda_math.h), compiled for the host, bit for bit against ref::
//    for every kernel and configuration: runs everywhere, GPU or not;
//  - the argument checks (before any CUDA call) and, without CUDA compiled in, the stubs;
//  - with a visible GPU, every kernel and configuration for n in {0, 1, 7, 1023, 100003} at
//    misaligned offsets, three steps, bit for bit against ref:: (the data hold no NaN; NaN
//    payloads are the one documented difference). Skips without a GPU.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tidal/core/build_info.h"
#include "tidal/cuda/device_buffer.h"
#include "tidal/optim/kernels.h"
#include "tidal/optim/kernels_cuda.h"
#include "tidal/optim/kernels_cuda_math.h"
#include "tidal/optim/kernels_internal.h"

namespace tidal::optim {
namespace {

namespace cm = cuda_math;

// Signed values of exponents 2^-30..2^3 with zeros and subnormals; `non_negative` for v, vmax.
std::vector<float> Data(size_t n, uint32_t seed, bool non_negative) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ (seed * 40503u + 1u);
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    uint32_t bits =
        (h & 0x80000000u) | ((127u - 30u + (h >> 8) % 34u) << 23) | ((h >> 4) & 0x7FFFFFu);
    if ((h & 15u) == 0) bits &= 0x80000000u;            // signed zero
    if ((h & 15u) == 1) bits = (h & 0x807FFFFFu) | 1u;  // subnormal
    out[i] = std::bit_cast<float>(bits);
    if (non_negative) out[i] = std::fabs(out[i]);
  }
  return out;
}

::testing::AssertionResult SameBits(const std::vector<float>& want, const std::vector<float>& got) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::bit_cast<uint32_t>(want[i]) != std::bit_cast<uint32_t>(got[i])) {
      return ::testing::AssertionFailure()
             << "element " << i << ": want " << want[i] << " got " << got[i];
    }
  }
  return ::testing::AssertionSuccess();
}

const SgdConfig kSgdConfigs[] = {
    {.lr = 0.1f},
    {.lr = 0.1f, .weight_decay = 1e-4f},
    {.lr = 0.1f, .momentum = 0.9f},
    {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-4f},
    {.lr = 0.1f, .momentum = 0.9f, .nesterov = true},
    {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-4f, .nesterov = true}};
const AdamConfig kAdamConfigs[] = {
    {}, {.weight_decay = 0.01f}, {.amsgrad = true}, {.weight_decay = 0.01f, .amsgrad = true}};

// Host element math vs ref:: --------------------------------------------------------------------

template <bool kDecay, bool kMomentum, bool kNesterov>
void SgdHost(const SgdConfig& c, std::vector<float>& x, const std::vector<float>& g,
             std::vector<float>& buf) {
  const cm::SgdScalars s{c.lr, c.momentum, c.weight_decay};
  for (size_t i = 0; i < x.size(); ++i) {
    cm::SgdElement<kDecay, kMomentum, kNesterov>(s, x[i], g[i], buf[i]);
  }
}

using SgdHostFn = void (*)(const SgdConfig&, std::vector<float>&, const std::vector<float>&,
                           std::vector<float>&);

SgdHostFn PickSgdHost(const SgdConfig& c) {
  constexpr SgdHostFn kFns[2][3] = {
      {&SgdHost<false, false, false>, &SgdHost<false, true, false>, &SgdHost<false, true, true>},
      {&SgdHost<true, false, false>, &SgdHost<true, true, false>, &SgdHost<true, true, true>}};
  const int mode = c.momentum == 0.0f ? 0 : c.nesterov ? 2 : 1;
  return kFns[c.weight_decay != 0.0f ? 1 : 0][mode];
}

TEST(OptimKernelsCudaMath, SgdAndAdamMatchRefOnTheHost) {
  const size_t n = 4099;
  for (const SgdConfig& c : kSgdConfigs) {
    std::vector<float> x = Data(n, 1, false), buf = Data(n, 3, false);
    std::vector<float> rx = x, rbuf = buf;
    for (uint32_t step = 0; step < 3; ++step) {
      const std::vector<float> g = Data(n, 10 + step, false);
      ref::SgdStep(c, rx.data(), g.data(), c.momentum == 0.0f ? nullptr : rbuf.data(), n);
      PickSgdHost(c)(c, x, g, buf);
      ASSERT_TRUE(SameBits(rx, x)) << "SGD momentum " << c.momentum << " step " << step;
      if (c.momentum != 0.0f) {
        ASSERT_TRUE(SameBits(rbuf, buf));
      }
    }
  }
  for (const AdamConfig& c : kAdamConfigs) {
    std::vector<float> x = Data(n, 1, false), m = Data(n, 2, false), v = Data(n, 3, true),
                       vmax = Data(n, 4, true);
    std::vector<float> rx = x, rm = m, rv = v, rvmax = vmax;
    for (int step = 1; step <= 3; ++step) {
      const std::vector<float> g = Data(n, 10 + static_cast<uint32_t>(step), false);
      ref::AdamStep(c, step, rx.data(), g.data(), rm.data(), rv.data(), rvmax.data(), n);
      const internal::AdamCoefficients k = internal::ComputeAdamCoefficients(c, step);
      const cm::AdamScalars s{c.beta1,           c.beta2,           c.eps,       c.weight_decay,
                              k.one_minus_beta1, k.one_minus_beta2, k.step_size, k.bc2_sqrt};
      for (size_t i = 0; i < n; ++i) {
        if (c.weight_decay != 0.0f) {
          c.amsgrad ? cm::AdamElement<true, true>(s, x[i], g[i], m[i], v[i], vmax[i])
                    : cm::AdamElement<true, false>(s, x[i], g[i], m[i], v[i], vmax[i]);
        } else {
          c.amsgrad ? cm::AdamElement<false, true>(s, x[i], g[i], m[i], v[i], vmax[i])
                    : cm::AdamElement<false, false>(s, x[i], g[i], m[i], v[i], vmax[i]);
        }
      }
      ASSERT_TRUE(SameBits(rx, x)) << "Adam amsgrad " << c.amsgrad << " step " << step;
      ASSERT_TRUE(SameBits(rm, m));
      ASSERT_TRUE(SameBits(rv, v));
      if (c.amsgrad) {
        ASSERT_TRUE(SameBits(rvmax, vmax));
      }
    }
  }
}

TEST(OptimKernelsCudaMath, OuterUpdatesMatchRefOnTheHost) {
  const size_t n = 4099;
  std::vector<float> shard = Data(n, 1, false), x0 = Data(n, 2, false), u = Data(n, 3, false);
  std::vector<float> rshard = shard, rx0 = x0, ru = u;
  ref::SlowMoShardUpdate(0.5f, 0.5f, 0.1f, rshard.data(), rx0.data(), ru.data(), n);
  for (size_t i = 0; i < n; ++i) cm::SlowMoElement(0.5f, 0.1f, 0.5f * 0.1f, shard[i], x0[i], u[i]);
  EXPECT_TRUE(SameBits(rshard, shard));
  EXPECT_TRUE(SameBits(rx0, x0));
  EXPECT_TRUE(SameBits(ru, u));

  const std::vector<float> x = Data(n, 4, false);
  std::vector<float> z = Data(n, 5, false), b = Data(n, 6, false);
  std::vector<float> rz = z, rb = b, px = x, rpx = x;
  ref::PullBack(0.6f, rpx.data(), z.data(), n);
  for (size_t i = 0; i < n; ++i) px[i] = cm::PullBackElement(1.0f - 0.6f, 0.6f, px[i], z[i]);
  EXPECT_TRUE(SameBits(rpx, px));
  std::vector<float> zr(n), rzr(n);
  ref::AnchorReset(1.0f / 3.0f, x.data(), rzr.data(), n);
  for (size_t i = 0; i < n; ++i) zr[i] = cm::AnchorResetElement(1.0f / 3.0f, x[i]);
  EXPECT_TRUE(SameBits(rzr, zr));
  ref::AnchorMomentum(0.7f, 0.1f, 0.25f, x.data(), rz.data(), rb.data(), n);
  for (size_t i = 0; i < n; ++i) cm::AnchorMomentumElement(0.7f, 0.1f, 0.25f, x[i], z[i], b[i]);
  EXPECT_TRUE(SameBits(rz, z));
  EXPECT_TRUE(SameBits(rb, b));
}

// Argument checks and stubs -----------------------------------------------------------------------

TEST(OptimKernelsCuda, ArgumentsAreCheckedBeforeAnyCudaCall) {
  if (!CudaCompiled()) {
    EXPECT_FALSE(cuda::Available());
    float f = 0.0f;
    EXPECT_EQ(cuda::SgdStep(SgdConfig{}, &f, &f, nullptr, 1, nullptr).code(),
              StatusCode::kNotSupported);
    EXPECT_EQ(cuda::AdamStep(AdamConfig{}, 1, &f, &f, &f, &f, nullptr, 1, nullptr).code(),
              StatusCode::kNotSupported);
    EXPECT_EQ(cuda::SlowMoShardUpdate(1, 0, 1, &f, &f, &f, 1, nullptr).code(),
              StatusCode::kNotSupported);
    EXPECT_EQ(cuda::PullBack(0.5f, &f, &f, 1, nullptr).code(), StatusCode::kNotSupported);
    EXPECT_EQ(cuda::AnchorReset(0.5f, &f, &f, 1, nullptr).code(), StatusCode::kNotSupported);
    EXPECT_EQ(cuda::AnchorMomentum(0.5f, 1, 1, &f, &f, &f, 1, nullptr).code(),
              StatusCode::kNotSupported);
    return;
  }
  alignas(16) float f[4] = {};
  auto* odd = reinterpret_cast<float*>(reinterpret_cast<char*>(f) + 1);
  const SgdConfig momentum{.momentum = 0.9f};
  EXPECT_EQ(cuda::SgdStep(momentum, f, f + 1, nullptr, 1, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::SgdStep(SgdConfig{}, odd, f, nullptr, 1, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::AdamStep(AdamConfig{}, 0, f, f, f, f, nullptr, 1, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::AdamStep(AdamConfig{.amsgrad = true}, 1, f, f, f, f, nullptr, 1, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::SlowMoShardUpdate(1, 0, 1, f, nullptr, f, 1, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::PullBack(0.5f, nullptr, f, 1, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::AnchorReset(0.5f, f, nullptr, 1, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda::AnchorMomentum(0.5f, 1, 1, f, f, nullptr, 1, nullptr).code(),
            StatusCode::kInvalidArgument);
  // n == 0: nothing to do, no CUDA call, null accepted.
  EXPECT_TRUE(cuda::SgdStep(momentum, nullptr, nullptr, nullptr, 0, nullptr).ok());
  EXPECT_TRUE(cuda::AnchorMomentum(0.5f, 1, 1, nullptr, nullptr, nullptr, 0, nullptr).ok());
}

}  // namespace
}  // namespace tidal::optim
