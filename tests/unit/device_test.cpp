// Devices: the checked device refuses host access, ops refuse tensors on two devices, copies are explicit, and
// a build without CUDA refuses cuda at once with the stub's message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "graft/core/error.h"
#include "graft/ops/ops.h"
#include "test_support.h"

namespace graft {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& run) {
  try {
    run();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(Device, NamesParseBackAndUnknownOnesAreClearErrors) {
  for (const char* name : {"cpu", "checked", "cuda:0", "cuda:3"}) EXPECT_EQ(device_name(parse_device(name)), name);
  EXPECT_EQ(parse_device("cuda"), (Device{DeviceType::Cuda, 0}));
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:1x", ""}) {
    EXPECT_EQ(error_of([bad] { parse_device(bad); }),
              "[device] unknown device '" + std::string(bad) + "' (expected cpu, cuda, cuda:N or checked)");
  }
}

TEST(Device, ACheckedTensorRefusesHostAccessAndCopiesBackExactly) {
  const Tensor host = Tensor::from_vector(std::vector<float>{1.5F, -2.0F, 3.25F}, {3});
  const Tensor checked = host.to(kChecked);
  EXPECT_EQ(checked.device(), kChecked);
  EXPECT_THAT(error_of([&] { (void)checked.data<float>(); }), HasSubstr("[tensor] host access to a tensor on checked"));
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
  EXPECT_EQ(error_of([&] { ops::add(a, b.to(kChecked)); }),
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
  EXPECT_THAT(error_of([&] { on_checked->forward(batch, context); }), HasSubstr("tensors on cpu and checked"));
}

TEST(Device, CudaInABuildWithoutItIsRefusedAtOnceByTheStub) {
  const Device cuda{DeviceType::Cuda, 0};
  const std::string stub = "[op] graft was built without CUDA (device cuda:0)";
  EXPECT_EQ(error_of([&] { Tensor::zeros({2}, DType::F32, cuda); }), stub);
  EXPECT_EQ(error_of([&] { Tensor::zeros({2}).to(cuda); }), stub);
  LoadOptions options;
  options.device = cuda;
  EXPECT_EQ(error_of([&] { Model::from_pretrained(test::fixtures_dir() + "/tiny-distilbert", options); }), stub);
}

}  // namespace
}  // namespace graft
