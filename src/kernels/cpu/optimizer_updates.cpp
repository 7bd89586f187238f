// The optimizers' updates, one fp32 operation at a time as torch's single-tensor paths compute them:
// AdamW (torch/optim/adam.py, _single_tensor_adam), with the scalars derived in double as Python does:
//   param.mul_(1 - lr * weight_decay)
//   exp_avg.lerp_(grad, 1 - beta1)                 CPU lerp: fma(weight, grad - m, m) for weight < 0.5
//   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
//   denom = (exp_avg_sq.sqrt() / bias_correction2 ** 0.5).add_(eps)
//   param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
// SGD (torch/optim/sgd.py, _sgd), dampening 0; every `add(x, alpha=a)` of torch's CPU kernels is
// fma(x, a, self), so the updates use fma where torch's do:
//   grad = grad.add(param, alpha=weight_decay)
//   buf = grad.clone() on the first step, else buf.mul_(momentum).add_(grad)
//   grad = grad.add(buf, alpha=momentum) if nesterov else buf
//   param.add_(grad, alpha=-lr)
// GCC fuses a * b + c into one fma by default in C++; torch's kernels round each product and sum
// separately except where they call fma themselves, so fusing here would break bit parity.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <cmath>

#include "graft/core/parallel.h"
#include "graft/kernels/kernels.h"

namespace graft::kernels {
namespace {

constexpr int64_t kUpdateGrain = 1 << 15;

void adamw_range(float* __restrict param, const float* __restrict grad, float* __restrict exp_avg,
                 float* __restrict exp_avg_sq, int64_t begin, int64_t end, AdamWScalars s) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = grad[i];
    const float p = param[i] * s.decay_factor;
    const float m = std::fma(s.lerp_coeff, g - exp_avg[i], s.lerp_from_start ? exp_avg[i] : g);
    const float v = exp_avg_sq[i] * s.beta2 + s.one_minus_beta2 * g * g;
    const float denom = std::sqrt(v) / s.bias_correction2_sqrt + s.eps;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p + s.neg_step_size * m / denom;
  }
}

float decayed_grad(float grad, float param, float weight_decay) {
  return std::fma(param, weight_decay, grad);
}

void sgd_range(float* __restrict param, const float* __restrict grad, int64_t begin, int64_t end, SGDScalars s) {
  for (int64_t i = begin; i < end; ++i)
    param[i] = std::fma(decayed_grad(grad[i], param[i], s.weight_decay), s.neg_lr, param[i]);
}

void sgd_momentum_range(float* __restrict param, const float* __restrict grad, float* __restrict buffer, int64_t begin,
                        int64_t end, SGDScalars s) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = decayed_grad(grad[i], param[i], s.weight_decay);
    const float b = s.first_step ? g : buffer[i] * s.momentum + g;
    const float direction = s.nesterov ? std::fma(b, s.momentum, g) : b;
    buffer[i] = b;
    param[i] = std::fma(direction, s.neg_lr, param[i]);
  }
}

}  // namespace

void adamw_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t count,
                  AdamWScalars scalars) {
  parallel_for(0, count, kUpdateGrain,
               [&](int64_t begin, int64_t end) { adamw_range(param, grad, exp_avg, exp_avg_sq, begin, end, scalars); });
}

void sgd_update(float* param, const float* grad, float* buffer, int64_t count, SGDScalars scalars) {
  parallel_for(0, count, kUpdateGrain, [&](int64_t begin, int64_t end) {
    if (buffer != nullptr) {
      sgd_momentum_range(param, grad, buffer, begin, end, scalars);
    } else {
      sgd_range(param, grad, begin, end, scalars);
    }
  });
}

}  // namespace graft::kernels
