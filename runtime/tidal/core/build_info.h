// What this libtidal was built with, and what it finds at run time: the facts `tidal-info` prints
// and bug reports need (version, build type, compiler, sanitizers, CUDA).
//
// Thread safety: all functions are thread-safe.
#pragma once

#include <string>

namespace tidal {

struct BuildInfo {
  std::string version;     // "0.1.0"
  std::string build_type;  // "Release", "Debug", ...
  std::string compiler;    // "GCC 12.2.0", "Clang 14.0.6"
  std::string sanitizers;  // "" or "address,undefined"
  bool cuda_compiled = false;
};

const BuildInfo& GetBuildInfo();

// CUDA devices visible to this process: 0 without CUDA support compiled in, without a driver, or
// without a GPU. `detail` (optional) receives why, e.g. "no CUDA-capable device is detected".
int CudaDeviceCount(std::string* detail = nullptr);

}  // namespace tidal
