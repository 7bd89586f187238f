// Buffer donation (Tensor::donatable, as mlx donates): an op handed a tensor by value writes its result into
// that tensor's storage when nothing else holds it, and never otherwise: not into a tensor the caller kept, nor
// into one a backward will read, nor into memory graft did not allocate.
#include <gtest/gtest.h>

#include <memory>
#include <utility>
#include <vector>

#include "graft/core/grad_mode.h"
#include "graft/models/layers.h"
#include "graft/ops/ops.h"
#include "test_support.h"

namespace graft {
namespace {

using test::random_tensor;

const void* address_of(const Tensor& tensor) {
  return tensor.raw_data();
}

TEST(Donation, OnlyATensorWhoseStorageNothingElseSharesIsDonatable) {
  Tensor fresh = Tensor::zeros({4, 4});
  EXPECT_TRUE(fresh.donatable());
  {
    const Tensor copy = fresh;
    EXPECT_FALSE(fresh.donatable());
    EXPECT_FALSE(copy.donatable());
    const Tensor reshaped = fresh.reshape({16});
    EXPECT_FALSE(reshaped.donatable());
  }
  EXPECT_TRUE(fresh.donatable());
  EXPECT_FALSE(Tensor().donatable());
  // Borrowed memory (a memory-mapped checkpoint's) is read-only, even when the view is its last holder.
  auto owner = std::make_shared<std::vector<float>>(16, 1.0F);
  const Tensor view = Tensor::view_of(owner, owner->data(), {16}, DType::F32);
  owner.reset();
  EXPECT_FALSE(view.donatable());
}

// The donated result is the result, bit for bit; a tensor the caller kept is left as it was.
TEST(Donation, AMovedInTensorReceivesTheResultAndAKeptOneIsLeftAsItWas) {
  const Tensor x = random_tensor({8, 300}, 1);
  const Tensor other = random_tensor({8, 300}, 2);
  for (const Activation activation : {Activation::Gelu, Activation::Relu, Activation::Tanh}) {
    Tensor kept = x.clone();
    const Tensor expected = ops::activation(activation, kept);
    EXPECT_NE(address_of(expected), address_of(kept));
    EXPECT_EQ(test::max_abs_diff(kept, x), 0.0) << "the kept input changed";
    const void* storage = address_of(kept);
    const Tensor donated = ops::activation(activation, std::move(kept));
    EXPECT_EQ(address_of(donated), storage);
    EXPECT_EQ(test::max_abs_diff(donated, expected), 0.0);
  }
  Tensor kept = x.clone();
  const Tensor expected = ops::add(kept, other);
  EXPECT_EQ(test::max_abs_diff(kept, x), 0.0) << "add changed its kept operand";
  const void* storage = address_of(kept);
  const Tensor donated = ops::add(std::move(kept), other);
  EXPECT_EQ(address_of(donated), storage);
  EXPECT_EQ(test::max_abs_diff(donated, expected), 0.0);
}

// An activation layer given a temporary: in training its backward reads the input as it was (GELU's derivative
// at x, not at GELU(x)); in inference, where nothing is kept, the output takes the input's storage.
TEST(Donation, AnActivationLayerDonatesOnlyWhatItsBackwardDoesNotRead) {
  ActivationLayer gelu(Activation::Gelu);
  const Tensor x = random_tensor({4, 70}, 3);
  const Tensor dy = random_tensor({4, 70}, 4);
  {
    ForwardContext context;
    const Tensor y = gelu.forward(x.clone(), context);
    EXPECT_EQ(test::max_abs_diff(y, ops::activation(Activation::Gelu, x)), 0.0);
    const Tensor dx = gelu.backward(dy, context);
    EXPECT_EQ(test::max_abs_diff(dx, ops::activation_backward(Activation::Gelu, dy, x)), 0.0);
  }
  const NoGradGuard inference;
  ForwardContext context;
  Tensor input = x.clone();
  const void* storage = address_of(input);
  const Tensor y = gelu.forward(std::move(input), context);
  EXPECT_EQ(address_of(y), storage);
  EXPECT_EQ(test::max_abs_diff(y, ops::activation(Activation::Gelu, x)), 0.0);
}

}  // namespace
}  // namespace graft
