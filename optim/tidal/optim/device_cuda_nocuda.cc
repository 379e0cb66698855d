// CudaDevice() (device.h) in a libtidal built without CUDA: there is no CUDA Device.
//
// Thread safety: a pure function.
#include "tidal/optim/device.h"

namespace tidal::optim {

Result<Device*> CudaDevice() {
  return NotSupportedError("cuda device: this libtidal was built without CUDA");
}

}  // namespace tidal::optim
