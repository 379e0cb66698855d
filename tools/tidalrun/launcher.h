// tidalrun's launcher: starts N local ranks of a program, hosts their rendezvous store with a
// fresh secret, prefixes every output line with its rank, forwards signals, and if any rank
// exits non-zero or dies, posts its death to the store, stops the others and fails, naming the
// rank and how it ended.
//
// Each rank gets TIDAL_RANK, TIDAL_WORLD_SIZE, TIDAL_LOCAL_RANK, TIDAL_LOCAL_SIZE,
// TIDAL_STORE_ADDR, TIDAL_STORE_PORT and TIDAL_SECRET in its environment, stdin from /dev/null,
// and its own process group (so that signals reach it once, through tidalrun).
//
// Thread safety: Launch() is called once, from main(); it owns the process's signal mask.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace tidal::tools {

struct LaunchOptions {
  int ranks = 1;
  // Stop every rank after this long (0: never); tidalrun then exits 124.
  std::chrono::milliseconds timeout{0};
  // After a failure or a signal, how long the other ranks get to notice and exit before SIGTERM,
  // and again before SIGKILL.
  std::chrono::milliseconds grace{2000};
  // Prefix output lines with "[rank] ".
  bool tag_output = true;
  // The program and its arguments. REQUIRES: not empty.
  std::vector<std::string> command;
};

// Runs the job and returns tidalrun's exit code: 0 when every rank exited 0; otherwise the first
// failing rank's exit code (128 + signal for a signal), 124 on timeout, 1 on launcher errors.
int Launch(const LaunchOptions& options);

}  // namespace tidal::tools
