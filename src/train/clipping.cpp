#include "graft/train/clipping.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "graft/core/error.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

// torch's clip_grad_norm_ guard against dividing by a zero norm.
constexpr float kClipEpsilon = 1e-6f;

bool has_gradient(const Parameter& param) {
  return param.trainable && param.value.numel() > 0 && param.grad.numel() == param.value.numel();
}

}  // namespace

float grad_norm(const ParameterList& params) {
  double sum = 0.0;
  for (const Parameter* param : params) {
    if (!has_gradient(*param)) continue;
    // Each tensor's norm is rounded to fp32, as torch's fp32 norms are (ops::l2_norm).
    const double norm = ops::l2_norm(param->grad);
    sum += norm * norm;
  }
  return static_cast<float>(std::sqrt(sum));
}

float clip_grad_norm(const ParameterList& params, float max_norm) {
  check(max_norm > 0.0f, "clip_grad_norm", "max_norm must be > 0, got " + std::to_string(max_norm));
  const float total_norm = grad_norm(params);
  // torch computes max_norm / (norm + eps) as a tensor: reciprocal first, then the product.
  const float clip_coef = (1.0f / (total_norm + kClipEpsilon)) * max_norm;
  // std::min keeps a NaN coefficient, as torch.clamp does.
  const float clamped_coef = std::min(clip_coef, 1.0f);
  scale_grads(params, clamped_coef);
  return total_norm;
}

void scale_grads(const ParameterList& params, float factor) {
  for (Parameter* param : params) {
    if (has_gradient(*param)) ops::scale(param->grad, factor);
  }
}

}  // namespace graft
