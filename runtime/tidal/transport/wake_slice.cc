// Wake-up slices of sleeping threads (wake_slice.h has the design note).
#include "tidal/transport/wake_slice.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"

namespace tidal {
namespace {

// The kernel's struct sched_attr (include/uapi/linux/sched/types.h, 56 bytes since 4.18). It is
// declared here: <linux/sched/types.h> clashes with glibc's struct sched_param.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};

constexpr uint32_t kSchedOther = 0;  // SCHED_OTHER (SCHED_NORMAL)
constexpr uint32_t kSchedBatch = 3;  // SCHED_BATCH

// Set when the kernel refused a call: later sleeps skip the system calls.
std::atomic<bool> g_refused{false};

void Refused(const char* call) {
  if (!g_refused.exchange(true)) {
    TIDAL_LOG(DEBUG, kProgress) << call << " failed (" << std::strerror(errno)
                                << "): sleeping threads keep the kernel's time slice";
  }
}

// Reads `tid`'s attributes; false when that fails or the thread is not SCHED_OTHER/BATCH.
bool GetAttr(int tid, SchedAttr* attr) {
  std::memset(attr, 0, sizeof(*attr));
  if (syscall(SYS_sched_getattr, tid, attr, sizeof(*attr), 0) != 0) return false;
  return attr->sched_policy == kSchedOther || attr->sched_policy == kSchedBatch;
}

// Sets sched_runtime (ns) of the calling thread, keeping its policy and nice value.
bool SetRuntime(SchedAttr attr, uint64_t ns) {
  attr.size = sizeof(attr);
  attr.sched_flags = 0;
  attr.sched_runtime = ns;
  return syscall(SYS_sched_setattr, 0, &attr, 0) == 0;
}

}  // namespace

std::chrono::microseconds WakeSliceFromEnv() {
  static const std::chrono::microseconds slice = [] {
    Result<int64_t> us = KnobInt(Knob::kWakeSliceUs, 100);
    if (!us.ok() || *us < 0) {
      TIDAL_LOG(WARN, kProgress) << "ignoring TIDAL_WAKE_SLICE_US: "
                                 << (us.ok() ? "negative" : us.status().message());
      return std::chrono::microseconds(100);
    }
    return std::chrono::microseconds(*us);
  }();
  return slice;
}

int64_t ThreadSliceNs(int tid) {
  SchedAttr attr;
  if (!GetAttr(tid, &attr)) return -1;
  return static_cast<int64_t>(attr.sched_runtime);
}

WakeSliceSleep::WakeSliceSleep(std::chrono::microseconds slice) {
  if (slice.count() <= 0 || g_refused.load(std::memory_order_relaxed)) return;
  SchedAttr attr;
  if (!GetAttr(0, &attr)) {
    if (errno == ENOSYS || errno == EPERM) Refused("sched_getattr");
    return;
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slice).count();
  if (static_cast<int64_t>(attr.sched_runtime) == ns) return;  // already (a caller's choice)
  const int64_t before = static_cast<int64_t>(attr.sched_runtime);
  if (SetRuntime(attr, static_cast<uint64_t>(ns))) {
    saved_ns_ = before;
  } else {
    Refused("sched_setattr");
  }
}

WakeSliceSleep::~WakeSliceSleep() {
  if (saved_ns_ < 0) return;
  SchedAttr attr;
  if (GetAttr(0, &attr)) SetRuntime(attr, static_cast<uint64_t>(saved_ns_));
}

}  // namespace tidal
