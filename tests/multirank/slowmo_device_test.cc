// DeviceSlowMo (optim/tidal/optim/slowmo_device.h) on the emulated device (harness/
// emulated_device.h): the staged pipeline — copy in after the trainer's stream, AllReduce that
// starts when the copy landed, device-side owner update, copy back queued when the AllReduce
// finished, per-bucket events — on every CI machine. x lives in emulated device memory, which the
// test reads only through the device's copies. The results must equal host SlowMo's (slowmo.h) bit
// for bit: the same AllReduce and the oracle kernel the CUDA one matches. Cooperative mode (threads
// for one case: the owner update then runs on the progress thread), in-process transport.
#include "tidal/optim/slowmo_device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness/coll_check.h"
#include "harness/comm_world.h"
#include "harness/emulated_device.h"
#include "harness/slowmo_data.h"
#include "harness/world.h"
#include "tidal/optim/slowmo.h"

namespace tidal::optim {
namespace {

using testing::EmulatedDevice;
using testing::ExpectSameEverywhere;
using testing::MakeCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::SlowMoDelta;
using testing::SlowMoStart;
using testing::SlowMoTestOptions;
using testing::WorldOptions;

WorldOptions World(int n, testing::Mode mode = testing::Mode::kCooperative) {
  WorldOptions world;
  world.size = n;
  world.mode = mode;
  return world;
}

std::vector<Bucket> CutBuckets(size_t count) {
  std::vector<Bucket> buckets;
  size_t begin = 0;
  for (size_t end : {count / 5, count / 2, count}) {
    if (end > begin) buckets.push_back(Bucket{begin, end - begin});
    begin = std::max(begin, end);
  }
  return buckets;
}

// A device copy of x, the trainer's compute stream and the helpers to move data in and out.
class DeviceParams {
 public:
  DeviceParams(EmulatedDevice& device, size_t count) : device_(device), count_(count) {
    Result<void*> x = device.Allocate(count * sizeof(float));
    Result<void*> host = device.AllocateHost(count * sizeof(float));
    Result<DeviceStream> compute = device.CreateStream();
    EXPECT_OK(x);
    EXPECT_OK(host);
    EXPECT_OK(compute);
    x_ = static_cast<float*>(x.ok() ? *x : nullptr);
    host_ = static_cast<float*>(host.ok() ? *host : nullptr);
    compute_ = compute.ok() ? *compute : nullptr;
  }
  ~DeviceParams() {
    EXPECT_OK(device_.SynchronizeStream(compute_));
    device_.DestroyStream(compute_);
    device_.Free(x_);
    device_.FreeHost(host_);
  }
  float* x() const { return x_; }
  DeviceStream compute() const { return compute_; }

  void Upload(const std::vector<float>& v) {
    if (count_ == 0) return;
    std::memcpy(host_, v.data(), count_ * sizeof(float));
    ASSERT_OK(device_.CopyAsync(x_, host_, count_ * sizeof(float), compute_));
    ASSERT_OK(device_.SynchronizeStream(compute_));
  }
  std::vector<float> Download() {
    std::vector<float> v(count_);
    if (count_ == 0) return v;
    EXPECT_OK(device_.CopyAsync(host_, x_, count_ * sizeof(float), compute_));
    EXPECT_OK(device_.SynchronizeStream(compute_));
    std::memcpy(v.data(), host_, count_ * sizeof(float));
    return v;
  }
  // An inner step as device work on the compute stream: x += Delta.
  void InnerStep(int rank, int step) {
    float* x = x_;
    const size_t n = count_;
    ASSERT_OK(device_.Enqueue(compute_, "inner step", [=] {
      for (size_t i = 0; i < n; ++i) x[i] += SlowMoDelta(rank, i, step);
    }));
  }

 private:
  EmulatedDevice& device_;
  size_t count_;
  float* x_ = nullptr;
  float* host_ = nullptr;
  DeviceStream compute_ = nullptr;
};

void ExpectBitEqual(const std::vector<float>& got, const std::vector<float>& want,
                    const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && ++bad <= 3) {
      ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

// A rank's parameters twice, created side by side from the same start: on the host under SlowMo
// and in `params` (device memory) under DeviceSlowMo.
struct SideBySide {
  std::vector<float> host;
  std::unique_ptr<SlowMo> host_slowmo;
  std::unique_ptr<DeviceSlowMo> device_slowmo;
};

void CreateSideBySide(Communicator& comm, EmulatedDevice& device, DeviceParams& params,
                      size_t count, const SlowMoOptions& options, SideBySide* out) {
  out->host.resize(count);
  for (size_t i = 0; i < count; ++i) out->host[i] = SlowMoStart(comm.rank(), i);
  params.Upload(out->host);
  auto host_slowmo = SlowMo::Create(comm, out->host.data(), count, options);
  ASSERT_OK(host_slowmo);
  out->host_slowmo = std::move(host_slowmo).value();
  auto device_slowmo = DeviceSlowMo::Create(comm, device, params.x(), count, options);
  ASSERT_OK(device_slowmo);
  out->device_slowmo = std::move(device_slowmo).value();
}

struct Case {
  int n;
  bool bucketed;
  testing::Mode mode = testing::Mode::kCooperative;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << "n=" << c.n << (c.bucketed ? " buckets " : " one bucket ") << testing::ModeName(c.mode);
}

class DeviceSlowMoTest : public ::testing::TestWithParam<Case> {};

// Host SlowMo and DeviceSlowMo side by side on the same data, several outer steps: x after every
// outer step equal bit for bit, and the same on every rank; slow state 2·Σ owned floats on the
// device; everything freed afterwards.
TEST_P(DeviceSlowMoTest, EqualsHostSlowMoBitForBit) {
  const Case c = GetParam();
  RunWorld(World(c.n, c.mode), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1001}, size_t{100003}}) {
      SCOPED_TRACE("count " + std::to_string(count));
      EmulatedDevice device;
      const SlowMoOptions options =
          SlowMoTestOptions(2, c.bucketed ? CutBuckets(count) : std::vector<Bucket>{});
      {
        DeviceParams params(device, count);
        SideBySide pair;
        ASSERT_NO_FATAL_FAILURE(CreateSideBySide(*comm, device, params, count, options, &pair));
        std::vector<float>& host = pair.host;
        DeviceSlowMo& slowmo = *pair.device_slowmo;
        ExpectBitEqual(params.Download(), host, "after the broadcast");
        for (int step = 0; step < 6; ++step) {
          const float gamma = step < 3 ? 0.1f : 0.05f;
          for (size_t i = 0; i < count; ++i) host[i] += SlowMoDelta(env.rank(), i, step);
          params.InnerStep(env.rank(), step);
          Result<bool> want = pair.host_slowmo->AfterInnerStep(gamma);
          ASSERT_OK(want);
          Result<bool> got = slowmo.AfterInnerStep(gamma, params.compute());
          ASSERT_OK(got);
          ASSERT_EQ(*got, *want);
          if (!*got) continue;
          const std::vector<float> x = params.Download();
          ExpectBitEqual(x, host, "outer step after inner step " + std::to_string(step));
          ExpectSameEverywhere(*comm, x);
          if (::testing::Test::HasFailure()) return;
        }
        EXPECT_EQ(slowmo.outer_steps(), 3);
        EXPECT_EQ(slowmo.slow_state_floats(), pair.host_slowmo->slow_state_floats());
      }
      EXPECT_EQ(device.live_bytes(), 0u) << "DeviceSlowMo or the test leaked device memory";
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Worlds, DeviceSlowMoTest,
                         ::testing::Values(Case{1, false}, Case{2, true}, Case{3, false},
                                           Case{3, true}, Case{4, true}, Case{5, false},
                                           Case{5, true}, Case{3, true, testing::Mode::kThreads}),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           return "n" + std::to_string(param.param.n) +
                                  (param.param.bucketed ? "_buckets" : "_one_bucket") +
                                  (param.param.mode == testing::Mode::kThreads ? "_threads" : "");
                         });

// The outer step is ordered behind the trainer's compute stream: an inner step still held back on
// the device when the outer step is issued must be in the average, and no collective may start
// before it ran. Per bucket, the new parameters land only after that bucket's AllReduce; a
// stream waiting on bucket k alone proceeds once bucket k is done.
TEST(DeviceSlowMoOrder, WaitsForTheComputeStreamAndReleasesBucketsOneByOne) {
  RunWorld(World(3), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    const size_t count = 3001;
    EmulatedDevice device;
    {
      DeviceParams params(device, count);
      SideBySide pair;
      ASSERT_NO_FATAL_FAILURE(CreateSideBySide(*comm, device, params, count,
                                               SlowMoTestOptions(1, CutBuckets(count)), &pair));
      std::vector<float>& host = pair.host;
      DeviceSlowMo& slowmo = *pair.device_slowmo;

      // The inner step waits on the device behind a gate the test opens later.
      std::atomic<bool> gate{false};
      ASSERT_OK(device.Gate(params.compute(), &gate));
      params.InnerStep(env.rank(), 0);
      for (size_t i = 0; i < count; ++i) host[i] += SlowMoDelta(env.rank(), i, 0);

      Result<std::vector<Work>> works = slowmo.OuterStepAsync(0.1f, params.compute());
      ASSERT_OK(works);
      ASSERT_EQ(works->size(), 3u);
      for (Work& w : *works) EXPECT_FALSE(w.Test()) << "an AllReduce ran before its input landed";
      for (size_t k = 0; k < 3; ++k) {
        Result<bool> done = slowmo.BucketDone(k);
        ASSERT_OK(done);
        EXPECT_FALSE(*done) << "bucket " << k;
      }
      gate.store(true, std::memory_order_release);

      // Bucket 0 first: once its Work finished, a stream waiting on bucket 0 alone proceeds.
      ASSERT_OK((*works)[0].Wait(env.deadline()));
      Result<DeviceStream> side = device.CreateStream();
      ASSERT_OK(side);
      ASSERT_OK(slowmo.WaitBucket(0, *side));
      ASSERT_OK(device.SynchronizeStream(*side));
      Result<bool> done0 = slowmo.BucketDone(0);
      ASSERT_OK(done0);
      EXPECT_TRUE(*done0);
      device.DestroyStream(*side);

      for (Work& w : *works) ASSERT_OK(w.Wait(env.deadline()));
      ASSERT_OK(slowmo.WaitAllBuckets(params.compute()));
      ASSERT_OK(pair.host_slowmo->OuterStep(0.1f));
      ExpectBitEqual(params.Download(), host, "after the gated inner step");
    }
    EXPECT_EQ(device.live_bytes(), 0u);
  });
}

// The trainer's loop of outer_overlap_perf: OuterStepAsync, then per layer WaitBucket(k) and a
// "forward" kernel on the compute stream that reads layer k's parameters. Each forward must see
// bucket k's new parameters (x_{t+1,0}, equal to host SlowMo's), over several outer steps, with
// the Works waited only after all layers were queued; in threads mode the owner updates and copies
// run on the progress thread while the forwards are queued.
TEST(DeviceSlowMoOrder, ForwardAfterWaitBucketReadsTheNewParameters) {
  for (testing::Mode mode : {testing::Mode::kCooperative, testing::Mode::kThreads}) {
    RunWorld(World(4, mode), [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env);
      ASSERT_NE(comm, nullptr);
      const size_t count = 20011;
      EmulatedDevice device;
      {
        DeviceParams params(device, count);
        const SlowMoOptions options = SlowMoTestOptions(1, CutBuckets(count));
        SideBySide pair;
        ASSERT_NO_FATAL_FAILURE(CreateSideBySide(*comm, device, params, count, options, &pair));
        std::vector<float>& host = pair.host;
        DeviceSlowMo& slowmo = *pair.device_slowmo;
        std::vector<float> seen(count);  // what the forward kernels read, layer by layer
        for (int step = 0; step < 4; ++step) {
          params.InnerStep(env.rank(), step);
          for (size_t i = 0; i < count; ++i) host[i] += SlowMoDelta(env.rank(), i, step);
          Result<std::vector<Work>> works = slowmo.OuterStepAsync(0.1f, params.compute());
          ASSERT_OK(works);
          for (size_t k = 0; k < slowmo.bucket_count(); ++k) {
            ASSERT_OK(slowmo.WaitBucket(k, params.compute()));
            const Bucket b = options.buckets[k];
            const float* x = params.x();
            float* out = seen.data();
            ASSERT_OK(device.Enqueue(
                params.compute(), "forward of layer " + std::to_string(k),
                [=] { std::memcpy(out + b.begin, x + b.begin, b.count * sizeof(float)); }));
          }
          for (Work& w : *works) ASSERT_OK(w.Wait(env.deadline()));
          ASSERT_OK(device.SynchronizeStream(params.compute()));
          ASSERT_OK(pair.host_slowmo->OuterStep(0.1f));
          ExpectBitEqual(seen, host, "forwards of outer step " + std::to_string(step));
          if (::testing::Test::HasFailure()) return;
        }
      }
      EXPECT_EQ(device.live_bytes(), 0u);
    });
  }
}

// A device failure while the engine waits for a bucket's input fails that bucket's Work with the
// device's error, naming the rank; no copy back is queued, so x keeps its values on every rank,
// WaitBucket returns the error and the trainer's streams still drain.
TEST(DeviceSlowMoErrors, DeviceFailureFailsTheWorkAndLeavesXAsItWas) {
  WorldOptions world = World(2);
  world.timeout = std::chrono::milliseconds(1'000);
  RunWorld(world, [&](RankEnv& env) {
    testing::CommSetup setup;
    setup.timeout = std::chrono::milliseconds(1'000);
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, setup);
    ASSERT_NE(comm, nullptr);
    const size_t count = 501;
    EmulatedDevice device(std::chrono::milliseconds(2'000));
    {
      DeviceParams params(device, count);
      auto created =
          DeviceSlowMo::Create(*comm, device, params.x(), count, SlowMoTestOptions(1, {}));
      ASSERT_OK(created);
      const std::vector<float> before = params.Download();
      if (env.rank() == 1)
        device.FailQueries(IoError("cudaEventQuery: unspecified launch failure"));
      Status st = (*created)->OuterStep(0.1f, params.compute());
      ASSERT_FALSE(st.ok());
      if (env.rank() == 1) {
        EXPECT_EQ(st.code(), StatusCode::kIoError) << st.ToString();
        EXPECT_NE(st.message().find("unspecified launch failure"), std::string::npos)
            << st.ToString();
        EXPECT_NE(st.message().find("rank 1"), std::string::npos) << st.ToString();
      }
      device.FailQueries(Status::Ok());
      Result<DeviceStream> side = device.CreateStream();
      ASSERT_OK(side);
      Status waited = (*created)->WaitBucket(0, *side);
      EXPECT_FALSE(waited.ok());
      EXPECT_NE(waited.message().find("rank " + std::to_string(env.rank())), std::string::npos)
          << waited.ToString();
      EXPECT_NE(waited.message().find("bucket 0"), std::string::npos) << waited.ToString();
      EXPECT_FALSE((*created)->BucketDone(0).ok());
      EXPECT_OK(device.SynchronizeStream(*side));
      EXPECT_OK(device.SynchronizeStream(params.compute()));
      device.DestroyStream(*side);
      ExpectBitEqual(params.Download(), before, "x after a failed outer step");
    }
    EXPECT_EQ(device.live_bytes(), 0u);
  });
}

TEST(DeviceSlowMoErrors, RejectsBadArgumentsNamingTheRank) {
  RunWorld(World(2), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    EmulatedDevice device;
    auto null_x = DeviceSlowMo::Create(*comm, device, nullptr, 5, SlowMoTestOptions(1, {}));
    ASSERT_FALSE(null_x.ok());
    EXPECT_EQ(null_x.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(null_x.status().message().find("rank " + std::to_string(env.rank())),
              std::string::npos);
    {
      DeviceParams params(device, 64);
      auto created = DeviceSlowMo::Create(*comm, device, params.x(), 64, SlowMoTestOptions(1, {}));
      ASSERT_OK(created);
      Result<std::vector<Work>> bad_gamma = (*created)->OuterStepAsync(-1.0f, params.compute());
      ASSERT_FALSE(bad_gamma.ok());
      EXPECT_EQ(bad_gamma.status().code(), StatusCode::kInvalidArgument);
      Result<std::vector<Work>> first = (*created)->OuterStepAsync(0.1f, params.compute());
      ASSERT_OK(first);
      if (!(*first)[0].Test()) {
        Result<std::vector<Work>> second = (*created)->OuterStepAsync(0.1f, params.compute());
        ASSERT_FALSE(second.ok());
        EXPECT_NE(second.status().message().find("still in flight"), std::string::npos)
            << second.status().ToString();
      }
      for (Work& w : *first) ASSERT_OK(w.Wait(env.deadline()));
      EXPECT_FALSE((*created)->WaitBucket(1, params.compute()).ok());
    }
    EXPECT_EQ(device.live_bytes(), 0u);
  });
}

}  // namespace
}  // namespace tidal::optim
