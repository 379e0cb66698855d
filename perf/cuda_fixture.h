// CudaFixture: device buffers, one stream and a pair of timing events for the CUDA
// micro-benchmarks (reduce_cuda_bench, optim_cuda_bench), freed on scope exit. Timing is
// event-based on the fixture's stream: Start() records, Stop() records, waits and returns seconds.
// BenchMemcpyD2D is their common baseline.
//
// Thread safety: none; one fixture per benchmark run, used from one thread.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tidal::perf {

class CudaFixture {
 public:
  // `buffers` device buffers of `bytes` each, contents undefined until Fill.
  CudaFixture(size_t bytes, size_t buffers) : bytes_(bytes), ptrs_(buffers, nullptr) {
    ok_ = cudaStreamCreate(&stream_) == cudaSuccess && cudaEventCreate(&start_) == cudaSuccess &&
          cudaEventCreate(&stop_) == cudaSuccess;
    for (void*& p : ptrs_) ok_ = ok_ && cudaMalloc(&p, bytes) == cudaSuccess;
  }
  ~CudaFixture() {
    for (void* p : ptrs_) cudaFree(p);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
    cudaStreamDestroy(stream_);
  }
  CudaFixture(const CudaFixture&) = delete;
  CudaFixture& operator=(const CudaFixture&) = delete;

  bool ok() const { return ok_; }
  void* ptr(size_t i) const { return ptrs_[i]; }
  cudaStream_t stream() const { return stream_; }

  // Copies bytes() host bytes into buffer i (synchronous). REQUIRES: host holds bytes() bytes.
  bool Fill(size_t i, const void* host) {
    ok_ = ok_ && cudaMemcpy(ptrs_[i], host, bytes_, cudaMemcpyHostToDevice) == cudaSuccess;
    return ok_;
  }
  // Copies buffer i back into host (synchronous). REQUIRES: host holds bytes() bytes.
  bool Read(size_t i, void* host) const {
    return cudaMemcpy(host, ptrs_[i], bytes_, cudaMemcpyDeviceToHost) == cudaSuccess;
  }
  size_t bytes() const { return bytes_; }

  void Start() const { cudaEventRecord(start_, stream_); }
  // Seconds since Start(), after the stream's work so far has finished.
  double Stop() const {
    cudaEventRecord(stop_, stream_);
    cudaEventSynchronize(stop_);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start_, stop_);
    return static_cast<double>(ms) / 1e3;
  }

 private:
  size_t bytes_;
  std::vector<void*> ptrs_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
  bool ok_ = false;
};

// The physical limit the kernels are compared with: `batch` cudaMemcpyAsync device-to-device
// copies of `bytes` per timed iteration; bytes processed count the read and the write.
inline void BenchMemcpyD2D(benchmark::State& state, size_t bytes, int batch) {
  CudaFixture fx(bytes, 2);
  if (!fx.ok() || cudaMemset(fx.ptr(0), 0, bytes) != cudaSuccess) {
    state.SkipWithError("cudaMalloc/cudaStreamCreate failed");
    return;
  }
  for (auto _ : state) {
    fx.Start();
    for (int i = 0; i < batch; ++i) {
      cudaMemcpyAsync(fx.ptr(1), fx.ptr(0), bytes, cudaMemcpyDeviceToDevice, fx.stream());
    }
    state.SetIterationTime(fx.Stop());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * batch * 2 *
                          static_cast<int64_t>(bytes));
}

}  // namespace tidal::perf
