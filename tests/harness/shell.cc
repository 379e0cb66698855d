#include "harness/shell.h"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>

namespace tidal::testing {

ShellResult RunShell(const std::string& command) {
  const auto start = std::chrono::steady_clock::now();
  ShellResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string BinPath(const std::string& name) {
  return std::string(TIDAL_BINARY_DIR) + "/bin/" + name;
}

}  // namespace tidal::testing
