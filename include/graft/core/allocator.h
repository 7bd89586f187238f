#pragma once
// Memory for tensors. A training step frees and then asks again for the same large buffers (activations,
// gradients) every step; fresh pages from the kernel are zeroed and faulted in one by one, which cost about
// a tenth of a distilbert-base step on 2 cores. So blocks of kCachedBlockBytes and more are kept when freed
// and handed out again for requests of up to their size (and no less than 4/5 of it). Before a fresh block is
// made, cached blocks are freed until live plus cached bytes are within the most bytes ever live at once (the
// peak) and a sixteenth, so the cache raises memory by at most that and the request it makes room for. (Bounding the
// total, fresh block included, by the peak evicted blocks the next layer asked for again: inference on distilbert-base
// at b32 x 128 took 800,000 page faults in five forwards, 418,000 with this bound; a bound of 1.5 times the peak took
// 114,000 but raised a Financial PhraseBank epoch's peak RSS from 4.4 GB to 4.9 GB, where this bound gave 4.3.
// The sixteenth: a step's phases ask for different mixes of sizes, and with the bound at exactly the peak a
// bf16 training step of distilbert-base evicted and fetched afresh 21 blocks, 200 MB, every step, 37,000 page
// faults and 4% of its time; with it, none, and peak RSS did not grow.)
// The cache starts at 64 KiB, not at glibc's mmap threshold: one sentence's activations (96 and 384 KiB in
// distilbert-base) from malloc had their pages given back by glibc's heap trimming after every forward and
// faulted in again, 960 a forward, a tenth of the 10 ms it takes on a 2-core Zen 5.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "graft/core/device.h"

namespace graft {

inline constexpr size_t kCachedBlockBytes = size_t{1} << 16;

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
