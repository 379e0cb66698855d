// Device: the GPU runtime operations that the staged outer steps (slowmo_device.h) need — streams,
// events, device and page-locked host memory, asynchronous copies and the SlowMo owner kernel —
// behind one interface. Nothing here makes the GPU wait for the host: every operation queued on a
// stream finishes on its own (slowmo_device.h says why). CudaDevice() is the real one
// (device_cuda.cu); tests also run the staging pipeline on an emulation that keeps "device" memory
// on the host and runs each stream's operations in order (tests/harness/emulated_device.h), so the
// pipeline's ordering is checked on machines without a GPU.
//
// Semantics are CUDA's. Operations on one stream run in issue order and asynchronously to the
// host. Record(e, s) marks the point of `s` reached so far; StreamWait(s2, e), Query(e) and
// Synchronize(e) refer to e's most recent Record at the time of the call, and an event never
// recorded counts as complete. Streams do not synchronize with CUDA's legacy default stream.
// Memory from AllocateHost is page-locked and mapped: the host reads and writes it as ordinary
// memory and copies to and from it are truly asynchronous.
//
// Errors: kInvalidArgument for null handles or pointers with bytes > 0; kUnavailable without a
// visible GPU; kIoError naming the CUDA call and its error string; kNotSupported when built
// without CUDA (CudaDevice() then fails, so no Device exists). Destroy and Free never fail (an
// error there is logged).
//
// Thread safety: every method is thread-safe. The engine's driving thread queries events and runs
// the owner update while the trainer's thread enqueues on its own stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tidal/core/status.h"

namespace tidal::optim {

using DeviceStream = void*;  // cudaStream_t
using DeviceEvent = void*;   // cudaEvent_t

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string_view name() const = 0;

  // The calling thread's current GPU, and making `ordinal` current on it. Streams, events and
  // memory belong to the GPU current when they were created; work from another thread (the
  // engine's) must first make that GPU current.
  virtual Result<int> CurrentOrdinal() = 0;
  virtual Status UseOrdinal(int ordinal) = 0;

  // A stream that does not synchronize with the legacy default stream.
  virtual Result<DeviceStream> CreateStream() = 0;
  virtual void DestroyStream(DeviceStream stream) = 0;
  // An event without timing whose Synchronize sleeps rather than spins.
  virtual Result<DeviceEvent> CreateEvent() = 0;
  virtual void DestroyEvent(DeviceEvent event) = 0;

  // Device memory.
  virtual Result<void*> Allocate(size_t bytes) = 0;
  virtual void Free(void* p) = 0;
  // Page-locked, mapped host memory, aligned to at least 64 bytes.
  virtual Result<void*> AllocateHost(size_t bytes) = 0;
  virtual void FreeHost(void* p) = 0;

  // Copies `bytes` between any two of device and AllocateHost memory, in `stream` order.
  virtual Status CopyAsync(void* dst, const void* src, size_t bytes, DeviceStream stream) = 0;
  // Sets `bytes` of device memory to zero, in `stream` order.
  virtual Status ZeroAsync(void* dst, size_t bytes, DeviceStream stream) = 0;
  virtual Status Record(DeviceEvent event, DeviceStream stream) = 0;
  // Work queued on `stream` after this call waits until `event` completed.
  virtual Status StreamWait(DeviceStream stream, DeviceEvent event) = 0;
  // Whether `event` completed (never blocks).
  virtual Result<bool> Query(DeviceEvent event) = 0;
  // Blocks the calling thread until `event` completed.
  virtual Status Synchronize(DeviceEvent event) = 0;
  // Blocks the calling thread until all work queued on `stream` finished.
  virtual Status SynchronizeStream(DeviceStream stream) = 0;

  // kernels_cuda.h's SlowMoShardUpdate on device arrays of n floats, in `stream` order.
  virtual Status SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0,
                                   float* u, size_t n, DeviceStream stream) = 0;
};

// The CUDA device (each call works on the calling thread's current device). Process-wide, never
// destroyed. kNotSupported when built without CUDA; kUnavailable when no GPU is visible.
Result<Device*> CudaDevice();

}  // namespace tidal::optim
