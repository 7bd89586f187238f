#pragma once
// What core needs of the CUDA runtime, in a form that compiles without it: device memory from the stream-ordered
// pool, copies to and from the host, and the one stream per device that every kernel and copy is queued on (so no
// free or copy needs a synchronisation of its own). src/core/cuda/ holds the runtime's implementation, built with
// -DGRAFT_CUDA=ON, and the stub that a build without CUDA links instead.
#include <cstddef>
#include <memory>
#include <string>

#include "graft/core/device.h"

namespace graft::cuda {

// Whether this build has the CUDA backend.
bool built_with_cuda();
// Why `device` (a CUDA device) cannot be used here, or "" when it can: "graft was built without CUDA",
// "no CUDA device: <the runtime's reason>", "no CUDA device cuda:3 (this machine has 1)".
std::string unavailable_reason(Device device);

// `bytes` on `device`, taken from and given back to its stream-ordered pool (cudaMallocAsync, cudaFreeAsync).
std::shared_ptr<void> allocate(size_t bytes, Device device);
// Copies `bytes` between any two devices, at least one of them CUDA. A copy to or from host memory, or between two
// GPUs, has finished on return (the host memory may be read or freed, the source's stream may free the source); one
// within a GPU is queued on its stream.
void copy(void* destination, Device to, const void* source, Device from, size_t bytes);
// Sets `bytes` of device memory to zero, queued on its stream.
void zero(void* destination, Device device, size_t bytes);
// Waits until everything queued on the device's stream has run: for timings and for a loss read by the host.
void synchronize(Device device);
// The device's stream (a cudaStream_t), made on first use; the calling thread's current device becomes `device`.
void* stream(Device device);

}  // namespace graft::cuda
