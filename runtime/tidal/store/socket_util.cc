#include "tidal/store/socket_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "tidal/transport/wait.h"

namespace tidal::store_internal {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { ::freeaddrinfo(info); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

Result<AddrInfoPtr> Resolve(const std::string& host, uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &result);
  if (rc != 0) {
    return InvalidArgumentError("cannot resolve '", host, "': ", ::gai_strerror(rc));
  }
  return AddrInfoPtr(result);
}

uint16_t PortOf(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

// Waits for a non-blocking connect() to finish; returns its errno (0 on success) or ETIMEDOUT.
int FinishConnect(int fd, Deadline deadline) {
  const int ready = WaitFd(fd, POLLOUT, deadline);
  if (ready == 0) return ETIMEDOUT;
  if (ready < 0) return errno;
  int error = 0;
  socklen_t length = sizeof(error);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) Reset(other.Release());
  return *this;
}

int UniqueFd::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string FormatAddress(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return StrCat("[", text, "]:", PortOf(address));
  }
  if (address.ss_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
  }
  return StrCat(text, ":", PortOf(address));
}

std::string JoinHostPort(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return StrCat("[", host, "]:", port);
  return StrCat(host, ":", port);
}

bool IsLoopback(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&address);
    return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

Result<UniqueFd> Listen(const std::string& bind_address, uint16_t port, uint16_t* bound_port) {
  TIDAL_ASSIGN_OR_RETURN(AddrInfoPtr infos, Resolve(bind_address, port, /*passive=*/true));
  int last_errno = 0;
  for (const addrinfo* ai = infos.get(); ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      last_errno = errno;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), 1024) != 0) {
      last_errno = errno;
      continue;
    }
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &length) != 0) {
      last_errno = errno;
      continue;
    }
    *bound_port = PortOf(local);
    return fd;
  }
  return ErrnoError(StrCat("store server: listen on ", JoinHostPort(bind_address, port)),
                    last_errno);
}

Result<UniqueFd> Accept(int listener, sockaddr_storage* peer) {
  socklen_t length = sizeof(*peer);
  const int fd =
      ::accept4(listener, reinterpret_cast<sockaddr*>(peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) return UniqueFd(fd);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED ||
      errno == EPROTO) {
    return UniqueFd();
  }
  return ErrnoError("store server: accept", errno);
}

Result<UniqueFd> ConnectOnce(const std::string& host, uint16_t port, Deadline deadline) {
  TIDAL_ASSIGN_OR_RETURN(AddrInfoPtr infos, Resolve(host, port, /*passive=*/false));
  int last_errno = ECONNREFUSED;
  for (const addrinfo* ai = infos.get(); ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoError("store connect: socket", errno);
    int error = 0;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      error = errno == EINPROGRESS ? FinishConnect(fd.get(), deadline) : errno;
    }
    if (error == 0) {
      SetNoDelay(fd.get());
      return fd;
    }
    if (error == ETIMEDOUT && deadline.Expired()) {
      return TimedOutError("connect to ", JoinHostPort(host, port), " timed out");
    }
    last_errno = error;
  }
  return UnavailableError("connect to ", JoinHostPort(host, port), ": ", std::strerror(last_errno));
}

void SetNoDelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int WaitFd(int fd, short events, Deadline deadline) {
  pollfd pfd{fd, events, 0};
  while (true) {
    const WaitHookSlot slot = GetThreadWaitHook();
    const int timeout = slot.hook != nullptr ? 0 : deadline.PollTimeoutMs();
    const int rc = ::poll(&pfd, 1, timeout);
    if (rc > 0) return rc;
    if (rc < 0 && errno != EINTR) return -1;
    if (rc == 0 && deadline.Expired()) return 0;
    if (rc == 0 && slot.hook != nullptr) slot.hook(slot.context);
  }
}

}  // namespace tidal::store_internal
