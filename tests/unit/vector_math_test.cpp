// The branch-free exp and erf that the GELU, softmax and cross-entropy kernels vectorise, against the
// double-precision library functions, at the accuracy their header promises.
// vector_math.h is compiled into each instruction set's kernels, in that set's namespace; here once more,
// with the tests' flags (the kernels' own results are compared across sets in kernel_isa_test.cpp).
#define GRAFT_KERNEL_ISA in_tests
#include "kernels/cpu/per_isa/vector_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace graft {
namespace {

namespace vec = kernels::in_tests::vec;

constexpr double kFloatEpsilon = std::numeric_limits<float>::epsilon();  // 1 ulp at 1.0

TEST(VectorMath, ExpIsWithinTwoUlpWhereTheResultIsANormalFloat) {
  double worst = 0.0;
  float worst_at = 0.0F;
  for (double x = -87.3; x <= 88.7; x += 1e-3) {
    const auto value = static_cast<float>(x);
    const double exact = std::exp(static_cast<double>(value));
    const double relative = std::fabs(vec::exp(value) - exact) / exact;
    if (relative > worst) {
      worst = relative;
      worst_at = value;
    }
  }
  EXPECT_LE(worst, 2.0 * kFloatEpsilon) << "at x = " << worst_at;
}

TEST(VectorMath, MaxFindsTheLargestInEveryLaneAndInTheTail) {
  // Lengths around the 16 running maxima, the largest value at each position in turn, -FLT_MAX (a masked
  // attention score) everywhere else.
  for (const int64_t count : {1, 15, 16, 17, 31, 32, 33, 128}) {
    for (int64_t at = 0; at < count; ++at) {
      std::vector<float> values(static_cast<size_t>(count), -std::numeric_limits<float>::max());
      values[static_cast<size_t>(at)] = -3.5F;
      EXPECT_EQ(vec::max(values.data(), count), -3.5F) << "count " << count << ", largest at " << at;
    }
  }
}

TEST(VectorMath, ExpSaturatesLikeFloatAndFlushesBelowTheNormalRange) {
  EXPECT_EQ(vec::exp(0.0F), 1.0F);
  EXPECT_EQ(vec::exp(89.0F), std::numeric_limits<float>::infinity());
  EXPECT_EQ(vec::exp(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(vec::exp(-88.0F), 0.0F);
  // The masked-out logits of attention and the -inf of ignored classes must give exactly 0.
  EXPECT_EQ(vec::exp(-std::numeric_limits<float>::infinity()), 0.0F);
  EXPECT_EQ(vec::exp(std::numeric_limits<float>::lowest()), 0.0F);
  EXPECT_GT(vec::exp(88.72F), 3.3e38F);
}

TEST(VectorMath, ErfIsWithinTheAbramowitzStegunBoundPlusFloatRounding) {
  double worst = 0.0;
  for (double x = -6.0; x <= 6.0; x += 1e-4) {
    const auto value = static_cast<float>(x);
    worst = std::max(worst, std::fabs(vec::erf(value) - std::erf(static_cast<double>(value))));
  }
  // 1.5e-7 from the approximation, the rest from 1 - p(t) e^(-x^2) cancelling in float near 0.
  EXPECT_LE(worst, 6e-7);
  EXPECT_EQ(vec::erf(0.0F), 0.0F);
  EXPECT_EQ(vec::erf(10.0F), 1.0F);
  EXPECT_EQ(vec::erf(-10.0F), -1.0F);
}

TEST(VectorMath, SumIsExactForIntegersAndKeepsTheTail) {
  float values[21];
  for (int i = 0; i < 21; ++i) values[i] = static_cast<float>(i + 1);
  EXPECT_EQ(vec::sum(values, 21), 231.0);
  EXPECT_EQ(vec::sum(values, 7), 28.0);
  EXPECT_EQ(vec::sum(values, 0), 0.0);
}

}  // namespace
}  // namespace graft
