#include <cmath>

#include "graft/kernels/kernels.h"

namespace graft::kernels {

float cross_entropy(const float* logits, const int64_t* labels, float* dlogits, int64_t rows, int64_t classes,
                    int64_t ignore_index, const float* class_weights, float scale) {
  // torch's weighted mean: sum_i w[y_i] * nll_i / sum_i w[y_i], over rows not ignored.
  double total = 0.0;
  double weight_sum = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    if (labels[r] == ignore_index) continue;
    const float* x = logits + r * classes;
    float largest = x[0];
    for (int64_t c = 1; c < classes; ++c) largest = std::fmax(largest, x[c]);
    double sum = 0.0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(x[c] - largest));
    const double log_sum = std::log(sum) + largest;
    const double weight = class_weights != nullptr ? class_weights[labels[r]] : 1.0;
    total += weight * (log_sum - x[labels[r]]);
    weight_sum += weight;
  }
  if (dlogits != nullptr) {
    for (int64_t r = 0; r < rows; ++r) {
      float* g = dlogits + r * classes;
      if (labels[r] == ignore_index || weight_sum == 0.0) {
        for (int64_t c = 0; c < classes; ++c) g[c] = 0.0F;
        continue;
      }
      const float* x = logits + r * classes;
      float largest = x[0];
      for (int64_t c = 1; c < classes; ++c) largest = std::fmax(largest, x[c]);
      float sum = 0.0F;
      for (int64_t c = 0; c < classes; ++c) sum += std::exp(x[c] - largest);
      const double weight = class_weights != nullptr ? class_weights[labels[r]] : 1.0;
      const auto factor = static_cast<float>(weight / weight_sum * scale);
      for (int64_t c = 0; c < classes; ++c) g[c] = std::exp(x[c] - largest) / sum * factor;
      g[labels[r]] -= factor;
    }
  }
  return weight_sum == 0.0 ? 0.0F : static_cast<float>(total / weight_sum);
}

float binary_cross_entropy_with_logits(const float* logits, const float* targets, float* dlogits, int64_t count,
                                       float scale) {
  double total = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double x = logits[i];
    // max(x,0) - x*y + log(1 + exp(-|x|)): stable for large |x|
    total += std::fmax(x, 0.0) - x * targets[i] + std::log1p(std::exp(-std::fabs(x)));
    if (dlogits != nullptr) {
      const float sigmoid = 1.0F / (1.0F + std::exp(-logits[i]));
      dlogits[i] = (sigmoid - targets[i]) / static_cast<float>(count) * scale;
    }
  }
  return count == 0 ? 0.0F : static_cast<float>(total / static_cast<double>(count));
}

float mean_squared_error(const float* predictions, const float* targets, float* dpredictions, int64_t count,
                         float scale) {
  double total = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double diff = static_cast<double>(predictions[i]) - targets[i];
    total += diff * diff;
    if (dpredictions != nullptr) {
      dpredictions[i] = static_cast<float>(2.0 * diff / static_cast<double>(count) * scale);
    }
  }
  return count == 0 ? 0.0F : static_cast<float>(total / static_cast<double>(count));
}

}  // namespace graft::kernels
