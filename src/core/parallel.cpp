#include "graft/core/parallel.h"

#include <omp.h>

#include <algorithm>

namespace graft {

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int threads) { omp_set_num_threads(std::max(1, threads)); }

void parallel_for_chunks(int64_t begin, int64_t end, int64_t grain, ChunkBody body) {
  const int64_t count = end - begin;
  if (count <= 0) return;
  const int64_t max_chunks = std::max<int64_t>(1, count / std::max<int64_t>(1, grain));
  const int64_t chunks = std::min<int64_t>(max_chunks, num_threads());
  if (chunks <= 1 || omp_in_parallel()) {
    body.call(body.body, begin, end);
    return;
  }
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t lo = begin + count * chunk / chunks;
    const int64_t hi = begin + count * (chunk + 1) / chunks;
    body.call(body.body, lo, hi);
  }
}

}  // namespace graft
