// Built without -DGRAFT_CUDA=ON, in place of the CUDA backend.
#include "kernels/cuda/cuda_backend.h"

namespace graft {

const Backend& cuda_backend(Device device) {
  built_without_cuda(device);
}

}  // namespace graft
