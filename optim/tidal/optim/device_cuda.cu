// The CUDA Device (device.h): thin wrappers over the CUDA runtime that translate its errors to
// Status.
//
// Design note. Streams are created non-blocking: the runtime's streams never stall a caller's
// legacy-default-stream work (and cannot deadlock it). Events disable timing and use blocking
// sync, so Synchronize sleeps in the driver instead of spinning a core that other ranks need on an
// oversubscribed host.
//
// Thread safety: thread-safe; the only state is the process-wide instance.
#include <cuda_runtime.h>

#include <cstdint>

#include "tidal/core/logging.h"
#include "tidal/cuda/cuda_error.cuh"
#include "tidal/optim/device.h"
#include "tidal/optim/kernels_cuda.h"

namespace tidal::optim {
namespace {

void LogIfError(const char* what, cudaError_t err) {
  if (err != cudaSuccess) TIDAL_LOG(ERROR, kOptim) << CudaError(what, err).ToString();
}

class CudaDeviceImpl final : public Device {
 public:
  std::string_view name() const override { return "cuda"; }

  Result<int> CurrentOrdinal() override {
    int ordinal = 0;
    TIDAL_RETURN_IF_ERROR(CudaError("cudaGetDevice", cudaGetDevice(&ordinal)));
    return ordinal;
  }
  Status UseOrdinal(int ordinal) override {
    return CudaError("cudaSetDevice", cudaSetDevice(ordinal));
  }

  Result<DeviceStream> CreateStream() override {
    cudaStream_t s = nullptr;
    TIDAL_RETURN_IF_ERROR(CudaError("cudaStreamCreateWithFlags",
                                    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)));
    return static_cast<DeviceStream>(s);
  }
  void DestroyStream(DeviceStream stream) override {
    if (stream != nullptr) {
      LogIfError("cudaStreamDestroy", cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
    }
  }
  Result<DeviceEvent> CreateEvent() override {
    cudaEvent_t e = nullptr;
    TIDAL_RETURN_IF_ERROR(
        CudaError("cudaEventCreateWithFlags",
                  cudaEventCreateWithFlags(&e, cudaEventDisableTiming | cudaEventBlockingSync)));
    return static_cast<DeviceEvent>(e);
  }
  void DestroyEvent(DeviceEvent event) override {
    if (event != nullptr) {
      LogIfError("cudaEventDestroy", cudaEventDestroy(static_cast<cudaEvent_t>(event)));
    }
  }

  Result<void*> Allocate(size_t bytes) override {
    void* p = nullptr;
    if (bytes == 0) return p;
    TIDAL_RETURN_IF_ERROR(CudaError("cudaMalloc", cudaMalloc(&p, bytes)));
    return p;
  }
  void Free(void* p) override {
    if (p != nullptr) LogIfError("cudaFree", cudaFree(p));
  }
  Result<void*> AllocateHost(size_t bytes) override {
    void* p = nullptr;
    if (bytes == 0) return p;
    TIDAL_RETURN_IF_ERROR(CudaError(
        "cudaHostAlloc", cudaHostAlloc(&p, bytes, cudaHostAllocPortable | cudaHostAllocMapped)));
    return p;
  }
  void FreeHost(void* p) override {
    if (p != nullptr) LogIfError("cudaFreeHost", cudaFreeHost(p));
  }

  Status CopyAsync(void* dst, const void* src, size_t bytes, DeviceStream stream) override {
    if (bytes == 0) return Status::Ok();
    if (dst == nullptr || src == nullptr) {
      return InvalidArgumentError("cuda device: CopyAsync of ", bytes,
                                  " bytes with a null pointer");
    }
    return CudaError("cudaMemcpyAsync", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault,
                                                        static_cast<cudaStream_t>(stream)));
  }
  Status ZeroAsync(void* dst, size_t bytes, DeviceStream stream) override {
    if (bytes == 0) return Status::Ok();
    if (dst == nullptr) {
      return InvalidArgumentError("cuda device: ZeroAsync of ", bytes, " bytes at null");
    }
    return CudaError("cudaMemsetAsync",
                     cudaMemsetAsync(dst, 0, bytes, static_cast<cudaStream_t>(stream)));
  }
  Status Record(DeviceEvent event, DeviceStream stream) override {
    return CudaError("cudaEventRecord", cudaEventRecord(static_cast<cudaEvent_t>(event),
                                                        static_cast<cudaStream_t>(stream)));
  }
  Status StreamWait(DeviceStream stream, DeviceEvent event) override {
    return CudaError(
        "cudaStreamWaitEvent",
        cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), static_cast<cudaEvent_t>(event), 0));
  }
  Result<bool> Query(DeviceEvent event) override {
    const cudaError_t err = cudaEventQuery(static_cast<cudaEvent_t>(event));
    if (err == cudaErrorNotReady) return false;
    TIDAL_RETURN_IF_ERROR(CudaError("cudaEventQuery", err));
    return true;
  }
  Status Synchronize(DeviceEvent event) override {
    return CudaError("cudaEventSynchronize", cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
  }
  Status SynchronizeStream(DeviceStream stream) override {
    return CudaError("cudaStreamSynchronize",
                     cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
  }

  Status SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0, float* u,
                           size_t n, DeviceStream stream) override {
    return cuda::SlowMoShardUpdate(alpha, beta, gamma, shard, x0, u, n, stream);
  }
};

}  // namespace

Result<Device*> CudaDevice() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    return UnavailableError("cuda device: no GPU is visible", err != cudaSuccess ? ": " : "",
                            err != cudaSuccess ? cudaGetErrorString(err) : "");
  }
  static CudaDeviceImpl* device = new CudaDeviceImpl();  // never destroyed: outlives every user
  return static_cast<Device*>(device);
}

}  // namespace tidal::optim
