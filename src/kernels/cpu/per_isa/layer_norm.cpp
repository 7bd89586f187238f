#include <cmath>

#include "graft/core/parallel.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/per_isa/vector_math.h"

namespace graft::kernels::GRAFT_KERNEL_ISA {

void layer_norm_forward(float* out, float* mean, float* rstd, const float* in, const float* gamma, const float* beta,
                        int64_t rows, int64_t channels, float eps) {
  parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* x = in + r * channels;
      float* y = out + r * channels;
      const auto mu = static_cast<float>(vec::sum(x, channels) / static_cast<double>(channels));
      const double squares = vec::sum_of(channels, [x, mu](int64_t c) { return (x[c] - mu) * (x[c] - mu); });
      const float inv = 1.0F / std::sqrt(static_cast<float>(squares / static_cast<double>(channels)) + eps);
      for (int64_t c = 0; c < channels; ++c) y[c] = (x[c] - mu) * inv * gamma[c] + beta[c];
      if (mean != nullptr) mean[r] = mu;
      if (rstd != nullptr) rstd[r] = inv;
    }
  });
}

void layer_norm_backward(float* dinput, float* dgamma, float* dbeta, const float* dout, const float* in,
                         const float* mean, const float* rstd, const float* gamma, int64_t rows, int64_t channels) {
  if (dinput != nullptr) {
    parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* x = in + r * channels;
        const float* dy = dout + r * channels;
        float* dx = dinput + r * channels;
        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma
        const float mu = mean[r];
        const float inv = rstd[r];
        const auto mean_g = static_cast<float>(
            vec::sum_of(channels, [dy, gamma](int64_t c) { return dy[c] * gamma[c]; }) / static_cast<double>(channels));
        const auto mean_g_xhat = static_cast<float>(
            vec::sum_of(channels, [dy, gamma, x, mu, inv](int64_t c) { return dy[c] * gamma[c] * (x[c] - mu) * inv; }) /
            static_cast<double>(channels));
        for (int64_t c = 0; c < channels; ++c) {
          const float xhat = (x[c] - mu) * inv;
          dx[c] = inv * (dy[c] * gamma[c] - mean_g - xhat * mean_g_xhat);
        }
      }
    });
  }
  if (dgamma != nullptr || dbeta != nullptr) {
    parallel_for(0, channels, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* x = in + r * channels;
        const float* dy = dout + r * channels;
        for (int64_t c = begin; c < end; ++c) {
          if (dgamma != nullptr) dgamma[c] += dy[c] * (x[c] - mean[r]) * rstd[r];
          if (dbeta != nullptr) dbeta[c] += dy[c];
        }
      }
    });
  }
}

}  // namespace graft::kernels::GRAFT_KERNEL_ISA
