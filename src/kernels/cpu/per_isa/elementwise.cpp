#include <cmath>
#include <cstring>

#include "graft/core/parallel.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/per_isa/vector_math.h"

namespace graft::kernels::GRAFT_KERNEL_ISA {
namespace {

constexpr int64_t kGrain = 4096;
constexpr float kInvSqrt2 = 0.70710678118654752F;
constexpr float kInvSqrt2Pi = 0.39894228040143268F;

// Exact (erf) GELU, as transformers' "gelu".
inline float gelu(float x) {
  return 0.5F * x * (1.0F + vec::erf(x * kInvSqrt2));
}
inline float gelu_derivative(float x) {
  return 0.5F * (1.0F + vec::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * vec::exp(-0.5F * x * x);
}

}  // namespace

void activation_forward(Activation activation, float* out, const float* in, int64_t count) {
  parallel_for(0, count, kGrain, [&](int64_t begin, int64_t end) {
    switch (activation) {
      case Activation::Gelu:
        for (int64_t i = begin; i < end; ++i) out[i] = gelu(in[i]);
        break;
      case Activation::Relu:
        for (int64_t i = begin; i < end; ++i) out[i] = in[i] > 0.0F ? in[i] : 0.0F;
        break;
      case Activation::Tanh:
        for (int64_t i = begin; i < end; ++i) out[i] = std::tanh(in[i]);
        break;
    }
  });
}

void activation_backward(Activation activation, float* dinput, const float* dout, const float* saved, int64_t count) {
  parallel_for(0, count, kGrain, [&](int64_t begin, int64_t end) {
    switch (activation) {
      case Activation::Gelu:
        for (int64_t i = begin; i < end; ++i) dinput[i] = dout[i] * gelu_derivative(saved[i]);
        break;
      case Activation::Relu:
        for (int64_t i = begin; i < end; ++i) dinput[i] = saved[i] > 0.0F ? dout[i] : 0.0F;
        break;
      case Activation::Tanh:
        for (int64_t i = begin; i < end; ++i) dinput[i] = dout[i] * (1.0F - saved[i] * saved[i]);
        break;
    }
  });
}

void embedding_forward(float* out, const int64_t* ids, const float* table, int64_t rows, int64_t channels) {
  parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      std::memcpy(out + r * channels, table + ids[r] * channels, static_cast<size_t>(channels) * sizeof(float));
    }
  });
}

void embedding_backward(float* dtable, const int64_t* ids, const float* dout, int64_t rows, int64_t channels) {
  // Rows may repeat an id, so accumulate serially over rows and in parallel over channels.
  parallel_for(0, channels, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = 0; r < rows; ++r) {
      float* target = dtable + ids[r] * channels;
      const float* source = dout + r * channels;
      for (int64_t c = begin; c < end; ++c) target[c] += source[c];
    }
  });
}

void softmax_rows(float* out, const float* in, int64_t rows, int64_t columns) {
  parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* x = in + r * columns;
      float* y = out + r * columns;
      const float largest = vec::max(x, columns);
      for (int64_t c = 0; c < columns; ++c) y[c] = vec::exp(x[c] - largest);
      const float inv = 1.0F / static_cast<float>(vec::sum(y, columns));
      for (int64_t c = 0; c < columns; ++c) y[c] *= inv;
    }
  });
}

void add_inplace(float* y, const float* x, int64_t count) {
  parallel_for(0, count, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] += x[i];
  });
}

void apply_dropout(float* out, const float* in, DropoutMask dropout, int64_t count) {
  parallel_for(0, count, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = in[i] * (dropout.scale * static_cast<float>(dropout.keep[i]));
  });
}

}  // namespace graft::kernels::GRAFT_KERNEL_ISA
