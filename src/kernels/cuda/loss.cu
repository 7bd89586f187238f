// Losses on CUDA with the CPU's arithmetic (per_isa/loss.cpp): per-row terms in double, summed in row order by one
// thread, so the loss does not depend on the launch; the mean comes back to the host (the one read a step makes).
#include "kernels/cuda/cuda_kernels.h"

namespace graft::kernels::gpu {
namespace {

__device__ double weight_of(const int64_t* labels, const float* class_weights, int64_t r) {
  return class_weights != nullptr ? double{class_weights[labels[r]]} : 1.0;
}

__global__ void label_weight_sum_kernel(double* weight_sum, const int64_t* labels, const float* class_weights,
                                        int64_t rows, int64_t ignore_index) {
  double sum = 0.0;
  for (int64_t r = 0; r < rows; ++r) sum += labels[r] == ignore_index ? 0.0 : weight_of(labels, class_weights, r);
  *weight_sum = sum;
}

__global__ void cross_entropy_kernel(double* row_loss, float* dlogits, const float* logits, const int64_t* labels,
                                     const float* class_weights, const double* weight_sum, int64_t rows,
                                     int64_t classes, int64_t ignore_index, float scale) {
  GRAFT_CUDA_FOR_ROWS(r, rows) {
    const float* x = logits + r * classes;
    float* g = dlogits != nullptr ? dlogits + r * classes : nullptr;
    if (labels[r] == ignore_index || *weight_sum == 0.0) {
      if (g != nullptr) {
        for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) g[c] = 0.0F;
      }
      if (threadIdx.x == 0) row_loss[r] = 0.0;
      continue;
    }
    float largest = -INFINITY;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) largest = fmaxf(largest, x[c]);
    largest = block_max(largest);
    double sum = 0.0;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) sum += expf(x[c] - largest);
    sum = block_sum(sum);
    const double weight = weight_of(labels, class_weights, r);
    if (threadIdx.x == 0) row_loss[r] = weight * (log(sum) + largest - x[labels[r]]);
    if (g == nullptr) continue;
    const auto factor = static_cast<float>(weight / *weight_sum * scale);
    const auto to_gradient = static_cast<float>(factor / sum);
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      const float gradient = expf(x[c] - largest) * to_gradient;
      g[c] = c == labels[r] ? gradient - factor : gradient;
    }
  }
}

// *mean = sum of terms[0, count) in order / divisor (0 when the divisor is 0), in float.
__global__ void ordered_mean_kernel(float* mean, const double* terms, int64_t count, const double* divisor) {
  double total = 0.0;
  for (int64_t i = 0; i < count; ++i) total += terms[i];
  *mean = *divisor == 0.0 ? 0.0F : static_cast<float>(total / *divisor);
}

__global__ void binary_cross_entropy_kernel(double* terms, float* dlogits, const float* logits, const float* targets,
                                            int64_t count, float scale) {
  GRAFT_CUDA_FOR(i, count) {
    const double x = logits[i];
    terms[i] = fmax(x, 0.0) - x * targets[i] + log1p(exp(-fabs(x)));
    if (dlogits != nullptr) {
      const float sigmoid = 1.0F / (1.0F + expf(-logits[i]));
      dlogits[i] = (sigmoid - targets[i]) / static_cast<float>(count) * scale;
    }
  }
}

__global__ void squared_error_kernel(double* terms, float* dpredictions, const float* predictions, const float* targets,
                                     int64_t count, float scale) {
  GRAFT_CUDA_FOR(i, count) {
    const double diff = static_cast<double>(predictions[i]) - targets[i];
    terms[i] = diff * diff;
    if (dpredictions != nullptr) dpredictions[i] = static_cast<float>(2.0 * diff / static_cast<double>(count) * scale);
  }
}

float ordered_mean(const double* terms, int64_t count, const double* divisor) {
  const Scratch mean(sizeof(float));
  enqueue("loss mean", kOneThread, ordered_mean_kernel, mean.as<float>(), terms, count, divisor);
  return to_host(mean.as<float>(), 1)[0];
}

// A mean over `count` elements of what `launch_terms` writes into terms[count].
template <class LaunchTerms>
float elementwise_mean(int64_t count, const LaunchTerms& launch_terms) {
  if (count == 0) return 0.0F;
  const Scratch terms(sizeof(double) * count);
  const Scratch divisor(sizeof(double));
  const auto host_count = static_cast<double>(count);
  check(cudaMemcpyAsync(divisor.as<double>(), &host_count, sizeof host_count, cudaMemcpyHostToDevice, current_stream()),
        "loss divisor");
  launch_terms(elementwise_launch(count), terms.as<double>());
  return ordered_mean(terms.as<double>(), count, divisor.as<double>());
}

}  // namespace

float cross_entropy(const float* logits, const int64_t* labels, float* dlogits, int64_t rows, int64_t classes,
                    int64_t ignore_index, const float* class_weights, float scale) {
  if (rows == 0) return 0.0F;
  const Scratch weight_sum(sizeof(double));
  const Scratch row_loss(sizeof(double) * rows);
  enqueue("cross_entropy (weights)", kOneThread, label_weight_sum_kernel, weight_sum.as<double>(), labels,
          class_weights, rows, ignore_index);
  enqueue("cross_entropy", row_launch(rows), cross_entropy_kernel, row_loss.as<double>(), dlogits, logits, labels,
          class_weights, weight_sum.as<double>(), rows, classes, ignore_index, scale);
  return ordered_mean(row_loss.as<double>(), rows, weight_sum.as<double>());
}

float binary_cross_entropy_with_logits(const float* logits, const float* targets, float* dlogits, int64_t count,
                                       float scale) {
  return elementwise_mean(count, [&](Launch launch, double* terms) {
    enqueue("binary_cross_entropy_with_logits", launch, binary_cross_entropy_kernel, terms, dlogits, logits, targets,
            count, scale);
  });
}

float mean_squared_error(const float* predictions, const float* targets, float* dpredictions, int64_t count,
                         float scale) {
  return elementwise_mean(count, [&](Launch launch, double* terms) {
    enqueue("mean_squared_error", launch, squared_error_kernel, terms, dpredictions, predictions, targets, count,
            scale);
  });
}

}  // namespace graft::kernels::gpu
