#include "tidal/store/file_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tidal/core/logging.h"
#include "tidal/store/store_util.h"

namespace tidal {

using store_internal::ElapsedMs;
using store_internal::QuoteKey;
using store_internal::ValidateKey;

namespace {

constexpr char kMagic[4] = {'T', 'D', 'S', 'F'};
constexpr size_t kHeaderBytes = sizeof(kMagic) + 4;
constexpr size_t kMaxEscapedName = 200;
constexpr auto kFirstPause = std::chrono::microseconds(1000);
constexpr auto kLongestPause = std::chrono::microseconds(20000);

bool IsPlain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

uint64_t Fnv1a(std::string_view text, uint64_t basis) {
  uint64_t h = basis;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// The file name of a key (see the layout in file_store.h).
std::string FileNameOf(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsPlain(c)) {
      name.push_back(ch);
    } else {
      name += {'%', kHex[c >> 4], kHex[c & 0xf]};
    }
    if (name.size() > kMaxEscapedName) break;
  }
  if (name.size() <= kMaxEscapedName) return name;
  name = "~";
  for (const uint64_t h : {Fnv1a(key, 0xcbf29ce484222325ull), Fnv1a(key, 0x84222325cbf29ce4ull)}) {
    for (int shift = 60; shift >= 0; shift -= 4) name.push_back(kHex[(h >> shift) & 0xf]);
  }
  return name;
}

// Reads all of `fd`. Returns false on a read error (errno set).
bool ReadAll(int fd, Bytes* out) {
  uint8_t buffer[16384];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out->insert(out->end(), buffer, buffer + n);
  }
}

bool WriteAll(int fd, std::span<const uint8_t> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

Bytes EncodeFile(std::string_view key, std::span<const uint8_t> value) {
  Bytes data(kMagic, kMagic + sizeof(kMagic));
  const auto n = static_cast<uint32_t>(key.size());
  for (int i = 0; i < 4; ++i) data.push_back(static_cast<uint8_t>(n >> (8 * i)));
  data.insert(data.end(), key.begin(), key.end());
  data.insert(data.end(), value.begin(), value.end());
  return data;
}

// The value held in a file's contents, or an error when the file is not this key's.
Result<Bytes> DecodeFile(std::string_view key, const std::string& path, const Bytes& data) {
  uint32_t n = 0;
  if (data.size() >= kHeaderBytes) {
    for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(data[sizeof(kMagic) + i]) << (8 * i);
  }
  if (data.size() < kHeaderBytes || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0 ||
      data.size() - kHeaderBytes < n) {
    return IoError("store get ", QuoteKey(key), ": ", path, " is not a tidal store file");
  }
  const std::string_view stored(reinterpret_cast<const char*>(data.data() + kHeaderBytes), n);
  if (stored != key) {
    return InternalError("store get ", QuoteKey(key), ": ", path, " holds key ", QuoteKey(stored),
                         " (file name hash collision)");
  }
  return Bytes(data.begin() + static_cast<std::ptrdiff_t>(kHeaderBytes + n), data.end());
}

}  // namespace

Result<std::unique_ptr<FileStore>> FileStore::Open(const std::string& directory) {
  if (directory.empty()) return InvalidArgumentError("file store: empty directory path");
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return IoError("file store: cannot create ", directory, ": ", error.message());
  }
  const std::string lock_path = directory + "/.lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(StrCat("file store: open ", lock_path), errno);
  TIDAL_LOG(INFO, kStore) << "file store in " << directory;
  return std::unique_ptr<FileStore>(new FileStore(directory, fd));
}

FileStore::FileStore(std::string directory, int lock_fd)
    : directory_(std::move(directory)), lock_fd_(lock_fd) {}

FileStore::~FileStore() { ::close(lock_fd_); }

std::string FileStore::PathOf(std::string_view key) const {
  return directory_ + "/" + FileNameOf(key);
}

Status FileStore::LockDirectory() {
  while (::flock(lock_fd_, LOCK_EX) != 0) {
    if (errno != EINTR)
      return ErrnoError(StrCat("file store: flock ", directory_, "/.lock"), errno);
  }
  return Status::Ok();
}

void FileStore::UnlockDirectory() { ::flock(lock_fd_, LOCK_UN); }

Result<std::optional<Bytes>> FileStore::ReadKey(std::string_view key) const {
  const std::string path = PathOf(key);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<Bytes>();
    return ErrnoError(StrCat("store get ", QuoteKey(key), ": open ", path), errno);
  }
  Bytes data;
  const bool read_ok = ReadAll(fd, &data);
  const int read_errno = errno;
  ::close(fd);
  if (!read_ok) return ErrnoError(StrCat("store get ", QuoteKey(key), ": read ", path), read_errno);
  TIDAL_ASSIGN_OR_RETURN(Bytes value, DecodeFile(key, path, data));
  return std::optional<Bytes>(std::move(value));
}

Status FileStore::WriteKey(std::string_view key, std::span<const uint8_t> value) {
  const std::string path = PathOf(key);
  const std::string temp = StrCat(directory_, "/.tmp.", ::getpid(), ".",
                                  reinterpret_cast<uintptr_t>(this), ".", temp_counter_++);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(StrCat("store set ", QuoteKey(key), ": create ", temp), errno);
  const bool write_ok = WriteAll(fd, EncodeFile(key, value));
  const int write_errno = errno;
  if (::close(fd) != 0 || !write_ok) {
    ::unlink(temp.c_str());
    return ErrnoError(StrCat("store set ", QuoteKey(key), ": write ", temp),
                      write_ok ? errno : write_errno);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    ::unlink(temp.c_str());
    return ErrnoError(StrCat("store set ", QuoteKey(key), ": rename to ", path), rename_errno);
  }
  return Status::Ok();
}

Status FileStore::Set(std::string_view key, std::span<const uint8_t> value, Deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("set", key));
  MutexLock lock(&mu_);
  TIDAL_RETURN_IF_ERROR(LockDirectory());
  Status status = WriteKey(key, value);
  UnlockDirectory();
  return status;
}

Result<Bytes> FileStore::Get(std::string_view key, Deadline deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("get", key));
  const Clock::time_point start = Clock::now();
  std::chrono::microseconds pause = kFirstPause;
  while (true) {
    TIDAL_ASSIGN_OR_RETURN(std::optional<Bytes> value, ReadKey(key));
    if (value.has_value()) return std::move(*value);
    if (deadline.Expired()) {
      return TimedOutError("store get ", QuoteKey(key), " from ", directory_, ": timed out after ",
                           ElapsedMs(start), " ms");
    }
    store_internal::PauseBriefly(pause, deadline);
    pause = std::min(pause * 2, kLongestPause);
  }
}

Result<int64_t> FileStore::Add(std::string_view key, int64_t delta, Deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("add", key));
  MutexLock lock(&mu_);
  TIDAL_RETURN_IF_ERROR(LockDirectory());
  Result<int64_t> sum = AddLocked(key, delta);
  UnlockDirectory();
  return sum;
}

Result<int64_t> FileStore::AddLocked(std::string_view key, int64_t delta) {
  TIDAL_ASSIGN_OR_RETURN(std::optional<Bytes> current, ReadKey(key));
  TIDAL_ASSIGN_OR_RETURN(const int64_t sum, store_internal::AddToCounter(key, current, delta));
  TIDAL_RETURN_IF_ERROR(WriteKey(key, store_internal::FormatCounter(sum)));
  return sum;
}

Status FileStore::Wait(std::span<const std::string> keys, Deadline deadline) {
  for (const std::string& key : keys) TIDAL_RETURN_IF_ERROR(ValidateKey("wait", key));
  const Clock::time_point start = Clock::now();
  std::chrono::microseconds pause = kFirstPause;
  size_t next = 0;  // keys before `next` have been seen; keys are never expected to vanish
  while (true) {
    while (next < keys.size()) {
      TIDAL_ASSIGN_OR_RETURN(std::optional<Bytes> value, ReadKey(keys[next]));
      if (!value.has_value()) break;
      ++next;
    }
    if (next == keys.size()) return Status::Ok();
    if (deadline.Expired()) {
      return TimedOutError("store wait for ", QuoteKey(keys[next]), " in ", directory_,
                           ": timed out after ", ElapsedMs(start), " ms");
    }
    store_internal::PauseBriefly(pause, deadline);
    pause = std::min(pause * 2, kLongestPause);
  }
}

Result<bool> FileStore::Check(std::span<const std::string> keys, Deadline) {
  for (const std::string& key : keys) TIDAL_RETURN_IF_ERROR(ValidateKey("check", key));
  for (const std::string& key : keys) {
    TIDAL_ASSIGN_OR_RETURN(std::optional<Bytes> value, ReadKey(key));
    if (!value.has_value()) return false;
  }
  return true;
}

Result<bool> FileStore::Delete(std::string_view key, Deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("delete", key));
  MutexLock lock(&mu_);
  TIDAL_RETURN_IF_ERROR(LockDirectory());
  const std::string path = PathOf(key);
  const int rc = ::unlink(path.c_str());
  const int unlink_errno = errno;
  UnlockDirectory();
  if (rc == 0) return true;
  if (unlink_errno == ENOENT) return false;
  return ErrnoError(StrCat("store delete ", QuoteKey(key), ": unlink ", path), unlink_errno);
}

}  // namespace tidal
