#pragma once
// The thread pool that graft's own kernels run on. It is OpenMP's: oneDNN runs its GEMMs on the same
// OpenMP threads, so kernels and GEMMs never oversubscribe the cores by competing pools.
#include <cstdint>
#include <functional>

namespace graft {

int num_threads();
void set_num_threads(int threads);

// Calls body(begin_chunk, end_chunk) over [begin, end) split into chunks of at least `grain` items.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& body);

}  // namespace graft
