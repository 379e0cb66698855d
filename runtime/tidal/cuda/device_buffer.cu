// DeviceBuffer with CUDA: cudaMalloc'd memory and the pattern kernel.
#include <cuda_runtime.h>

#include "tidal/cuda/cuda_error.cuh"
#include "tidal/cuda/device_buffer.h"

namespace tidal {
namespace {

__global__ void FillPatternKernel(uint32_t* dst, size_t count, uint32_t rank, uint32_t seed) {
  const size_t stride = static_cast<size_t>(blockDim.x) * gridDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    dst[i] = static_cast<uint32_t>(i * 2654435761u) ^ (rank * 40503u + 1u) ^ (seed * 2246822519u);
  }
}

}  // namespace

bool CudaCompiled() { return true; }

Result<std::unique_ptr<DeviceBuffer>> DeviceBuffer::Allocate(size_t bytes) {
  void* data = nullptr;
  TIDAL_RETURN_IF_ERROR(CudaError("cudaMalloc", cudaMalloc(&data, bytes == 0 ? 1 : bytes)));
  return std::unique_ptr<DeviceBuffer>(new DeviceBuffer(data, bytes));
}

DeviceBuffer::~DeviceBuffer() { cudaFree(data_); }

Status DeviceBuffer::FillPattern(size_t count, uint32_t rank, uint32_t seed) {
  if (count * sizeof(uint32_t) > bytes_) {
    return InvalidArgumentError("FillPattern of ", count, " words into ", bytes_, " bytes");
  }
  if (count == 0) return Status::Ok();
  const int threads = 256;
  const int blocks = static_cast<int>(
      (count + threads - 1) / threads < 4096 ? (count + threads - 1) / threads : 4096);
  FillPatternKernel<<<blocks, threads>>>(static_cast<uint32_t*>(data_), count, rank, seed);
  TIDAL_RETURN_IF_ERROR(CudaError("FillPatternKernel launch", cudaGetLastError()));
  return CudaError("FillPatternKernel", cudaDeviceSynchronize());
}

Status DeviceBuffer::CopyToHost(void* dst, size_t bytes) const {
  if (bytes > bytes_) return InvalidArgumentError("CopyToHost of ", bytes, " from ", bytes_);
  return CudaError("cudaMemcpy to host", cudaMemcpy(dst, data_, bytes, cudaMemcpyDeviceToHost));
}

Status DeviceBuffer::CopyFromHost(const void* src, size_t bytes) {
  if (bytes > bytes_) return InvalidArgumentError("CopyFromHost of ", bytes, " into ", bytes_);
  return CudaError("cudaMemcpy to device", cudaMemcpy(data_, src, bytes, cudaMemcpyHostToDevice));
}

}  // namespace tidal
