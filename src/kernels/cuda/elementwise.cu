// Elementwise kernels, embeddings and row copies, each the CPU's formula (per_isa/elementwise.cpp) in CUDA's
// libm; nvcc's --fmad=false keeps the roundings of each product and sum.
#include "kernels/cuda/cuda_kernels.h"

namespace graft::kernels::gpu {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752F;
constexpr float kInvSqrt2Pi = 0.39894228040143268F;

__device__ float gelu(float x) {
  return 0.5F * x * (1.0F + erff(x * kInvSqrt2));
}
__device__ float gelu_derivative(float x) {
  return 0.5F * (1.0F + erff(x * kInvSqrt2)) + x * kInvSqrt2Pi * expf(-0.5F * x * x);
}

__global__ void activation_forward_kernel(Activation activation, float* out, const float* in, int64_t count) {
  GRAFT_CUDA_FOR(i, count) {
    const float x = in[i];
    out[i] = activation == Activation::Gelu   ? gelu(x)
             : activation == Activation::Relu ? (x > 0.0F ? x : 0.0F)
                                              : tanhf(x);
  }
}

__global__ void activation_backward_kernel(Activation activation, float* dinput, const float* dout, const float* saved,
                                           int64_t count) {
  GRAFT_CUDA_FOR(i, count) {
    const float s = saved[i];
    switch (activation) {
      case Activation::Gelu: dinput[i] = dout[i] * gelu_derivative(s); break;
      case Activation::Relu: dinput[i] = s > 0.0F ? dout[i] : 0.0F; break;
      case Activation::Tanh: dinput[i] = dout[i] * (1.0F - s * s); break;
    }
  }
}

__global__ void embedding_forward_kernel(float* out, const int64_t* ids, const float* table, int64_t rows,
                                         int64_t channels) {
  GRAFT_CUDA_FOR(i, rows * channels) out[i] = table[ids[i / channels] * channels + i % channels];
}

// Rows may repeat an id: one thread per channel adds the rows in order (deterministic, no atomics, the CPU's sums).
__global__ void embedding_backward_kernel(float* dtable, const int64_t* ids, const float* dout, int64_t rows,
                                          int64_t channels) {
  GRAFT_CUDA_FOR(c, channels) {
    for (int64_t r = 0; r < rows; ++r) dtable[ids[r] * channels + c] += dout[r * channels + c];
  }
}

__global__ void add_kernel(float* y, const float* x, int64_t count) {
  GRAFT_CUDA_FOR(i, count) y[i] += x[i];
}

__global__ void dropout_kernel(float* out, const float* in, const uint8_t* keep, float scale, int64_t count) {
  GRAFT_CUDA_FOR(i, count) out[i] = in[i] * (scale * static_cast<float>(keep[i]));
}

__global__ void scale_kernel(float* values, float factor, int64_t count) {
  GRAFT_CUDA_FOR(i, count) values[i] *= factor;
}

}  // namespace

void activation_forward(Activation activation, float* out, const float* in, int64_t count) {
  if (count == 0) return;
  enqueue("activation_forward", elementwise_launch(count), activation_forward_kernel, activation, out, in, count);
}

void activation_backward(Activation activation, float* dinput, const float* dout, const float* saved, int64_t count) {
  if (count == 0) return;
  enqueue("activation_backward", elementwise_launch(count), activation_backward_kernel, activation, dinput, dout, saved,
          count);
}

void embedding_forward(float* out, const int64_t* ids, const float* table, int64_t rows, int64_t channels) {
  if (rows * channels == 0) return;
  enqueue("embedding_forward", elementwise_launch(rows * channels), embedding_forward_kernel, out, ids, table, rows,
          channels);
}

void embedding_backward(float* dtable, const int64_t* ids, const float* dout, int64_t rows, int64_t channels) {
  if (rows * channels == 0) return;
  enqueue("embedding_backward", elementwise_launch(channels), embedding_backward_kernel, dtable, ids, dout, rows,
          channels);
}

void add_inplace(float* y, const float* x, int64_t count) {
  if (count == 0) return;
  enqueue("add_inplace", elementwise_launch(count), add_kernel, y, x, count);
}

void apply_dropout(float* out, const float* in, DropoutMask dropout, int64_t count) {
  if (count == 0) return;
  enqueue("apply_dropout", elementwise_launch(count), dropout_kernel, out, in, dropout.keep, dropout.scale, count);
}

void scale_inplace(float* values, float factor, int64_t count) {
  if (count == 0) return;
  enqueue("scale_inplace", elementwise_launch(count), scale_kernel, values, factor, count);
}

void copy_rows(float* out, int64_t out_stride, const float* in, int64_t in_stride, int64_t rows, int64_t width) {
  if (rows * width == 0) return;
  check(cudaMemcpy2DAsync(out, sizeof(float) * out_stride, in, sizeof(float) * in_stride, sizeof(float) * width, rows,
                          cudaMemcpyDeviceToDevice, current_stream()),
        "copy_rows");
}

}  // namespace graft::kernels::gpu
