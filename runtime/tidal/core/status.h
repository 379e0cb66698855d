// Status and Result<T>: how every tidal function reports failure. The library never throws.
//
// A Status is a small value: OK holds a null pointer and allocates nothing; an error holds a code
// and a message on the heap. Codes are chosen by what the caller should do next (see StatusCode).
// Messages name the rank, the operation and the peer involved, so that a user reading one line
// knows where to look. Result<T> holds either a value or a non-OK Status.
//
// Thread safety: a Status or Result is a value; distinct objects may be used from distinct threads,
// and const access to one object from several threads is safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "tidal/core/strcat.h"

namespace tidal {

// Codes are chosen by what the caller should do next.
enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,  // caller bug at an API boundary: fix the call, do not retry
  kNotSupported,     // this algorithm/codec/transport declines: the selector tries the next
  kUnavailable,      // a peer or link is gone: rebuild the communicator
  kTimedOut,         // deadline passed: the operation's effect is unknown
  kAborted,          // cancelled or shutting down: retry at a higher level, if at all
  kIoError,          // transport or system failure not classified above
  kInternal,         // a broken invariant that a CHECK could not catch
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status Ok() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  // The message without the code; empty for OK.
  std::string_view message() const;
  // "TIMED_OUT: rank 2 recv from rank 1 ..." or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;

  // Marks a status as deliberately dropped.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b);

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<State> state_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

// Constructors by code; arguments are concatenated with StrCat.
template <typename... Args>
Status InvalidArgumentError(const Args&... args) {
  return Status(StatusCode::kInvalidArgument, StrCat(args...));
}
template <typename... Args>
Status NotSupportedError(const Args&... args) {
  return Status(StatusCode::kNotSupported, StrCat(args...));
}
template <typename... Args>
Status UnavailableError(const Args&... args) {
  return Status(StatusCode::kUnavailable, StrCat(args...));
}
template <typename... Args>
Status TimedOutError(const Args&... args) {
  return Status(StatusCode::kTimedOut, StrCat(args...));
}
template <typename... Args>
Status AbortedError(const Args&... args) {
  return Status(StatusCode::kAborted, StrCat(args...));
}
template <typename... Args>
Status IoError(const Args&... args) {
  return Status(StatusCode::kIoError, StrCat(args...));
}
template <typename... Args>
Status InternalError(const Args&... args) {
  return Status(StatusCode::kInternal, StrCat(args...));
}

// An I/O error carrying strerror(err) for a failed system call.
Status ErrnoError(std::string_view what, int err);

namespace internal {
[[noreturn]] void ResultFromOkStatus();
[[noreturn]] void ValueOfErrorResult(const Status& status);
}  // namespace internal

// A value of type T, or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  // REQUIRES: !status.ok().
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) internal::ResultFromOkStatus();
  }
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
           !std::is_same_v<std::decay_t<U>, Status>) Result(U&& value)
      : value_(std::in_place, std::forward<U>(value)) {}  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  // REQUIRES: ok(). Aborts with the status otherwise.
  T& value() & {
    CheckOk();
    return *value_;
  }
  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T&& value() && {
    CheckOk();
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void CheckOk() const {
    if (!status_.ok()) internal::ValueOfErrorResult(status_);
  }
  Status status_;
  std::optional<T> value_;
};

namespace internal {
inline const Status& GetStatus(const Status& status) { return status; }
template <typename T>
const Status& GetStatus(const Result<T>& result) {
  return result.status();
}
}  // namespace internal

}  // namespace tidal

#define TIDAL_CONCAT_INNER_(a, b) a##b
#define TIDAL_CONCAT_(a, b) TIDAL_CONCAT_INNER_(a, b)

// Returns the status of `expr` (a Status or Result) from the enclosing function if it is an error.
#define TIDAL_RETURN_IF_ERROR(expr)                                                    \
  do {                                                                                 \
    const auto& tidal_status_or_ = (expr);                                             \
    if (!tidal_status_or_.ok()) return ::tidal::internal::GetStatus(tidal_status_or_); \
  } while (0)

// Evaluates `expr` (a Result<T>); on error returns its status, else moves the value into `lhs`,
// which may be a declaration: TIDAL_ASSIGN_OR_RETURN(auto fd, OpenSocket(...));
#define TIDAL_ASSIGN_OR_RETURN(lhs, expr) \
  TIDAL_ASSIGN_OR_RETURN_IMPL_(TIDAL_CONCAT_(tidal_result_, __LINE__), lhs, expr)
#define TIDAL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()
