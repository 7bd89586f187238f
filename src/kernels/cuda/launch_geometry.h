#pragma once
// How many blocks of how many threads a CUDA kernel is launched with: host arithmetic, tested without a GPU
// (tests/unit/cuda_launch_test.cpp). Kernels loop over what one launch does not cover (grid-stride), so any
// count runs with a bounded grid.
#include <algorithm>
#include <cstdint>

namespace graft::kernels::gpu {

struct Launch {
  unsigned blocks;
  unsigned threads;
};

inline constexpr unsigned kThreads = 256;
// Enough blocks to fill any current GPU many times over; more only add scheduling.
inline constexpr int64_t kMaxBlocks = int64_t{1} << 16;

// One thread: for a sum in a fixed order over a few values.
inline constexpr Launch kOneThread{1, 1};

// One thread per element: ceil(count / threads) blocks, at least 1 and at most kMaxBlocks.
inline Launch elementwise_launch(int64_t count, unsigned threads = kThreads) {
  const int64_t blocks = (std::max<int64_t>(count, 1) + threads - 1) / threads;
  return {static_cast<unsigned>(std::min(blocks, kMaxBlocks)), threads};
}

// One block per row, at most kMaxBlocks (each block then takes every kMaxBlocks-th row).
inline Launch row_launch(int64_t rows, unsigned threads = kThreads) {
  return {static_cast<unsigned>(std::clamp<int64_t>(rows, 1, kMaxBlocks)), threads};
}

}  // namespace graft::kernels::gpu
