#include "tidal/coll/shm/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include "tidal/core/check.h"

namespace tidal::coll {
namespace {

constexpr size_t kLine = 64;
constexpr size_t kControlBytes = 2 * kLine;  // posted and done, one cache line each

// n per-rank control blocks, then the shared one.
size_t DataOffset(int n) {
  return ((static_cast<size_t>(n) + 1) * kControlBytes + 4095) / 4096 * 4096;
}

std::string Key(const Communicator& comm, std::string_view what) {
  return StrCat("tidal/comm/", comm.id(), "/shm/", what);
}

Status SysError(const Communicator& comm, std::string_view what, int err) {
  return IoError("rank ", comm.rank(), ": shared-memory segment: ", what, ": ", std::strerror(err));
}

Result<void*> MapFd(const Communicator& comm, int fd, size_t bytes) {
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);
  if (base == MAP_FAILED) return SysError(comm, "mmap", err);
  return base;
}

Result<void*> Create(const Communicator& comm, size_t bytes, std::string* name) {
  std::random_device entropy;
  *name = StrCat("/tidal-", ::getpid(), "-", comm.id(), "-", entropy(), entropy());
  const int fd = ::shm_open(name->c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) return SysError(comm, StrCat("shm_open ", *name), errno);
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int err = errno;
    ::close(fd);
    ::shm_unlink(name->c_str());
    return SysError(comm, StrCat("ftruncate to ", bytes, " bytes"), err);
  }
  Result<void*> base = MapFd(comm, fd, bytes);
  if (!base.ok()) ::shm_unlink(name->c_str());
  return base;
}

Result<void*> Open(const Communicator& comm, const std::string& name, size_t bytes) {
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0600);
  if (fd < 0) return SysError(comm, StrCat("shm_open ", name), errno);
  return MapFd(comm, fd, bytes);
}

}  // namespace

Result<std::unique_ptr<ShmSegment>> ShmSegment::Attach(Communicator& comm, size_t slot_bytes,
                                                       Deadline deadline) {
  const int n = comm.size();
  slot_bytes = SlotBytesFor(slot_bytes);
  const size_t bytes = DataOffset(n) + (static_cast<size_t>(n) + 1) * 2 * slot_bytes;
  Store& store = comm.store();
  std::string name;
  Result<void*> base = IoError("rank ", comm.rank(), ": shared-memory segment not mapped");
  if (comm.rank() == 0) {
    base = Create(comm, bytes, &name);
    // Publish even a failure, so the others fail at once instead of waiting for a name.
    const std::string value = base.ok() ? name : std::string();
    TIDAL_RETURN_IF_ERROR(
        store.Set(Key(comm, "name"), Bytes(value.begin(), value.end()), deadline));
    TIDAL_RETURN_IF_ERROR(base.status());
  } else {
    TIDAL_ASSIGN_OR_RETURN(Bytes value, store.Get(Key(comm, "name"), deadline));
    name.assign(value.begin(), value.end());
    if (name.empty()) {
      return IoError("rank ", comm.rank(), ": rank 0 could not create the shared-memory segment");
    }
    base = Open(comm, name, bytes);
  }
  std::unique_ptr<ShmSegment> segment;
  if (base.ok()) segment.reset(new ShmSegment(*base, bytes, n, slot_bytes));
  const std::string mine = base.ok() ? std::string("ok") : std::string(base.status().message());
  TIDAL_RETURN_IF_ERROR(store.Set(Key(comm, StrCat("attached/", comm.rank())),
                                  Bytes(mine.begin(), mine.end()), deadline));
  if (comm.rank() == 0) {
    std::vector<std::string> keys;
    for (int r = 1; r < n; ++r) keys.push_back(Key(comm, StrCat("attached/", r)));
    const Status all = store.Wait(keys, deadline);
    ::shm_unlink(name.c_str());
    TIDAL_RETURN_IF_ERROR(all);
  }
  TIDAL_RETURN_IF_ERROR(base.status());
  return segment;
}

size_t ShmSegment::SlotBytesFor(size_t requested) {
  return (requested + kLine - 1) / kLine * kLine;
}

ShmSegment::ShmSegment(void* base, size_t bytes, int n, size_t slot_bytes)
    : base_(base), bytes_(bytes), n_(n), slot_bytes_(slot_bytes) {}

ShmSegment::~ShmSegment() { ::munmap(base_, bytes_); }

int ShmSegment::FirstBelow(bool posted_counter, uint64_t round, int from) {
  for (int i = 0; i < n_; ++i) {
    const int q = (from + i) % n_;
    const std::atomic<uint64_t>& c = posted_counter ? posted(q) : done(q);
    if (c.load(std::memory_order_acquire) < round) return q;
  }
  return -1;
}

std::atomic<uint64_t>& ShmSegment::posted(int rank) {
  auto* p = static_cast<uint8_t*>(base_) + static_cast<size_t>(rank) * kControlBytes;
  return *reinterpret_cast<std::atomic<uint64_t>*>(p);
}

std::atomic<uint64_t>& ShmSegment::done(int rank) {
  auto* p = static_cast<uint8_t*>(base_) + static_cast<size_t>(rank) * kControlBytes + kLine;
  return *reinterpret_cast<std::atomic<uint64_t>*>(p);
}

std::atomic<uint64_t>& ShmSegment::arrivals() { return posted(n_); }

std::atomic<uint64_t>& ShmSegment::reduced() { return done(n_); }

uint8_t* ShmSegment::slot(int rank, int set) {
  return static_cast<uint8_t*>(base_) + DataOffset(n_) +
         (static_cast<size_t>(rank) * 2 + static_cast<size_t>(set)) * slot_bytes_;
}

}  // namespace tidal::coll
