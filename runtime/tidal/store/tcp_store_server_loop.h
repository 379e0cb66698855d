// The TCP store server's event loop and state, behind TcpStoreServer (tcp_store_server.h, where
// the behaviour is specified). Internal to runtime/tidal/store. The code is split in two:
//   tcp_store_server_loop.cc  connections: poll, accept, read, frame, write, close, timers;
//   tcp_store_requests.cc     requests: HELLO and authentication, the key space, parked waiters.
//
// Thread safety: everything but Wake() and the Stats atomics belongs to the server thread, which
// runs Run(); Wake() may be called from any thread.
#pragma once

#include <poll.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tidal/store/socket_util.h"
#include "tidal/store/store.h"
#include "tidal/store/tcp_store_server.h"
#include "tidal/store/tcp_store_wire.h"

namespace tidal::store_internal {

// A GET or WAIT waiting on the server for a key to be set.
struct Parked {
  uint32_t request_id = 0;
  Op op = Op::kGet;
  std::vector<std::string> keys;  // GET: its key; WAIT: every key
  std::string registered_key;     // the missing key it is listed under in ServerLoop::waiters_
  Clock::time_point start;
  Clock::time_point deadline;  // time_point::max(): no timeout
};

struct Connection {
  enum class State {
    kOpen,      // serving requests
    kClosing,   // flushing its last replies, then shut down for writing
    kDraining,  // shut down for writing; discarding input until EOF or the linger deadline
    kDead,      // closed; removed at the end of the loop iteration
  };
  uint64_t id = 0;
  UniqueFd fd;
  std::string peer;  // "127.0.0.1:53122"
  State state = State::kOpen;
  bool authenticated = false;
  // kOpen and unauthenticated: the authentication deadline; kClosing/kDraining: the linger one.
  Clock::time_point timer;
  Bytes in;   // received bytes not yet handled
  Bytes out;  // reply bytes not yet sent, from out_offset on
  size_t out_offset = 0;
  size_t accounted = 0;  // in/out capacity counted in Stats::buffered_bytes
  std::optional<Parked> parked;
};

struct ServerStats {
  std::atomic<size_t> connections{0};
  std::atomic<size_t> stored_bytes{0};
  std::atomic<size_t> waiting{0};  // parked GET and WAIT requests
  std::atomic<size_t> buffered_bytes{0};
  std::atomic<size_t> peak_buffered_bytes{0};
};

class ServerLoop {
 public:
  // REQUIRES: options are validated; listener is a listening non-blocking socket.
  ServerLoop(const TcpStoreServerOptions& options, UniqueFd listener, UniqueFd wake,
             std::string address);
  ~ServerLoop();

  // Serves until Wake() is called, then closes the listener and every connection.
  void Run();
  // Makes Run() return. Thread-safe.
  void Wake();
  const ServerStats& stats() const { return stats_; }

 private:
  // --- connections (tcp_store_server_loop.cc) ---
  short PollEvents(const Connection& c) const;
  int NextTimeoutMs() const;
  void AcceptAll();
  void Admit(UniqueFd fd, const sockaddr_storage& peer);
  // At the connection cap: closes the oldest connection that has not authenticated, if any.
  void EvictOldestUnauthenticated();
  void HandleEvents(Connection& c, short revents);
  void ReadSome(Connection& c);
  void ProcessInput(Connection& c);
  void Flush(Connection& c);
  void RunReady();
  void ExpireTimers();
  void Reap();
  void CloseAll();
  // Sends an error reply, then closes the connection (after flushing and draining).
  void Fail(Connection& c, uint32_t request_id, StatusCode code, const std::string& message);
  void StartClose(Connection& c);
  void Kill(Connection& c, std::string_view reason);
  // Updates Stats::buffered_bytes for c's buffers.
  void Account(Connection& c);
  Connection* Find(uint64_t id);
  // Rate-limits WARN lines about peers (at most 10 a second), so that a flood of bad connections
  // cannot flood the log; reports how many were suppressed.
  bool WarnAllowed();

  // --- requests (tcp_store_requests.cc) ---
  void HandleFrame(Connection& c, std::span<const uint8_t> payload);
  void HandleHello(Connection& c, uint32_t id, WireReader& r);
  void HandleSet(Connection& c, uint32_t id, WireReader& r);
  void HandleGet(Connection& c, uint32_t id, WireReader& r);
  void HandleAdd(Connection& c, uint32_t id, WireReader& r);
  void HandleWait(Connection& c, uint32_t id, WireReader& r);
  void HandleCheck(Connection& c, uint32_t id, WireReader& r);
  void HandleDelete(Connection& c, uint32_t id, WireReader& r);
  // Stores key = value if the total stays under the cap; else kIoError.
  Status Store(std::string_view key, Bytes value);
  const std::string* FirstMissing(const std::vector<std::string>& keys) const;
  void Park(Connection& c, Parked parked, const std::string& missing, uint32_t timeout_ms);
  void Unpark(Connection& c);
  // Answers the waiters listed under `key`, which was just set.
  void Notify(const std::string& key);
  void ReplyTimedOut(Connection& c);
  // Appends a reply frame; `body` writes the OK fields.
  template <typename BodyFn>
  void Reply(Connection& c, uint32_t id, BodyFn body);
  void ReplyError(Connection& c, uint32_t id, const Status& status);

  const TcpStoreServerOptions options_;
  const size_t max_payload_;  // options_.max_request_bytes + kFrameOverhead
  UniqueFd listener_;
  UniqueFd wake_;
  const std::string address_;
  ServerStats stats_;

  // Connections by id (so by age). Dead ones stay until Reap(), at the end of a loop iteration,
  // because the iteration holds pointers to them; dying_ counts those.
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  size_t dying_ = 0;
  uint64_t next_id_ = 1;
  Clock::time_point accept_paused_until_;
  std::vector<uint64_t> ready_;  // connections whose buffered input may be processable again
  std::vector<pollfd> pollfds_;
  std::vector<Connection*> polled_;
  std::array<uint8_t, 65536> scratch_;
  Clock::time_point warn_window_start_;
  int warns_in_window_ = 0;
  size_t warns_suppressed_ = 0;

  std::map<std::string, Bytes, std::less<>> data_;
  size_t stored_ = 0;
  std::map<std::string, std::vector<uint64_t>, std::less<>> waiters_;
};

}  // namespace tidal::store_internal
