// Micro-benchmarks of the CUDA reduction kernels (tidal/coll/cuda/reduce_cuda.h) beside
// cudaMemcpy device-to-device, timed with CUDA events on one stream (manual time).
//
// reduce_cuda/<type>/<op>/<bytes> runs out[i] = a[i] op b[i] into a disjoint output; bytes
// processed count both inputs and the output (3 x buffer size), so GB/s compares directly with
// memcpy_d2d/<bytes>, which counts its read and its write (2 x buffer size). Each timed iteration
// is kBatch back-to-back launches, so small sizes measure throughput rather than one launch's
// latency. After timing, the result is copied back and checked bit for bit against
// ReduceReference. Without a visible GPU the program says so and exits 0.
//   build/bin/reduce_cuda_bench --benchmark_filter='memcpy|float/sum'
//
// Thread safety: single-threaded benchmark program.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_fixture.h"
#include "tidal/coll/cuda/reduce_cuda.h"
#include "tidal/coll/reduce.h"

namespace {

using tidal::coll::DataType;
using tidal::coll::ReduceOp;

constexpr size_t kSizes[] = {size_t{1} << 20, size_t{64} << 20, size_t{256} << 20};
constexpr int kBatch = 10;

std::string SizeName(size_t bytes) { return std::to_string(bytes >> 20) + "MiB"; }

// Small values (bytes 0..3 pattern) keep every type finite under sum and max.
std::vector<unsigned char> Pattern(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  for (size_t i = 0; i < bytes; ++i) buf[i] = static_cast<unsigned char>(i % 4 == 0 ? 0 : 0x3C);
  return buf;
}

using Fixture = tidal::perf::CudaFixture;

// A fixture of `buffers` buffers of `bytes`, each filled with Pattern(bytes).
bool FillAll(Fixture& fx, size_t buffers) {
  const std::vector<unsigned char> host = Pattern(fx.bytes());
  for (size_t i = 0; i < buffers; ++i) {
    if (!fx.Fill(i, host.data())) return false;
  }
  return true;
}

// The device result equals ReduceReference on the same inputs.
bool ResultMatchesReference(const Fixture& fx, DataType type, ReduceOp op, size_t bytes) {
  const std::vector<unsigned char> in = Pattern(bytes);
  std::vector<unsigned char> want(bytes);
  std::vector<unsigned char> got(bytes);
  const size_t count = bytes / tidal::coll::DataTypeSize(type);
  if (!tidal::coll::ReduceReference(type, op, want.data(), in.data(), in.data(), count).ok()) {
    return false;
  }
  if (!fx.Read(2, got.data())) return false;
  return std::memcmp(got.data(), want.data(), bytes) == 0;
}

void BenchReduce(benchmark::State& state, DataType type, ReduceOp op, size_t bytes) {
  Fixture fx(bytes, 3);  // a, b, out
  if (!FillAll(fx, 3)) {
    state.SkipWithError("cudaMalloc/cudaStreamCreate failed");
    return;
  }
  const size_t count = bytes / tidal::coll::DataTypeSize(type);
  tidal::Status status;
  for (auto _ : state) {
    fx.Start();
    for (int i = 0; i < kBatch && status.ok(); ++i) {
      status =
          tidal::coll::ReduceDevice(type, op, fx.ptr(2), fx.ptr(0), fx.ptr(1), count, fx.stream());
    }
    state.SetIterationTime(fx.Stop());
    if (!status.ok()) {
      state.SkipWithError(status.message().data());
      return;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kBatch * 3 *
                          static_cast<int64_t>(bytes));
  if (!ResultMatchesReference(fx, type, op, bytes)) {
    state.SkipWithError("result differs from ReduceReference");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "reduce_cuda_bench: no GPU visible (%s); nothing to run\n",
                 err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    return 0;
  }
  for (size_t bytes : kSizes) {
    benchmark::RegisterBenchmark(("memcpy_d2d/" + SizeName(bytes)).c_str(),
                                 tidal::perf::BenchMemcpyD2D, bytes, kBatch)
        ->UseManualTime();
    for (DataType type : tidal::coll::kAllDataTypes) {
      for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) {
        const std::string name = "reduce_cuda/" + std::string(tidal::coll::DataTypeName(type)) +
                                 "/" + std::string(tidal::coll::ReduceOpName(op)) + "/" +
                                 SizeName(bytes);
        benchmark::RegisterBenchmark(name.c_str(), BenchReduce, type, op, bytes)->UseManualTime();
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
