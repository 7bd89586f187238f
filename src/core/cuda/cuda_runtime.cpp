// The CUDA runtime behind core/cuda_runtime.h (a build with -DGRAFT_CUDA=ON). It links libcudart, which finds the
// driver (libcuda) when it is first called: a machine without a GPU runs everything else and is told why at the
// first use of a CUDA device.
#include "graft/core/cuda_runtime.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <mutex>

#include "graft/core/allocator.h"
#include "graft/core/error.h"

namespace graft::cuda {
namespace {

void check(cudaError_t status, const std::string& what) {
  if (status != cudaSuccess) throw Error("[cuda] " + what + ": " + cudaGetErrorString(status));
}

struct Probe {
  int count = 0;
  std::string reason;  // why there is none, when count is 0
};

Probe probe_devices() {
  Probe probe;
  const cudaError_t status = cudaGetDeviceCount(&probe.count);
  if (status != cudaSuccess) {
    probe.count = 0;
    probe.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
  } else if (probe.count == 0) {
    probe.reason = "cudaGetDeviceCount found none";
  }
  return probe;
}

constexpr int kMaxDevices = 64;

struct DeviceStream {
  std::once_flag made;
  cudaStream_t stream = nullptr;
};

DeviceStream& device_stream(int index) {
  static std::array<DeviceStream, kMaxDevices> streams;
  graft::check(index < kMaxDevices, "cuda",
               "device index " + std::to_string(index) + " beyond the " + std::to_string(kMaxDevices) +
                   " graft keeps streams for");
  return streams[static_cast<size_t>(index)];
}

// The pool keeps what is freed for the next allocation instead of giving it back to the driver at every
// synchronisation: a training step frees and asks again for the same buffers each step.
void keep_freed_memory(int index) {
  cudaMemPool_t pool = nullptr;
  check(cudaDeviceGetDefaultMemPool(&pool, index), "cudaDeviceGetDefaultMemPool");
  uint64_t keep_everything = UINT64_MAX;
  check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_everything), "cudaMemPoolSetAttribute");
}

}  // namespace

bool built_with_cuda() {
  return true;
}

std::string unavailable_reason(Device device) {
  static const Probe probe = probe_devices();
  if (!probe.reason.empty()) return "no CUDA device: " + probe.reason;
  if (device.index >= probe.count) {
    return "no CUDA device " + device_name(device) + " (this machine has " + std::to_string(probe.count) + ")";
  }
  return "";
}

void* stream(Device device) {
  check(cudaSetDevice(device.index), "cudaSetDevice(" + std::to_string(device.index) + ")");
  DeviceStream& entry = device_stream(device.index);
  std::call_once(entry.made, [&] {
    keep_freed_memory(device.index);
    check(cudaStreamCreateWithFlags(&entry.stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  });
  return entry.stream;
}

std::shared_ptr<void> allocate(size_t bytes, Device device) {
  auto* queue = static_cast<cudaStream_t>(stream(device));
  void* memory = nullptr;
  const cudaError_t status = cudaMallocAsync(&memory, std::max<size_t>(bytes, 256), queue);
  if (status != cudaSuccess) {
    throw Error("[memory] cannot allocate " + gigabytes(static_cast<double>(bytes)) + " on " + device_name(device) +
                ": " + cudaGetErrorString(status));
  }
  // Freed in stream order: what the kernels queued before still reads it. At exit the runtime may be gone
  // already; nothing is left to free then.
  return {memory, [queue](void* block) { (void)cudaFreeAsync(block, queue); }};
}

void copy(void* destination, Device to, const void* source, Device from, size_t bytes) {
  if (bytes == 0) return;
  const std::string what = "copy from " + device_name(from) + " to " + device_name(to);
  // Between two GPUs: what the source's stream still writes comes first.
  if (!from.host_memory() && !to.host_memory() && from != to) {
    check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream(from))), what);
  }
  auto* queue = static_cast<cudaStream_t>(stream(to.host_memory() ? from : to));
  check(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDefault, queue), what);
  // Host memory is read or written by the time this returns (the caller may free or read it), and a copy between
  // GPUs is done before the source's stream may free the source. Device-to-device on one GPU stays queued.
  if (to.host_memory() || from.host_memory() || from != to) check(cudaStreamSynchronize(queue), what);
}

void zero(void* destination, Device device, size_t bytes) {
  if (bytes == 0) return;
  check(cudaMemsetAsync(destination, 0, bytes, static_cast<cudaStream_t>(stream(device))), "cudaMemsetAsync");
}

void synchronize(Device device) {
  check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream(device))), "synchronize " + device_name(device));
}

}  // namespace graft::cuda
