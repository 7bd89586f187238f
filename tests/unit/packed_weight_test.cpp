// Packed weights (kernels.h's pack_linear_weight, ops.cpp's cache of weight forms): a layer's forward product
// reads its weight in the layout the GEMM chose, made once per version of the weight, and gives the numbers of
// the product that reads the stored weight.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "graft/core/allocator.h"
#include "graft/core/grad_mode.h"
#include "graft/kernels/kernels.h"
#include "graft/ops/ops.h"
#include "test_support.h"

namespace graft {
namespace {

using test::random_tensor;

// x W^T + b by the GEMM on the stored weight, past every cache.
Tensor unpacked_product(const Tensor& x, const Tensor& weight, const Tensor& bias, DType precision) {
  const int64_t rows = x.dim(0), in = weight.dim(1), out = weight.dim(0);
  Tensor y = Tensor::empty({rows, out});
  kernels::gemm(false, true, rows, out, in, 1.0F, x.data<float>(), in, weight.data<float>(), in, 0.0F, y.data<float>(),
                out, precision, bias.data<float>());
  return y;
}

// Why a test cannot run here: no packed layout for the weight on this CPU.
std::optional<std::string> no_packed_layout(int64_t in, int64_t out, DType precision) {
  if (kernels::packed_linear_weight_bytes(in, out, precision) > 0) return std::nullopt;
  return "no packed " + std::string(dtype_name(precision)) + " layout for " + std::to_string(out) + " x " +
         std::to_string(in) + " on " + kernels::describe_backend();
}

// ops.cpp's cache of weight forms forgets the forms of dead weights when it is next used: here, by the bf16
// copy of a small weight (in training, so that it is not packed).
void forget_dead_weights_forms() {
  ops::linear(Tensor::zeros({1, 8}), Tensor::zeros({4, 8}), Tensor::zeros({4}), DType::BF16);
}

class PackedWeight : public testing::TestWithParam<DType> {};

// distilbert-base's three weight shapes, from one row to more than the 256 up to which an fp32 product is the
// primitive's: the packed product is the unpacked one bit for bit, so that inference gives training's numbers.
TEST_P(PackedWeight, TheForwardProductIsTheUnpackedOneAtEveryRowCount) {
  const DType precision = GetParam();
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{768, 768}, {768, 3072}, {3072, 768}};
  for (const auto& [in, out] : shapes) {
    if (const auto reason = no_packed_layout(in, out, precision)) GTEST_SKIP() << *reason;
    const Tensor weight = random_tensor({out, in}, 1);
    const Tensor bias = random_tensor({out}, 2);
    std::vector<uint8_t> packed(kernels::packed_linear_weight_bytes(in, out, precision));
    kernels::pack_linear_weight(packed.data(), weight.data<float>(), in, out, precision);
    for (const int64_t rows : {1, 7, 32, 300}) {
      const Tensor x = random_tensor({rows, in}, 3 + rows);
      Tensor y = Tensor::empty({rows, out});
      kernels::linear_forward(y.data<float>(), x.data<float>(), nullptr, weight.data<float>(), bias.data<float>(), rows,
                              in, out, precision, nullptr, packed.data());
      EXPECT_EQ(test::max_abs_diff(y, unpacked_product(x, weight, bias, precision)), 0.0)
          << out << " x " << in << ", " << rows << " rows";
    }
  }
}

// out = x W^T + b through kernels::gemm with every operand's rows apart by more than its width, against the
// sums in double: each within 1e-5 of the sum of its terms' magnitudes, far above fp32's rounding of 768 terms
// (about 1e-7 of it here) and far below what a wrong row, column or k moves (about 1/30 of it).
double largest_error_over_magnitude(int64_t rows, int64_t in, int64_t out, uint64_t seed) {
  const int64_t ld_x = in + 5, ld_weight = in + 7, ld_out = out + 3;
  const Tensor x = random_tensor({rows, ld_x}, seed);
  const Tensor weight = random_tensor({out, ld_weight}, seed + 1);
  const Tensor bias = random_tensor({out}, seed + 2);
  Tensor y = Tensor::full({rows, ld_out}, 7.0F);
  kernels::gemm(false, true, rows, out, in, 1.0F, x.data<float>(), ld_x, weight.data<float>(), ld_weight, 0.0F,
                y.data<float>(), ld_out, DType::F32, bias.data<float>());
  const float *xs = x.data<float>(), *ws = weight.data<float>(), *bs = bias.data<float>(), *ys = y.data<float>();
  double largest = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < ld_out; ++c) {
      const float actual = ys[r * ld_out + c];
      if (c >= out) {  // past the product's columns: untouched
        largest = std::max(largest, actual == 7.0F ? 0.0 : 1.0);
        continue;
      }
      double sum = bs[c], magnitude = std::fabs(sum);
      for (int64_t k = 0; k < in; ++k) {
        const double term = static_cast<double>(xs[r * ld_x + k]) * ws[c * ld_weight + k];
        sum += term;
        magnitude += std::fabs(term);
      }
      largest = std::max(largest, std::fabs(actual - sum) / magnitude);
    }
  }
  return largest;
}

// A layer's fp32 product over up to 256 rows (oneDNN's primitive, or where oneDNN has no packed fp32 layout,
// AVX2, graft's panel product: tiles of 4 rows x 24 columns) at every remainder of rows a tile leaves, widths
// that leave a part-filled last panel, and an input width with a remainder of k steps per prefetch.
TEST(LayerProduct, IsTheSumsWithinRoundingAtEveryEdgeOfItsTiles) {
  for (const auto& [in, out] : std::vector<std::pair<int64_t, int64_t>>{{768, 768}, {301, 263}, {256, 1000}}) {
    for (const int64_t rows : {1, 2, 3, 4, 5, 7, 32, 33, 256, 257}) {
      EXPECT_LE(largest_error_over_magnitude(rows, in, out, 90 + rows), 1e-5)
          << out << " x " << in << ", " << rows << " rows";
    }
  }
}

// The packed form is made once per version of the weight: after a write in place, an optimizer step, and for a
// new weight that the allocator places where a freed one was, the product is the one of the weight as it is now.
TEST_P(PackedWeight, FollowsEveryChangeOfTheWeight) {
  const DType precision = GetParam();
  if (const auto reason = no_packed_layout(768, 128, precision)) GTEST_SKIP() << *reason;
  const NoGradGuard inference;
  const Tensor x = random_tensor({5, 768}, 11);
  const Tensor bias = random_tensor({128}, 12);
  const auto expect_current = [&](const Tensor& weight, const std::string& after) {
    EXPECT_EQ(test::max_abs_diff(ops::linear(x, weight, bias, precision), unpacked_product(x, weight, bias, precision)),
              0.0)
        << "after " << after;
  };
  Tensor weight = random_tensor({128, 768}, 13);
  expect_current(weight, "the first product");
  weight.data<float>()[5] = 40.0F;
  expect_current(weight, "a write in place");
  Tensor exp_avg = Tensor::zeros({128, 768});
  Tensor exp_avg_sq = Tensor::zeros({128, 768});
  ops::adamw_update(weight, random_tensor({128, 768}, 14), exp_avg, exp_avg_sq,
                    {1.0F, 0.1F, true, 0.999F, 0.001F, 0.0316F, 1e-8F, -0.5F});
  expect_current(weight, "an optimizer step");
  for (uint64_t seed = 15; seed < 19; ++seed) {
    weight = random_tensor({128, 768}, seed);
    expect_current(weight, "a new weight, seed " + std::to_string(seed));
  }
}

// Inference keeps one packed copy per weight, made by its first product and dropped with the weight; training
// (grad mode on) keeps none: its weights change every step.
TEST_P(PackedWeight, InferenceKeepsOneCopyPerWeightAndTrainingNone) {
  const DType precision = GetParam();
  if (const auto reason = no_packed_layout(1024, 1024, precision)) GTEST_SKIP() << *reason;
  const auto packed_bytes = static_cast<int64_t>(kernels::packed_linear_weight_bytes(1024, 1024, precision));
  const Tensor x = random_tensor({3, 1024}, 21);
  const Tensor bias = Tensor::zeros({1024});
  const auto live = [] { return static_cast<int64_t>(allocator_stats().live_bytes); };
  forget_dead_weights_forms();  // those of the tests before
  const int64_t before = live();
  {
    const Tensor weight = random_tensor({1024, 1024}, 22);  // 4 MiB, so the allocator counts it and its forms
    const int64_t with_weight = live();
    ops::linear(x, weight, bias, precision);
    EXPECT_EQ(live() - with_weight, precision == DType::BF16 ? 1024 * 1024 * 2 : 0)  // BF16: the backward's copy
        << "training";
    const int64_t trained = live();
    {
      const NoGradGuard inference;
      ops::linear(x, weight, bias, precision);
      EXPECT_EQ(live() - trained, packed_bytes) << "the first product in inference";
      ops::linear(x, weight, bias, precision);
      EXPECT_EQ(live() - trained, packed_bytes) << "the second product in inference";
    }
  }
  forget_dead_weights_forms();
  EXPECT_EQ(live() - before, 0) << "after the weight was freed";
}

// activation(x W^T + b) as the unpacked product and the activation after it give it, rounded to bf16 for a
// BF16 output.
Tensor activated_product(const Tensor& x, const Tensor& weight, const Tensor& bias, DType precision,
                         Activation activation, DType output) {
  Tensor y = unpacked_product(x, weight, bias, precision);
  kernels::activation_forward(activation, y.data<float>(), y.data<float>(), y.numel());
  return output == DType::BF16 ? ops::round_to_bf16(y) : y;
}

// The largest |actual - expected| over (1 + |expected|), both widened to fp32.
double largest_relative_difference(const Tensor& actual, const Tensor& expected) {
  const Tensor a = actual.to(DType::F32), e = expected.to(DType::F32);
  double largest = 0.0;
  for (int64_t i = 0; i < e.numel(); ++i) {
    const double expected_value = e.data<float>()[i];
    largest = std::max(largest, std::fabs(a.data<float>()[i] - expected_value) / (1.0 + std::fabs(expected_value)));
  }
  return largest;
}

// The activation in the packed product's epilogue (inference's FFN) gives the activation after the product, up
// to the activation's own rounding: oneDNN's erf and tanh against graft's (vector_math.h), within 2 fp32 ulps
// here; a BF16 output is within one bf16 step (2^-8 relative) of the rounded result, where the two roundings
// land on either side of a halfway point. ReLU is exact. The epilogue runs wherever the packed forward product
// is the primitive's: BF16 at every row count, fp32 up to 256 rows; beyond, false, and the caller runs the
// activation after sgemm.
TEST_P(PackedWeight, TheActivationInTheEpilogueIsTheActivationAfterTheProduct) {
  const DType precision = GetParam();
  const int64_t in = 768, out = 3072;
  if (const auto reason = no_packed_layout(in, out, precision)) GTEST_SKIP() << *reason;
  const Tensor weight = random_tensor({out, in}, 51);
  const Tensor bias = random_tensor({out}, 52);
  std::vector<uint8_t> packed(kernels::packed_linear_weight_bytes(in, out, precision));
  kernels::pack_linear_weight(packed.data(), weight.data<float>(), in, out, precision);
  const std::vector<DType> outputs =
      precision == DType::BF16 ? std::vector<DType>{DType::F32, DType::BF16} : std::vector<DType>{DType::F32};
  for (const Activation activation : {Activation::Gelu, Activation::Relu, Activation::Tanh}) {
    for (const DType output : outputs) {
      for (const int64_t rows : {1, 32, 300}) {
        const std::string what = std::string(dtype_name(output)) + " output, activation " +
                                 std::to_string(static_cast<int>(activation)) + ", " + std::to_string(rows) + " rows";
        const Tensor x = random_tensor({rows, in}, 53 + rows);
        Tensor y = Tensor::empty({rows, out}, output);
        const bool fused =
            kernels::linear_activation_with_packed_weight(y.raw_data(), output, activation, x.data<float>(), nullptr,
                                                          packed.data(), bias.data<float>(), rows, in, out, precision);
        if (precision == DType::F32 && rows > 256) {
          EXPECT_FALSE(fused) << what;
          continue;
        }
        ASSERT_TRUE(fused) << what;
        const double tolerance = activation == Activation::Relu ? 0.0 : output == DType::BF16 ? 1.0 / 256 : 2.4e-7;
        EXPECT_LE(largest_relative_difference(y, activated_product(x, weight, bias, precision, activation, output)),
                  tolerance)
            << what;
      }
    }
  }
}

// ops::linear_activation in inference: the fused product where the weight is packed, and linear, activation and
// rounding one after the other where it is not (a weight too small to pack in fp32, and 300 fp32 rows), each
// within the bounds above of the activation after the product.
TEST_P(PackedWeight, LinearActivationGivesTheActivationAfterTheProductPackedOrNot) {
  const DType precision = GetParam();
  const NoGradGuard inference;
  for (const auto& [in, out] : std::vector<std::pair<int64_t, int64_t>>{{768, 3072}, {37, 19}}) {
    const Tensor weight = random_tensor({out, in}, 61);
    const Tensor bias = random_tensor({out}, 62);
    for (const int64_t rows : {3, 300}) {
      const Tensor x = random_tensor({rows, in}, 63 + rows);
      const Tensor y = ops::linear_activation(x, weight, bias, precision, Activation::Gelu, precision);
      EXPECT_EQ(y.dtype(), precision);
      EXPECT_EQ(y.shape(), (Shape{rows, out}));
      EXPECT_LE(
          largest_relative_difference(y, activated_product(x, weight, bias, precision, Activation::Gelu, precision)),
          precision == DType::BF16 ? 1.0 / 256 : 2.4e-7)
          << out << " x " << in << ", " << rows << " rows";
    }
  }
  EXPECT_THROW(ops::linear_activation(random_tensor({2, 37}, 64), random_tensor({19, 37}, 65), Tensor(), DType::F32,
                                      Activation::Gelu, DType::BF16),
               Error);
}

// Small fp32 weights are sgemm's, which reads them as stored.
TEST(PackedWeights, NoneForSmallFp32Weights) {
  EXPECT_EQ(kernels::packed_linear_weight_bytes(37, 19, DType::F32), 0);
  EXPECT_EQ(kernels::packed_linear_weight_bytes(255, 256, DType::F32), 0);
}

std::vector<int8_t> random_int8(int64_t count, uint64_t seed) {
  const Tensor values = random_tensor({count}, seed);
  std::vector<int8_t> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    out[i] = static_cast<int8_t>(std::clamp(std::lrint(values.data<float>()[i] * 60.0F), -127L, 127L));
  }
  return out;
}

// int8 sums are exact (on a CPU without int8 multiplies, while they stay below 2^24): the packed product (whose
// packed form carries the weight's column sums that VNNI's s8 x s8 product needs, or without VNNI is the values
// as floats in graft's panels) is the unpacked one, here on distilbert-base's shapes, on widths no block
// divides, and with every product at the int8 extremes.
TEST(PackedInt8Weight, TheProductIsTheUnpackedOneAtEveryRowCount) {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{768, 768}, {768, 3072}, {3072, 768}, {37, 19}, {5, 130}};
  int64_t shapes_packed = 0;
  for (const auto& [in, out] : shapes) {
    if (no_packed_layout(in, out, DType::I8)) continue;  // small weights without int8 multiplies: none
    ++shapes_packed;
    std::vector<int8_t> weight = random_int8(in * out, 31);
    std::fill_n(weight.begin(), in, int8_t{-127});  // a column of the product at the extremes
    std::vector<uint8_t> packed(kernels::packed_linear_weight_bytes(in, out, DType::I8));
    kernels::pack_linear_weight(packed.data(), weight.data(), in, out, DType::I8);
    for (const int64_t rows : {1, 7, 32, 300}) {
      std::vector<int8_t> x = random_int8(rows * in, 32 + rows);
      std::fill_n(x.begin(), in, int8_t{127});
      std::vector<int32_t> expected(rows * out), actual(rows * out);
      kernels::gemm_int8(rows, out, in, x.data(), weight.data(), expected.data());
      kernels::gemm_int8(rows, out, in, x.data(), weight.data(), actual.data(), packed.data());
      EXPECT_EQ(actual, expected) << out << " x " << in << ", " << rows << " rows";
      if (kernels::cpu_multiplies_int8() || 127 * 127 * in < (1 << 24)) {  // gemm_int8's promise (kernels.h)
        EXPECT_EQ(actual[0], -127 * 127 * in) << out << " x " << in << ", " << rows << " rows";
      }
    }
  }
  if (shapes_packed == 0) GTEST_SKIP() << *no_packed_layout(768, 768, DType::I8);
}

// An int8 weight is never trained (Linear::quantize_int8), so its packed copy is made in grad mode too: once,
// by its first product, and dropped with the weight.
TEST(PackedInt8Weight, OneCopyPerWeightInEveryGradMode) {
  if (const auto reason = no_packed_layout(1024, 1024, DType::I8)) GTEST_SKIP() << *reason;
  const auto packed_bytes = static_cast<int64_t>(kernels::packed_linear_weight_bytes(1024, 1024, DType::I8));
  const Tensor x = random_tensor({3, 1024}, 41);
  const auto live = [] { return static_cast<int64_t>(allocator_stats().live_bytes); };
  forget_dead_weights_forms();  // those of the tests before
  const int64_t before = live();
  {
    const ops::QuantizedRows weight = ops::quantize_rows_int8(random_tensor({1024, 1024}, 42));
    const int64_t with_weight = live();
    ops::linear_int8(x, weight.values, weight.scales, Tensor());  // 3 rows: below the allocator's count
    EXPECT_EQ(live() - with_weight, packed_bytes) << "the first product, in grad mode";
    const NoGradGuard inference;
    ops::linear_int8(x, weight.values, weight.scales, Tensor());
    EXPECT_EQ(live() - with_weight, packed_bytes) << "the second product, in inference";
  }
  forget_dead_weights_forms();
  EXPECT_EQ(live() - before, 0) << "after the weight was freed";
}

INSTANTIATE_TEST_SUITE_P(Precisions, PackedWeight, testing::Values(DType::F32, DType::BF16),
                         [](const testing::TestParamInfo<DType>& precision) {
                           return std::string(dtype_name(precision.param));
                         });

}  // namespace
}  // namespace graft
