#include "graft/train/clipping.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "graft/core/error.h"
#include "graft/core/parallel.h"

namespace graft {
namespace {

// Each chunk's partial sum is formed separately, so the norm does not depend on the thread count.
constexpr int64_t kNormChunk = 1 << 15;
constexpr int64_t kScaleGrain = 1 << 15;
// torch's clip_grad_norm_ guard against dividing by a zero norm.
constexpr float kClipEpsilon = 1e-6f;

bool has_gradient(const Parameter& param) {
  return param.trainable && param.value.numel() > 0 && param.grad.numel() == param.value.numel();
}

double sum_of_squares(const float* values, int64_t begin, int64_t end) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = begin; i < end; ++i) sum += static_cast<double>(values[i]) * values[i];
  return sum;
}

// Accumulated in double, then rounded to fp32 as torch's fp32 norm is; torch's own fp32 accumulation
// order depends on the CPU's vector width, so this is the value it approximates most closely.
float tensor_norm(const Tensor& tensor) {
  const float* values = tensor.data<float>();
  const int64_t numel = tensor.numel();
  const int64_t chunks = (numel + kNormChunk - 1) / kNormChunk;
  std::vector<double> partial_sums(static_cast<size_t>(chunks));
  parallel_for(0, chunks, 1, [&](int64_t first_chunk, int64_t end_chunk) {
    for (int64_t chunk = first_chunk; chunk < end_chunk; ++chunk) {
      partial_sums[static_cast<size_t>(chunk)] =
          sum_of_squares(values, chunk * kNormChunk, std::min(numel, (chunk + 1) * kNormChunk));
    }
  });
  double sum = 0.0;
  for (const double partial : partial_sums) sum += partial;
  return static_cast<float>(std::sqrt(sum));
}

void multiply(Tensor& tensor, float factor) {
  float* values = tensor.data<float>();
  parallel_for(0, tensor.numel(), kScaleGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) values[i] *= factor;
  });
}

}  // namespace

float grad_norm(const ParameterList& params) {
  double sum = 0.0;
  for (const Parameter* param : params) {
    if (!has_gradient(*param)) continue;
    const double norm = tensor_norm(param->grad);
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
    if (has_gradient(*param)) multiply(param->grad, factor);
  }
}

}  // namespace graft
