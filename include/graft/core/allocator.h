#pragma once
// Memory for tensors. A training step frees and then asks again for the same large buffers (activations,
// gradients) every step; fresh pages from the kernel are zeroed and faulted in one by one, which cost about
// a tenth of a distilbert-base step on 2 cores. So blocks of kCachedBlockBytes and more are kept when freed
// and handed out again for requests of up to their size (and no less than 4/5 of it). Live plus cached bytes
// stay under 1.5 times the most bytes that were ever live at once. Not 1: a forward asks for
// blocks of several sizes, and with the bound at the peak itself a request that fit no cached block evicted
// blocks the next layer asked for again (inference on distilbert-base at b32 x 128 took 800,000 page faults in
// five forwards, 114,000 with the bound at 1.5, and its peak RSS went down, 521 MB to 459 MB).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "graft/core/device.h"

namespace graft {

inline constexpr size_t kCachedBlockBytes = size_t{1} << 20;

// 64-byte aligned memory of at least `bytes` on `device`, freed (or cached) when the last owner lets go. The
// host allocator serves the CPU and the checked device; CUDA memory needs a build with CUDA.
std::shared_ptr<void> allocate_storage(size_t bytes, Device device = kCpu);

// What the host can still give: /proc/meminfo's MemAvailable (the kernel's estimate, reclaimable cache
// included), or the free pages where that cannot be read. Sizes a config implies are checked against it
// before anything is allocated.
double available_memory_bytes();
// "12.3 GB"
std::string gigabytes(double bytes);

struct AllocatorStats {
  size_t live_bytes = 0;    // in large blocks now owned by tensors
  size_t cached_bytes = 0;  // in large blocks kept for reuse
  size_t peak_bytes = 0;    // the most live_bytes so far: the bound on live + cached
  int64_t reused = 0;       // large requests served from the cache
  int64_t fresh = 0;        // large requests that went to the system allocator
};
AllocatorStats allocator_stats();

// Frees every cached block (as torch.cuda.empty_cache() does for PyTorch's GPU cache) and restarts the peak.
void release_cached_memory();

}  // namespace graft
