#include "tidal/core/status.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tidal {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kNotSupported:
      return "NOT_SUPPORTED";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kTimedOut:
      return "TIMED_OUT";
    case StatusCode::kAborted:
      return "ABORTED";
    case StatusCode::kIoError:
      return "IO_ERROR";
    case StatusCode::kInternal:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

Status::Status(StatusCode code, std::string message) {
  if (code != StatusCode::kOk) state_ = std::make_unique<State>(State{code, std::move(message)});
}

Status::Status(const Status& other)
    : state_(other.state_ ? std::make_unique<State>(*other.state_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) state_ = other.state_ ? std::make_unique<State>(*other.state_) : nullptr;
  return *this;
}

std::string_view Status::message() const {
  return state_ ? std::string_view(state_->message) : std::string_view();
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code()));
  out += ": ";
  out += state_->message;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return Status();
  return Status(code(), StrCat(context, ": ", state_->message));
}

bool operator==(const Status& a, const Status& b) {
  return a.code() == b.code() && a.message() == b.message();
}

std::ostream& operator<<(std::ostream& os, const Status& status) { return os << status.ToString(); }

Status ErrnoError(std::string_view what, int err) {
  char buf[128];
  // GNU strerror_r returns the message pointer, which may or may not be buf.
  const char* text = strerror_r(err, buf, sizeof(buf));
  return IoError(what, ": ", text, " (errno ", err, ")");
}

namespace internal {

void ResultFromOkStatus() {
  std::fprintf(stderr, "tidal: FATAL: Result constructed from an OK Status\n");
  std::abort();
}

void ValueOfErrorResult(const Status& status) {
  std::fprintf(stderr, "tidal: FATAL: value() of an error Result: %s\n", status.ToString().c_str());
  std::abort();
}

}  // namespace internal
}  // namespace tidal
