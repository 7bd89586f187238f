#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "graft/core/parallel.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/scratch.h"

namespace graft::kernels::GRAFT_KERNEL_ISA {
namespace {

constexpr float kInt8Limit = 127.0F;
// Adding and subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to an integer, to nearest even (the
// default rounding mode): unlike nearbyint, a form every instruction set's loop vectorises.
constexpr float kRoundingShift = 12582912.0F;

// One row of quantize_rows_int8; returns its scale.
float quantize_row(int8_t* out, const float* in, int64_t columns) {
  float largest = 0.0F;
  int non_finite = 0;
#pragma omp simd reduction(max : largest) reduction(| : non_finite)
  for (int64_t c = 0; c < columns; ++c) {
    const float magnitude = std::fabs(in[c]);
    largest = std::max(largest, magnitude);
    non_finite |= !(magnitude <= std::numeric_limits<float>::max());  // NaN compares false
  }
  // Below 127 / FLT_MAX the inverse scale overflows: such a row (and an all-zero one) quantises to zeros.
  if (non_finite != 0 || largest < kInt8Limit / std::numeric_limits<float>::max()) {
    std::fill_n(out, columns, int8_t{0});
    return non_finite != 0 ? std::numeric_limits<float>::quiet_NaN() : 0.0F;
  }
  const float inverse = kInt8Limit / largest;
#pragma omp simd
  for (int64_t c = 0; c < columns; ++c) {
    const float rounded = (in[c] * inverse + kRoundingShift) - kRoundingShift;
    out[c] = static_cast<int8_t>(std::clamp(rounded, -kInt8Limit, kInt8Limit));
  }
  return largest / kInt8Limit;
}

// The int32 sums of a row, stored where their floats go, become them in place.
template <bool kBiased>
void dequantize_row(float* row, float row_scale, const float* weight_scales, const float* bias, int64_t out_features) {
#pragma omp simd
  for (int64_t o = 0; o < out_features; ++o) {
    int32_t sum;
    std::memcpy(&sum, row + o, sizeof sum);
    const float scaled = static_cast<float>(sum) * (row_scale * weight_scales[o]);
    row[o] = kBiased ? scaled + bias[o] : scaled;
  }
}

}  // namespace

void quantize_rows_int8(int8_t* out, float* scales, const float* in, int64_t rows, int64_t columns) {
  parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) scales[r] = quantize_row(out + r * columns, in + r * columns, columns);
  });
}

void linear_forward_int8(float* out, const int8_t* in, const float* in_scales, const int8_t* weight,
                         const float* weight_scales, const float* bias, int64_t rows, int64_t in_features,
                         int64_t out_features, const void* packed_weight) {
  gemm_int8(rows, out_features, in_features, in, weight, reinterpret_cast<int32_t*>(out), packed_weight);
  parallel_for(0, rows, 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = out + r * out_features;
      if (bias != nullptr) {
        dequantize_row<true>(row, in_scales[r], weight_scales, bias, out_features);
      } else {
        dequantize_row<false>(row, in_scales[r], weight_scales, nullptr, out_features);
      }
    }
  });
}

void linear_forward(float* out, const float* in, const uint16_t* in_bf16, const float* weight, const float* bias,
                    int64_t rows, int64_t in_features, int64_t out_features, DType precision,
                    const uint16_t* weight_bf16, const void* packed_weight) {
  if (packed_weight != nullptr &&
      linear_with_packed_weight(out, in, in_bf16, packed_weight, bias, rows, in_features, out_features, precision)) {
    return;
  }
  gemm(false, true, rows, out_features, in_features, 1.0F, in, in_features, weight, in_features, 0.0F, out,
       out_features, precision, bias, weight_bf16, in_bf16);
}

void linear_backward(float* dinput, float* dweight, float* dbias, const float* dout, const float* in,
                     const uint16_t* in_bf16, const float* weight, int64_t rows, int64_t in_features,
                     int64_t out_features, DType precision, const uint16_t* weight_bf16) {
  // Both products multiply by dout: in bf16, rounded once for the two (a pass over it saved).
  const bool share_rounded_dout = precision == DType::BF16 && dinput != nullptr && dweight != nullptr;
  const ScratchBuffer dout_bf16(share_rounded_dout ? rows * out_features : 0, sizeof(uint16_t),
                                ScratchFill::Uninitialized);
  const auto* dout_rounded = static_cast<const uint16_t*>(dout_bf16.data);
  if (share_rounded_dout) round_to_bf16(static_cast<uint16_t*>(dout_bf16.data), dout, rows * out_features);
  if (dinput != nullptr) {
    gemm(false, false, rows, in_features, out_features, 1.0F, dout, out_features, weight, in_features, 0.0F, dinput,
         in_features, precision, nullptr, weight_bf16, dout_rounded);
  }
  if (dweight != nullptr) {
    gemm(true, false, out_features, in_features, rows, 1.0F, dout, out_features, in, in_features, 1.0F, dweight,
         in_features, precision, nullptr, in_bf16, dout_rounded);
  }
  if (dbias != nullptr) {
    parallel_for(0, out_features, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = dout + r * out_features;
        for (int64_t o = begin; o < end; ++o) dbias[o] += row[o];
      }
    });
  }
}

}  // namespace graft::kernels::GRAFT_KERNEL_ISA
