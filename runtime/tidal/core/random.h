// SplitMix64: the small, well-mixed, seedable generator tidal uses where it needs reproducible
// pseudo-randomness without global state (delivery shuffles, fault injection, test seeds).
// Not for statistics-grade sampling: the optimizers use counter-based Philox (Random123).
//
// Thread safety: a generator is a value; one per thread or per object.
#pragma once

#include <cstdint>

namespace tidal {

// One splitmix64 step: mixes `x` into a well-distributed 64-bit value.
constexpr uint64_t MixBits(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return MixBits(state_ += 0x9E3779B97F4A7C15ull); }
  // Uniform in [0, n) up to a negligible modulo bias. REQUIRES: n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace tidal
