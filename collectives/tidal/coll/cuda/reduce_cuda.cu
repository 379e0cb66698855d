// CUDA reduction kernels (reduce_cuda.h): launch, validation and the two kernel shapes.
//
// Design note: the kernels are memory-bound, so each thread moves 16 bytes per load (one uint4 of
// 16 / sizeof(T) elements) in a grid-stride loop over "packs". That needs out, a and b at the
// same offset modulo 16; the first `head` elements (up to the first 16-byte boundary) and the
// last partial pack are done one element each by the first threads of the grid. Pointers at
// different offsets modulo 16 take an element-wise grid-stride kernel instead. The grid is at
// most kBlocksPerSm blocks of kThreads per SM (enough resident threads to saturate bandwidth).
// `out` may alias `a` or `b` exactly: each element (pack) is read and written by one thread.
// Element math and its bit rules live in reduce_cuda_math.h. CUDA errors become Status here.
//
// Thread safety: thread-safe; the host's default NaN is measured once (function-local static).
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#include "tidal/coll/cuda/reduce_cuda.h"
#include "tidal/coll/cuda/reduce_cuda_math.h"
#include "tidal/cuda/cuda_error.cuh"

namespace tidal::coll {
namespace {

using cuda_math::CpuNan;
using cuda_math::Storage;

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;
constexpr size_t kPackBytes = 16;
constexpr size_t kNumTypes = 8;
constexpr size_t kNumOps = 5;

// What Inf - Inf gives on this CPU (x86-64: the negative quiet NaN 0xFFC00000), measured at run
// time through volatile operands so that the compiler cannot fold it.
CpuNan MeasureCpuNan() {
  volatile float inf_f = std::numeric_limits<float>::infinity();
  volatile double inf_d = std::numeric_limits<double>::infinity();
  const float nan_f = inf_f - inf_f;
  const double nan_d = inf_d - inf_d;
  CpuNan nan{};
  std::memcpy(&nan.f32, &nan_f, sizeof(nan.f32));
  std::memcpy(&nan.f64, &nan_d, sizeof(nan.f64));
  return nan;
}

const CpuNan& HostNan() {
  static const CpuNan nan = MeasureCpuNan();
  return nan;
}

template <class T>
struct Pack {
  static constexpr size_t kCount = kPackBytes / sizeof(T);
  T v[kCount];
};

template <class T>
__device__ __forceinline__ Pack<T> LoadPack(const T* p) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  Pack<T> pack;
  memcpy(&pack, &raw, kPackBytes);
  return pack;
}

template <class T>
__device__ __forceinline__ void StorePack(T* p, const Pack<T>& pack) {
  uint4 raw;
  memcpy(&raw, &pack, kPackBytes);
  *reinterpret_cast<uint4*>(p) = raw;
}

__device__ __forceinline__ size_t ThreadIndex() {
  return static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ size_t GridSize() { return static_cast<size_t>(blockDim.x) * gridDim.x; }

template <DataType D, ReduceOp O>
__global__ void ReduceElementsKernel(Storage<D>* out, const Storage<D>* a, const Storage<D>* b,
                                     size_t count, CpuNan nan) {
  for (size_t i = ThreadIndex(); i < count; i += GridSize()) {
    out[i] = cuda_math::Step<D, O>(a[i], b[i], nan);
  }
}

// REQUIRES: out + head, a + head, b + head 16-byte aligned; grid size >= Pack::kCount.
template <DataType D, ReduceOp O>
__global__ void ReducePacksKernel(Storage<D>* out, const Storage<D>* a, const Storage<D>* b,
                                  size_t head, size_t packs, size_t count, CpuNan nan) {
  using T = Storage<D>;
  constexpr size_t kN = Pack<T>::kCount;
  const size_t tid = ThreadIndex();
  const size_t tail = head + packs * kN;
  if (tid < head) out[tid] = cuda_math::Step<D, O>(a[tid], b[tid], nan);
  if (tid < count - tail) {
    out[tail + tid] = cuda_math::Step<D, O>(a[tail + tid], b[tail + tid], nan);
  }
  for (size_t p = tid; p < packs; p += GridSize()) {
    const Pack<T> x = LoadPack(a + head + p * kN);
    const Pack<T> y = LoadPack(b + head + p * kN);
    Pack<T> r;
#pragma unroll
    for (size_t k = 0; k < kN; ++k) r.v[k] = cuda_math::Step<D, O>(x.v[k], y.v[k], nan);
    StorePack(out + head + p * kN, r);
  }
}

// REQUIRES: data + head 16-byte aligned; grid size >= Pack::kCount.
template <DataType D>
__global__ void FinishAvgKernel(Storage<D>* data, size_t head, size_t packs, size_t count, float nf,
                                double nd, int64_t n) {
  using T = Storage<D>;
  constexpr size_t kN = Pack<T>::kCount;
  const size_t tid = ThreadIndex();
  const size_t tail = head + packs * kN;
  if (tid < head) data[tid] = cuda_math::Divide<D>(data[tid], nf, nd, n);
  if (tid < count - tail) data[tail + tid] = cuda_math::Divide<D>(data[tail + tid], nf, nd, n);
  for (size_t p = tid; p < packs; p += GridSize()) {
    Pack<T> x = LoadPack(data + head + p * kN);
#pragma unroll
    for (size_t k = 0; k < kN; ++k) x.v[k] = cuda_math::Divide<D>(x.v[k], nf, nd, n);
    StorePack(data + head + p * kN, x);
  }
}

// Elements before the first 16-byte boundary of `p` (at most count).
size_t HeadElements(const void* p, size_t elem_size, size_t count) {
  const size_t misalign = reinterpret_cast<uintptr_t>(p) % kPackBytes;
  const size_t head = misalign == 0 ? 0 : (kPackBytes - misalign) / elem_size;
  return head < count ? head : count;
}

int Blocks(size_t work, int max_blocks) {
  const size_t wanted = (work + kThreads - 1) / kThreads;
  if (wanted == 0) return 1;
  return wanted < static_cast<size_t>(max_blocks) ? static_cast<int>(wanted) : max_blocks;
}

struct Launch {
  int max_blocks;
  cudaStream_t stream;
};

template <DataType D, ReduceOp O>
void LaunchReduce(void* out, const void* a, const void* b, size_t count, Launch launch) {
  using T = Storage<D>;
  auto* o = static_cast<T*>(out);
  const auto* x = static_cast<const T*>(a);
  const auto* y = static_cast<const T*>(b);
  const uintptr_t offset = reinterpret_cast<uintptr_t>(out) % kPackBytes;
  if (reinterpret_cast<uintptr_t>(a) % kPackBytes == offset &&
      reinterpret_cast<uintptr_t>(b) % kPackBytes == offset) {
    const size_t head = HeadElements(out, sizeof(T), count);
    const size_t packs = (count - head) / Pack<T>::kCount;
    ReducePacksKernel<D, O><<<Blocks(packs, launch.max_blocks), kThreads, 0, launch.stream>>>(
        o, x, y, head, packs, count, HostNan());
  } else {
    ReduceElementsKernel<D, O><<<Blocks(count, launch.max_blocks), kThreads, 0, launch.stream>>>(
        o, x, y, count, HostNan());
  }
}

template <DataType D>
void LaunchFinishAvg(void* data, size_t count, int n, Launch launch) {
  using T = Storage<D>;
  const size_t head = HeadElements(data, sizeof(T), count);
  const size_t packs = (count - head) / Pack<T>::kCount;
  FinishAvgKernel<D><<<Blocks(packs, launch.max_blocks), kThreads, 0, launch.stream>>>(
      static_cast<T*>(data), head, packs, count, static_cast<float>(n), static_cast<double>(n),
      static_cast<int64_t>(n));
}

using ReduceLaunchFn = void (*)(void*, const void*, const void*, size_t, Launch);
using FinishLaunchFn = void (*)(void*, size_t, int, Launch);

template <size_t... I>
constexpr auto MakeReduceTable(std::index_sequence<I...> /*unused*/) {
  return std::array<ReduceLaunchFn, sizeof...(I)>{
      &LaunchReduce<static_cast<DataType>(I / kNumOps), static_cast<ReduceOp>(I % kNumOps)>...};
}
template <size_t... I>
constexpr auto MakeFinishTable(std::index_sequence<I...> /*unused*/) {
  return std::array<FinishLaunchFn, sizeof...(I)>{&LaunchFinishAvg<static_cast<DataType>(I)>...};
}

constexpr auto kReduceTable = MakeReduceTable(std::make_index_sequence<kNumTypes * kNumOps>());
constexpr auto kFinishTable = MakeFinishTable(std::make_index_sequence<kNumTypes>());

bool Misaligned(const void* p, DataType type) {
  return reinterpret_cast<uintptr_t>(p) % DataTypeSize(type) != 0;
}

bool IdenticalOrDisjoint(const void* p, const void* q, size_t bytes) {
  const auto x = reinterpret_cast<uintptr_t>(p);
  const auto y = reinterpret_cast<uintptr_t>(q);
  return x == y || x + bytes <= y || y + bytes <= x;
}

Status ValidateReduce(DataType type, ReduceOp op, const void* out, const void* a, const void* b,
                      size_t count) {
  if (static_cast<size_t>(type) >= kNumTypes) {
    return InvalidArgumentError("ReduceDevice: unknown data type ", static_cast<int>(type));
  }
  if (static_cast<size_t>(op) >= kNumOps) {
    return InvalidArgumentError("ReduceDevice: unknown op ", static_cast<int>(op));
  }
  if (count == 0) return Status::Ok();
  if (out == nullptr || a == nullptr || b == nullptr) {
    return InvalidArgumentError("ReduceDevice: null buffer with count ", count);
  }
  if (Misaligned(out, type) || Misaligned(a, type) || Misaligned(b, type)) {
    return InvalidArgumentError("ReduceDevice: buffer not aligned to ", DataTypeSize(type),
                                " bytes");
  }
  const size_t bytes = count * DataTypeSize(type);
  if (!IdenticalOrDisjoint(out, a, bytes) || !IdenticalOrDisjoint(out, b, bytes)) {
    return InvalidArgumentError("ReduceDevice: output partially overlaps an input");
  }
  return Status::Ok();
}

Status ValidateFinishAvg(DataType type, const void* data, size_t count, int n) {
  if (static_cast<size_t>(type) >= kNumTypes) {
    return InvalidArgumentError("FinishAvgDevice: unknown data type ", static_cast<int>(type));
  }
  if (n < 1) return InvalidArgumentError("FinishAvgDevice: n must be >= 1, got ", n);
  if (count == 0) return Status::Ok();
  if (data == nullptr) {
    return InvalidArgumentError("FinishAvgDevice: null buffer with count ", count);
  }
  if (Misaligned(data, type)) {
    return InvalidArgumentError("FinishAvgDevice: buffer not aligned to ", DataTypeSize(type),
                                " bytes");
  }
  return Status::Ok();
}

// Grid limit for the current device, and the stream.
Result<Launch> PrepareLaunch(void* cuda_stream) {
  int device = 0;
  TIDAL_RETURN_IF_ERROR(CudaError("cudaGetDevice", cudaGetDevice(&device)));
  int sms = 0;
  TIDAL_RETURN_IF_ERROR(
      CudaError("cudaDeviceGetAttribute(multiProcessorCount)",
                cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device)));
  return Launch{sms > 0 ? sms * kBlocksPerSm : 1, static_cast<cudaStream_t>(cuda_stream)};
}

}  // namespace

Status ReduceDevice(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                    size_t count, void* cuda_stream) {
  TIDAL_RETURN_IF_ERROR(ValidateReduce(type, op, out, a, b, count));
  if (count == 0) return Status::Ok();
  Result<Launch> launch = PrepareLaunch(cuda_stream);
  TIDAL_RETURN_IF_ERROR(launch);
  kReduceTable[static_cast<size_t>(type) * kNumOps + static_cast<size_t>(op)](out, a, b, count,
                                                                              *launch);
  return CudaError("ReduceDevice kernel launch", cudaGetLastError());
}

Status FinishAvgDevice(DataType type, void* data, size_t count, int n, void* cuda_stream) {
  TIDAL_RETURN_IF_ERROR(ValidateFinishAvg(type, data, count, n));
  if (count == 0) return Status::Ok();
  Result<Launch> launch = PrepareLaunch(cuda_stream);
  TIDAL_RETURN_IF_ERROR(launch);
  kFinishTable[static_cast<size_t>(type)](data, count, n, *launch);
  return CudaError("FinishAvgDevice kernel launch", cudaGetLastError());
}

}  // namespace tidal::coll
