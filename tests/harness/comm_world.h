// A Communicator for a harness rank (world.h): the engine borrows the rank's transport, a
// liveness watcher polls the world's store, and placements come from a synthetic layout so that
// tests choose the ring order (interleaved hosts make ring order differ from rank order).
//
// Thread safety: called from the rank's own body; the result belongs to that rank.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "harness/world.h"
#include "tidal/comm/communicator.h"

namespace tidal::testing {

enum class Layout {
  kOneHost,      // every rank on one host: ring order = rank order
  kInterleaved,  // rank r on host r % 2: the ring visits even ranks, then odd ones
  kHosts,        // rank r on host CommSetup::hosts[r] (any number of hosts, uneven allowed)
};

struct CommSetup {
  Layout layout = Layout::kInterleaved;
  // kHosts: the host of every rank (size = world size); hosts are named "h<id>".
  std::vector<int> hosts;
  // How often the liveness watcher polls the store for deaths.
  std::chrono::milliseconds liveness_poll{50};
  // The communicator's per-operation timeout; zero: the world's timeout.
  std::chrono::milliseconds timeout{0};
};

// Creates the world communicator of `env`'s world (collective over all ranks). On failure records
// a gtest failure and returns nullptr.
std::unique_ptr<Communicator> MakeCommunicator(RankEnv& env, const CommSetup& setup = {});
// MakeCommunicator with every rank on one host (the on-host shm collectives can run).
std::unique_ptr<Communicator> MakeOneHostCommunicator(RankEnv& env);

}  // namespace tidal::testing
