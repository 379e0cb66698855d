#include "tidal/coll/buffer_pool.h"

#include <cstdlib>
#include <vector>

#include "tidal/core/check.h"
#include "tidal/core/mutex.h"

namespace tidal::coll {
namespace {

constexpr int kClasses = 48;

size_t ClassOf(size_t bytes, size_t* capacity) {
  size_t cap = 4096;
  int k = 0;
  while (cap < bytes) {
    cap <<= 1;
    ++k;
  }
  *capacity = cap;
  return static_cast<size_t>(k);
}

class Pool {
 public:
  uint8_t* Take(size_t klass, size_t capacity) {
    {
      MutexLock lock(&mu_);
      std::vector<uint8_t*>& free = free_[klass];
      if (!free.empty()) {
        uint8_t* p = free.back();
        free.pop_back();
        cached_ -= capacity;
        return p;
      }
    }
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, capacity));
    TIDAL_CHECK(p != nullptr) << "out of memory allocating " << capacity << " bytes of scratch";
    return p;
  }

  void Give(uint8_t* p, size_t capacity) {
    size_t klass_cap = 0;
    const size_t klass = ClassOf(capacity, &klass_cap);
    {
      MutexLock lock(&mu_);
      if (cached_ + capacity <= kMaxCachedBytes) {
        free_[klass].push_back(p);
        cached_ += capacity;
        return;
      }
    }
    std::free(p);
  }

 private:
  Mutex mu_;
  std::vector<uint8_t*> free_[kClasses] TIDAL_GUARDED_BY(mu_);
  size_t cached_ TIDAL_GUARDED_BY(mu_) = 0;
};

Pool& ThePool() {
  static Pool* pool = new Pool();  // never destroyed: buffers may be released at exit
  return *pool;
}

}  // namespace

void PooledDeleter::operator()(uint8_t* p) const {
  if (p != nullptr) ThePool().Give(p, capacity);
}

PooledBuffer AcquireBuffer(size_t bytes) {
  size_t capacity = 0;
  const size_t klass = ClassOf(bytes, &capacity);
  TIDAL_CHECK(klass < static_cast<size_t>(kClasses)) << "scratch of " << bytes << " bytes";
  return PooledBuffer(ThePool().Take(klass, capacity), PooledDeleter{capacity});
}

}  // namespace tidal::coll
