#include <algorithm>
#include <cmath>

#include "graft/core/parallel.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/per_isa/vector_math.h"
#include "kernels/cpu/scratch.h"

namespace graft::kernels::GRAFT_KERNEL_ISA {
namespace {

struct ExpSum {
  float largest;
  double sum;  // of exp(x - largest)

  double log_sum_exp() const { return std::log(sum) + largest; }
};

// One pass of exp over a row into `exps`, in float as torch computes it, summed in double so that
// 30,000-class rows keep their precision.
ExpSum exp_sum(const float* x, int64_t classes, float* exps) {
  float largest = x[0];
  for (int64_t c = 1; c < classes; ++c) largest = std::max(largest, x[c]);
  for (int64_t c = 0; c < classes; ++c) exps[c] = vec::exp(x[c] - largest);
  return {largest, vec::sum(exps, classes)};
}

}  // namespace

float cross_entropy(const float* logits, const int64_t* labels, float* dlogits, int64_t rows, int64_t classes,
                    int64_t ignore_index, const float* class_weights, float scale) {
  // torch's weighted mean: sum_i w[y_i] * nll_i / sum_i w[y_i], over rows not ignored. Rows run in parallel
  // (a masked-LM batch has hundreds of 30,522-class rows); their losses are summed in row order afterwards,
  // so the result does not depend on the thread count.
  auto weight_of = [&](int64_t r) { return class_weights != nullptr ? double{class_weights[labels[r]]} : 1.0; };
  double weight_sum = 0.0;
  for (int64_t r = 0; r < rows; ++r) weight_sum += labels[r] == ignore_index ? 0.0 : weight_of(r);
  const ScratchBuffer row_loss_buffer(rows, sizeof(double));
  auto* row_loss = static_cast<double*>(row_loss_buffer.data);
  parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    const ScratchBuffer exps_buffer(dlogits != nullptr ? 0 : classes, sizeof(float));  // exps when no gradient
    for (int64_t r = begin; r < end; ++r) {
      const float* x = logits + r * classes;
      float* g = dlogits != nullptr ? dlogits + r * classes : nullptr;
      if (labels[r] == ignore_index || weight_sum == 0.0) {
        if (g != nullptr) std::fill_n(g, classes, 0.0F);
        continue;
      }
      const ExpSum row = exp_sum(x, classes, g != nullptr ? g : static_cast<float*>(exps_buffer.data));
      row_loss[r] = weight_of(r) * (row.log_sum_exp() - x[labels[r]]);
      if (g == nullptr) continue;
      const auto factor = static_cast<float>(weight_of(r) / weight_sum * scale);
      const auto to_gradient = static_cast<float>(factor / row.sum);  // softmax = exp(x - largest) / sum
      for (int64_t c = 0; c < classes; ++c) g[c] *= to_gradient;
      g[labels[r]] -= factor;
    }
  });
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) total += row_loss[r];
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

}  // namespace graft::kernels::GRAFT_KERNEL_ISA
