// EmulatedDevice: a Device (optim/tidal/optim/device.h) without a GPU, so the staged device outer
// steps run their whole pipeline in every CI build. "Device" memory is host memory; each stream is
// a queue of operations that run in issue order; an operation runs once what it waits for (an
// event's record, a host flag) has happened. Execution is lazy and never happens at enqueue time:
// Query, Synchronize, SynchronizeStream and DestroyStream run whatever has become runnable. So a
// host that reads a copy's destination without waiting for it reads stale data, as it would on
// a GPU, and the tests see the wrong result (a missing Synchronize fails them).
//
// What it checks beyond CUDA's own rules: a pointer given to a copy must lie inside a live
// allocation of the right kind (device or host) — a stage that hands the wrong buffer fails with
// kInvalidArgument instead of silently working on host memory; Synchronize fails with
// kTimedOut (naming the blocked operation) instead of hanging when a stream cannot
// proceed; every allocation must be freed (live_bytes()). Tests add their own device work
// (Enqueue) and gates (Gate: a stream held until the test opens it), and can make Query fail
// (FailQueries).
//
// Thread safety: every method is thread-safe (one mutex); operations run on whichever thread
// called in, under that mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "tidal/optim/device.h"

namespace tidal::testing {

class EmulatedDevice final : public optim::Device {
 public:
  explicit EmulatedDevice(std::chrono::milliseconds sync_timeout = std::chrono::seconds(10))
      : sync_timeout_(sync_timeout) {}
  ~EmulatedDevice() override;

  std::string_view name() const override { return "emulated"; }
  // One GPU, ordinal 0: UseOrdinal refuses any other.
  Result<int> CurrentOrdinal() override { return 0; }
  Status UseOrdinal(int ordinal) override;
  Result<optim::DeviceStream> CreateStream() override;
  void DestroyStream(optim::DeviceStream stream) override;
  Result<optim::DeviceEvent> CreateEvent() override;
  void DestroyEvent(optim::DeviceEvent event) override;
  Result<void*> Allocate(size_t bytes) override;
  void Free(void* p) override;
  Result<void*> AllocateHost(size_t bytes) override;
  void FreeHost(void* p) override;
  Status CopyAsync(void* dst, const void* src, size_t bytes, optim::DeviceStream stream) override;
  Status ZeroAsync(void* dst, size_t bytes, optim::DeviceStream stream) override;
  Status Record(optim::DeviceEvent event, optim::DeviceStream stream) override;
  Status StreamWait(optim::DeviceStream stream, optim::DeviceEvent event) override;
  Result<bool> Query(optim::DeviceEvent event) override;
  Status Synchronize(optim::DeviceEvent event) override;
  Status SynchronizeStream(optim::DeviceStream stream) override;
  Status SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0, float* u,
                           size_t n, optim::DeviceStream stream) override;

  // Test work on `stream` after this call waits until *open is true (a trainer's kernel that takes
  // a while). REQUIRES: open outlives the wait.
  Status Gate(optim::DeviceStream stream, const std::atomic<bool>* open);
  // Test work on `stream` (a "kernel" of the trainer): runs `fn` in stream order.
  Status Enqueue(optim::DeviceStream stream, std::string what, std::function<void()> fn);
  // From now on Query returns `error` (an injected device failure); Ok() stops it.
  void FailQueries(Status error);
  // Bytes of device and page-locked host memory not yet freed.
  size_t live_bytes() const;
  // Operations run so far (copies, zeroes, kernels, test work).
  uint64_t operations_run() const;

 private:
  struct Event {
    uint64_t recorded = 0;   // Record calls so far
    uint64_t completed = 0;  // the last record a stream has passed
  };
  struct Op {
    std::string what;
    std::function<bool()> runnable;  // null: always
    std::function<void()> run;
  };
  struct Stream {
    std::deque<Op> ops;
  };
  enum class Kind { kDevice, kHost };
  struct Allocation {
    size_t bytes;
    Kind kind;
  };

  Stream* StreamOf(optim::DeviceStream stream);
  Event* EventOf(optim::DeviceEvent event);
  // Whether [p, p + bytes) lies in one live allocation.
  bool Inside(const void* p, size_t bytes) const;
  Status Push(optim::DeviceStream stream, Op op);
  // Runs every runnable head operation until none is left. REQUIRES: mu_ held.
  void RunReady();
  Result<void*> Alloc(size_t bytes, Kind kind);
  void Release(void* p, Kind kind);
  // Blocks until `done()` (under mu_, after RunReady) or the sync timeout.
  Status WaitUntil(const std::function<bool()>& done, const std::string& what);

  const std::chrono::milliseconds sync_timeout_;
  mutable std::mutex mu_;
  std::map<const void*, std::unique_ptr<Stream>> streams_;
  std::map<const void*, std::unique_ptr<Event>> events_;
  std::map<const char*, Allocation> allocations_;  // by start address
  Status query_error_;
  uint64_t operations_run_ = 0;
};

}  // namespace tidal::testing
