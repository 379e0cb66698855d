// DeviceBuffer without CUDA: every operation declines with kNotSupported.
#include "tidal/cuda/device_buffer.h"

namespace tidal {
namespace {
Status NoCuda(const char* what) {
  return NotSupportedError(what, ": this libtidal was built without CUDA (nvcc was not found)");
}
}  // namespace

bool CudaCompiled() { return false; }

Result<std::unique_ptr<DeviceBuffer>> DeviceBuffer::Allocate(size_t bytes) {
  (void)bytes;
  return NoCuda("DeviceBuffer::Allocate");
}

DeviceBuffer::~DeviceBuffer() = default;

Status DeviceBuffer::FillPattern(size_t, uint32_t, uint32_t) { return NoCuda("FillPattern"); }
Status DeviceBuffer::CopyToHost(void*, size_t) const { return NoCuda("CopyToHost"); }
Status DeviceBuffer::CopyFromHost(const void*, size_t) { return NoCuda("CopyFromHost"); }

}  // namespace tidal
