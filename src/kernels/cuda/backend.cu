// The CUDA backend's table, and what its files share at run time: checks, the stream, scratch memory.
#include <string>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_kernels.h"

namespace graft {
namespace kernels::gpu {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw Error(std::string("[cuda] ") + what + ": " + cudaGetErrorString(status));
}

cudaStream_t current_stream() {
  int index = 0;
  check(cudaGetDevice(&index), "cudaGetDevice");
  return static_cast<cudaStream_t>(graft::cuda::stream({DeviceType::Cuda, index}));
}

Scratch::Scratch(size_t bytes) {
  if (bytes == 0) return;
  stream_ = current_stream();
  check(cudaMallocAsync(&data_, bytes, stream_), "scratch memory");
}

Scratch::~Scratch() {
  if (data_ != nullptr) (void)cudaFreeAsync(data_, stream_);
}

}  // namespace kernels::gpu

namespace {

constinit const Backend kCudaBackend = {"cuda",
#define GRAFT_CUDA_BACKEND_ADDRESS(function) &kernels::gpu::function,
                                        GRAFT_BACKEND_FUNCTIONS(GRAFT_CUDA_BACKEND_ADDRESS)
#undef GRAFT_CUDA_BACKEND_ADDRESS
};

}  // namespace

const Backend& cuda_backend(Device device) {
  require_available(device);
  (void)graft::cuda::stream(device);  // makes the device current on this thread
  return kCudaBackend;
}

}  // namespace graft
