#include "graft/core/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "graft/core/error.h"
#include "test_support.h"

namespace graft {

TEST(Tensor, ShapesAndReshape) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_EQ(t.reshape({6, -1}).shape(), (Shape{6, 4}));
  EXPECT_THROW(t.reshape({5, 5}), Error);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0U);
}

TEST(Tensor, HalfAndBfloat16RoundTrip) {
  const std::vector<float> values = {0.0F, 1.0F, -2.5F, 65504.0F, 6.1035156e-05F, 5.9604645e-08F, 0.333251953125F};
  Tensor f32 = Tensor::from_vector(values, {7});
  EXPECT_EQ(f32.to(DType::F16).to(DType::F32).to_float_vector(), values);
  // bf16 keeps 8 bits of mantissa: 1/3 rounds to 0.333984375 (nearest even).
  EXPECT_FLOAT_EQ(bfloat16_to_float(float_to_bfloat16(1.0F / 3.0F)), 0.333984375F);
  EXPECT_FLOAT_EQ(half_to_float(float_to_half(1.0F / 3.0F)), 0.333251953125F);
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(1e6F))));
}

TEST(Tensor, WrongElementTypeIsAnError) {
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 3}, {3});
  EXPECT_THROW(ids.data<float>(), Error);
  EXPECT_EQ(ids.to(DType::F32).to_float_vector(), (std::vector<float>{1, 2, 3}));
}

// Caches of derived forms (the bf16 copies of weights) rely on the version moving with every write access.
TEST(Tensor, EveryWriteAccessMovesTheVersionOfTheSharedStorage) {
  Tensor weight = Tensor::zeros({4, 3});
  const Tensor& read_only = weight;
  const uint64_t start = weight.version();
  (void)read_only.data<float>();
  (void)read_only.raw_data();
  EXPECT_EQ(weight.version(), start) << "reads moved the version";
  Tensor alias = weight.reshape({12});  // shares the storage
  alias.data<float>()[0] = 1.0F;
  EXPECT_GT(weight.version(), start);
  const uint64_t after_data = weight.version();
  (void)alias.raw_data();
  EXPECT_GT(weight.version(), after_data);
  const uint64_t after_raw = weight.version();
  weight.fill(2.0F);
  EXPECT_GT(alias.version(), after_raw);
  const uint64_t after_fill = weight.version();
  weight.zero();
  EXPECT_GT(alias.version(), after_fill);
  // A clone has storage, version and identity of its own.
  Tensor copy = weight.clone();
  const uint64_t weight_version = weight.version();
  copy.data<float>()[0] = 3.0F;
  EXPECT_EQ(weight.version(), weight_version);
  EXPECT_TRUE(copy.storage_identity().owner_before(weight.storage_identity()) ||
              weight.storage_identity().owner_before(copy.storage_identity()));
}

}  // namespace graft
