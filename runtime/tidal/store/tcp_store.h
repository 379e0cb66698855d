// TcpStore: the Store client of a TcpStoreServer (tcp_store_server.h), for ranks in separate
// processes or hosts. Each object holds one TCP connection (TCP_NODELAY, close-on-exec) and
// authenticates on it with the job's secret. It is not a server and keeps no data.
//
// Deadlines: every call honours its Deadline. A Get or Wait sends its time left with the request,
// so the server answers kTimedOut when it passes; the client then waits at most kReplyGrace
// (100 ms) more for that answer. Any other call, or a server that never answers, returns
// kTimedOut at the deadline itself.
//
// Broken connections: after a timeout without an answer, or any connection failure, the
// connection is closed (its state is unknown) and the call returns kTimedOut or kUnavailable.
// The next call reconnects once, within its own deadline and without retrying a refusal; if that
// fails it returns kUnavailable. A stopped server thus yields kUnavailable promptly.
//
// Errors name the operation, key and server: "store get 'rank/3/addr' from 127.0.0.1:29500:
// timed out after 2000 ms". A wrong secret is kInvalidArgument ("... unauthenticated: wrong
// secret (check TIDAL_SECRET)"): a configuration error, not worth retrying. Requests larger than
// the server's max_request_bytes (learned at HELLO) fail locally with kInvalidArgument.
//
// Limits: keys of 1 to 4096 bytes; key + value up to the server's max_request_bytes.
//
// Thread safety: thread-safe. A mutex serializes calls on the one connection, so a thread blocked
// in Get delays other threads using the same object; give long waits their own TcpStore.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "tidal/core/mutex.h"
#include "tidal/store/socket_util.h"
#include "tidal/store/store.h"

namespace tidal {

struct TcpStoreOptions {
  std::string host = "127.0.0.1";  // numeric address or host name (resolution is not deadlined)
  uint16_t port = 0;
  std::string secret;  // must equal the server's
  // TIDAL_STORE_ADDR, TIDAL_STORE_PORT and TIDAL_SECRET; kInvalidArgument when the port is
  // missing or malformed.
  static Result<TcpStoreOptions> FromEnv();
};

class TcpStore : public Store {
 public:
  static constexpr std::chrono::milliseconds kReplyGrace{100};

  // Connects and authenticates. Refused or unreachable connections are retried with a backoff
  // (10 ms growing to 200 ms) until the deadline, since the server may start later; then
  // kTimedOut naming the last error. A wrong secret or protocol version fails at once.
  static Result<std::unique_ptr<TcpStore>> Connect(const TcpStoreOptions& options,
                                                   Deadline deadline);

  ~TcpStore() override;
  TcpStore(const TcpStore&) = delete;
  TcpStore& operator=(const TcpStore&) = delete;

  Status Set(std::string_view key, std::span<const uint8_t> value, Deadline deadline) override;
  Result<Bytes> Get(std::string_view key, Deadline deadline) override;
  Result<int64_t> Add(std::string_view key, int64_t delta, Deadline deadline) override;
  Status Wait(std::span<const std::string> keys, Deadline deadline) override;
  Result<bool> Check(std::span<const std::string> keys, Deadline deadline) override;
  Result<bool> Delete(std::string_view key, Deadline deadline) override;

  // "host:port" of the server.
  const std::string& address() const { return address_; }

 private:
  struct Session {
    store_internal::UniqueFd fd;
    size_t max_request_bytes = 0;
  };
  TcpStore(TcpStoreOptions options, Session session);

  static Result<Session> OpenSession(const TcpStoreOptions& options, const std::string& address,
                                     Deadline deadline);
  // Sends `frame` (whose request id is `id`) and returns the reply payload after its id and code,
  // or the reply's error. `what` prefixes every message. `server_waits`: the server holds the
  // timer, so the reply may come up to kReplyGrace after the deadline.
  Result<Bytes> Call(const std::string& what, const Bytes& frame, uint32_t id, Deadline deadline,
                     bool server_waits) TIDAL_REQUIRES(mu_);
  Status EnsureConnected(const std::string& what, Deadline deadline) TIDAL_REQUIRES(mu_);
  // Checks that `request_bytes` of keys and values fit the server's limit.
  Status CheckSize(const std::string& what, size_t request_bytes) const TIDAL_REQUIRES(mu_);
  uint32_t NextId() TIDAL_REQUIRES(mu_) { return next_id_++; }

  const TcpStoreOptions options_;
  const std::string address_;
  Mutex mu_;
  Session session_ TIDAL_GUARDED_BY(mu_);
  uint32_t next_id_ TIDAL_GUARDED_BY(mu_) = 1;
};

}  // namespace tidal
