#include "tidal/store/tcp_store.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"
#include "tidal/store/store_util.h"
#include "tidal/store/tcp_store_wire.h"

namespace tidal {

using store_internal::ElapsedMs;
using store_internal::kFrameOverhead;
using store_internal::kLengthBytes;
using store_internal::kPayloadHeaderBytes;
using store_internal::Op;
using store_internal::QuoteKey;
using store_internal::UniqueFd;
using store_internal::ValidateKey;
using store_internal::WaitFd;
using store_internal::WireReader;
using store_internal::WireWriter;

namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(10);
constexpr auto kLongestBackoff = std::chrono::milliseconds(200);

// The time left as a wire timeout: kNoTimeout for Never, else milliseconds rounded up.
uint32_t WireTimeout(Deadline deadline) {
  if (deadline.is_never()) return store_internal::kNoTimeout;
  const int64_t ms = (deadline.Remaining().count() + 999'999) / 1'000'000;
  return static_cast<uint32_t>(std::min<int64_t>(ms, store_internal::kNoTimeout - 1));
}

// Sends all of `data`; kTimedOut at the deadline, kUnavailable when the connection fails.
Status SendAll(int fd, std::span<const uint8_t> data, Deadline deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      data = data.subspan(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return UnavailableError("connection lost: ", std::strerror(errno));
    }
    const int ready = WaitFd(fd, POLLOUT, deadline);
    if (ready == 0) return TimedOutError("timed out sending the request");
    if (ready < 0) return UnavailableError("poll: ", std::strerror(errno));
  }
  return Status::Ok();
}

// Receives exactly out.size() bytes.
Status RecvAll(int fd, std::span<uint8_t> out, Deadline deadline) {
  while (!out.empty()) {
    const ssize_t n = ::recv(fd, out.data(), out.size(), MSG_DONTWAIT);
    if (n > 0) {
      out = out.subspan(static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return UnavailableError("connection lost: the server closed it");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return UnavailableError("connection lost: ", std::strerror(errno));
    }
    const int ready = WaitFd(fd, POLLIN, deadline);
    if (ready == 0) return TimedOutError("the server did not answer");
    if (ready < 0) return UnavailableError("poll: ", std::strerror(errno));
  }
  return Status::Ok();
}

// Receives one frame of at most `limit` payload bytes and returns its payload.
Result<Bytes> RecvFrame(int fd, size_t limit, Deadline deadline) {
  uint8_t header[kLengthBytes];
  TIDAL_RETURN_IF_ERROR(RecvAll(fd, header, deadline));
  const uint32_t length = store_internal::LoadLength(header);
  if (length < kPayloadHeaderBytes || length > limit) {
    return UnavailableError("protocol error: reply frame of ", length, " bytes");
  }
  Bytes payload(length);
  TIDAL_RETURN_IF_ERROR(RecvAll(fd, payload, deadline));
  return payload;
}

// Checks a reply's request id and code; returns the reply's fields (or its error).
Result<Bytes> ParseReply(Bytes payload, uint32_t id) {
  WireReader r(payload);
  uint32_t reply_id = 0;
  uint8_t code = 0;
  r.U32(&reply_id);
  r.U8(&code);
  if (code > static_cast<uint8_t>(StatusCode::kInternal)) {
    return UnavailableError("protocol error: reply code ", int{code});
  }
  if (code != 0) {
    std::string_view message;
    if (!r.Text(&message)) message = "(no message)";
    return Status(static_cast<StatusCode>(code), std::string(message));
  }
  if (reply_id != id) {
    return UnavailableError("protocol error: reply to request ", reply_id, ", expected ", id);
  }
  payload.erase(payload.begin(), payload.begin() + kPayloadHeaderBytes);
  return payload;
}

Bytes HelloFrame(const std::string& secret) {
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(0);
  w.U8(static_cast<uint8_t>(Op::kHello));
  w.U32(store_internal::kHelloMagic);
  w.U16(store_internal::kProtocolVersion);
  w.Blob(secret);
  w.Finish();
  return frame;
}

// Authenticates on a fresh connection; returns the server's max_request_bytes.
Result<size_t> Hello(int fd, const std::string& secret, Deadline deadline) {
  TIDAL_RETURN_IF_ERROR(SendAll(fd, HelloFrame(secret), deadline));
  TIDAL_ASSIGN_OR_RETURN(Bytes payload, RecvFrame(fd, store_internal::kMaxHelloPayload, deadline));
  Result<Bytes> fields = ParseReply(std::move(payload), 0);
  if (!fields.ok()) {
    const Status& error = fields.status();
    const bool about_secret = error.message().find("secret") != std::string_view::npos;
    return Status(error.code(),
                  StrCat(error.message(), about_secret ? " (check TIDAL_SECRET)" : ""));
  }
  WireReader r(*fields);
  uint16_t version = 0;
  uint64_t max_request = 0;
  if (!r.U16(&version) || !r.U64(&max_request) || version != store_internal::kProtocolVersion) {
    return UnavailableError("protocol error: malformed hello reply");
  }
  return static_cast<size_t>(max_request);
}

}  // namespace

Result<TcpStoreOptions> TcpStoreOptions::FromEnv() {
  TcpStoreOptions options;
  options.host = KnobString(Knob::kStoreAddr);
  options.secret = KnobString(Knob::kSecret);
  TIDAL_ASSIGN_OR_RETURN(const int64_t port, KnobInt(Knob::kStorePort, -1));
  if (port <= 0 || port > 65535) {
    return InvalidArgumentError("TIDAL_STORE_PORT must be a port number in 1..65535, not ",
                                KnobString(Knob::kStorePort));
  }
  options.port = static_cast<uint16_t>(port);
  return options;
}

Result<TcpStore::Session> TcpStore::OpenSession(const TcpStoreOptions& options,
                                                const std::string& address, Deadline deadline) {
  TIDAL_ASSIGN_OR_RETURN(UniqueFd fd,
                         store_internal::ConnectOnce(options.host, options.port, deadline));
  TIDAL_ASSIGN_OR_RETURN(const size_t max_request, Hello(fd.get(), options.secret, deadline));
  TIDAL_LOG(DEBUG, kStore) << "store client connected to " << address;
  return Session{std::move(fd), max_request};
}

Result<std::unique_ptr<TcpStore>> TcpStore::Connect(const TcpStoreOptions& options,
                                                    Deadline deadline) {
  const std::string address = store_internal::JoinHostPort(options.host, options.port);
  const Clock::time_point start = Clock::now();
  auto backoff = std::chrono::duration_cast<std::chrono::microseconds>(kFirstBackoff);
  while (true) {
    Result<Session> session = OpenSession(options, address, deadline);
    if (session.ok()) {
      return std::unique_ptr<TcpStore>(new TcpStore(options, std::move(*session)));
    }
    const Status& error = session.status();
    // Refusals and unreachable hosts are retried: the server may not be up yet.
    const bool retry = error.code() == StatusCode::kUnavailable && !deadline.Expired();
    if (!retry) {
      const bool timed_out =
          error.code() == StatusCode::kUnavailable || error.code() == StatusCode::kTimedOut;
      return Status(timed_out ? StatusCode::kTimedOut : error.code(),
                    StrCat("store connect to ", address,
                           timed_out ? StrCat(": timed out after ", ElapsedMs(start), " ms: ")
                                     : std::string(": "),
                           error.message()));
    }
    store_internal::PauseBriefly(backoff, deadline);
    backoff = std::min(backoff * 2,
                       std::chrono::duration_cast<std::chrono::microseconds>(kLongestBackoff));
  }
}

TcpStore::TcpStore(TcpStoreOptions options, Session session)
    : options_(std::move(options)),
      address_(store_internal::JoinHostPort(options_.host, options_.port)) {
  MutexLock lock(&mu_);
  session_ = std::move(session);
}

TcpStore::~TcpStore() = default;

Status TcpStore::EnsureConnected(const std::string& what, Deadline deadline) {
  if (session_.fd.valid()) return Status::Ok();
  Result<Session> session = OpenSession(options_, address_, deadline);
  if (!session.ok()) {
    return UnavailableError(
        what, ": reconnecting after a lost connection failed: ", session.status().message());
  }
  session_ = std::move(*session);
  return Status::Ok();
}

Status TcpStore::CheckSize(const std::string& what, size_t request_bytes) const {
  if (request_bytes <= session_.max_request_bytes) return Status::Ok();
  return InvalidArgumentError(what, ": request of ", request_bytes,
                              " bytes exceeds the server's limit of ", session_.max_request_bytes,
                              " bytes (TIDAL_STORE_MAX_VALUE)");
}

Result<Bytes> TcpStore::Call(const std::string& what, const Bytes& frame, uint32_t id,
                             Deadline deadline, bool server_waits) {
  const Clock::time_point start = Clock::now();
  TIDAL_RETURN_IF_ERROR(EnsureConnected(what, deadline));
  const Deadline reply_deadline =
      server_waits && !deadline.is_never()
          ? Deadline::At(deadline.when() + std::chrono::milliseconds(kReplyGrace))
          : deadline;
  const int fd = session_.fd.get();
  Status sent = SendAll(fd, frame, deadline);
  Result<Bytes> payload =
      sent.ok() ? RecvFrame(fd, session_.max_request_bytes + kFrameOverhead, reply_deadline)
                : Result<Bytes>(sent);
  if (!payload.ok()) {
    session_.fd.Reset();  // the connection's state is unknown: reconnect on the next call
    const Status& error = payload.status();
    if (error.code() == StatusCode::kTimedOut) {
      return TimedOutError(what, ": timed out after ", ElapsedMs(start), " ms (", error.message(),
                           "; the connection was closed)");
    }
    return Status(error.code(), StrCat(what, ": ", error.message()));
  }
  Result<Bytes> fields = ParseReply(std::move(*payload), id);
  if (!fields.ok()) {
    if (fields.status().message().starts_with("protocol error")) session_.fd.Reset();
    return fields.status().WithContext(what);
  }
  return fields;
}

Status TcpStore::Set(std::string_view key, std::span<const uint8_t> value, Deadline deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("set", key));
  const std::string what = StrCat("store set ", QuoteKey(key), " on ", address_);
  MutexLock lock(&mu_);
  TIDAL_RETURN_IF_ERROR(CheckSize(what, key.size() + value.size()));
  const uint32_t id = NextId();
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(Op::kSet));
  w.Blob(key);
  w.Blob(value);
  w.Finish();
  return Call(what, frame, id, deadline, false).status();
}

Result<Bytes> TcpStore::Get(std::string_view key, Deadline deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("get", key));
  const std::string what = StrCat("store get ", QuoteKey(key), " from ", address_);
  MutexLock lock(&mu_);
  const uint32_t id = NextId();
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(Op::kGet));
  w.U32(WireTimeout(deadline));
  w.Blob(key);
  w.Finish();
  TIDAL_ASSIGN_OR_RETURN(Bytes fields, Call(what, frame, id, deadline, true));
  WireReader r(fields);
  std::span<const uint8_t> value;
  if (!r.Blob(&value) || !r.AtEnd()) {
    session_.fd.Reset();
    return UnavailableError(what, ": protocol error: malformed reply");
  }
  return Bytes(value.begin(), value.end());
}

Result<int64_t> TcpStore::Add(std::string_view key, int64_t delta, Deadline deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("add", key));
  const std::string what = StrCat("store add ", QuoteKey(key), " on ", address_);
  MutexLock lock(&mu_);
  const uint32_t id = NextId();
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(Op::kAdd));
  w.I64(delta);
  w.Blob(key);
  w.Finish();
  TIDAL_ASSIGN_OR_RETURN(Bytes fields, Call(what, frame, id, deadline, false));
  WireReader r(fields);
  int64_t value = 0;
  if (!r.I64(&value) || !r.AtEnd()) {
    session_.fd.Reset();
    return UnavailableError(what, ": protocol error: malformed reply");
  }
  return value;
}

Status TcpStore::Wait(std::span<const std::string> keys, Deadline deadline) {
  for (const std::string& key : keys) TIDAL_RETURN_IF_ERROR(ValidateKey("wait", key));
  if (keys.empty()) return Status::Ok();
  const std::string what =
      StrCat("store wait for ", QuoteKey(keys.front()),
             keys.size() > 1 ? StrCat(" and ", keys.size() - 1, " more") : "", " on ", address_);
  MutexLock lock(&mu_);
  size_t request_bytes = 0;
  for (const std::string& key : keys) request_bytes += key.size() + 4;
  TIDAL_RETURN_IF_ERROR(CheckSize(what, request_bytes));
  const uint32_t id = NextId();
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(Op::kWait));
  w.U32(WireTimeout(deadline));
  w.U32(static_cast<uint32_t>(keys.size()));
  for (const std::string& key : keys) w.Blob(key);
  w.Finish();
  return Call(what, frame, id, deadline, true).status();
}

Result<bool> TcpStore::Check(std::span<const std::string> keys, Deadline deadline) {
  for (const std::string& key : keys) TIDAL_RETURN_IF_ERROR(ValidateKey("check", key));
  const std::string what = StrCat("store check of ", keys.size(), " keys on ", address_);
  MutexLock lock(&mu_);
  size_t request_bytes = 0;
  for (const std::string& key : keys) request_bytes += key.size() + 4;
  TIDAL_RETURN_IF_ERROR(CheckSize(what, request_bytes));
  const uint32_t id = NextId();
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(Op::kCheck));
  w.U32(static_cast<uint32_t>(keys.size()));
  for (const std::string& key : keys) w.Blob(key);
  w.Finish();
  TIDAL_ASSIGN_OR_RETURN(Bytes fields, Call(what, frame, id, deadline, false));
  WireReader r(fields);
  uint8_t all_set = 0;
  if (!r.U8(&all_set) || !r.AtEnd() || all_set > 1) {
    session_.fd.Reset();
    return UnavailableError(what, ": protocol error: malformed reply");
  }
  return all_set == 1;
}

Result<bool> TcpStore::Delete(std::string_view key, Deadline deadline) {
  TIDAL_RETURN_IF_ERROR(ValidateKey("delete", key));
  const std::string what = StrCat("store delete ", QuoteKey(key), " on ", address_);
  MutexLock lock(&mu_);
  const uint32_t id = NextId();
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(Op::kDelete));
  w.Blob(key);
  w.Finish();
  TIDAL_ASSIGN_OR_RETURN(Bytes fields, Call(what, frame, id, deadline, false));
  WireReader r(fields);
  uint8_t existed = 0;
  if (!r.U8(&existed) || !r.AtEnd() || existed > 1) {
    session_.fd.Reset();
    return UnavailableError(what, ": protocol error: malformed reply");
  }
  return existed == 1;
}

}  // namespace tidal
