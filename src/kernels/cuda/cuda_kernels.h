#pragma once
// What the CUDA backend's files share: its kernels, declared by the backend table's types (a signature that
// drifts from kernels.h does not compile), error checks, the device's stream, stream-ordered scratch memory, the
// cuBLASLt product and the block reductions. Included by .cu files only.
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "graft/core/cuda_runtime.h"
#include "graft/core/error.h"
#include "graft/kernels/backend.h"
#include "kernels/cuda/launch_geometry.h"

namespace graft::kernels::gpu {

#define GRAFT_DECLARE_CUDA_KERNEL(function) decltype(kernels::function) function;
GRAFT_BACKEND_FUNCTIONS(GRAFT_DECLARE_CUDA_KERNEL)
#undef GRAFT_DECLARE_CUDA_KERNEL

// graft::Error "[cuda] <what>: <the runtime's message>" unless status is cudaSuccess.
void check(cudaError_t status, const char* what);
// After a launch: a bad configuration is reported here, a fault at the next synchronisation.
inline void check_launch(const char* kernel) {
  check(cudaGetLastError(), kernel);
}

// Queues kernel<<<geometry>>>(arguments...) on the current stream; a bad launch is reported naming `op`.
template <class... Parameters, class... Arguments>
void enqueue(const char* op, Launch geometry, void (*kernel)(Parameters...), Arguments... arguments);

// The stream of the calling thread's current device (set by cuda_backend), on which everything is queued.
cudaStream_t current_stream();

template <class... Parameters, class... Arguments>
void enqueue(const char* op, Launch geometry, void (*kernel)(Parameters...), Arguments... arguments) {
  kernel<<<geometry.blocks, geometry.threads, 0, current_stream()>>>(arguments...);
  check_launch(op);
}

// Device memory for the length of one call, freed in stream order (the kernels queued before the free still
// read it).
class Scratch {
 public:
  explicit Scratch(size_t bytes);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  cudaStream_t stream_ = nullptr;  // of the device it came from, for the free (which must not throw)
};

// count values from device memory, once the queued work has written them.
template <class T>
std::vector<T> to_host(const T* values, int64_t count) {
  std::vector<T> host(static_cast<size_t>(count));
  if (count == 0) return host;
  check(cudaMemcpyAsync(host.data(), values, sizeof(T) * static_cast<size_t>(count), cudaMemcpyDeviceToHost,
                        current_stream()),
        "copy to the host");
  check(cudaStreamSynchronize(current_stream()), "copy to the host");
  return host;
}

// One operand of a product: fp32 values, or (for a BF16 product) values already rounded to bf16 with the same
// layout; where a BF16 product has only the fp32 ones it rounds them into scratch memory first. batch_stride: the
// elements between the matrices of a batched product.
struct Operand {
  const float* f32 = nullptr;
  const uint16_t* bf16 = nullptr;
  int64_t ld = 0;
  int64_t batch_stride = 0;
};
// C[M,N] = alpha op(A) op(B) + beta C (+ row_bias[N] on every row: alpha 1, beta 0), row-major, for `batch`
// matrices c_stride apart, through cuBLASLt: fp32 sums of fp32 operands (no TF32), or of bf16 operands for BF16.
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b,
          float beta, float* c, int64_t ldc, DType precision, const float* row_bias = nullptr, int64_t batch = 1,
          int64_t c_stride = 0);

// The sum of a block's values in a fixed order (so every run gives the same bits); every thread gets it.
// blockDim.x must be a multiple of 32 and at most 1024.
template <class T>
__device__ T block_sum(T value) {
  __shared__ T partial[32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffU, value, offset);
  const unsigned lane = threadIdx.x % 32;
  const unsigned warp = threadIdx.x / 32;
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  T total = 0;
  if (warp == 0) {
    total = lane < blockDim.x / 32 ? partial[lane] : T{0};
    for (int offset = 16; offset > 0; offset /= 2) total += __shfl_down_sync(0xffffffffU, total, offset);
    if (lane == 0) partial[0] = total;
  }
  __syncthreads();
  return partial[0];
}

__device__ inline float block_max(float value) {
  __shared__ float partial[32];
  for (int offset = 16; offset > 0; offset /= 2) value = fmaxf(value, __shfl_down_sync(0xffffffffU, value, offset));
  const unsigned lane = threadIdx.x % 32;
  const unsigned warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  if (warp == 0) {
    float largest = lane < blockDim.x / 32 ? partial[lane] : -INFINITY;
    for (int offset = 16; offset > 0; offset /= 2)
      largest = fmaxf(largest, __shfl_down_sync(0xffffffffU, largest, offset));
    if (lane == 0) partial[0] = largest;
  }
  __syncthreads();
  return partial[0];
}

// The bits of round_to_bf16 on the CPU (core/dtype.h: float_to_bfloat16).
__device__ inline uint16_t to_bfloat16(float value) {
  const uint32_t word = __float_as_uint(value);
  const uint32_t rounded = (word + 0x7fffU + ((word >> 16) & 1U)) >> 16;
  const uint32_t quiet_nan = (word >> 16) | 0x40U;
  return static_cast<uint16_t>((word & 0x7fffffffU) > 0x7f800000U ? quiet_nan : rounded);
}

// Grid-stride loop over [0, count).
#define GRAFT_CUDA_FOR(i, count) \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (count); i += int64_t{gridDim.x} * blockDim.x)
// One block per row, over [0, rows).
#define GRAFT_CUDA_FOR_ROWS(r, rows) for (int64_t r = blockIdx.x; r < (rows); r += gridDim.x)

}  // namespace graft::kernels::gpu
