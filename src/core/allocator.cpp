#include "graft/core/allocator.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>

#include "graft/core/cuda_runtime.h"
#include "graft/core/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
// A cached block is poisoned, so that AddressSanitizer still reports a use after free inside it.
#define GRAFT_POISON(address, size) ASAN_POISON_MEMORY_REGION(address, size)
#define GRAFT_UNPOISON(address, size) ASAN_UNPOISON_MEMORY_REGION(address, size)
#else
#define GRAFT_POISON(address, size) ((void)(address), (void)(size))
#define GRAFT_UNPOISON(address, size) ((void)(address), (void)(size))
#endif

namespace graft {
namespace {

// One cache line, and what AVX-512 loads want.
constexpr size_t kAlignment = 64;

// How far above the peak live plus cached bytes may go before cached blocks are evicted: a sixteenth of it.
constexpr size_t kPeakSlackDivisor = 16;

void* aligned_or_throw(size_t bytes) {
  void* memory = std::aligned_alloc(kAlignment, bytes);
  if (memory == nullptr) throw Error("[tensor] out of memory allocating " + std::to_string(bytes) + " bytes");
  return memory;
}

// A block handed out: its memory and its size, which is what give_back() wants (a reused block may be larger
// than the request it serves).
struct Block {
  void* memory;
  size_t bytes;
};

class BlockCache {
 public:
  Block take(size_t bytes) {
    const std::lock_guard<std::mutex> lock(mutex_);
    // The smallest cached block that fits, unless it is so much larger that a fresh one wastes less.
    const auto found = blocks_.lower_bound(bytes);
    if (found != blocks_.end() && found->first / 5 * 4 <= bytes) {
      const Block block{found->second.memory, found->first};
      blocks_.erase(found);
      stats_.cached_bytes -= block.bytes;
      GRAFT_UNPOISON(block.memory, block.bytes);
      ++stats_.reused;
      return note_live(block);
    }
    // Before growing, cached blocks that did not fit go back to the system until live and cached bytes are
    // within the bound: the fresh block may take the total above it by its own size, no more.
    const size_t bound = stats_.peak_bytes + stats_.peak_bytes / kPeakSlackDivisor;
    while (!blocks_.empty() && stats_.live_bytes + stats_.cached_bytes > bound) {
      evict_least_recently_returned();
    }
    void* memory = std::aligned_alloc(kAlignment, bytes);
    if (memory == nullptr) {
      release_all_locked();
      memory = aligned_or_throw(bytes);
    }
    ++stats_.fresh;
    return note_live({memory, bytes});
  }

  void give_back(Block block) {
    const std::lock_guard<std::mutex> lock(mutex_);
    stats_.live_bytes -= block.bytes;
    blocks_.emplace(block.bytes, Cached{block.memory, ++returns_});
    stats_.cached_bytes += block.bytes;
    GRAFT_POISON(block.memory, block.bytes);
  }

  AllocatorStats stats() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void release_all() {
    const std::lock_guard<std::mutex> lock(mutex_);
    release_all_locked();
    stats_.peak_bytes = stats_.live_bytes;
  }

 private:
  Block note_live(Block block) {
    stats_.live_bytes += block.bytes;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
    return block;
  }

  // The block unused for longest goes first: a loop of ops (a forward, a training step) asks for the same sizes
  // in the same order each time, and what it asked for most recently it asks for soonest. Evicting the largest
  // block instead made every inference forward of distilbert-base fetch a quarter of its blocks afresh (and
  // fault their pages in again).
  void evict_least_recently_returned() {
    auto oldest = blocks_.begin();
    for (auto it = blocks_.begin(); it != blocks_.end(); ++it) {
      if (it->second.returned < oldest->second.returned) oldest = it;
    }
    GRAFT_UNPOISON(oldest->second.memory, oldest->first);
    std::free(oldest->second.memory);
    stats_.cached_bytes -= oldest->first;
    blocks_.erase(oldest);
  }

  void release_all_locked() {
    while (!blocks_.empty()) evict_least_recently_returned();
  }

  struct Cached {
    void* memory;
    uint64_t returned;  // when it was given back, in give_back() calls
  };
  std::mutex mutex_;
  std::multimap<size_t, Cached> blocks_;  // by size
  uint64_t returns_ = 0;
  AllocatorStats stats_;
};

// Never destroyed: a tensor in static storage may be freed after any other static object.
BlockCache& block_cache() {
  static auto* cache = new BlockCache;
  return *cache;
}

}  // namespace

std::shared_ptr<void> allocate_storage(size_t bytes, Device device) {
  if (!device.host_memory()) {
    require_available(device);
    return cuda::allocate(bytes, device);
  }
  const size_t rounded = std::max(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  if (rounded < kCachedBlockBytes) return {aligned_or_throw(rounded), std::free};
  BlockCache& cache = block_cache();
  const Block block = cache.take(rounded);
  return {block.memory, [&cache, block](void*) { cache.give_back(block); }};
}

AllocatorStats allocator_stats() {
  return block_cache().stats();
}

void release_cached_memory() {
  block_cache().release_all();
}

double available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kilobytes = 0;
  while (meminfo >> key >> kilobytes) {
    if (key == "MemAvailable:") return kilobytes * 1024.0;
    meminfo.ignore(64, '\n');
  }
  return static_cast<double>(sysconf(_SC_AVPHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

std::string gigabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
  return text;
}

}  // namespace graft
