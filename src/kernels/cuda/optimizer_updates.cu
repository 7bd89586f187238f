// The optimizers' updates on CUDA, one fp32 operation at a time as torch computes them (cpu/optimizer_updates.cpp
// says which): --fmad=false keeps products and sums apart, fmaf is written where torch's kernels use fma.
#include "kernels/cuda/cuda_kernels.h"

namespace graft::kernels::gpu {
namespace {

__global__ void adamw_kernel(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t count,
                             AdamWScalars s) {
  GRAFT_CUDA_FOR(i, count) {
    const float g = grad[i];
    const float p = param[i] * s.decay_factor;
    const float m = fmaf(s.lerp_coeff, g - exp_avg[i], s.lerp_from_start ? exp_avg[i] : g);
    const float v = exp_avg_sq[i] * s.beta2 + s.one_minus_beta2 * g * g;
    const float denom = sqrtf(v) / s.bias_correction2_sqrt + s.eps;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p + s.neg_step_size * m / denom;
  }
}

__global__ void sgd_kernel(float* param, const float* grad, float* buffer, int64_t count, SGDScalars s) {
  GRAFT_CUDA_FOR(i, count) {
    const float g = fmaf(param[i], s.weight_decay, grad[i]);
    if (buffer == nullptr) {
      param[i] = fmaf(g, s.neg_lr, param[i]);
      continue;
    }
    const float b = s.first_step ? g : buffer[i] * s.momentum + g;
    const float direction = s.nesterov ? fmaf(b, s.momentum, g) : b;
    buffer[i] = b;
    param[i] = fmaf(direction, s.neg_lr, param[i]);
  }
}

}  // namespace

void adamw_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t count,
                  AdamWScalars scalars) {
  if (count == 0) return;
  enqueue("adamw_update", elementwise_launch(count), adamw_kernel, param, grad, exp_avg, exp_avg_sq, count, scalars);
}

void sgd_update(float* param, const float* grad, float* buffer, int64_t count, SGDScalars scalars) {
  if (count == 0) return;
  enqueue("sgd_update", elementwise_launch(count), sgd_kernel, param, grad, buffer, count, scalars);
}

}  // namespace graft::kernels::gpu
