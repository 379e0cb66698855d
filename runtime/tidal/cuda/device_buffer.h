// DeviceBuffer: GPU memory owned by tidal, and the closed-form test pattern that perf tools and
// tests write into host and device buffers alike (so a GPU result is checked against the same
// formula as a CPU one).
//
// Built with CUDA (nvcc found at configure time) the functions use the CUDA runtime; without it
// they return kNotSupported, so callers need no #ifdefs. CUDA errors are translated to Status
// here, at their seam, naming the operation and the CUDA error string.
//
// Thread safety: a DeviceBuffer is owned by one thread at a time; the free functions are
// thread-safe (they use the legacy default stream and synchronize before returning).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tidal/core/status.h"

namespace tidal {

enum class MemoryType : uint8_t { kHost, kCuda };

// True when this libtidal was built with CUDA.
bool CudaCompiled();

// The test pattern: element i of rank r for seed s. Odd multipliers over 2^32 keep neighbouring
// elements, ranks and seeds apart; values are exact in any integer type of 32 bits or more.
constexpr uint32_t PatternWord(uint64_t i, uint32_t rank, uint32_t seed) {
  return static_cast<uint32_t>(i * 2654435761u) ^ (rank * 40503u + 1u) ^ (seed * 2246822519u);
}

// Fills host memory with the pattern.
void FillPatternHost(uint32_t* dst, size_t count, uint32_t rank, uint32_t seed);

class DeviceBuffer {
 public:
  // Allocates `bytes` on the current CUDA device. kNotSupported without CUDA; kUnavailable when
  // no device is visible; kIoError naming the CUDA error otherwise.
  static Result<std::unique_ptr<DeviceBuffer>> Allocate(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

  // Writes the pattern into the first `count` 32-bit words with a kernel.
  // REQUIRES: count * 4 <= bytes().
  Status FillPattern(size_t count, uint32_t rank, uint32_t seed);
  Status CopyToHost(void* dst, size_t bytes) const;
  Status CopyFromHost(const void* src, size_t bytes);

 private:
  DeviceBuffer(void* data, size_t bytes) : data_(data), bytes_(bytes) {}
  void* data_;
  size_t bytes_;
};

}  // namespace tidal
