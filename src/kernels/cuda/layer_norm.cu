// nn.LayerNorm on CUDA, one block per row, with the CPU's precision (per_isa/layer_norm.cpp): sums in double, the
// parameter gradients one thread per channel adding the rows in order.
#include "kernels/cuda/cuda_kernels.h"

namespace graft::kernels::gpu {
namespace {

__global__ void layer_norm_forward_kernel(float* out, float* mean, float* rstd, const float* in, const float* gamma,
                                          const float* beta, int64_t rows, int64_t channels, float eps) {
  GRAFT_CUDA_FOR_ROWS(r, rows) {
    const float* x = in + r * channels;
    float* y = out + r * channels;
    double sum = 0.0;
    for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) sum += x[c];
    const auto mu = static_cast<float>(block_sum(sum) / static_cast<double>(channels));
    double squares = 0.0;
    for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) squares += (x[c] - mu) * (x[c] - mu);
    const float inv = 1.0F / sqrtf(static_cast<float>(block_sum(squares) / static_cast<double>(channels)) + eps);
    for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) y[c] = (x[c] - mu) * inv * gamma[c] + beta[c];
    if (threadIdx.x == 0 && mean != nullptr) mean[r] = mu;
    if (threadIdx.x == 0 && rstd != nullptr) rstd[r] = inv;
  }
}

__global__ void layer_norm_input_gradient_kernel(float* dinput, const float* dout, const float* in, const float* mean,
                                                 const float* rstd, const float* gamma, int64_t rows,
                                                 int64_t channels) {
  GRAFT_CUDA_FOR_ROWS(r, rows) {
    const float* x = in + r * channels;
    const float* dy = dout + r * channels;
    float* dx = dinput + r * channels;
    const float mu = mean[r];
    const float inv = rstd[r];
    double g_sum = 0.0;
    double g_xhat_sum = 0.0;
    for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) {
      g_sum += dy[c] * gamma[c];
      g_xhat_sum += dy[c] * gamma[c] * (x[c] - mu) * inv;
    }
    const auto mean_g = static_cast<float>(block_sum(g_sum) / static_cast<double>(channels));
    const auto mean_g_xhat = static_cast<float>(block_sum(g_xhat_sum) / static_cast<double>(channels));
    for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) {
      const float xhat = (x[c] - mu) * inv;
      dx[c] = inv * (dy[c] * gamma[c] - mean_g - xhat * mean_g_xhat);
    }
  }
}

__global__ void layer_norm_parameter_gradient_kernel(float* dgamma, float* dbeta, const float* dout, const float* in,
                                                     const float* mean, const float* rstd, int64_t rows,
                                                     int64_t channels) {
  GRAFT_CUDA_FOR(c, channels) {
    for (int64_t r = 0; r < rows; ++r) {
      const float dy = dout[r * channels + c];
      if (dgamma != nullptr) dgamma[c] += dy * (in[r * channels + c] - mean[r]) * rstd[r];
      if (dbeta != nullptr) dbeta[c] += dy;
    }
  }
}

}  // namespace

void layer_norm_forward(float* out, float* mean, float* rstd, const float* in, const float* gamma, const float* beta,
                        int64_t rows, int64_t channels, float eps) {
  if (rows == 0) return;
  enqueue("layer_norm_forward", row_launch(rows), layer_norm_forward_kernel, out, mean, rstd, in, gamma, beta, rows,
          channels, eps);
}

void layer_norm_backward(float* dinput, float* dgamma, float* dbeta, const float* dout, const float* in,
                         const float* mean, const float* rstd, const float* gamma, int64_t rows, int64_t channels) {
  if (rows == 0) return;
  if (dinput != nullptr) {
    enqueue("layer_norm_backward (input)", row_launch(rows), layer_norm_input_gradient_kernel, dinput, dout, in, mean,
            rstd, gamma, rows, channels);
  }
  if (dgamma != nullptr || dbeta != nullptr) {
    enqueue("layer_norm_backward (parameters)", elementwise_launch(channels), layer_norm_parameter_gradient_kernel,
            dgamma, dbeta, dout, in, mean, rstd, rows, channels);
  }
}

}  // namespace graft::kernels::gpu
