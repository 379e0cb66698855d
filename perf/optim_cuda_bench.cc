// Micro-benchmarks of the CUDA optimizer kernels (tidal/optim/kernels_cuda.h) beside cudaMemcpy
// device-to-device, timed with CUDA events on one stream (manual time).
//
// optim_cuda/<kernel>/<size> runs one kernel over the arrays of <size> floats each; bytes
// processed count every array read and written once (SGD with momentum: x, g, buf read, x, buf
// written = 20 bytes per element), so GB/s compares directly with memcpy_d2d/<bytes>, which counts
// its read and its write: a kernel at HBM speed reports about memcpy's GB/s. Each timed iteration
// is kBatch back-to-back launches, so small sizes measure throughput rather than one launch's
// latency. The kernels and coefficients are optim_bench's (the CPU side), chosen so that repeated
// steps stay away from subnormals. Before timing, main runs three steps of every kernel on the GPU
// and with ref:: (the CPU oracle) on the same inputs and requires bit-identical arrays. Without a
// visible GPU the program says so and exits 0.
//   build/bin/optim_cuda_bench --benchmark_filter='memcpy|sgd'
//
// Thread safety: single-threaded benchmark program.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cuda_fixture.h"
#include "tidal/optim/kernels.h"
#include "tidal/optim/kernels_cuda.h"

namespace {

namespace opt = tidal::optim;
using Fixture = tidal::perf::CudaFixture;

constexpr size_t kSizes[] = {size_t{1} << 20, size_t{1} << 24, size_t{1} << 26};  // floats
constexpr int kBatch = 10;

const opt::SgdConfig kSgd{.lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f, .nesterov = true};
const opt::AdamConfig kAdam{.weight_decay = 0.01f};

// One step of a kernel on arrays a[0..] of n floats: on the GPU (on `stream`) or with ref::.
using CudaFn =
    std::function<tidal::Status(float* const* a, size_t n, int64_t step, cudaStream_t stream)>;
using RefFn = std::function<void(float* const* a, size_t n, int64_t step)>;

struct Kernel {
  std::string name;
  int arrays;      // arrays the kernel uses
  int bytes_each;  // bytes moved per element (reads + writes)
  CudaFn cuda;
  RefFn ref;
};

std::vector<Kernel> Kernels() {
  using A = float* const*;
  return {
      {"sgd_nesterov_wd", 3, 20,
       [](A a, size_t n, int64_t, cudaStream_t s) {
         return opt::cuda::SgdStep(kSgd, a[0], a[1], a[2], n, s);
       },
       [](A a, size_t n, int64_t) { opt::ref::SgdStep(kSgd, a[0], a[1], a[2], n); }},
      {"adam_wd", 4, 28,
       [](A a, size_t n, int64_t step, cudaStream_t s) {
         return opt::cuda::AdamStep(kAdam, step, a[0], a[1], a[2], a[3], nullptr, n, s);
       },
       [](A a, size_t n, int64_t step) {
         opt::ref::AdamStep(kAdam, step, a[0], a[1], a[2], a[3], nullptr, n);
       }},
      {"slowmo", 3, 24,
       [](A a, size_t n, int64_t, cudaStream_t s) {
         return opt::cuda::SlowMoShardUpdate(1.0f, 0.0f, 0.1f, a[0], a[1], a[2], n, s);
       },
       [](A a, size_t n, int64_t) {
         opt::ref::SlowMoShardUpdate(1.0f, 0.0f, 0.1f, a[0], a[1], a[2], n);
       }},
      {"pull_back", 2, 12,
       [](A a, size_t n, int64_t, cudaStream_t s) {
         return opt::cuda::PullBack(0.6f, a[0], a[1], n, s);
       },
       [](A a, size_t n, int64_t) { opt::ref::PullBack(0.6f, a[0], a[1], n); }},
      {"anchor_momentum", 3, 20,
       [](A a, size_t n, int64_t, cudaStream_t s) {
         return opt::cuda::AnchorMomentum(0.0f, 0.1f, 1.0f, a[0], a[1], a[2], n, s);
       },
       [](A a, size_t n, int64_t) {
         opt::ref::AnchorMomentum(0.0f, 0.1f, 1.0f, a[0], a[1], a[2], n);
       }},
  };
}

// Array k of n floats with small positive and negative values (v, the 4th array, non-negative).
std::vector<float> HostArray(size_t k, size_t n) {
  std::vector<float> a(n);
  for (size_t i = 0; i < n; ++i) {
    const auto v = static_cast<float>((i * 7 + k * 13) % 1000) * 0.001f - 0.5f;
    a[i] = k == 3 ? v * v : v;
  }
  return a;
}

// A fixture holding the kernel's arrays of n floats, filled with HostArray.
bool FillArrays(Fixture& fx, const Kernel& kernel, size_t n) {
  for (int k = 0; k < kernel.arrays; ++k) {
    const std::vector<float> host = HostArray(static_cast<size_t>(k), n);
    if (!fx.Fill(static_cast<size_t>(k), host.data())) return false;
  }
  return true;
}

std::vector<float*> DevicePointers(const Fixture& fx, int arrays) {
  std::vector<float*> p;
  for (int k = 0; k < arrays; ++k) p.push_back(static_cast<float*>(fx.ptr(static_cast<size_t>(k))));
  return p;
}

std::string SizeName(size_t floats) { return std::to_string(floats * sizeof(float) >> 20) + "MiB"; }

void BenchKernel(benchmark::State& state, const Kernel& kernel, size_t floats) {
  Fixture fx(floats * sizeof(float), static_cast<size_t>(kernel.arrays));
  if (!FillArrays(fx, kernel, floats)) {
    state.SkipWithError("cudaMalloc/cudaStreamCreate failed");
    return;
  }
  const std::vector<float*> p = DevicePointers(fx, kernel.arrays);
  int64_t step = 1;
  tidal::Status status;
  for (auto _ : state) {
    fx.Start();
    for (int i = 0; i < kBatch && status.ok(); ++i) {
      status = kernel.cuda(p.data(), floats, step++, fx.stream());
    }
    state.SetIterationTime(fx.Stop());
    if (!status.ok()) {
      state.SkipWithError(status.message().data());
      return;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kBatch * kernel.bytes_each *
                          static_cast<int64_t>(floats));
}

// Three steps on the GPU and with ref:: from the same inputs; every array bit-identical.
bool Verify(const Kernel& kernel) {
  const size_t n = 4099;
  Fixture fx(n * sizeof(float), static_cast<size_t>(kernel.arrays));
  std::vector<std::vector<float>> want;
  for (int k = 0; k < kernel.arrays; ++k) want.push_back(HostArray(static_cast<size_t>(k), n));
  std::vector<float*> pw;
  for (auto& a : want) pw.push_back(a.data());
  const std::vector<float*> pd = DevicePointers(fx, kernel.arrays);
  bool ok = FillArrays(fx, kernel, n);
  for (int64_t s = 1; s <= 3 && ok; ++s) {
    kernel.ref(pw.data(), n, s);
    ok = kernel.cuda(pd.data(), n, s, fx.stream()).ok();
  }
  ok = ok && cudaStreamSynchronize(fx.stream()) == cudaSuccess;
  std::vector<float> got(n);
  for (size_t k = 0; k < want.size() && ok; ++k) {
    ok = fx.Read(k, got.data()) && std::memcmp(got.data(), want[k].data(), n * sizeof(float)) == 0;
  }
  if (!ok) std::fprintf(stderr, "optim_cuda_bench: %s differs from ref::\n", kernel.name.c_str());
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (!opt::cuda::Available()) {
    std::fprintf(stderr, "optim_cuda_bench: no GPU visible; nothing to run\n");
    return 0;
  }
  static const std::vector<Kernel> kernels = Kernels();
  bool ok = true;
  for (const Kernel& kernel : kernels) ok = Verify(kernel) && ok;
  if (!ok) return 1;
  for (size_t floats : kSizes) {
    benchmark::RegisterBenchmark(("memcpy_d2d/" + SizeName(floats)).c_str(),
                                 tidal::perf::BenchMemcpyD2D, floats * sizeof(float), kBatch)
        ->UseManualTime();
    for (const Kernel& kernel : kernels) {
      const std::string name = "optim_cuda/" + kernel.name + "/" + SizeName(floats);
      benchmark::RegisterBenchmark(name.c_str(), BenchKernel, std::cref(kernel), floats)
          ->UseManualTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
