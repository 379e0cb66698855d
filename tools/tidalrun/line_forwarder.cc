#include "tidalrun/line_forwarder.h"

#include <unistd.h>

#include <cerrno>

namespace tidal::tools {
namespace {

// Writes all of `text`, retrying short writes and EINTR; gives up silently if the terminal is
// gone (tidalrun must keep supervising its ranks).
void WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

LineForwarder::LineForwarder(int fd, int out_fd, std::string prefix)
    : fd_(fd), out_fd_(out_fd), prefix_(std::move(prefix)) {}

LineForwarder::~LineForwarder() { Close(); }

void LineForwarder::WriteLine(std::string_view line) {
  std::string out;
  out.reserve(prefix_.size() + line.size() + 1);
  out += prefix_;
  out += line;
  out += '\n';
  WriteAll(out_fd_, out);
}

void LineForwarder::OnReadable() {
  char buf[16384];
  while (fd_ >= 0) {
    const ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      Close();
      return;
    }
    partial_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl = partial_.find('\n'); nl != std::string::npos;
         nl = partial_.find('\n', start)) {
      WriteLine(std::string_view(partial_).substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
  }
}

void LineForwarder::Close() {
  if (fd_ < 0) return;
  if (!partial_.empty()) WriteLine(partial_);
  partial_.clear();
  ::close(fd_);
  fd_ = -1;
}

}  // namespace tidal::tools
