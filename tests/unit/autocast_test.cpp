// bf16 matmuls (core/autocast.h): the products multiply operands rounded to bf16 and sum in fp32, every layer
// that multiplies follows the guard of its thread, and a backward multiplies as its forward did.
#include "graft/core/autocast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "graft/core/error.h"
#include "graft/kernels/kernels.h"
#include "graft/models/encoder.h"
#include "graft/models/layers.h"
#include "graft/ops/ops.h"
#include "test_support.h"

namespace graft {
namespace {

using test::random_tensor;

Tensor rounded_to_bf16(const Tensor& t) {
  Tensor rounded = t.clone();
  for (int64_t i = 0; i < t.numel(); ++i) {
    rounded.data<float>()[i] = bfloat16_to_float(float_to_bfloat16(t.data<float>()[i]));
  }
  return rounded;
}

// Largest |a - b| over the largest |b|.
double relative_diff(const Tensor& actual, const Tensor& expected) {
  return test::max_abs_diff(actual, expected) / test::max_abs(expected);
}

TEST(Autocast, TheGuardNestsRestoresAndStaysOnItsThread) {
  EXPECT_EQ(autocast_dtype(), DType::F32);
  {
    const AutocastGuard bf16(DType::BF16);
    EXPECT_EQ(autocast_dtype(), DType::BF16);
    DType seen_elsewhere = DType::BF16;
    std::thread([&] { seen_elsewhere = autocast_dtype(); }).join();
    EXPECT_EQ(seen_elsewhere, DType::F32);
    {
      const AutocastGuard fp32(DType::F32);
      EXPECT_EQ(autocast_dtype(), DType::F32);
    }
    EXPECT_EQ(autocast_dtype(), DType::BF16);
  }
  EXPECT_EQ(autocast_dtype(), DType::F32);
}

TEST(Autocast, OnlyF32AndBf16AreMatmulPrecisions) {
  try {
    const AutocastGuard fp16(DType::F16);
    FAIL() << "F16 was accepted";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "[autocast] matrix products run in F32 or BF16, not F16");
  }
  EXPECT_EQ(autocast_dtype(), DType::F32);
}

// 1 + 2^-9 is halfway between two bf16 values and rounds to even (1); 1 + 3 * 2^-9 rounds up to 1 + 2^-7.
TEST(Bf16Gemm, RoundsEachOperandToNearestEvenBeforeMultiplying) {
  const float a[2] = {1.0F + 0x1p-9F, 1.0F + 3 * 0x1p-9F};
  const float b[2] = {1.0F, 1.0F};
  float c[1] = {0.0F};
  kernels::gemm(false, false, 1, 1, 2, 1.0F, a, 2, b, 1, 0.0F, c, 1, DType::BF16);
  EXPECT_EQ(c[0], 1.0F + (1.0F + 0x1p-7F));
  kernels::gemm(false, false, 1, 1, 2, 1.0F, a, 2, b, 1, 0.0F, c, 1, DType::F32);
  EXPECT_EQ(c[0], a[0] + a[1]);
}

// Every transpose, a leading dimension wider than the matrix, alpha and beta: against the product of the rounded
// operands summed in double. bf16 x bf16 products are exact in fp32, so only the order of the fp32 sums differs.
TEST(Bf16Gemm, EqualsTheFp32ProductOfRoundedOperands) {
  const int64_t m = 7, n = 5, k = 33, pad = 3;
  for (const bool transpose_a : {false, true}) {
    for (const bool transpose_b : {false, true}) {
      const int64_t lda = (transpose_a ? m : k) + pad;
      const int64_t ldb = (transpose_b ? k : n) + pad;
      const Tensor a = random_tensor({(transpose_a ? k : m) * lda}, 1);
      const Tensor b = random_tensor({(transpose_b ? n : k) * ldb}, 2);
      const Tensor c0 = random_tensor({m * n}, 3);
      const Tensor ra = rounded_to_bf16(a);
      const Tensor rb = rounded_to_bf16(b);
      Tensor expected = Tensor::empty({m * n});
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double sum = 0.0;
          for (int64_t p = 0; p < k; ++p) {
            const float x = ra.data<float>()[transpose_a ? p * lda + i : i * lda + p];
            const float y = rb.data<float>()[transpose_b ? j * ldb + p : p * ldb + j];
            sum += static_cast<double>(x) * y;
          }
          expected.data<float>()[i * n + j] = static_cast<float>(0.5 * sum + 2.0 * c0.data<float>()[i * n + j]);
        }
      }
      Tensor c = c0.clone();
      kernels::gemm(transpose_a, transpose_b, m, n, k, 0.5F, a.data<float>(), lda, b.data<float>(), ldb, 2.0F,
                    c.data<float>(), n, DType::BF16);
      EXPECT_LE(relative_diff(c, expected), 1e-6) << "transpose_a " << transpose_a << ", transpose_b " << transpose_b;
    }
  }
}

// Under the guard a Linear is the fp32 Linear of the rounded input and weight; its backward multiplies the
// rounded output gradient, even when the guard has ended before the backward. The bias gradient is a sum, not
// a product: it stays fp32.
TEST(Bf16Layers, LinearMultipliesRoundedOperandsForwardAndBackward) {
  Linear linear(48, 24);
  Linear reference(48, 24);
  linear.weight.value = random_tensor({24, 48}, 4);
  linear.bias.value = random_tensor({24}, 5);
  reference.weight.value = rounded_to_bf16(linear.weight.value);
  reference.bias.value = linear.bias.value.clone();
  const Tensor x = random_tensor({3, 5, 48}, 6);
  const Tensor dy = random_tensor({3, 5, 24}, 7);

  ForwardContext context;
  Tensor y;
  {
    const AutocastGuard bf16(DType::BF16);
    y = linear.forward(x, context);
  }
  const Tensor dx = linear.backward(dy, context);
  const Tensor expected_y = reference.forward(rounded_to_bf16(x), context);
  const Tensor expected_dx = reference.backward(rounded_to_bf16(dy), context);
  EXPECT_LE(relative_diff(y, expected_y), 1e-6);
  EXPECT_LE(relative_diff(dx, expected_dx), 1e-6);
  EXPECT_LE(relative_diff(linear.weight.grad, reference.weight.grad), 1e-6);
  Tensor bias_grad = Tensor::zeros({24});
  for (int64_t i = 0; i < dy.numel(); ++i) bias_grad.data<float>()[i % 24] += dy.data<float>()[i];
  EXPECT_LE(relative_diff(linear.bias.grad, bias_grad), 1e-6);
  // ... and the rounding is really there: the fp32 layer differs by about bf16's epsilon.
  linear.weight.zero_grad();
  const double fp32_gap = relative_diff(linear.forward(x, context), expected_y);
  EXPECT_GT(fp32_gap, 1e-4);
  EXPECT_LT(fp32_gap, 2e-2);
}

// Layers that read one input round it once (Linear::input_for_product) and hand the products the BF16 tensor;
// the products, forward and backward, are then exactly those of the F32 input rounded inside them.
TEST(Bf16Layers, AnInputRoundedBeforehandGivesExactlyTheProductsOfTheF32Input) {
  const Tensor x = random_tensor({3, 5, 48}, 21);
  const Tensor weight = random_tensor({24, 48}, 22);
  const Tensor bias = random_tensor({24}, 23);
  const Tensor dy = random_tensor({3, 5, 24}, 24);
  const Tensor rounded = ops::round_to_bf16(x);
  ASSERT_EQ(rounded.dtype(), DType::BF16);
  EXPECT_EQ(test::max_abs_diff(rounded.to(DType::F32), rounded_to_bf16(x)), 0.0);
  EXPECT_EQ(
      test::max_abs_diff(ops::linear(rounded, weight, bias, DType::BF16), ops::linear(x, weight, bias, DType::BF16)),
      0.0);
  Tensor dweight = Tensor::zeros({24, 48});
  Tensor dbias = Tensor::zeros({24});
  Tensor expected_dweight = Tensor::zeros({24, 48});
  Tensor expected_dbias = Tensor::zeros({24});
  const Tensor dx = ops::linear_backward(dy, rounded, weight, &dweight, &dbias, DType::BF16);
  const Tensor expected_dx = ops::linear_backward(dy, x, weight, &expected_dweight, &expected_dbias, DType::BF16);
  EXPECT_EQ(dx.dtype(), DType::F32);
  EXPECT_EQ(test::max_abs_diff(dx, expected_dx), 0.0);
  EXPECT_EQ(test::max_abs_diff(dweight, expected_dweight), 0.0);
  EXPECT_EQ(test::max_abs_diff(dbias, expected_dbias), 0.0);
}

TEST(Bf16Layers, ABf16InputToAnFp32ProductIsAnError) {
  const Tensor rounded = ops::round_to_bf16(random_tensor({2, 48}, 25));
  try {
    ops::linear(rounded, random_tensor({24, 48}, 26), Tensor(), DType::F32);
    FAIL() << "a BF16 input was multiplied in F32";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "[op] linear: a BF16 input is for a BF16 product, not an F32 one");
  }
}

// A bf16 product multiplies by a bf16 copy of the weight made once per version of the weight (ops.cpp): after
// any write to the weight, in place or by an optimizer step, and for a new weight that the allocator places
// where a freed one was, the product is the one of the weight as it is now.
TEST(Bf16Layers, TheBf16CopyOfAWeightFollowsEveryChangeOfTheWeight) {
  const Tensor x = random_tensor({4, 48}, 11);
  const Tensor bias = Tensor::zeros({24});
  const auto product = [&](const Tensor& weight) { return ops::linear(x, weight, bias, DType::BF16); };
  const auto expected = [&](const Tensor& weight) {
    return ops::linear(rounded_to_bf16(x), rounded_to_bf16(weight), bias, DType::F32);
  };
  Tensor weight = random_tensor({24, 48}, 12);
  EXPECT_LE(relative_diff(product(weight), expected(weight)), 1e-6);
  weight.data<float>()[5] = 40.0F;  // written in place through the tensor
  EXPECT_LE(relative_diff(product(weight), expected(weight)), 1e-6);
  Tensor exp_avg = Tensor::zeros({24, 48});
  Tensor exp_avg_sq = Tensor::zeros({24, 48});
  ops::adamw_update(weight, random_tensor({24, 48}, 13), exp_avg, exp_avg_sq,
                    {1.0F, 0.1F, true, 0.999F, 0.001F, 0.0316F, 1e-8F, -0.5F});
  EXPECT_LE(relative_diff(product(weight), expected(weight)), 1e-6);
  for (uint64_t seed = 14; seed < 18; ++seed) {
    weight = random_tensor({24, 48}, seed);  // the freed block may well come back at the same address
    EXPECT_LE(relative_diff(product(weight), expected(weight)), 1e-6) << "seed " << seed;
  }
}

// Attention's products (Q K^T, P V and their backward) follow the guard too: within bf16 rounding of fp32, and
// not equal to it.
TEST(Bf16Layers, AttentionStaysWithinBf16RoundingOfFp32) {
  const Tensor q = random_tensor({2, 6, 16}, 8);
  const Tensor k = random_tensor({2, 6, 16}, 9);
  const Tensor v = random_tensor({2, 6, 16}, 10);
  const Tensor dcontext = random_tensor({2, 6, 16}, 11);
  const Tensor mask = Tensor::from_vector(std::vector<int64_t>{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}, {2, 6});
  SelfAttention fp32(2, 0.0F, nullptr);
  SelfAttention bf16(2, 0.0F, nullptr);
  ForwardContext forward_context;
  const Tensor expected = fp32.forward(q, k, v, {mask, {}}, false, forward_context);
  const std::vector<Tensor> expected_grads = fp32.backward(dcontext, forward_context);
  const AutocastGuard guard(DType::BF16);
  const Tensor context = bf16.forward(q, k, v, {mask, {}}, false, forward_context);
  const std::vector<Tensor> grads = bf16.backward(dcontext, forward_context);
  EXPECT_GT(relative_diff(context, expected), 1e-4);
  EXPECT_LT(relative_diff(context, expected), 2e-2);
  for (size_t i = 0; i < grads.size(); ++i) {
    EXPECT_GT(relative_diff(grads[i], expected_grads[i]), 1e-4) << "gradient " << i;
    EXPECT_LT(relative_diff(grads[i], expected_grads[i]), 3e-2) << "gradient " << i;
  }
}

}  // namespace
}  // namespace graft
