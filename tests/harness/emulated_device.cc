#include "harness/emulated_device.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "tidal/core/time.h"
#include "tidal/optim/kernels.h"

namespace tidal::testing {

using optim::DeviceEvent;
using optim::DeviceStream;

EmulatedDevice::~EmulatedDevice() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [start, allocation] : allocations_) std::free(const_cast<char*>(start));
}

EmulatedDevice::Stream* EmulatedDevice::StreamOf(DeviceStream stream) {
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();
}

EmulatedDevice::Event* EmulatedDevice::EventOf(DeviceEvent event) {
  auto it = events_.find(event);
  return it == events_.end() ? nullptr : it->second.get();
}

Status EmulatedDevice::UseOrdinal(int ordinal) {
  if (ordinal == 0) return Status::Ok();
  return InvalidArgumentError("EmulatedDevice: no GPU ", ordinal, " (only 0)");
}

Result<DeviceStream> EmulatedDevice::CreateStream() {
  std::lock_guard<std::mutex> lock(mu_);
  auto stream = std::make_unique<Stream>();
  DeviceStream handle = stream.get();
  streams_.emplace(handle, std::move(stream));
  return handle;
}

void EmulatedDevice::DestroyStream(DeviceStream stream) {
  if (stream == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  RunReady();
  Stream* s = StreamOf(stream);
  if (s == nullptr) {
    ADD_FAILURE() << "EmulatedDevice: DestroyStream of an unknown stream";
    return;
  }
  if (!s->ops.empty()) {
    ADD_FAILURE() << "EmulatedDevice: stream destroyed with " << s->ops.size()
                  << " operations pending, the first: " << s->ops.front().what;
  }
  streams_.erase(stream);
}

Result<DeviceEvent> EmulatedDevice::CreateEvent() {
  std::lock_guard<std::mutex> lock(mu_);
  auto event = std::make_unique<Event>();
  DeviceEvent handle = event.get();
  events_.emplace(handle, std::move(event));
  return handle;
}

void EmulatedDevice::DestroyEvent(DeviceEvent event) {
  if (event == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (events_.erase(event) == 0)
    ADD_FAILURE() << "EmulatedDevice: DestroyEvent of an unknown event";
}

Result<void*> EmulatedDevice::Alloc(size_t bytes, Kind kind) {
  if (bytes == 0) return static_cast<void*>(nullptr);
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) return IoError("EmulatedDevice: out of memory");
  std::lock_guard<std::mutex> lock(mu_);
  allocations_[static_cast<const char*>(p)] = Allocation{bytes, kind};
  return p;
}

void EmulatedDevice::Release(void* p, Kind kind) {
  if (p == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = allocations_.find(static_cast<const char*>(p));
  if (it == allocations_.end() || it->second.kind != kind) {
    ADD_FAILURE() << "EmulatedDevice: freeing " << p << ", not a live "
                  << (kind == Kind::kDevice ? "device" : "host") << " allocation";
    return;
  }
  allocations_.erase(it);
  std::free(p);
}

Result<void*> EmulatedDevice::Allocate(size_t bytes) { return Alloc(bytes, Kind::kDevice); }
void EmulatedDevice::Free(void* p) { Release(p, Kind::kDevice); }
Result<void*> EmulatedDevice::AllocateHost(size_t bytes) { return Alloc(bytes, Kind::kHost); }
void EmulatedDevice::FreeHost(void* p) { Release(p, Kind::kHost); }

bool EmulatedDevice::Inside(const void* p, size_t bytes) const {
  const char* c = static_cast<const char*>(p);
  auto it = allocations_.upper_bound(c);
  if (it == allocations_.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second.bytes;
}

Status EmulatedDevice::Push(DeviceStream stream, Op op) {
  std::lock_guard<std::mutex> lock(mu_);
  Stream* s = StreamOf(stream);
  if (s == nullptr) return InvalidArgumentError("EmulatedDevice: ", op.what, ": unknown stream");
  s->ops.push_back(std::move(op));
  return Status::Ok();
}

void EmulatedDevice::RunReady() {
  bool progressed = true;
  while (progressed) {
    progressed = false;
    for (auto& [handle, stream] : streams_) {
      while (!stream->ops.empty()) {
        Op& op = stream->ops.front();
        if (op.runnable && !op.runnable()) break;
        if (op.run) {
          op.run();
          ++operations_run_;
        }
        stream->ops.pop_front();
        progressed = true;
      }
    }
  }
}

Status EmulatedDevice::CopyAsync(void* dst, const void* src, size_t bytes, DeviceStream stream) {
  if (bytes == 0) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!Inside(dst, bytes) || !Inside(src, bytes)) {
      return InvalidArgumentError("EmulatedDevice: CopyAsync of ", bytes, " bytes from ", src,
                                  " to ", dst, ": not inside device or page-locked memory");
    }
  }
  return Push(stream, Op{"copy", nullptr, [dst, src, bytes] { std::memmove(dst, src, bytes); }});
}

Status EmulatedDevice::ZeroAsync(void* dst, size_t bytes, DeviceStream stream) {
  if (bytes == 0) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!Inside(dst, bytes)) {
      return InvalidArgumentError("EmulatedDevice: ZeroAsync of ", bytes, " bytes at ", dst,
                                  ": not inside device memory");
    }
  }
  return Push(stream, Op{"zero", nullptr, [dst, bytes] { std::memset(dst, 0, bytes); }});
}

Status EmulatedDevice::Record(DeviceEvent event, DeviceStream stream) {
  uint64_t target = 0;
  Event* e = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = EventOf(event);
    if (e == nullptr) return InvalidArgumentError("EmulatedDevice: Record of an unknown event");
    target = ++e->recorded;
  }
  return Push(stream, Op{"record", nullptr, [e, target] { e->completed = target; }});
}

Status EmulatedDevice::StreamWait(DeviceStream stream, DeviceEvent event) {
  uint64_t target = 0;
  Event* e = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = EventOf(event);
    if (e == nullptr) return InvalidArgumentError("EmulatedDevice: StreamWait on an unknown event");
    target = e->recorded;
  }
  return Push(stream,
              Op{"wait for an event", [e, target] { return e->completed >= target; }, nullptr});
}

Result<bool> EmulatedDevice::Query(DeviceEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!query_error_.ok()) return query_error_;
  RunReady();
  Event* e = EventOf(event);
  if (e == nullptr) return InvalidArgumentError("EmulatedDevice: Query of an unknown event");
  return e->completed >= e->recorded;
}

Status EmulatedDevice::WaitUntil(const std::function<bool()>& done, const std::string& what) {
  const Clock::time_point deadline = Clock::now() + sync_timeout_;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      RunReady();
      if (done()) return Status::Ok();
      if (Clock::now() >= deadline) {
        std::string blocked;
        for (auto& [handle, stream] : streams_) {
          if (!stream->ops.empty()) blocked += " [" + stream->ops.front().what + "]";
        }
        return TimedOutError("EmulatedDevice: ", what, " did not complete within ",
                             sync_timeout_.count(), " ms; blocked stream heads:", blocked);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

Status EmulatedDevice::Synchronize(DeviceEvent event) {
  uint64_t target = 0;
  Event* e = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = EventOf(event);
    if (e == nullptr)
      return InvalidArgumentError("EmulatedDevice: Synchronize of an unknown event");
    target = e->recorded;
  }
  return WaitUntil([e, target] { return e->completed >= target; }, "Synchronize(event)");
}

Status EmulatedDevice::SynchronizeStream(DeviceStream stream) {
  Stream* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = StreamOf(stream);
    if (s == nullptr)
      return InvalidArgumentError("EmulatedDevice: SynchronizeStream: unknown stream");
  }
  return WaitUntil([s] { return s->ops.empty(); }, "SynchronizeStream");
}

Status EmulatedDevice::Gate(DeviceStream stream, const std::atomic<bool>* open) {
  if (open == nullptr) return InvalidArgumentError("EmulatedDevice: Gate on a null flag");
  return Push(stream, Op{"wait for the test's gate to open",
                         [open] { return open->load(std::memory_order_acquire); }, nullptr});
}

Status EmulatedDevice::SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard,
                                         float* x0, float* u, size_t n, DeviceStream stream) {
  if (n == 0) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t bytes = n * sizeof(float);
    for (const float* p : {shard, x0, u}) {
      auto it = allocations_.upper_bound(reinterpret_cast<const char*>(p));
      const bool device = it != allocations_.begin() && Inside(p, bytes) &&
                          std::prev(it)->second.kind == Kind::kDevice;
      if (!device) {
        return InvalidArgumentError(
            "EmulatedDevice: SlowMoShardUpdate: an array is not device "
            "memory");
      }
    }
  }
  return Push(stream, Op{"SlowMo kernel", nullptr, [=] {
                           optim::ref::SlowMoShardUpdate(alpha, beta, gamma, shard, x0, u, n);
                         }});
}

Status EmulatedDevice::Enqueue(DeviceStream stream, std::string what, std::function<void()> fn) {
  return Push(stream, Op{std::move(what), nullptr, std::move(fn)});
}

void EmulatedDevice::FailQueries(Status error) {
  std::lock_guard<std::mutex> lock(mu_);
  query_error_ = std::move(error);
}

size_t EmulatedDevice::live_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t bytes = 0;
  for (const auto& [start, allocation] : allocations_) bytes += allocation.bytes;
  return bytes;
}

uint64_t EmulatedDevice::operations_run() const {
  std::lock_guard<std::mutex> lock(mu_);
  return operations_run_;
}

}  // namespace tidal::testing
