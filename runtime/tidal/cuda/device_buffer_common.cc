#include "tidal/cuda/device_buffer.h"

namespace tidal {

void FillPatternHost(uint32_t* dst, size_t count, uint32_t rank, uint32_t seed) {
  for (size_t i = 0; i < count; ++i) dst[i] = PatternWord(i, rank, seed);
}

}  // namespace tidal
