#include "tidal/core/check.h"

#include <unistd.h>

#include <cstdlib>

#include "tidal/core/logging.h"

namespace tidal::internal {

FatalMessage::FatalMessage(const char* file, int line, const std::string& what) {
  stream_ << "tidal[" << LogRankTag() << "] FATAL " << file << ":" << line << " " << what << " ";
}

FatalMessage::~FatalMessage() {
  stream_ << "\n";
  const std::string text = std::move(stream_).str();
  // One write so that lines from different ranks do not interleave.
  ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
  std::abort();
}

}  // namespace tidal::internal
