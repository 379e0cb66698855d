// FileStore: a Store kept in a directory that every rank sees (a shared or local file system),
// for jobs launched without a TCP store. It is not meant for many thousands of ranks: readers
// poll the file system.
//
// Layout: one file per key. A file's name is the key escaped (bytes outside [A-Za-z0-9_-] become
// %XX); keys whose escaped form is longer than 200 characters are named "~" plus a 128-bit hash
// instead. Each file holds a small header and the full key, so that a reader verifies it read the
// key it asked for, then the value:
//   "TDSF" (4 bytes) | key length (u32 little-endian) | key | value
// Writers write a temporary file ".tmp.*" and rename() it over the key's file, so a reader sees
// the old or the new value, never a torn one. Set, Add and Delete hold flock() on ".lock" in the
// directory (and a process-local mutex, since flock does not exclude threads sharing a
// descriptor), so Add is atomic across processes. Get and Wait poll with a backoff that grows
// from 1 ms to 20 ms until the key appears or the deadline passes; when the calling thread has a
// wait hook installed (cooperative mode) they call it instead of sleeping.
// Nothing is fsync'ed: the store lives no longer than the job.
//
// Limits: keys of 1 to 4096 bytes; values of any size the file system holds.
//
// Thread safety: thread-safe. Several FileStore objects, in one process or many, may share a
// directory.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tidal/core/mutex.h"
#include "tidal/store/store.h"

namespace tidal {

class FileStore : public Store {
 public:
  // Opens the store in `directory`, creating it (and its parents) when missing.
  // Returns kInvalidArgument for an empty path, kIoError when it cannot be created or opened.
  static Result<std::unique_ptr<FileStore>> Open(const std::string& directory);

  ~FileStore() override;
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  Status Set(std::string_view key, std::span<const uint8_t> value, Deadline deadline) override;
  Result<Bytes> Get(std::string_view key, Deadline deadline) override;
  Result<int64_t> Add(std::string_view key, int64_t delta, Deadline deadline) override;
  Status Wait(std::span<const std::string> keys, Deadline deadline) override;
  Result<bool> Check(std::span<const std::string> keys, Deadline deadline) override;
  Result<bool> Delete(std::string_view key, Deadline deadline) override;

  const std::string& directory() const { return directory_; }

 private:
  FileStore(std::string directory, int lock_fd);

  // Reads the key's file; nullopt when absent. kIoError on a read failure or a foreign file.
  Result<std::optional<Bytes>> ReadKey(std::string_view key) const;
  Status WriteKey(std::string_view key, std::span<const uint8_t> value) TIDAL_REQUIRES(mu_);
  // Add's read-modify-write. REQUIRES: the directory lock is held.
  Result<int64_t> AddLocked(std::string_view key, int64_t delta) TIDAL_REQUIRES(mu_);
  std::string PathOf(std::string_view key) const;
  // Takes / releases the directory's flock (which excludes other processes and objects).
  Status LockDirectory() TIDAL_REQUIRES(mu_);
  void UnlockDirectory() TIDAL_REQUIRES(mu_);

  const std::string directory_;
  const int lock_fd_;
  Mutex mu_;  // serializes this object's writers; flock serializes processes
  uint64_t temp_counter_ TIDAL_GUARDED_BY(mu_) = 0;
};

}  // namespace tidal
