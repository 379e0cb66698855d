#include "tidal/core/build_info.h"

#include "tidal/core/strcat.h"

#ifdef TIDAL_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tidal {
namespace {

std::string CompilerName() {
#if defined(__clang__)
  return StrCat("Clang ", __clang_major__, ".", __clang_minor__, ".", __clang_patchlevel__);
#elif defined(__GNUC__)
  return StrCat("GCC ", __GNUC__, ".", __GNUC_MINOR__, ".", __GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

}  // namespace

const BuildInfo& GetBuildInfo() {
  static const BuildInfo info = [] {
    BuildInfo b;
    b.version = TIDAL_VERSION;
    b.build_type = TIDAL_BUILD_TYPE;
    b.compiler = CompilerName();
    b.sanitizers = TIDAL_SANITIZE_FLAGS;
#ifdef TIDAL_HAVE_CUDA
    b.cuda_compiled = true;
#endif
    return b;
  }();
  return info;
}

int CudaDeviceCount(std::string* detail) {
#ifdef TIDAL_HAVE_CUDA
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (detail) *detail = cudaGetErrorString(err);
    return 0;
  }
  if (detail) *detail = StrCat(count, " device(s)");
  return count;
#else
  if (detail) *detail = "built without CUDA";
  return 0;
#endif
}

}  // namespace tidal
