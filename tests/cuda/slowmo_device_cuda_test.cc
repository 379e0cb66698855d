// DeviceSlowMo (tidal/optim/slowmo_device.h) on the real CUDA device (device.h CudaDevice()):
// x in GPU memory, inner steps uploaded on the trainer's stream, outer steps through the staged
// pipeline, compared bit for bit with host SlowMo on the same data for world sizes 1, 2, 3 and 5
// (ranks are threads sharing the GPU, in-process transport: from 3 ranks on, their streams exceed
// CUDA's 8 hardware queues, which once deadlocked a GPU-side wait), and the trainer's per-bucket
// loop (OuterStepAsync, then WaitBucket(k) before "layer" k reads bucket k). Also CudaDevice()'s
// refusal without CUDA or a GPU. Skips the GPU cases when no GPU is visible; the multirank tests
// run the same pipeline on the emulated device everywhere.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness/coll_check.h"
#include "harness/comm_world.h"
#include "harness/slowmo_data.h"
#include "harness/world.h"
#include "tidal/core/build_info.h"
#include "tidal/cuda/device_buffer.h"
#include "tidal/optim/device.h"
#include "tidal/optim/slowmo.h"
#include "tidal/optim/slowmo_device.h"

namespace tidal::optim {
namespace {

using testing::MakeCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::SlowMoDelta;
using testing::SlowMoStart;
using testing::SlowMoTestOptions;

bool GpuVisible(std::string* why) {
  if (!CudaCompiled()) {
    *why = "built without CUDA";
    return false;
  }
  return CudaDeviceCount(why) > 0;
}

TEST(CudaDeviceTest, RefusesWithoutCudaOrGpu) {
  std::string why;
  Result<Device*> device = CudaDevice();
  if (GpuVisible(&why)) {
    ASSERT_OK(device);
    EXPECT_EQ((*device)->name(), "cuda");
    return;
  }
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.status().code(),
            CudaCompiled() ? StatusCode::kUnavailable : StatusCode::kNotSupported)
      << device.status().ToString();
}

// One rank's parameters for a test: x (count floats of GPU memory) holding SlowMoStart(rank, i),
// its host mirror `host`, page-locked staging and the trainer's stream; freed on scope exit.
class GpuParams {
 public:
  GpuParams(Device& device, int rank, size_t count) : host(count), device_(device) {
    for (size_t i = 0; i < count; ++i) host[i] = SlowMoStart(rank, i);
    Result<void*> x_mem = device.Allocate(count * sizeof(float));
    Result<void*> pinned = device.AllocateHost(count * sizeof(float));
    Result<DeviceStream> stream = device.CreateStream();
    status_ = !x_mem.ok() ? x_mem.status() : !pinned.ok() ? pinned.status() : stream.status();
    if (x_mem.ok()) x = static_cast<float*>(*x_mem);
    if (pinned.ok()) staged = static_cast<float*>(*pinned);
    if (stream.ok()) compute = *stream;
    if (status_.ok()) status_ = Upload();
    if (status_.ok()) status_ = device.SynchronizeStream(compute);  // Create reads x at once
  }
  ~GpuParams() {
    device_.DestroyStream(compute);
    device_.FreeHost(staged);
    device_.Free(x);
  }
  GpuParams(const GpuParams&) = delete;
  GpuParams& operator=(const GpuParams&) = delete;

  const Status& status() const { return status_; }
  // The trainer's inner step: host → staging → x on the compute stream (waits for the previous
  // upload first, so staging is free).
  Status Upload() {
    TIDAL_RETURN_IF_ERROR(device_.SynchronizeStream(compute));
    std::memcpy(staged, host.data(), host.size() * sizeof(float));
    return device_.CopyAsync(x, staged, host.size() * sizeof(float), compute);
  }

  std::vector<float> host;
  float* x = nullptr;
  float* staged = nullptr;
  DeviceStream compute = nullptr;

 private:
  Device& device_;
  Status status_;
};

// Elements where the device's copy differs from host SlowMo's bits; reports the first three.
size_t CountBitDifferences(const float* device, const std::vector<float>& host,
                           const std::string& when) {
  size_t bad = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    if (std::memcmp(&device[i], &host[i], sizeof(float)) != 0 && ++bad <= 3) {
      ADD_FAILURE() << when << " element " << i << ": device " << device[i] << ", host SlowMo "
                    << host[i];
    }
  }
  return bad;
}

TEST(DeviceSlowMoCudaTest, EqualsHostSlowMoBitForBit) {
  std::string why;
  if (!GpuVisible(&why)) GTEST_SKIP() << why;
  for (int n : {1, 2, 3, 5}) {
    testing::WorldOptions world;
    world.size = n;
    world.mode = testing::Mode::kThreads;
    RunWorld(world, [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env);
      ASSERT_NE(comm, nullptr);
      Device& device = **CudaDevice();
      for (size_t count : {size_t{1}, size_t{1001}, size_t{100003}}) {
        SCOPED_TRACE("n " + std::to_string(n) + " count " + std::to_string(count));
        GpuParams params(device, env.rank(), count);
        ASSERT_OK(params.status());
        std::vector<float>& host = params.host;
        std::vector<Bucket> buckets = {Bucket{0, count / 3}, Bucket{count / 3, count - count / 3}};
        if (count / 3 == 0) buckets.clear();
        const SlowMoOptions options = SlowMoTestOptions(2, std::move(buckets));
        auto host_slowmo = SlowMo::Create(*comm, host.data(), count, options);
        ASSERT_OK(host_slowmo);
        {
          auto created = DeviceSlowMo::Create(*comm, device, params.x, count, options);
          ASSERT_OK(created);
          for (int step = 0; step < 6; ++step) {
            // The inner step: the trainer's new x, uploaded on its stream.
            for (size_t i = 0; i < count; ++i) host[i] += SlowMoDelta(env.rank(), i, step);
            ASSERT_OK(params.Upload());
            Result<bool> want = (*host_slowmo)->AfterInnerStep(0.1f);
            ASSERT_OK(want);
            Result<bool> got = (*created)->AfterInnerStep(0.1f, params.compute);
            ASSERT_OK(got);
            ASSERT_EQ(*got, *want);
            if (!*got) continue;
            ASSERT_OK(
                device.CopyAsync(params.staged, params.x, count * sizeof(float), params.compute));
            ASSERT_OK(device.SynchronizeStream(params.compute));
            ASSERT_EQ(CountBitDifferences(params.staged, host, "step " + std::to_string(step)), 0u);
          }
        }
      }
    });
  }
}

// The trainer's loop of outer_overlap_perf on the GPU, 4 ranks in one process: OuterStepAsync,
// then per bucket WaitBucket(k, compute) and a "layer" on the compute stream that reads bucket k
// (a copy into page-locked memory), with the Works waited only after every layer was queued. Each
// layer must read x_{t+1,0} of its bucket, equal to host SlowMo's bit for bit, over 4 rounds.
TEST(DeviceSlowMoCudaTest, LayerAfterWaitBucketReadsTheNewParameters) {
  std::string why;
  if (!GpuVisible(&why)) GTEST_SKIP() << why;
  testing::WorldOptions world;
  world.size = 4;
  world.mode = testing::Mode::kThreads;
  RunWorld(world, [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    Device& device = **CudaDevice();
    const size_t count = 100003;
    GpuParams params(device, env.rank(), count);
    ASSERT_OK(params.status());
    std::vector<float>& host = params.host;
    Result<void*> seen = device.AllocateHost(count * sizeof(float));
    ASSERT_OK(seen);
    auto* layers = static_cast<float*>(*seen);
    const SlowMoOptions options = SlowMoTestOptions(
        1, {Bucket{0, 30011}, Bucket{30011, 40000}, Bucket{70011, count - 70011}});
    auto host_slowmo = SlowMo::Create(*comm, host.data(), count, options);
    ASSERT_OK(host_slowmo);
    {
      auto created = DeviceSlowMo::Create(*comm, device, params.x, count, options);
      ASSERT_OK(created);
      for (int round = 0; round < 4; ++round) {
        for (size_t i = 0; i < count; ++i) host[i] += SlowMoDelta(env.rank(), i, round);
        ASSERT_OK(params.Upload());
        Result<std::vector<Work>> works = (*created)->OuterStepAsync(0.1f, params.compute);
        ASSERT_OK(works);
        for (size_t k = 0; k < options.buckets.size(); ++k) {
          const Bucket& b = options.buckets[k];
          ASSERT_OK((*created)->WaitBucket(k, params.compute));
          ASSERT_OK(device.CopyAsync(layers + b.begin, params.x + b.begin, b.count * sizeof(float),
                                     params.compute));
        }
        for (Work& w : *works) ASSERT_OK(w.Wait(env.deadline()));
        ASSERT_OK(device.SynchronizeStream(params.compute));
        ASSERT_OK((*host_slowmo)->OuterStep(0.1f));
        ASSERT_EQ(CountBitDifferences(layers, host, "round " + std::to_string(round)), 0u);
      }
    }
    device.FreeHost(*seen);
  });
}

}  // namespace
}  // namespace tidal::optim
