// Devices: the checked device refuses host access, ops refuse tensors on two devices, copies are explicit, and
// cuda where it cannot run (a build without CUDA, a machine without a GPU) is refused at once, saying why.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "graft/core/cuda_runtime.h"
#include "graft/core/error.h"
#include "graft/models/custom.h"
#include "graft/ops/ops.h"
#include "test_support.h"

namespace graft {
namespace {

using ::testing::HasSubstr;

TEST(Device, NamesParseBackAndUnknownOnesAreClearErrors) {
  for (const char* name : {"cpu", "checked", "cuda:0", "cuda:3"}) EXPECT_EQ(device_name(parse_device(name)), name);
  EXPECT_EQ(parse_device("cuda"), (Device{DeviceType::Cuda, 0}));
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:1x", ""}) {
    EXPECT_EQ(test::error_of([bad] { parse_device(bad); }),
              "[device] unknown device '" + std::string(bad) + "' (expected cpu, cuda, cuda:N or checked)");
  }
}

TEST(Device, ACheckedTensorRefusesHostAccessAndCopiesBackExactly) {
  const Tensor host = Tensor::from_vector(std::vector<float>{1.5F, -2.0F, 3.25F}, {3});
  const Tensor checked = host.to(kChecked);
  EXPECT_EQ(checked.device(), kChecked);
  EXPECT_THAT(test::error_of([&] { (void)checked.data<float>(); }),
              HasSubstr("[tensor] host access to a tensor on checked"));
  EXPECT_EQ(checked.to(kCpu).to_float_vector(), host.to_float_vector());
  EXPECT_EQ(checked.to_float_vector(), host.to_float_vector()) << "to_float_vector copies to the host itself";
  EXPECT_EQ(checked.clone().device(), kChecked);
}

TEST(Device, OpsComputeOnTheDeviceOfTheirInputsAndRefuseMixedDevices) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  const Tensor b = Tensor::from_vector(std::vector<float>{10, 20, 30, 40}, {2, 2});
  const Tensor sum = ops::add(a.to(kChecked), b.to(kChecked));
  EXPECT_EQ(sum.device(), kChecked);
  EXPECT_EQ(sum.to_float_vector(), (std::vector<float>{11, 22, 33, 44}));
  EXPECT_EQ(test::error_of([&] { ops::add(a, b.to(kChecked)); }),
            "[op] add: tensors on cpu and checked (copy them to one device with Tensor::to)");
}

TEST(Device, AModelOnTheCheckedDeviceGivesTheCpuLogitsAndItsBatchMustBeThere) {
  const std::string dir = test::fixtures_dir() + "/tiny-distilbert";
  auto on_cpu = Model::from_pretrained(dir);
  LoadOptions checked;
  checked.device = kChecked;
  auto on_checked = Model::from_pretrained(dir, checked);
  for (const auto& [name, parameter] : on_checked->named_parameters()) EXPECT_EQ(parameter->value.device(), kChecked);
  Batch batch;
  batch.input_ids = Tensor::from_vector(std::vector<int64_t>{2, 40, 41, 3}, {1, 4});
  ForwardContext context;
  const Tensor expected = on_cpu->forward(batch, context).logits;
  const Tensor logits = on_checked->forward(batch.to(kChecked), context).logits;
  EXPECT_EQ(logits.device(), kChecked);
  EXPECT_EQ(logits.to_float_vector(), expected.to_float_vector());
  EXPECT_THAT(test::error_of([&] { on_checked->forward(batch, context); }), HasSubstr("tensors on cpu and checked"));
}

// Each failed before: the ops read an F16 tensor as F32, let the id INT64_MIN past the table's range check, and
// left a user's head on the CPU under a base on another device.
TEST(Ops, RefuseTheWrongElementTypeAndEveryIdOutsideTheTable) {
  const Tensor table = Tensor::zeros({5, 2});
  EXPECT_EQ(test::error_of([&] { ops::add(Tensor::zeros({2}, DType::F16), Tensor::zeros({2}, DType::F16)); }),
            "[op] expected a tensor of F32, got F16 [2]");
  for (const int64_t id : {int64_t{5}, int64_t{-1}, int64_t{-100}, std::numeric_limits<int64_t>::min()}) {
    EXPECT_EQ(test::error_of([&] {
                ops::embedding(Tensor::from_vector(std::vector<int64_t>{0, id}, {2}), table, "word");
              }),
              "[op] word: index " + std::to_string(id) + " out of range for a table of 5 rows");
  }
  const Tensor logits = Tensor::zeros({2, 3});
  EXPECT_EQ(
      test::error_of([&] {
        ops::cross_entropy(logits, Tensor::from_vector(std::vector<int64_t>{-100, 7}, {2}), nullptr, Tensor(), -100);
      }),
      "[op] cross_entropy: label 7 is outside [0, 3)");
  auto model = Model::from_pretrained(test::fixtures_dir() + "/tiny-distilbert");
  Batch features;
  features.features = Tensor::zeros({2, model->config().hidden_size}, DType::F16);
  ForwardContext context;
  EXPECT_EQ(test::error_of([&] { model->forward(features, context); }),
            "[op] expected a tensor of F32, got F16 [2, 16]");
}

TEST(Device, AUsersHeadGoesToTheDeviceOfItsBase) {
  LoadOptions checked;
  checked.device = kChecked;
  auto head = std::make_unique<Sequential>();
  head->add("classifier", std::make_unique<Linear>(16, 3));
  EncoderWithHead model(EncoderWithHead::load_base(test::fixtures_dir() + "/tiny-distilbert", checked),
                        std::move(head));
  for (const auto& [name, parameter] : model.named_parameters()) EXPECT_EQ(parameter->value.device(), kChecked) << name;
  Batch batch;
  batch.input_ids = Tensor::from_vector(std::vector<int64_t>{2, 40, 41, 3}, {1, 4}).to(kChecked);
  ForwardContext context;
  EXPECT_EQ(model.forward(batch, context).logits.shape(), (Shape{1, 3}));
}

TEST(Device, CudaWhereItCannotRunIsRefusedAtOnceWithTheReason) {
  const Device cuda{DeviceType::Cuda, 0};
  const std::string reason = cuda::unavailable_reason(cuda);
  if (reason.empty()) GTEST_SKIP() << "this machine has a CUDA device (tests/consistency/cuda_ops_test.cpp uses it)";
  if (cuda::built_with_cuda()) {
    EXPECT_THAT(reason, ::testing::StartsWith("no CUDA device: ")) << "the runtime's reason follows";
  } else {
    EXPECT_EQ(reason, "graft was built without CUDA");
  }
  const std::string stub = "[op] " + reason + " (device cuda:0)";
  EXPECT_EQ(test::error_of([&] { Tensor::zeros({2}, DType::F32, cuda); }), stub);
  EXPECT_EQ(test::error_of([&] { Tensor::zeros({2}).to(cuda); }), stub);
  LoadOptions options;
  options.device = cuda;
  EXPECT_EQ(test::error_of([&] { Model::from_pretrained(test::fixtures_dir() + "/tiny-distilbert", options); }), stub);
}

}  // namespace
}  // namespace graft
