// Built without -DGRAFT_CUDA=ON, in place of cuda_runtime.cpp: every CUDA device is refused with the stub's message.
#include "graft/core/cuda_runtime.h"

namespace graft::cuda {

bool built_with_cuda() {
  return false;
}

std::string unavailable_reason(Device /*device*/) {
  return "graft was built without CUDA";
}

std::shared_ptr<void> allocate(size_t /*bytes*/, Device device) {
  built_without_cuda(device);
}

void copy(void* /*destination*/, Device to, const void* /*source*/, Device from, size_t /*bytes*/) {
  built_without_cuda(to.host_memory() ? from : to);
}

void zero(void* /*destination*/, Device device, size_t /*bytes*/) {
  built_without_cuda(device);
}

void synchronize(Device device) {
  built_without_cuda(device);
}

void* stream(Device device) {
  built_without_cuda(device);
}

}  // namespace graft::cuda
