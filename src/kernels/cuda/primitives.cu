// The CUDA backend's primitives besides the layers' kernels, each giving what the CPU's (cpu/primitives.cpp)
// gives: the same dropout masks from the same generator, the same pooled means, the same index checks.
#include <algorithm>

#include "kernels/cuda/cuda_kernels.h"

namespace graft::kernels::gpu {
namespace {

// core/random.cpp's Philox4x32-10 and SplitMix64, on the device.
__device__ uint64_t splitmix64(uint64_t value) {
  value += 0x9E3779B97F4A7C15ULL;
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31);
}

__device__ uint4 philox4x32_10(uint64_t index, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(index);
  uint32_t c1 = static_cast<uint32_t>(index >> 32);
  uint32_t c2 = 0;
  uint32_t c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key);
  uint32_t k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9U;
      k1 += 0xBB67AE85U;
    }
    const uint32_t hi0 = __umulhi(0xD2511F53U, c0);
    const uint32_t lo0 = 0xD2511F53U * c0;
    const uint32_t hi1 = __umulhi(0xCD9E8D57U, c2);
    const uint32_t lo1 = 0xCD9E8D57U * c2;
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return {c0, c1, c2, c3};
}

// Chunk `chunk` of parallel_fill (core/random.h) is drawn by the fork of the call's generator with that stream id,
// from its first Philox block on; one thread per block of four words of the draw, of which keep holds the values
// [first, first + count).
__global__ void dropout_keep_kernel(uint8_t* keep, int64_t first, int64_t count, float p, uint64_t call_key) {
  const int64_t blocks_per_chunk = kDrawChunk / 4;
  const int64_t first_block = first / 4;
  GRAFT_CUDA_FOR(i, (first + count + 3) / 4 - first_block) {
    const int64_t block = first_block + i;
    const int64_t chunk = block / blocks_per_chunk;
    const uint64_t key = splitmix64(splitmix64(call_key) ^ static_cast<uint64_t>(chunk));
    const uint4 words = philox4x32_10(static_cast<uint64_t>(block % blocks_per_chunk), key);
    const uint32_t word[4] = {words.x, words.y, words.z, words.w};
    for (int w = 0; w < 4; ++w) {
      const int64_t value = block * 4 + w;
      if (value >= first && value < first + count) {
        keep[value - first] = static_cast<float>(word[w] >> 8) * 0x1p-24F < p ? 0 : 1;
      }
    }
  }
}

__device__ float inverse_count(const int64_t* mask_row, int64_t tokens) {
  int64_t kept = 0;
  for (int64_t t = 0; t < tokens; ++t) kept += mask_row[t] != 0 ? 1 : 0;
  return kept > 0 ? 1.0F / static_cast<float>(kept) : 0.0F;
}

// One thread per (sequence, channel), adding the kept tokens in order as the CPU does.
__global__ void mean_pool_forward_kernel(float* pooled, const float* hidden, const int64_t* mask, int64_t batch,
                                         int64_t tokens, int64_t width) {
  GRAFT_CUDA_FOR(i, batch * width) {
    const int64_t b = i / width;
    const int64_t d = i % width;
    const int64_t* mask_row = mask + b * tokens;
    float sum = 0.0F;
    for (int64_t t = 0; t < tokens; ++t) {
      if (mask_row[t] != 0) sum += hidden[(b * tokens + t) * width + d];
    }
    pooled[i] = sum * inverse_count(mask_row, tokens);
  }
}

__global__ void mean_pool_backward_kernel(float* dhidden, const float* dpooled, const int64_t* mask, int64_t batch,
                                          int64_t tokens, int64_t width) {
  GRAFT_CUDA_FOR(i, batch * tokens * width) {
    const int64_t b = i / (tokens * width);
    const int64_t t = i / width % tokens;
    const int64_t* mask_row = mask + b * tokens;
    dhidden[i] = mask_row[t] != 0 ? dpooled[b * width + i % width] * inverse_count(mask_row, tokens) : 0.0F;
  }
}

// The first position whose id is out of range (count when none).
__global__ void first_out_of_range_kernel(unsigned long long* first, const int64_t* ids, int64_t count, int64_t limit,
                                          bool has_skip, int64_t skip) {
  GRAFT_CUDA_FOR(i, count) {
    const bool skipped = has_skip && ids[i] == skip;
    if (!skipped && (ids[i] < 0 || ids[i] >= limit)) atomicMin(first, static_cast<unsigned long long>(i));
  }
}

__global__ void gather_kernel(int64_t* out, const int64_t* values, const int64_t* positions, int64_t count) {
  GRAFT_CUDA_FOR(i, count) out[i] = values[positions[i]];
}

constexpr int64_t kNormChunk = int64_t{1} << 15;  // cpu/primitives.cpp's

// One block per chunk: its sum of squares in double.
__global__ void chunk_squares_kernel(double* partial, const float* values, int64_t count) {
  GRAFT_CUDA_FOR_ROWS(chunk, (count + kNormChunk - 1) / kNormChunk) {
    const int64_t end = min(count, (chunk + 1) * kNormChunk);
    double sum = 0.0;
    for (int64_t i = chunk * kNormChunk + threadIdx.x; i < end; i += blockDim.x) {
      sum += static_cast<double>(values[i]) * values[i];
    }
    sum = block_sum(sum);
    if (threadIdx.x == 0) partial[chunk] = sum;
  }
}

__global__ void ordered_root_kernel(float* norm, const double* partial, int64_t chunks) {
  double sum = 0.0;
  for (int64_t c = 0; c < chunks; ++c) sum += partial[c];
  *norm = static_cast<float>(sqrt(sum));
}

}  // namespace

void draw_dropout_keep(uint8_t* keep, int64_t first, int64_t count, float p, Generator& generator) {
  // The host draws the call's stream as parallel_fill does, so that the generator advances as on the CPU.
  const Generator call_streams = generator.fork(generator.next_u64());
  if (count == 0) return;
  enqueue("draw_dropout_keep", elementwise_launch((first + count + 3) / 4 - first / 4), dropout_keep_kernel, keep,
          first, count, p, call_streams.state()[0]);
}

void mean_pool_forward(float* pooled, const float* hidden, const int64_t* mask, int64_t batch, int64_t tokens,
                       int64_t width) {
  if (batch * width == 0) return;
  enqueue("mean_pool_forward", elementwise_launch(batch * width), mean_pool_forward_kernel, pooled, hidden, mask, batch,
          tokens, width);
}

void mean_pool_backward(float* dhidden, const float* dpooled, const int64_t* mask, int64_t batch, int64_t tokens,
                        int64_t width) {
  if (batch * tokens * width == 0) return;
  enqueue("mean_pool_backward", elementwise_launch(batch * tokens * width), mean_pool_backward_kernel, dhidden, dpooled,
          mask, batch, tokens, width);
}

bool indices_in_range(const int64_t* ids, int64_t count, int64_t limit, const int64_t* skip, int64_t* bad) {
  if (count == 0) return true;
  const Scratch first(sizeof(unsigned long long));
  const auto none = static_cast<unsigned long long>(count);
  check(cudaMemcpyAsync(first.as<unsigned long long>(), &none, sizeof none, cudaMemcpyHostToDevice, current_stream()),
        "indices_in_range");
  enqueue("indices_in_range", elementwise_launch(count), first_out_of_range_kernel, first.as<unsigned long long>(), ids,
          count, limit, skip != nullptr, skip != nullptr ? *skip : 0);
  const auto position = static_cast<int64_t>(to_host(first.as<unsigned long long>(), 1)[0]);
  if (position == count) return true;
  *bad = to_host(ids + position, 1)[0];
  return false;
}

int64_t labelled_positions(int64_t* positions, const int64_t* labels, int64_t count, int64_t ignore_index) {
  // A compaction of a few thousand labels, once a batch: on the host, where its order is plain.
  const std::vector<int64_t> host_labels = to_host(labels, count);
  std::vector<int64_t> found;
  for (int64_t i = 0; i < count; ++i) {
    if (host_labels[static_cast<size_t>(i)] != ignore_index) found.push_back(i);
  }
  if (!found.empty()) {
    check(cudaMemcpyAsync(positions, found.data(), sizeof(int64_t) * found.size(), cudaMemcpyHostToDevice,
                          current_stream()),
          "labelled_positions");
    check(cudaStreamSynchronize(current_stream()), "labelled_positions");  // found is freed on return
  }
  return static_cast<int64_t>(found.size());
}

void gather_indices(int64_t* out, const int64_t* values, const int64_t* positions, int64_t count) {
  if (count == 0) return;
  enqueue("gather_indices", elementwise_launch(count), gather_kernel, out, values, positions, count);
}

float l2_norm(const float* values, int64_t count) {
  if (count == 0) return 0.0F;
  const int64_t chunks = (count + kNormChunk - 1) / kNormChunk;
  const Scratch partial(sizeof(double) * chunks);
  const Scratch norm(sizeof(float));
  enqueue("l2_norm", row_launch(chunks), chunk_squares_kernel, partial.as<double>(), values, count);
  enqueue("l2_norm", kOneThread, ordered_root_kernel, norm.as<float>(), partial.as<double>(), chunks);
  return to_host(norm.as<float>(), 1)[0];
}

}  // namespace graft::kernels::gpu
