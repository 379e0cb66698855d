// BufferPool: the process's cache of the collectives' scratch memory (receive slots, working
// copies). Large allocations from malloc come from fresh mmap()s, so an operation that allocated
// and freed its scratch each time paid a page fault and a page clear per 4 KiB touched: at 32 MiB
// that was most of an AllReduce's time. Buffers come in power-of-two size classes (4 KiB and up),
// 64-byte aligned, and go back to the pool when released; the pool keeps at most
// kMaxCachedBytes and frees the rest.
//
// Thread safety: thread-safe (one mutex; taken once per buffer, not per element).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tidal::coll {

struct PooledDeleter {
  size_t capacity = 0;
  void operator()(uint8_t* p) const;
};
using PooledBuffer = std::unique_ptr<uint8_t, PooledDeleter>;

// A buffer of at least `bytes` bytes (contents undefined), 64-byte aligned. Never null: aborts
// with a message when memory is exhausted.
PooledBuffer AcquireBuffer(size_t bytes);

// Bytes the pool caches at most across all size classes.
inline constexpr size_t kMaxCachedBytes = size_t{256} << 20;

}  // namespace tidal::coll
