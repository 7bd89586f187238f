// Dynamic int8 quantisation (kernels.h: quantize_rows_int8, gemm_int8, linear_forward_int8; Model::quantize_int8):
// the exact values of the quantisation, exact int32 sums, the error bound of an int8 product against fp32, and
// an int8 model saved in compressed-tensors' form and read back.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <vector>

#include "graft/core/error.h"
#include "graft/io/file.h"
#include "graft/io/safetensors.h"
#include "graft/kernels/kernels.h"
#include "graft/models/layers.h"
#include "graft/ops/ops.h"
#include "test_support.h"

namespace graft {
namespace {

std::vector<float> normal_values(size_t count, unsigned seed, float scale) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0F, scale);
  std::vector<float> values(count);
  for (float& value : values) value = normal(generator);
  return values;
}

TEST(Int8, QuantisesEachRowSymmetricallyToNearestEven) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // Row 0: scale 2 / 127; 1 / scale = 63.5 rounds to even 64; 0.5 / scale = 31.75 -> 32; -2 -> -127.
  const std::vector<float> in = {1.0F,   -2.0F, 0.5F,    0.0F,   //
                                 0.0F,   0.0F,  0.0F,    0.0F,   //
                                 1.0F,   nan,   2.0F,    3.0F,   //
                                 1.0F,   2.0F,  inf,     3.0F,   //
                                 1e-38F, 0.0F,  -1e-38F, 0.0F};  // 127 / 1e-38 would overflow
  std::vector<int8_t> out(20, 99);
  std::vector<float> scales(5);
  kernels::quantize_rows_int8(out.data(), scales.data(), in.data(), 5, 4);
  EXPECT_EQ(std::vector<int8_t>(out.begin(), out.begin() + 4), (std::vector<int8_t>{64, -127, 32, 0}));
  EXPECT_FLOAT_EQ(scales[0], 2.0F / 127.0F);
  EXPECT_EQ(scales[1], 0.0F);  // an all-zero row
  EXPECT_TRUE(std::isnan(scales[2]));
  EXPECT_TRUE(std::isnan(scales[3]));
  EXPECT_EQ(scales[4], 0.0F);
  for (int i = 4; i < 20; ++i) EXPECT_EQ(out[i], 0) << i;
}

TEST(Int8, SumsAreExactInInt32) {
  for (const auto [m, n, k] : {std::array<int64_t, 3>{5, 7, 13}, {64, 96, 768}, {300, 40, 3072}}) {
    std::mt19937 generator(static_cast<unsigned>(m * n));
    std::uniform_int_distribution<int> values(-127, 127);
    std::vector<int8_t> a(m * k);
    std::vector<int8_t> b(n * k);
    for (auto& value : a) value = static_cast<int8_t>(values(generator));
    for (auto& value : b) value = static_cast<int8_t>(values(generator));
    std::vector<int32_t> c(m * n);
    kernels::gemm_int8(m, n, k, a.data(), b.data(), c.data());
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        int32_t sum = 0;
        for (int64_t p = 0; p < k; ++p) sum += a[i * k + p] * b[j * k + p];
        ASSERT_EQ(c[i * n + j], sum) << m << "x" << n << "x" << k << " at " << i << "," << j;
      }
    }
  }
}

// y = sum_k q(x)_k sx q(w)_k sw + b as the int32 sum scaled once, and within the rounding bound of
// the fp32 product: |x w - q(x) sx q(w) sw| <= |x| sw / 2 + |w| sx / 2 + sx sw / 4 per term.
TEST(Int8, LinearIsTheScaledInt32ProductWithinTheRoundingBoundOfFp32) {
  constexpr int64_t kRows = 33;
  constexpr int64_t kIn = 256;
  constexpr int64_t kOut = 70;
  const Tensor x = Tensor::from_vector(normal_values(kRows * kIn, 1, 2.0F), {kRows, kIn});
  const Tensor weight = Tensor::from_vector(normal_values(kOut * kIn, 2, 0.05F), {kOut, kIn});
  const Tensor bias = Tensor::from_vector(normal_values(kOut, 3, 1.0F), {kOut});
  const ops::QuantizedRows w = ops::quantize_rows_int8(weight);
  const ops::QuantizedRows q = ops::quantize_rows_int8(x);
  ASSERT_EQ(w.scales.shape(), (Shape{kOut, 1}));
  const Tensor y = ops::linear_int8(x, w.values, w.scales, bias);
  const Tensor y_fp32 = ops::linear(x, weight, bias, DType::F32);
  const float* xs = x.data<float>();
  const float* ws = weight.data<float>();
  for (int64_t r = 0; r < kRows; ++r) {
    const float sx = q.scales.data<float>()[r];
    for (int64_t o = 0; o < kOut; ++o) {
      const float sw = w.scales.data<float>()[o];
      int32_t sum = 0;
      double bound = 0.0;
      for (int64_t i = 0; i < kIn; ++i) {
        sum += q.values.data<int8_t>()[r * kIn + i] * w.values.data<int8_t>()[o * kIn + i];
        bound += std::fabs(xs[r * kIn + i]) * sw / 2 + std::fabs(ws[o * kIn + i]) * sx / 2 + sx * sw / 4;
      }
      const float scaled = static_cast<float>(sum) * (sx * sw);
      const float expected = scaled + bias.data<float>()[o];
      // Up to one rounding: the kernel's compiler may fuse the multiply and the add into an FMA.
      const double one_rounding = std::ldexp(std::fabs(scaled) + std::fabs(bias.data<float>()[o]), -23);
      ASSERT_NEAR(y.data<float>()[r * kOut + o], expected, one_rounding) << r << "," << o;
      ASSERT_LE(std::fabs(y.data<float>()[r * kOut + o] - y_fp32.data<float>()[r * kOut + o]), bound + 1e-4);
    }
  }
}

TEST(Int8, ShapesThatDoNotFitAreRefused) {
  const Tensor x = Tensor::zeros({2, 4});
  const Tensor weight = Tensor::zeros({3, 4}, DType::I8);
  EXPECT_EQ(test::error_of([&] { ops::linear_int8(x, weight, Tensor::zeros({3}), Tensor()); }),
            "[op] linear_int8: x [2, 4], weight [3, 4], weight_scale [3] and bias [] do not fit together");
  EXPECT_EQ(test::error_of([&] {
              ops::linear_int8(x, Tensor::zeros({3, 4}), Tensor::zeros({3, 1}), Tensor());
            }),
            "[op] linear_int8: weight must be I8, got F32");
}

Batch tiny_batch() {
  Batch batch;
  batch.input_ids = Tensor::from_vector(std::vector<int64_t>{2, 41, 17, 88, 3, 0, 2, 60, 5, 73, 29, 3}, {2, 6});
  batch.attention_mask = Tensor::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1}, {2, 6});
  return batch;
}

TEST(Int8, AQuantisedModelIsCloseToFp32AndReloadsBitForBit) {
  const std::string source = test::fixtures_dir() + "/tiny-distilbert";
  LoadOptions options;
  options.task = TaskHead::SequenceClassification;
  auto model = Model::from_pretrained(source, options);
  ForwardContext context;
  const Tensor fp32_logits = model->forward(tiny_batch(), context).logits;
  model->quantize_int8();
  ForwardContext int8_context;
  const Tensor int8_logits = model->forward(tiny_batch(), int8_context).logits;
  // A loose bound for a 16-wide random model, whose rows of 16 values share one scale each; the real models'
  // bounds are those of the accuracy test (tests/cli/int8_accuracy_test.cpp).
  EXPECT_TENSOR_NEAR(int8_logits, fp32_logits, 0.05 * test::max_abs(fp32_logits));
  EXPECT_GT(test::max_abs_diff(int8_logits, fp32_logits), 0.0);  // it did compute in int8

  const std::string saved = ::testing::TempDir() + "/graft_int8_model";
  std::filesystem::remove_all(saved);
  model->save_pretrained(saved, DType::BF16);
  const nlohmann::json config = read_json_file(saved + "/config.json");
  EXPECT_EQ(config["quantization_config"]["quant_method"], "compressed-tensors");
  EXPECT_EQ(config["quantization_config"]["format"], "int-quantized");
  EXPECT_EQ(config["quantization_config"]["ignore"], nlohmann::json({"pre_classifier", "classifier"}));
  const SafetensorsFile file = SafetensorsFile::open(saved + "/model.safetensors");
  EXPECT_EQ(file.info("distilbert.transformer.layer.0.attention.q_lin.weight").dtype, DType::I8);
  EXPECT_EQ(file.info("distilbert.transformer.layer.0.attention.q_lin.weight_scale").dtype, DType::F32);
  EXPECT_EQ(file.info("distilbert.transformer.layer.0.attention.q_lin.bias").dtype, DType::BF16);
  EXPECT_EQ(file.info("classifier.weight").dtype, DType::BF16);

  // Stored in fp32 the reloaded model is the same model: the same logits, bit for bit.
  model->save_pretrained(saved);
  auto reloaded = Model::from_pretrained(saved);
  EXPECT_TRUE(reloaded->quantized_int8());
  ForwardContext reloaded_context;
  EXPECT_EQ(test::max_abs_diff(reloaded->forward(tiny_batch(), reloaded_context).logits, int8_logits), 0.0);

  Batch labelled = tiny_batch();
  labelled.labels = Tensor::from_vector(std::vector<int64_t>{0, 1}, {2});
  ForwardContext training_context;
  reloaded->forward(labelled, training_context);
  for (Parameter* parameter : reloaded->parameters()) parameter->trainable = true;
  EXPECT_EQ(
      test::error_of([&] { reloaded->backward(training_context); }),
      "[linear] an int8 model is for inference: train the fp32 model, then quantise it (graft quantize, or --int8 "
      "when loading)");
}

TEST(Int8, AnInt8CheckpointWithoutItsQuantizationConfigOrWithAnotherSchemeIsRefused) {
  const std::string source = test::fixtures_dir() + "/tiny-distilbert";
  auto model = Model::from_pretrained(source);
  model->quantize_int8();
  const std::string saved = ::testing::TempDir() + "/graft_int8_config";
  std::filesystem::remove_all(saved);
  model->save_pretrained(saved);
  nlohmann::json config = read_json_file(saved + "/config.json");

  nlohmann::json other_scheme = config;
  other_scheme["quantization_config"]["config_groups"]["group_0"]["input_activations"]["strategy"] = "tensor";
  write_file_atomically(saved + "/config.json", other_scheme.dump());
  EXPECT_EQ(test::error_of([&] { Model::from_pretrained(saved); }),
            "[config] " + saved +
                "/config.json: quantization_config.config_groups.group_0: input_activations must be "
                "{\"dynamic\":true,\"num_bits\":8,\"strategy\":\"token\",\"symmetric\":true,\"type\":\"int\"} (graft "
                "reads compressed-tensors' int-quantized form with int8 weights per channel and int8 activations per "
                "token (dynamic, symmetric)), got {\"dynamic\":true,\"num_bits\":8,\"strategy\":\"tensor\","
                "\"symmetric\":true,\"type\":\"int\"}");

  config.erase("quantization_config");
  write_file_atomically(saved + "/config.json", config.dump());
  EXPECT_EQ(test::error_of([&] { Model::from_pretrained(saved); }),
            "[model] " + saved +
                ": tensor 'distilbert.transformer.layer.0.attention.q_lin.weight' is I8 in the checkpoint, but "
                "graft reads int8 weights only under config.json's quantization_config");
}

}  // namespace
}  // namespace graft
