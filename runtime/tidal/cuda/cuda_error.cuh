// CudaError: a CUDA runtime error as a Status, the one translation at tidal's CUDA seam (every .cu
// file uses it). kUnavailable when no usable GPU or driver is there, kIoError otherwise, both
// naming the call and CUDA's error string. For .cu files only (it includes cuda_runtime.h), hence
// .cuh: not part of the installed headers.
//
// Thread safety: a pure function.
#pragma once

#include <cuda_runtime.h>

#include "tidal/core/status.h"

namespace tidal {

inline Status CudaError(const char* what, cudaError_t err) {
  if (err == cudaSuccess) return Status::Ok();
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) {
    return UnavailableError(what, ": ", cudaGetErrorString(err));
  }
  return IoError(what, ": ", cudaGetErrorString(err), " (CUDA error ", static_cast<int>(err), ")");
}

}  // namespace tidal
