// Micro-benchmarks of the CPU optimizer kernels (tidal/optim/kernels.h) beside memcpy, 1M floats.
//
// optim/<kernel>/<impl> runs one kernel call over kFloats elements with ref:: (the scalar oracle),
// the dispatched entry point, or one variant (scalar baseline = SSE2, avx2, avx512, as the CPU
// allows). Bytes processed count every array read and written once (SGD with momentum: x, g, buf
// read, x, buf written = 20 bytes per element), so GB/s compares directly with memcpy/4MiB, which
// counts its read and its write: a kernel at memory speed reports about memcpy's GB/s.
//   build/bin/optim_bench --benchmark_filter='memcpy|sgd'
// Coefficients are chosen so that repeated steps stay away from subnormals (SlowMo with beta 0,
// the anchor with gmf 0 and inv_n 1 converge to fixed points); the instruction stream is the same.
// Before timing, main checks every implementation against ref:: bit for bit on the same inputs.
//
// Thread safety: single-threaded benchmark program.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "tidal/coll/reduce.h"
#include "tidal/optim/kernels.h"
#include "tidal/optim/kernels_internal.h"

namespace {

namespace opt = tidal::optim;
using opt::internal::OptimKernelTable;

constexpr size_t kFloats = size_t{1} << 20;

// An implementation: ref::, the dispatched entry points or one variant, as a kernel table (the
// three have the same signatures).
struct Impl {
  std::string name;
  OptimKernelTable table;
};

const OptimKernelTable kRef{&opt::ref::SgdStep,           &opt::ref::AdamStep,
                            &opt::ref::SlowMoShardUpdate, &opt::ref::PullBack,
                            &opt::ref::AnchorReset,       &opt::ref::AnchorMomentum};
const OptimKernelTable kDispatched{&opt::SgdStep,  &opt::AdamStep,    &opt::SlowMoShardUpdate,
                                   &opt::PullBack, &opt::AnchorReset, &opt::AnchorMomentum};

// One call of a kernel on arrays a[0..]; step is 1-based (Adam).
using KernelFn =
    std::function<void(const OptimKernelTable& t, float* const* a, size_t n, int64_t step)>;

struct Kernel {
  std::string name;
  int arrays;      // arrays the kernel uses
  int bytes_each;  // bytes moved per element (reads + writes)
  KernelFn run;
};

const opt::SgdConfig kSgd{.lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f, .nesterov = true};
const opt::AdamConfig kAdam{.weight_decay = 0.01f};

std::vector<Kernel> Kernels() {
  using T = const OptimKernelTable&;
  return {
      {"sgd_nesterov_wd", 3, 20,
       [](T t, float* const* a, size_t n, int64_t) { t.sgd(kSgd, a[0], a[1], a[2], n); }},
      {"adam_wd", 4, 28,
       [](T t, float* const* a, size_t n, int64_t s) {
         t.adam(kAdam, s, a[0], a[1], a[2], a[3], nullptr, n);
       }},
      {"slowmo", 3, 24,
       [](T t, float* const* a, size_t n, int64_t) {
         t.slowmo(1.0f, 0.0f, 0.1f, a[0], a[1], a[2], n);
       }},
      {"pull_back", 2, 12,
       [](T t, float* const* a, size_t n, int64_t) { t.pull_back(0.6f, a[0], a[1], n); }},
      {"anchor_momentum", 3, 20,
       [](T t, float* const* a, size_t n, int64_t) {
         t.anchor_momentum(0.0f, 0.1f, 1.0f, a[0], a[1], a[2], n);
       }},
  };
}

std::vector<Impl> Impls() {
  std::vector<Impl> impls = {{"ref", kRef}, {"dispatched", kDispatched}};
  for (tidal::coll::ReduceIsa isa : tidal::coll::AvailableReduceIsas()) {
    impls.push_back({std::string(tidal::coll::ReduceIsaName(isa)), opt::internal::KernelsFor(isa)});
  }
  return impls;
}

// Arrays of n floats with small positive and negative values (v, the 4th array, non-negative).
std::vector<std::vector<float>> Arrays(int count, size_t n) {
  std::vector<std::vector<float>> arrays(static_cast<size_t>(count), std::vector<float>(n));
  for (size_t k = 0; k < arrays.size(); ++k) {
    for (size_t i = 0; i < n; ++i) {
      const auto v = static_cast<float>((i * 7 + k * 13) % 1000) * 0.001f - 0.5f;
      arrays[k][i] = k == 3 ? v * v : v;
    }
  }
  return arrays;
}

std::vector<float*> Pointers(std::vector<std::vector<float>>& arrays) {
  std::vector<float*> p;
  for (auto& a : arrays) p.push_back(a.data());
  return p;
}

void BenchMemcpy(benchmark::State& state) {
  std::vector<float> src(kFloats, 0.5f), dst(kFloats);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kFloats * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 *
                          static_cast<int64_t>(kFloats * sizeof(float)));
}

void BenchKernel(benchmark::State& state, const Kernel& kernel, const Impl& impl) {
  std::vector<std::vector<float>> arrays = Arrays(kernel.arrays, kFloats);
  const std::vector<float*> p = Pointers(arrays);
  int64_t step = 1;
  for (auto _ : state) {
    kernel.run(impl.table, p.data(), kFloats, step++);
    benchmark::DoNotOptimize(p[0]);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kernel.bytes_each *
                          static_cast<int64_t>(kFloats));
}

// Three steps of every implementation against ref:: on the same inputs, bit for bit.
bool Verify(const Kernel& kernel, const Impl& impl) {
  const size_t n = 4099;
  std::vector<std::vector<float>> want = Arrays(kernel.arrays, n), got = want;
  const std::vector<float*> pw = Pointers(want), pg = Pointers(got);
  for (int64_t s = 1; s <= 3; ++s) {
    kernel.run(kRef, pw.data(), n, s);
    kernel.run(impl.table, pg.data(), n, s);
  }
  for (size_t k = 0; k < want.size(); ++k) {
    if (std::memcmp(want[k].data(), got[k].data(), n * sizeof(float)) != 0) {
      std::fprintf(stderr, "optim_bench: %s/%s differs from ref in array %zu\n",
                   kernel.name.c_str(), impl.name.c_str(), k);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  static const std::vector<Kernel> kernels = Kernels();
  static const std::vector<Impl> impls = Impls();
  bool ok = true;
  for (const Kernel& kernel : kernels) {
    for (const Impl& impl : impls) ok = Verify(kernel, impl) && ok;
  }
  if (!ok) return 1;
  benchmark::RegisterBenchmark("memcpy/4MiB", BenchMemcpy);
  for (const Kernel& kernel : kernels) {
    for (const Impl& impl : impls) {
      const std::string name = "optim/" + kernel.name + "/" + impl.name;
      benchmark::RegisterBenchmark(name.c_str(), BenchKernel, std::cref(kernel), std::cref(impl));
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
