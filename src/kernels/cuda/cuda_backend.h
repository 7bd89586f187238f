#pragma once
// The CUDA backend's table (cuda/backend.cu), or, in a build without CUDA, the stub that refuses the device
// (cuda/no_cuda_backend.cpp).
#include "graft/kernels/backend.h"

namespace graft {

// The table for `device`, whose runtime is ready and current on the calling thread; graft::Error "[op] <why>
// (device cuda:N)" where the device cannot be used.
const Backend& cuda_backend(Device device);

}  // namespace graft
