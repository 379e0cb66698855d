// The CUDA optimizer kernels (tidal/optim/kernels_cuda.h) on a GPU against ref::
// (tidal/optim/kernels.h), bit for bit: every kernel and configuration, n in {0, 1, 7, 1023,
// 100003}, each array at its own misalignment (0-3 floats past a 256-byte boundary), three steps
// with a fresh gradient (or average) each step. The data hold no NaN (NaN payloads are the one
// documented difference). Skips without a GPU.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tidal/core/build_info.h"
#include "tidal/cuda/device_buffer.h"
#include "tidal/optim/kernels.h"
#include "tidal/optim/kernels_cuda.h"

namespace tidal::optim {
namespace {

constexpr size_t kCounts[] = {0, 1, 7, 1023, 100003};
constexpr int kSteps = 3;

void SkipWithoutGpu() {
  std::string why;
  if (!CudaCompiled()) GTEST_SKIP() << "built without CUDA";
  if (CudaDeviceCount(&why) == 0) GTEST_SKIP() << "no GPU visible: " << why;
}

float Value(uint32_t seed, size_t i, bool non_negative) {
  uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ (seed * 40503u + 1u);
  h ^= h >> 15;
  h *= 2246822519u;
  h ^= h >> 13;
  uint32_t bits =
      (h & 0x80000000u) | ((127u - 30u + (h >> 8) % 34u) << 23) | ((h >> 4) & 0x7FFFFFu);
  if ((h & 15u) == 0) bits &= 0x80000000u;            // signed zero
  if ((h & 15u) == 1) bits = (h & 0x807FFFFFu) | 1u;  // subnormal
  const float v = std::bit_cast<float>(bits);
  return non_negative ? std::fabs(v) : v;
}

enum class Role { kState, kNonNegative, kInput };

// One step on host arrays (ref::) or device arrays (cuda::); `step` is 1-based.
using HostFn = std::function<void(float* const* a, size_t n, int step)>;
using DeviceFn = std::function<Status(float* const* a, size_t n, int step)>;

void Check(const std::vector<Role>& roles, const HostFn& host, const DeviceFn& device) {
  for (size_t n : kCounts) {
    SCOPED_TRACE(::testing::Message() << "n " << n);
    std::vector<std::vector<float>> want(roles.size(), std::vector<float>(n));
    std::vector<std::unique_ptr<DeviceBuffer>> buffers;
    std::vector<float*> host_ptr, device_ptr;
    for (size_t k = 0; k < roles.size(); ++k) {
      for (size_t i = 0; i < n; ++i) {
        want[k][i] = Value(static_cast<uint32_t>(k), i, roles[k] == Role::kNonNegative);
      }
      Result<std::unique_ptr<DeviceBuffer>> buffer = DeviceBuffer::Allocate((n + 4) * 4);
      ASSERT_TRUE(buffer.ok()) << buffer.status();
      buffers.push_back(std::move(*buffer));
      device_ptr.push_back(static_cast<float*>(buffers[k]->data()) + (k + n) % 4);
      host_ptr.push_back(want[k].data());
    }
    auto upload = [&](size_t k) {
      std::vector<float> staged(n + 4, 0.0f);
      std::copy(want[k].begin(), want[k].end(), staged.begin() + static_cast<long>((k + n) % 4));
      ASSERT_TRUE(buffers[k]->CopyFromHost(staged.data(), staged.size() * 4).ok());
    };
    for (size_t k = 0; k < roles.size(); ++k) upload(k);
    for (int s = 1; s <= kSteps; ++s) {
      for (size_t k = 0; k < roles.size(); ++k) {
        if (roles[k] != Role::kInput) continue;
        for (size_t i = 0; i < n; ++i) {
          want[k][i] = Value(static_cast<uint32_t>(100 * s + k), i, false);
        }
        upload(k);
      }
      host(host_ptr.data(), n, s);
      const Status status = device(device_ptr.data(), n, s);
      ASSERT_TRUE(status.ok()) << status;
      for (size_t k = 0; k < roles.size(); ++k) {
        std::vector<float> got(n + 4);
        ASSERT_TRUE(buffers[k]->CopyToHost(got.data(), got.size() * 4).ok());
        for (size_t i = 0; i < n; ++i) {
          const float g = got[i + (k + n) % 4];
          ASSERT_EQ(std::bit_cast<uint32_t>(want[k][i]), std::bit_cast<uint32_t>(g))
              << "step " << s << " array " << k << " element " << i << ": want " << want[k][i]
              << " got " << g;
        }
      }
    }
  }
}

TEST(OptimKernelsCudaDevice, SgdMatchesRef) {
  SkipWithoutGpu();
  if (IsSkipped()) return;
  for (float momentum : {0.0f, 0.9f}) {
    for (bool nesterov : {false, true}) {
      for (float wd : {0.0f, 1e-4f}) {
        SCOPED_TRACE(::testing::Message()
                     << "momentum " << momentum << " nesterov " << nesterov << " wd " << wd);
        const SgdConfig c{
            .lr = 0.1f, .momentum = momentum, .weight_decay = wd, .nesterov = nesterov};
        auto buf = [&](float* const* a) { return momentum == 0.0f ? nullptr : a[2]; };
        Check(
            {Role::kState, Role::kInput, Role::kState},
            [&](float* const* a, size_t n, int) { ref::SgdStep(c, a[0], a[1], buf(a), n); },
            [&](float* const* a, size_t n, int) {
              return cuda::SgdStep(c, a[0], a[1], buf(a), n, nullptr);
            });
      }
    }
  }
}

TEST(OptimKernelsCudaDevice, AdamMatchesRef) {
  SkipWithoutGpu();
  if (IsSkipped()) return;
  for (bool amsgrad : {false, true}) {
    for (float wd : {0.0f, 0.01f}) {
      SCOPED_TRACE(::testing::Message() << "amsgrad " << amsgrad << " wd " << wd);
      const AdamConfig c{.weight_decay = wd, .amsgrad = amsgrad};
      auto vmax = [&](float* const* a) { return amsgrad ? a[4] : nullptr; };
      Check(
          {Role::kState, Role::kInput, Role::kState, Role::kNonNegative, Role::kNonNegative},
          [&](float* const* a, size_t n, int s) {
            ref::AdamStep(c, s, a[0], a[1], a[2], a[3], vmax(a), n);
          },
          [&](float* const* a, size_t n, int s) {
            return cuda::AdamStep(c, s, a[0], a[1], a[2], a[3], vmax(a), n, nullptr);
          });
    }
  }
}

TEST(OptimKernelsCudaDevice, OuterUpdatesMatchRef) {
  SkipWithoutGpu();
  if (IsSkipped()) return;
  const std::vector<Role> roles = {Role::kInput, Role::kState, Role::kState};
  Check(
      roles,
      [](float* const* a, size_t n, int) {
        ref::SlowMoShardUpdate(0.5f, 0.5f, 0.1f, a[0], a[1], a[2], n);
      },
      [](float* const* a, size_t n, int) {
        return cuda::SlowMoShardUpdate(0.5f, 0.5f, 0.1f, a[0], a[1], a[2], n, nullptr);
      });
  // x (state), z (input: the AllReduce result), b.
  const std::vector<Role> anchor = {Role::kState, Role::kInput, Role::kState};
  Check(
      anchor, [](float* const* a, size_t n, int) { ref::PullBack(0.6f, a[0], a[1], n); },
      [](float* const* a, size_t n, int) { return cuda::PullBack(0.6f, a[0], a[1], n, nullptr); });
  Check(
      anchor, [](float* const* a, size_t n, int) { ref::AnchorReset(1.0f / 3.0f, a[0], a[1], n); },
      [](float* const* a, size_t n, int) {
        return cuda::AnchorReset(1.0f / 3.0f, a[0], a[1], n, nullptr);
      });
  Check(
      anchor,
      [](float* const* a, size_t n, int) {
        ref::AnchorMomentum(0.7f, 0.1f, 0.25f, a[0], a[1], a[2], n);
      },
      [](float* const* a, size_t n, int) {
        return cuda::AnchorMomentum(0.7f, 0.1f, 0.25f, a[0], a[1], a[2], n, nullptr);
      });
}

}  // namespace
}  // namespace tidal::optim
