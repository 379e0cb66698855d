// Closed-form data of the DeviceSlowMo tests (multirank on the emulated device, cuda on a GPU), so
// both compare against host SlowMo on the same values: each rank's start, each inner step's
// change (distinct per rank, index and step) and the SlowMo options.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "tidal/optim/slowmo.h"

namespace tidal::testing {

// x_{0,0} on rank r before the broadcast (ranks differ, so the broadcast is checked too).
inline float SlowMoStart(int rank, size_t i) {
  return static_cast<float>(i % 251) * 0.03125f - 3.0f + 100.0f * static_cast<float>(rank);
}
// An inner step's change on rank r (rounds: SlowMo's arithmetic is not exact here, but host and
// device do the same operations).
inline float SlowMoDelta(int rank, size_t i, int step) {
  const size_t k = i * 13 + static_cast<size_t>(rank) * 7 + static_cast<size_t>(step) * 3;
  return static_cast<float>(static_cast<int>(k % 23) - 11) * 0.013f;
}
// SlowMo with alpha 0.75 and beta 0.5 (so both terms of the update matter).
inline optim::SlowMoOptions SlowMoTestOptions(int tau, std::vector<optim::Bucket> buckets) {
  optim::SlowMoOptions options;
  options.alpha = 0.75f;
  options.beta = 0.5f;
  options.tau = tau;
  options.buckets = std::move(buckets);
  return options;
}

}  // namespace tidal::testing
