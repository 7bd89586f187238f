#pragma once
// exp and erf written without branches or calls, so that GCC vectorises the loops that use them (libm's
// expf/erff are scalar calls: they were a sixth of a masked-LM training step). Each is the approximation
// PyTorch's vectorised CPU kernels use, so graft keeps its parity with transformers:
//   exp: Cephes' range reduction and degree-6 polynomial, within 2 ulp of the exact value for normal results;
//   erf: Abramowitz & Stegun 7.1.26, absolute error <= 1.5e-7 before float rounding (aten's
//        Vectorized<float>::erf).
// The loops vectorise only with -fno-trapping-math (CMakeLists.txt), which lets GCC turn selects into blends.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace graft::kernels::GRAFT_KERNEL_ISA::vec {

inline float exp(float x) {
  constexpr float kLog2e = 1.44269504088896341F;
  constexpr float kLn2High = 0.693359375F;  // ln 2 = high + low, high exact in 10 bits: n * high is exact
  constexpr float kLn2Low = -2.12194440e-4F;
  constexpr float kOverflow = 88.7228391F;    // ln(largest float)
  constexpr float kUnderflow = -87.3365448F;  // ln(smallest normal float); below it the result is flushed to 0
  const float clamped = std::min(std::max(x, kUnderflow), kOverflow);
  // exp(x) = 2^n * exp(r), r = x - n ln 2 in [-ln2/2, ln2/2].
  const float n = std::nearbyint(clamped * kLog2e);
  const float r = (clamped - n * kLn2High) - n * kLn2Low;
  float p = 1.9875691500e-4F;
  p = p * r + 1.3981999507e-3F;
  p = p * r + 8.3334519073e-3F;
  p = p * r + 4.1665795894e-2F;
  p = p * r + 1.6666665459e-1F;
  p = p * r + 5.0000001201e-1F;
  const float exp_r = p * r * r + r + 1.0F;
  // 2^n as two factors: n reaches 128 and -126, and float has an exponent for neither 2^128 nor 2^-127.
  const auto whole = static_cast<int32_t>(n);
  const int32_t half = whole >> 1;
  const float value =
      exp_r * std::bit_cast<float>((half + 127) << 23) * std::bit_cast<float>((whole - half + 127) << 23);
  return x > kOverflow ? std::numeric_limits<float>::infinity() : (x < kUnderflow ? 0.0F : value);
}

inline float erf(float x) {
  const float t = 1.0F / (1.0F + 0.3275911F * std::fabs(x));
  float p = 1.061405429F;
  p = p * t - 1.453152027F;
  p = p * t + 1.421413741F;
  p = p * t - 0.284496736F;
  p = p * t + 0.254829592F;
  return std::copysign(1.0F - p * t * exp(-x * x), x);
}

// term(0) + ... + term(count-1) in double, as eight running sums that the compiler can keep in one vector
// register (a single running float sum is a chain the compiler may not reorder, so it does not vectorise).
template <typename Term>
inline double sum_of(int64_t count, Term term) {
  double partial[8] = {};
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    for (int lane = 0; lane < 8; ++lane) partial[lane] += static_cast<double>(term(i + lane));
  }
  double total = 0.0;
  for (; i < count; ++i) total += static_cast<double>(term(i));
  for (const double lane_sum : partial) total += lane_sum;
  return total;
}

// x[0] + ... + x[count-1] in double.
inline double sum(const float* x, int64_t count) {
  return sum_of(count, [x](int64_t i) { return x[i]; });
}

// The largest of x[0..count), count >= 1, as sixteen running maxima (a chain of fmax calls does not vectorise).
// NaN is not looked for: a softmax row holding one is NaN whatever its maximum.
inline float max(const float* x, int64_t count) {
  float partial[16];
  for (float& lane : partial) lane = x[0];
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    for (int lane = 0; lane < 16; ++lane) partial[lane] = x[i + lane] > partial[lane] ? x[i + lane] : partial[lane];
  }
  float largest = x[0];
  for (; i < count; ++i) largest = x[i] > largest ? x[i] : largest;
  for (const float lane_max : partial) largest = lane_max > largest ? lane_max : largest;
  return largest;
}

}  // namespace graft::kernels::GRAFT_KERNEL_ISA::vec
