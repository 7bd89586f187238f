#include "graft/kernels/backend.h"

#include "kernels/cuda/cuda_backend.h"

namespace graft {
namespace {

constinit const Backend kCpuBackend = {"cpu",
#define GRAFT_BACKEND_ADDRESS(function) &kernels::function,
                                       GRAFT_BACKEND_FUNCTIONS(GRAFT_BACKEND_ADDRESS)
#undef GRAFT_BACKEND_ADDRESS
};

}  // namespace

const Backend& backend_for(Device device) {
  if (!device.host_memory()) return cuda_backend(device);
  return kCpuBackend;
}

}  // namespace graft
