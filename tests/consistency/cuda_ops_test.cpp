// Every op of the backend table on CUDA against the CPU backend, on random inputs of odd shapes (ggml's
// test-backend-ops style): relative error max |cuda - cpu| / max |cpu|. Outputs on the GPU come from the
// stream-ordered pool without being cleared, so an element a kernel forgets to write shows as an error. Labelled
// cuda; without a CUDA device (or in a build without CUDA) each test skips with "no CUDA device: ...".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "graft/core/cuda_runtime.h"
#include "graft/core/random.h"
#include "graft/ops/ops.h"
#include "test_support.h"

namespace graft {
namespace {

constexpr Device kCuda{DeviceType::Cuda, 0};
// fp32 on both sides: only the order of sums and libm's last bits differ.
constexpr double kF32Tolerance = 2e-5;
// bf16 products round the same operands the same way; the sums' order differs in fp32, and a rounding that falls
// the other way changes one operand by 2^-8.
constexpr double kBf16Tolerance = 1e-2;

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string reason = cuda::unavailable_reason(kCuda);
    if (reason.starts_with("no CUDA device")) GTEST_SKIP() << reason;
    if (!reason.empty()) GTEST_SKIP() << "no CUDA device: " << reason;
  }
};

double relative_error(const Tensor& on_cuda, const Tensor& on_cpu) {
  EXPECT_EQ(on_cuda.device(), kCuda);
  EXPECT_EQ(on_cuda.shape(), on_cpu.shape());
  const Tensor back = on_cuda.to(kCpu);
  const double scale = std::max(test::max_abs(on_cpu), 1e-30);
  const double error = test::max_abs_diff(back, on_cpu) / scale;
  return std::isnan(error) ? INFINITY : error;
}

Tensor ids(Shape shape, int64_t limit, uint64_t seed) {
  Generator generator(seed);
  std::vector<int64_t> values(static_cast<size_t>(shape_numel(shape)));
  for (auto& value : values) value = static_cast<int64_t>(generator.next_u32() % static_cast<uint32_t>(limit));
  return Tensor::from_vector(values, std::move(shape));
}

Tensor padding_mask(int64_t batch, int64_t tokens) {
  std::vector<int64_t> mask(static_cast<size_t>(batch * tokens), 1);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = tokens - b; t < tokens; ++t) mask[static_cast<size_t>(b * tokens + t)] = 0;  // row b: b pads
  }
  return Tensor::from_vector(mask, {batch, tokens});
}

TEST_F(CudaOps, LinearForwardAndBackwardInBothPrecisions) {
  for (const DType precision : {DType::F32, DType::BF16}) {
    const double tolerance = precision == DType::F32 ? kF32Tolerance : kBf16Tolerance;
    const Tensor x = test::random_tensor({37, 53}, 1);
    const Tensor w = test::random_tensor({29, 53}, 2, 0.1F);
    const Tensor b = test::random_tensor({29}, 3);
    const Tensor dy = test::random_tensor({37, 29}, 4);
    EXPECT_LE(
        relative_error(ops::linear(x.to(kCuda), w.to(kCuda), b.to(kCuda), precision), ops::linear(x, w, b, precision)),
        tolerance);
    Tensor dw = test::random_tensor({29, 53}, 5);  // the backward accumulates into it
    Tensor db = test::random_tensor({29}, 6);
    Tensor dw_cuda = dw.to(kCuda);
    Tensor db_cuda = db.to(kCuda);
    const Tensor dx = ops::linear_backward(dy, x, w, &dw, &db, precision);
    const Tensor dx_cuda = ops::linear_backward(dy.to(kCuda), x.to(kCuda), w.to(kCuda), &dw_cuda, &db_cuda, precision);
    EXPECT_LE(relative_error(dx_cuda, dx), tolerance);
    EXPECT_LE(relative_error(dw_cuda, dw), tolerance);
    EXPECT_LE(relative_error(db_cuda, db), kF32Tolerance);
  }
}

TEST_F(CudaOps, RoundingToBf16GivesTheCpusBits) {
  const Tensor x = test::random_tensor({1001}, 7, 100.0F);
  EXPECT_EQ(ops::round_to_bf16(x.to(kCuda)).to(kCpu).to_float_vector(), ops::round_to_bf16(x).to_float_vector());
}

TEST_F(CudaOps, LayerNormForwardAndBackward) {
  const Tensor x = test::random_tensor({41, 67}, 8, 3.0F);
  const Tensor gamma = test::random_tensor({67}, 9);
  const Tensor beta = test::random_tensor({67}, 10);
  const Tensor dy = test::random_tensor({41, 67}, 11);
  const ops::LayerNormOutput cpu = ops::layer_norm(x, gamma, beta, 1e-12F);
  const ops::LayerNormOutput gpu = ops::layer_norm(x.to(kCuda), gamma.to(kCuda), beta.to(kCuda), 1e-12F);
  EXPECT_LE(relative_error(gpu.y, cpu.y), kF32Tolerance);
  EXPECT_LE(relative_error(gpu.mean, cpu.mean), kF32Tolerance);
  EXPECT_LE(relative_error(gpu.rstd, cpu.rstd), kF32Tolerance);
  Tensor dgamma = Tensor::zeros({67});
  Tensor dbeta = Tensor::zeros({67});
  Tensor dgamma_cuda = dgamma.to(kCuda);
  Tensor dbeta_cuda = dbeta.to(kCuda);
  const Tensor dx = ops::layer_norm_backward(dy, x, cpu.mean, cpu.rstd, gamma, &dgamma, &dbeta);
  const Tensor dx_cuda = ops::layer_norm_backward(dy.to(kCuda), x.to(kCuda), gpu.mean, gpu.rstd, gamma.to(kCuda),
                                                  &dgamma_cuda, &dbeta_cuda);
  EXPECT_LE(relative_error(dx_cuda, dx), kF32Tolerance);
  EXPECT_LE(relative_error(dgamma_cuda, dgamma), kF32Tolerance);
  EXPECT_LE(relative_error(dbeta_cuda, dbeta), kF32Tolerance);
}

TEST_F(CudaOps, ActivationsForwardAndBackward) {
  const Tensor x = test::random_tensor({3, 333}, 12, 3.0F);
  const Tensor dy = test::random_tensor({3, 333}, 13);
  for (const Activation activation : {Activation::Gelu, Activation::Relu, Activation::Tanh}) {
    const Tensor y = ops::activation(activation, x);
    EXPECT_LE(relative_error(ops::activation(activation, x.to(kCuda)), y), kF32Tolerance);
    const Tensor& saved = activation == Activation::Tanh ? y : x;
    EXPECT_LE(relative_error(ops::activation_backward(activation, dy.to(kCuda), saved.to(kCuda)),
                             ops::activation_backward(activation, dy, saved)),
              kF32Tolerance);
  }
}

TEST_F(CudaOps, EmbeddingsWithRepeatedIdsAndGathers) {
  const Tensor table = test::random_tensor({23, 19}, 14);
  const Tensor tokens = ids({5, 7}, 23, 15);
  EXPECT_EQ(
      relative_error(ops::embedding(tokens.to(kCuda), table.to(kCuda), "ids"), ops::embedding(tokens, table, "ids")),
      0.0);
  const Tensor dy = test::random_tensor({5, 7, 19}, 16);
  Tensor dtable = Tensor::zeros({23, 19});
  Tensor dtable_cuda = dtable.to(kCuda);
  ops::embedding_backward(dy, tokens, dtable);
  ops::embedding_backward(dy.to(kCuda), tokens.to(kCuda), dtable_cuda);
  EXPECT_EQ(relative_error(dtable_cuda, dtable), 0.0) << "rows are added in the same order";
  const Tensor labels = ids({31}, 4, 17);
  const Tensor positions = ops::labelled_positions(labels, 2);
  EXPECT_EQ(ops::labelled_positions(labels.to(kCuda), 2).to_int_vector(), positions.to_int_vector());
  EXPECT_EQ(ops::gather(labels.to(kCuda), positions.to(kCuda)).to_int_vector(),
            ops::gather(labels, positions).to_int_vector());
  const Tensor out_of_range = Tensor::from_vector(std::vector<int64_t>{1, 2, 23, 0}, {4});
  EXPECT_EQ(test::error_of([&] { ops::embedding(out_of_range.to(kCuda), table.to(kCuda), "input_ids"); }),
            test::error_of([&] { ops::embedding(out_of_range, table, "input_ids"); }));
}

TEST_F(CudaOps, DropoutMasksAreTheCpusFromTheSameGenerator) {
  Generator on_cpu(42);
  Generator on_cuda(42);
  const Shape shape{3, 5, 7, 1111};  // several draw chunks, the last one short
  const Tensor keep = ops::dropout_keep(shape, 0.1F, on_cpu, kCpu);
  const Tensor keep_cuda = ops::dropout_keep(shape, 0.1F, on_cuda, kCuda);
  EXPECT_EQ(keep_cuda.to_int_vector(), keep.to_int_vector());
  EXPECT_EQ(on_cuda.state(), on_cpu.state()) << "both generators advanced alike";
  // A part drawn alone (a data-parallel rank's rows), from inside a Philox block of one draw chunk into the next.
  const Tensor part = ops::dropout_keep({2, 1111}, 0.1F, on_cpu, kCpu, kDrawChunk - 5);
  const Tensor part_cuda = ops::dropout_keep({2, 1111}, 0.1F, on_cuda, kCuda, kDrawChunk - 5);
  EXPECT_EQ(part_cuda.to_int_vector(), part.to_int_vector());
  const Tensor x = test::random_tensor(shape, 18);
  EXPECT_EQ(
      relative_error(ops::apply_dropout(x.to(kCuda), keep_cuda, 1.0F / 0.9F), ops::apply_dropout(x, keep, 1.0F / 0.9F)),
      0.0);
}

TEST_F(CudaOps, AttentionPaddedWithDropoutAndPacked) {
  for (const DType precision : {DType::F32, DType::BF16}) {
    const double tolerance = precision == DType::F32 ? kF32Tolerance : kBf16Tolerance;
    const int64_t batch = 3, tokens = 13, heads = 3, width = 3 * 7;
    const Tensor q = test::random_tensor({batch, tokens, width}, 19);
    const Tensor k = test::random_tensor({batch, tokens, width}, 20);
    const Tensor v = test::random_tensor({batch, tokens, width}, 21);
    const Tensor mask = padding_mask(batch, tokens);
    Generator generator(7);
    const Tensor keep = ops::dropout_keep({batch, heads, tokens, tokens}, 0.2F, generator, kCpu);
    const ops::AttentionOutput cpu = ops::attention(q, k, v, mask, heads, keep, 1.25F, precision);
    const ops::AttentionOutput gpu =
        ops::attention(q.to(kCuda), k.to(kCuda), v.to(kCuda), mask.to(kCuda), heads, keep.to(kCuda), 1.25F, precision);
    EXPECT_LE(relative_error(gpu.attended, cpu.attended), tolerance);
    EXPECT_LE(relative_error(gpu.probs, cpu.probs), tolerance);
    const Tensor dy = test::random_tensor({batch, tokens, width}, 22);
    const auto grads = ops::attention_backward(dy, cpu.probs, q, k, v, heads, keep, 1.25F, precision);
    const auto grads_cuda = ops::attention_backward(dy.to(kCuda), gpu.probs, q.to(kCuda), k.to(kCuda), v.to(kCuda),
                                                    heads, keep.to(kCuda), 1.25F, precision);
    for (size_t i = 0; i < 3; ++i) EXPECT_LE(relative_error(grads_cuda[i], grads[i]), tolerance) << "gradient " << i;
    const Tensor offsets = Tensor::from_vector(std::vector<int64_t>{0, 5, 6, 17}, {4});  // one of a single token
    const Tensor packed = test::random_tensor({17, width}, 23);
    EXPECT_LE(relative_error(ops::attention_packed(packed.to(kCuda), packed.to(kCuda), packed.to(kCuda),
                                                   offsets.to(kCuda), heads, precision),
                             ops::attention_packed(packed, packed, packed, offsets, heads, precision)),
              tolerance);
  }
}

TEST_F(CudaOps, PoolingAndFirstTokens) {
  const Tensor hidden = test::random_tensor({4, 9, 11}, 24);
  const Tensor mask = padding_mask(4, 9);
  EXPECT_LE(relative_error(ops::mean_pool(hidden.to(kCuda), mask.to(kCuda)), ops::mean_pool(hidden, mask)),
            kF32Tolerance);
  const Tensor dpooled = test::random_tensor({4, 11}, 25);
  EXPECT_LE(relative_error(ops::mean_pool_backward(dpooled.to(kCuda), mask.to(kCuda)),
                           ops::mean_pool_backward(dpooled, mask)),
            kF32Tolerance);
  EXPECT_EQ(relative_error(ops::first_token(hidden.to(kCuda)), ops::first_token(hidden)), 0.0);
  const Tensor dfirst = test::random_tensor({4, 11}, 26);
  EXPECT_EQ(relative_error(ops::first_token_backward(dfirst.to(kCuda), {4, 9, 11}),
                           ops::first_token_backward(dfirst, {4, 9, 11})),
            0.0);
  EXPECT_EQ(relative_error(ops::add(hidden.to(kCuda), hidden.to(kCuda)), ops::add(hidden, hidden)), 0.0);
}

TEST_F(CudaOps, LossesValuesAndGradients) {
  const Tensor logits = test::random_tensor({17, 1003}, 27, 3.0F);
  Tensor labels = ids({17}, 1003, 28);
  labels.data<int64_t>()[3] = -100;  // ignored
  Tensor dlogits = Tensor::empty({17, 1003}, DType::F32);
  Tensor dlogits_cuda = Tensor::empty({17, 1003}, DType::F32, kCuda);
  const float loss = ops::cross_entropy(logits, labels, &dlogits, Tensor(), -100).item();
  const float loss_cuda = ops::cross_entropy(logits.to(kCuda), labels.to(kCuda), &dlogits_cuda, Tensor(), -100).item();
  EXPECT_NEAR(loss_cuda, loss, kF32Tolerance * std::fabs(loss));
  EXPECT_LE(relative_error(dlogits_cuda, dlogits), kF32Tolerance);
  const Tensor targets = test::random_tensor({17, 5}, 30);
  const Tensor scores = test::random_tensor({17, 5}, 31, 4.0F);
  Tensor dscores = Tensor::empty({17, 5}, DType::F32);
  Tensor dscores_cuda = Tensor::empty({17, 5}, DType::F32, kCuda);
  EXPECT_NEAR(ops::binary_cross_entropy_with_logits(scores.to(kCuda), targets.to(kCuda), &dscores_cuda).item(),
              ops::binary_cross_entropy_with_logits(scores, targets, &dscores).item(), 1e-5);
  EXPECT_LE(relative_error(dscores_cuda, dscores), kF32Tolerance);
  EXPECT_NEAR(ops::mean_squared_error(scores.to(kCuda), targets.to(kCuda), &dscores_cuda).item(),
              ops::mean_squared_error(scores, targets, &dscores).item(), 1e-5);
  EXPECT_LE(relative_error(dscores_cuda, dscores), kF32Tolerance);
}

TEST_F(CudaOps, OptimizerUpdatesAndNormsGiveTheCpusBits) {
  const Tensor grad = test::random_tensor({70001}, 32);
  Tensor param = test::random_tensor({70001}, 33);
  Tensor exp_avg = test::random_tensor({70001}, 34, 0.1F);
  Tensor exp_avg_sq = ops::activation(Activation::Relu, test::random_tensor({70001}, 35, 0.1F));
  Tensor param_cuda = param.to(kCuda), exp_avg_cuda = exp_avg.to(kCuda), exp_avg_sq_cuda = exp_avg_sq.to(kCuda);
  const AdamWScalars adamw{0.99999F, 0.1F, true, 0.999F, 0.001F, 0.0316F, 1e-8F, -1e-3F};
  ops::adamw_update(param, grad, exp_avg, exp_avg_sq, adamw);
  ops::adamw_update(param_cuda, grad.to(kCuda), exp_avg_cuda, exp_avg_sq_cuda, adamw);
  EXPECT_EQ(relative_error(param_cuda, param), 0.0);
  EXPECT_EQ(relative_error(exp_avg_cuda, exp_avg), 0.0);
  EXPECT_EQ(relative_error(exp_avg_sq_cuda, exp_avg_sq), 0.0);
  Tensor buffer = Tensor::zeros({70001});
  Tensor buffer_cuda = buffer.to(kCuda);
  const SGDScalars sgd{0.01F, 0.9F, -0.1F, true, false};
  ops::sgd_update(param, grad, &buffer, sgd);
  ops::sgd_update(param_cuda, grad.to(kCuda), &buffer_cuda, sgd);
  EXPECT_EQ(relative_error(param_cuda, param), 0.0);
  // Within a chunk the CPU sums in SIMD lanes, the GPU in a tree: the doubles differ in their last bits only.
  EXPECT_FLOAT_EQ(ops::l2_norm(grad.to(kCuda)), ops::l2_norm(grad));
  Tensor scaled = grad.to(kCuda);
  Tensor scaled_cpu = grad.clone();
  ops::scale(scaled, 0.37F);
  ops::scale(scaled_cpu, 0.37F);
  EXPECT_EQ(relative_error(scaled, scaled_cpu), 0.0);
}

TEST_F(CudaOps, Int8ProductsAreRefusedWithAClearError) {
  const Tensor x = test::random_tensor({4, 8}, 36);
  EXPECT_EQ(test::error_of([&] { ops::quantize_rows_int8(x.to(kCuda)); }),
            "[op] quantize_rows_int8: int8 products run on the CPU only (no CUDA kernels yet)");
}

}  // namespace
}  // namespace graft
