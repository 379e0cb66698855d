// Running tidal's programs from tests the way a user runs them: through the shell, capturing
// stdout and stderr together, with the exit code and the wall time. Every command a test runs
// carries its own bound (tidalrun --timeout, or timeout(1)).
//
// Thread safety: RunShell may be called from any thread.
#pragma once

#include <string>

namespace tidal::testing {

struct ShellResult {
  int exit_code = -1;  // -1 when the shell did not exit normally
  std::string output;  // stdout and stderr together
  double seconds = 0;  // wall time
};

// Runs `command` with /bin/sh, stderr merged into stdout.
ShellResult RunShell(const std::string& command);

// <build>/bin/<name>: where every tidal executable lands.
std::string BinPath(const std::string& name);

}  // namespace tidal::testing
