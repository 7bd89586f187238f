#include "graft/core/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

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

class BlockCache {
 public:
  void* take(size_t bytes) {
    const std::lock_guard<std::mutex> lock(mutex_);
    // The smallest cached block that fits, unless it is so much larger that a fresh one wastes less.
    const auto found = blocks_.lower_bound(bytes);
    if (found != blocks_.end() && found->first / 5 * 4 <= bytes) {
      const size_t size = found->first;
      void* memory = found->second;
      blocks_.erase(found);
      cached_bytes_ -= size;
      GRAFT_UNPOISON(memory, size);
      note_live(memory, size);
      ++stats_.reused;
      return memory;
    }
    // Make room under the peak before growing: cached blocks that did not fit go back to the system first.
    while (!blocks_.empty() && live_bytes_ + cached_bytes_ + bytes > std::max(peak_bytes_, live_bytes_ + bytes)) {
      evict_largest();
    }
    void* memory = std::aligned_alloc(kAlignment, bytes);
    if (memory == nullptr) {
      release_all_locked();
      memory = std::aligned_alloc(kAlignment, bytes);
    }
    if (memory == nullptr) throw Error("[tensor] out of memory allocating " + std::to_string(bytes) + " bytes");
    note_live(memory, bytes);
    ++stats_.fresh;
    return memory;
  }

  void give_back(void* memory) {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto owned = live_.find(memory);
    const size_t size = owned->second;
    live_.erase(owned);
    live_bytes_ -= size;
    blocks_.emplace(size, memory);
    cached_bytes_ += size;
    GRAFT_POISON(memory, size);
  }

  AllocatorStats stats() {
    const std::lock_guard<std::mutex> lock(mutex_);
    AllocatorStats stats = stats_;
    stats.live_bytes = live_bytes_;
    stats.cached_bytes = cached_bytes_;
    stats.peak_bytes = peak_bytes_;
    return stats;
  }

  void release_all() {
    const std::lock_guard<std::mutex> lock(mutex_);
    release_all_locked();
    peak_bytes_ = live_bytes_;
  }

 private:
  void note_live(void* memory, size_t size) {
    live_.emplace(memory, size);
    live_bytes_ += size;
    peak_bytes_ = std::max(peak_bytes_, live_bytes_);
  }

  void evict_largest() {
    const auto largest = std::prev(blocks_.end());
    GRAFT_UNPOISON(largest->second, largest->first);
    std::free(largest->second);
    cached_bytes_ -= largest->first;
    blocks_.erase(largest);
  }

  void release_all_locked() {
    while (!blocks_.empty()) evict_largest();
  }

  std::mutex mutex_;
  std::multimap<size_t, void*> blocks_;  // cached, by size
  std::map<void*, size_t> live_;         // handed out, with their sizes
  size_t live_bytes_ = 0, cached_bytes_ = 0, peak_bytes_ = 0;
  AllocatorStats stats_;
};

// Never destroyed: a tensor in static storage may be freed after any other static object.
BlockCache& block_cache() {
  static auto* cache = new BlockCache;
  return *cache;
}

}  // namespace

std::shared_ptr<void> allocate_storage(size_t bytes) {
  const size_t rounded = std::max(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  if (rounded < kCachedBlockBytes) {
    void* memory = std::aligned_alloc(kAlignment, rounded);
    if (memory == nullptr) throw Error("[tensor] out of memory allocating " + std::to_string(bytes) + " bytes");
    return {memory, std::free};
  }
  BlockCache& cache = block_cache();
  return {cache.take(rounded), [&cache](void* memory) { cache.give_back(memory); }};
}

AllocatorStats allocator_stats() {
  return block_cache().stats();
}

void release_cached_memory() {
  block_cache().release_all();
}

}  // namespace graft
