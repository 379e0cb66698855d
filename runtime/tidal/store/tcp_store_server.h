// TcpStoreServer: the server side of TcpStore, hosted by tidalrun or rank 0. It keeps the key
// space in memory and serves any number of TcpStore clients over TCP (wire format in
// tcp_store_wire.h). It is not a database: nothing persists after Stop().
//
// One thread runs poll() over the listening socket, every (non-blocking) client socket and a
// wake-up eventfd that Stop() signals; no client can block it. A GET or WAIT whose keys are
// missing is parked on the server and answered when the key is set, or with kTimedOut when the
// timeout the client sent with it passes; the connection reads no further requests until then.
//
// Security and robustness (the server may face any peer that can reach its port):
//  - The first frame must be HELLO with the protocol version and the job's secret, compared in
//    constant time. A wrong secret gets an "unauthenticated" error reply and the connection is
//    closed. With an empty secret only loopback peers (127.0.0.0/8, ::1) are admitted, and Start
//    logs a warning saying so.
//  - Before authentication frames of at most 1 KiB are accepted, and a connection that has not
//    authenticated within auth_timeout is closed. A frame's length is checked from its 4-byte
//    prefix before anything is buffered for it: an oversized frame gets an error reply and the
//    connection is closed. Garbage, unknown ops and truncated fields do the same.
//  - Stored keys and values are capped at max_total_bytes: a write past the cap is refused with
//    kIoError ("store full") and the connection stays usable. Connections are capped at
//    max_connections; at the cap a new connection evicts the oldest unauthenticated one, or is
//    accepted and closed at once when every connection has authenticated.
//  - Buffered bytes per connection are bounded: a parked connection reads at most 64 KiB ahead, a
//    connection whose replies are not being read is not served further until they drain.
//  - Closing connections are flushed, shut down for writing and drained for at most 1 s, so
//    that a peer reads the error reply instead of a reset.
//  Authenticated clients are trusted members of the job: an authenticated connection that stalls
//  halfway through a frame holds at most max_request_bytes until it closes.
//
// Thread safety: Start, Stop and the destructor may be called from any thread (Stop from several
// at once); the statistics accessors are thread-safe snapshots.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "tidal/core/mutex.h"
#include "tidal/core/status.h"

namespace tidal {

namespace store_internal {
class ServerLoop;
}  // namespace store_internal

struct TcpStoreServerOptions {
  // Numeric address or host name to bind; "0.0.0.0" or "::" for multi-host jobs (set a secret).
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, see TcpStoreServer::port()
  // Every client must present it. Empty: only loopback clients are admitted (a WARN line says so).
  // At most 1000 bytes.
  std::string secret;
  // Largest key + value bytes of one request (TIDAL_STORE_MAX_VALUE's default, 64 MiB).
  size_t max_request_bytes = size_t{64} << 20;
  // Total key + value bytes held before writes are refused (TIDAL_STORE_MAX_BYTES's default).
  size_t max_total_bytes = size_t{1} << 30;
  int max_connections = 4096;
  // Connections that have not sent a valid HELLO by then are closed.
  std::chrono::milliseconds auth_timeout{5000};

  // The defaults above, overridden by TIDAL_STORE_BIND, TIDAL_SECRET, TIDAL_STORE_MAX_VALUE and
  // TIDAL_STORE_MAX_BYTES. A malformed or non-positive limit is ignored with a WARN line.
  static TcpStoreServerOptions FromEnv();
};

class TcpStoreServer {
 public:
  // Binds, listens and starts the server thread. Returns kInvalidArgument for bad options
  // (empty bind address, zero limits, a secret over 1000 bytes, unresolvable bind address) and
  // kIoError when the address cannot be bound (e.g. the port is in use).
  static Result<std::unique_ptr<TcpStoreServer>> Start(const TcpStoreServerOptions& options);

  // Stops the thread and closes every connection (see Stop()).
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;

  // The port the server listens on (the ephemeral one when options.port was 0).
  uint16_t port() const { return port_; }
  // "host:port" as bound, e.g. "127.0.0.1:29500".
  const std::string& address() const { return address_; }

  // Stops serving: closes the listening socket and every connection, so that clients waiting on
  // the server return kUnavailable. Blocks until the server thread has exited. Idempotent.
  void Stop() TIDAL_EXCLUDES(stop_mu_);

  // Statistics, for tests and tidal-info.
  // Open client connections (authenticated or not).
  size_t connection_count() const;
  // Key and value bytes held.
  size_t stored_bytes() const;
  // GET and WAIT requests parked until their keys are set.
  size_t waiting_count() const;
  // Bytes allocated for connections' input and output buffers, now and at the most.
  size_t buffered_bytes() const;
  size_t peak_buffered_bytes() const;

 private:
  TcpStoreServer(std::unique_ptr<store_internal::ServerLoop> loop, uint16_t port,
                 std::string address);

  const std::unique_ptr<store_internal::ServerLoop> loop_;
  const uint16_t port_;
  const std::string address_;
  Mutex stop_mu_;
  std::thread thread_ TIDAL_GUARDED_BY(stop_mu_);
};

}  // namespace tidal
