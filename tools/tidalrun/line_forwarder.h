// LineForwarder: copies one child pipe to tidalrun's stdout or stderr, a whole line at a time,
// each line prefixed with the rank ("[2] ..."), so that lines of different ranks never interleave
// mid-line. A partial last line is flushed (with a newline) when the pipe closes.
//
// Thread safety: single-threaded (tidalrun's event loop).
#pragma once

#include <string>

namespace tidal::tools {

class LineForwarder {
 public:
  // Takes ownership of `fd` (non-blocking read end of a pipe).
  LineForwarder(int fd, int out_fd, std::string prefix);
  ~LineForwarder();
  LineForwarder(const LineForwarder&) = delete;
  LineForwarder& operator=(const LineForwarder&) = delete;

  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  // Reads what is available and writes complete lines; at EOF flushes and closes.
  void OnReadable();
  // Flushes a partial line and closes the pipe.
  void Close();

 private:
  void WriteLine(std::string_view line);

  int fd_;
  int out_fd_;
  std::string prefix_;
  std::string partial_;
};

}  // namespace tidal::tools
