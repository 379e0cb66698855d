// Socket helpers for the TCP store: an owning file descriptor, listening and connecting with
// deadlines, and peer address checks. Socket system calls in tidal stay in this folder; errors
// are translated to Status here. Internal to runtime/tidal/store.
//
// Every descriptor is created close-on-exec and non-blocking; sends use MSG_NOSIGNAL, so a peer
// that vanished yields EPIPE rather than SIGPIPE.
//
// Thread safety: UniqueFd is a value owned by one thread at a time; the functions are
// thread-safe.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>

#include "tidal/core/status.h"
#include "tidal/core/time.h"

namespace tidal::store_internal {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release();
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// "1.2.3.4:80" or "[::1]:80".
std::string FormatAddress(const sockaddr_storage& address);
// "host:port", bracketing IPv6 literals.
std::string JoinHostPort(const std::string& host, uint16_t port);
// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8.
bool IsLoopback(const sockaddr_storage& address);

// Binds a listening socket to `bind_address` (a numeric IPv4 or IPv6 address, or a host name)
// and `port` (0: ephemeral). Returns the socket and, through `bound_port`, the port it got.
Result<UniqueFd> Listen(const std::string& bind_address, uint16_t port, uint16_t* bound_port);

// Accepts one connection on `listener`. Returns an invalid fd when none is pending (EAGAIN);
// transient errors (ECONNABORTED, EINTR) also yield an invalid fd and OK. Other errors (EMFILE)
// return kIoError.
Result<UniqueFd> Accept(int listener, sockaddr_storage* peer);

// Connects to host:port once, waiting for the TCP handshake until `deadline`. kUnavailable with
// the errno text on refusal or unreachability, kTimedOut when the deadline passes first,
// kInvalidArgument when the host does not resolve.
Result<UniqueFd> ConnectOnce(const std::string& host, uint16_t port, Deadline deadline);

// Sets TCP_NODELAY.
void SetNoDelay(int fd);

// Waits until `fd` has any of `events`, the deadline passes (returns 0) or poll fails (-1).
// Calls the thread's wait hook (cooperative mode) between non-blocking polls when one is set.
int WaitFd(int fd, short events, Deadline deadline);

}  // namespace tidal::store_internal
