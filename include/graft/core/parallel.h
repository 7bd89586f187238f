#pragma once
// The thread pool that graft's own kernels run on. It is OpenMP's: oneDNN runs its GEMMs on the same
// OpenMP threads, so kernels and GEMMs never oversubscribe the cores by competing pools.
#include <cstdint>

namespace graft {

int num_threads();
void set_num_threads(int threads);

// A body called on [begin, end) chunks, by reference: no std::function, whose shared inline members would
// be compiled into each instruction set's kernels (src/kernels/cpu/isa_kernels.h).
struct ChunkBody {
  const void* body;
  void (*call)(const void* body, int64_t begin, int64_t end);
};
void parallel_for_chunks(int64_t begin, int64_t end, int64_t grain, ChunkBody body);

// Calls body(begin_chunk, end_chunk) over [begin, end) split into chunks of at least `grain` items.
template <typename Body>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const Body& body) {
  parallel_for_chunks(begin, end, grain,
                      {&body, [](const void* b, int64_t lo, int64_t hi) { (*static_cast<const Body*>(b))(lo, hi); }});
}

}  // namespace graft
