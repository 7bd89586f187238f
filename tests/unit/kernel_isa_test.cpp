// The kernels compiled for each instruction set (src/kernels/cpu/isa_kernels.h): which set runs, and that
// every set this CPU runs gives the same numbers as the narrowest one.
#include <dnnl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "graft/core/cpu.h"
#include "kernels/cpu/isa_kernels.h"

namespace graft::kernels {
namespace {

std::vector<float> random_values(size_t count, unsigned seed, float scale = 1.0F) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0F, scale);
  std::vector<float> values(count);
  for (float& value : values) value = normal(generator);
  return values;
}

std::vector<const KernelTable*> tables_that_run_here() {
  std::vector<const KernelTable*> runnable;
  for (const KernelTable* table : compiled_kernel_tables()) {
    if (runs_here(*table)) runnable.push_back(table);
  }
  return runnable;
}

TEST(KernelIsa, TheWidestSetThisCpuRunsIsChosen) {
  const std::vector<const KernelTable*> compiled = compiled_kernel_tables();
  ASSERT_FALSE(compiled.empty());
  const std::string chosen = kernel_table().isa;
  if (compiled.size() == 1) {
    EXPECT_EQ(chosen, "native");  // GRAFT_CPU=native: one set, for the building machine
    return;
  }
  // A portable build: AVX-512 where the CPU has it, unless ONEDNN_MAX_CPU_ISA caps oneDNN below it (oneDNN
  // parses the variable; what it made of it is its effective instruction set).
  const bool capped = (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) != dnnl_cpu_isa_avx512_core;
  EXPECT_EQ(chosen, cpu_features().avx512 && !capped ? "avx512" : "avx2") << describe_backend();
  EXPECT_TRUE(cpu_features().x86_64_v3);
}

TEST(KernelIsa, TheBackendDescriptionNamesTheCpuAndTheChosenSets) {
  const std::string description = describe_backend();
  EXPECT_NE(description.find("CPU: " + cpu_features().model), std::string::npos) << description;
  EXPECT_NE(description.find(std::string("graft kernels: ") + kernel_table().isa), std::string::npos) << description;
  EXPECT_NE(description.find("oneDNN "), std::string::npos) << description;
}

// What one call of each kernel writes, by name, on inputs of odd sizes (vector loops and their tails).
using Outputs = std::vector<std::pair<std::string, std::vector<float>>>;

Outputs run_every_kernel(const KernelTable& k) {
  Outputs results;
  std::string name;
  const auto keep = [&](const std::vector<float>& values) {
    results.emplace_back(name + " #" + std::to_string(results.size()), values);
  };
  constexpr int64_t kRows = 7;
  constexpr int64_t kIn = 37;
  constexpr int64_t kOut = 19;
  const std::vector<float> x = random_values(kRows * kIn, 1);
  const std::vector<float> w = random_values(kOut * kIn, 2, 0.2F);
  const std::vector<float> bias = random_values(kOut, 3);
  const std::vector<float> dy = random_values(kRows * kOut, 4);
  name = "linear";
  for (const DType precision : {DType::F32, DType::BF16}) {
    std::vector<float> y(kRows * kOut);
    k.linear_forward(y.data(), x.data(), nullptr, w.data(), bias.data(), kRows, kIn, kOut, precision, nullptr, nullptr);
    std::vector<float> dx(kRows * kIn);
    std::vector<float> dw(kOut * kIn, 0.5F);
    std::vector<float> db(kOut, 0.25F);
    k.linear_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), nullptr, w.data(), kRows, kIn, kOut,
                      precision, nullptr);
    for (const auto& values : {y, dx, dw, db}) keep(values);
  }
  name = "int8";
  std::vector<int8_t> quantized(kOut * kIn);
  std::vector<float> scales(kOut);
  k.quantize_rows_int8(quantized.data(), scales.data(), w.data(), kOut, kIn);
  std::vector<int8_t> quantized_x(kRows * kIn);
  std::vector<float> x_scales(kRows);
  k.quantize_rows_int8(quantized_x.data(), x_scales.data(), x.data(), kRows, kIn);
  std::vector<float> y_int8(kRows * kOut);
  k.linear_forward_int8(y_int8.data(), quantized_x.data(), x_scales.data(), quantized.data(), scales.data(),
                        bias.data(), kRows, kIn, kOut, nullptr);
  keep(std::vector<float>(quantized.begin(), quantized.end()));
  keep(std::vector<float>(quantized_x.begin(), quantized_x.end()));
  for (const auto& values : {scales, x_scales, y_int8}) keep(values);

  name = "layer_norm";
  const std::vector<float> gamma = random_values(kIn, 5);
  const std::vector<float> beta = random_values(kIn, 6);
  std::vector<float> normed(kRows * kIn);
  std::vector<float> mean(kRows);
  std::vector<float> rstd(kRows);
  k.layer_norm_forward(normed.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), kRows, kIn,
                       1e-12F);
  const std::vector<float> dnormed = random_values(kRows * kIn, 7);
  std::vector<float> dx(kRows * kIn);
  std::vector<float> dgamma(kIn, 0.0F);
  std::vector<float> dbeta(kIn, 0.0F);
  k.layer_norm_backward(dx.data(), dgamma.data(), dbeta.data(), dnormed.data(), x.data(), mean.data(), rstd.data(),
                        gamma.data(), kRows, kIn);
  for (const auto& values : {normed, mean, rstd, dx, dgamma, dbeta}) keep(values);

  const std::vector<float> wide = random_values(1000, 8, 4.0F);  // past the grain: split across threads
  const std::vector<float> dwide = random_values(1000, 9);
  name = "activation";
  for (const Activation activation : {Activation::Gelu, Activation::Relu, Activation::Tanh}) {
    std::vector<float> out(wide.size());
    std::vector<float> din(wide.size());
    k.activation_forward(activation, out.data(), wide.data(), static_cast<int64_t>(wide.size()));
    k.activation_backward(activation, din.data(), dwide.data(),
                          activation == Activation::Tanh ? out.data() : wide.data(), static_cast<int64_t>(wide.size()));
    keep(out);
    keep(din);
  }

  name = "embedding";
  const std::vector<int64_t> ids = {3, 0, 3, 5, 1};
  const std::vector<float> table = random_values(6 * kIn, 10);
  std::vector<float> embedded(ids.size() * kIn);
  k.embedding_forward(embedded.data(), ids.data(), table.data(), 5, kIn);
  std::vector<float> dtable(6 * kIn, 0.0F);
  k.embedding_backward(dtable.data(), ids.data(), x.data(), 5, kIn);
  keep(embedded);
  keep(dtable);

  name = "attention";
  const AttentionShape shape{2, 9, 3, 5};
  const int64_t width = shape.batch * shape.tokens * shape.width();
  const std::vector<float> q = random_values(width, 11);
  const std::vector<float> kk = random_values(width, 12);
  const std::vector<float> v = random_values(width, 13);
  const std::vector<float> dcontext = random_values(width, 14);
  std::vector<int64_t> key_mask(shape.batch * shape.tokens, 1);
  key_mask[shape.tokens - 1] = key_mask[shape.tokens - 2] = 0;  // padding in the first sequence
  const int64_t scores = shape.batch * shape.heads * shape.tokens * shape.tokens;
  std::vector<uint8_t> keep_mask(scores);
  for (int64_t i = 0; i < scores; ++i) keep_mask[i] = (i * 7) % 10 != 0;
  for (const DropoutMask dropout : {DropoutMask{}, DropoutMask{keep_mask.data(), 1.0F / 0.9F}}) {
    std::vector<float> context(width);
    std::vector<float> probs(scores);
    k.attention_forward(context.data(), probs.data(), q.data(), kk.data(), v.data(), key_mask.data(), dropout, shape,
                        0.447F, DType::F32);
    std::vector<float> dq(width);
    std::vector<float> dk(width);
    std::vector<float> dv(width);
    k.attention_backward(dq.data(), dk.data(), dv.data(), dcontext.data(), probs.data(), q.data(), kk.data(), v.data(),
                         dropout, shape, 0.447F, DType::F32);
    for (const auto& values : {context, probs, dq, dk, dv}) keep(values);
  }
  name = "packed attention";
  const std::vector<int64_t> offsets = {0, 7, 18};  // 7 and 11 tokens in the same 18 rows
  std::vector<float> packed(width);
  k.attention_forward_packed(packed.data(), q.data(), kk.data(), v.data(), offsets.data(), {2, 11, 3, 5}, 0.447F,
                             DType::F32);
  keep(packed);

  name = "loss";
  constexpr int64_t kClasses = 53;
  const std::vector<float> logits = random_values(kRows * kClasses, 15, 3.0F);
  const std::vector<int64_t> labels = {0, 52, -100, 7, 7, 30, 1};
  const std::vector<float> class_weights = random_values(kClasses, 16);
  std::vector<float> dlogits(kRows * kClasses);
  keep({k.cross_entropy(logits.data(), labels.data(), dlogits.data(), kRows, kClasses, -100, nullptr, 0.5F)});
  keep(dlogits);
  keep({k.cross_entropy(logits.data(), labels.data(), nullptr, kRows, kClasses, -100, class_weights.data(), 1.0F)});
  const std::vector<float> targets = random_values(kRows * kClasses, 17);
  keep({k.binary_cross_entropy_with_logits(logits.data(), targets.data(), dlogits.data(), kRows * kClasses, 2.0F)});
  keep(dlogits);
  keep({k.mean_squared_error(logits.data(), targets.data(), dlogits.data(), kRows * kClasses, 1.0F)});
  keep(dlogits);

  name = "elementwise";
  std::vector<float> softmax(logits.size());
  k.softmax_rows(softmax.data(), logits.data(), kRows, kClasses);
  keep(softmax);
  std::vector<float> sum = wide;
  k.add_inplace(sum.data(), dwide.data(), static_cast<int64_t>(sum.size()));
  keep(sum);
  std::vector<uint8_t> keep_wide(wide.size());
  for (size_t i = 0; i < keep_wide.size(); ++i) keep_wide[i] = i % 3 != 0;
  std::vector<float> dropped(wide.size());
  k.apply_dropout(dropped.data(), wide.data(), {keep_wide.data(), 1.5F}, static_cast<int64_t>(wide.size()));
  keep(dropped);
  return results;
}

// Within 1e-6 of each output's largest value (8 float ulps), not exactly equal: GCC fuses a multiply and an
// add into one FMA (one rounding instead of two) where it sees fit, and it does not always fuse the same
// operations in a 16-lane loop as in an 8-lane one. Sums are not reordered (no -ffast-math), and the matrix
// products are the same oneDNN calls in every set, so nothing else differs; a wrong kernel in one set is off
// by far more.
TEST(KernelIsa, EverySetThisCpuRunsGivesTheNarrowestSetsNumbers) {
  const std::vector<const KernelTable*> runnable = tables_that_run_here();
  ASSERT_FALSE(runnable.empty());
  if (runnable.size() == 1) GTEST_SKIP() << "only the " << runnable[0]->isa << " kernels run on this CPU";
  const KernelTable& narrowest = *runnable.back();
  const Outputs expected = run_every_kernel(narrowest);
  for (const KernelTable* table : runnable) {
    const Outputs actual = run_every_kernel(*table);
    ASSERT_EQ(actual.size(), expected.size());
    double worst_relative = 0.0;
    for (size_t output = 0; output < actual.size(); ++output) {
      const auto& [name, values] = actual[output];
      const std::vector<float>& reference = expected[output].second;
      ASSERT_EQ(values.size(), reference.size()) << name;
      double largest = 0.0;
      double worst = 0.0;
      for (size_t i = 0; i < values.size(); ++i) {
        largest = std::max(largest, std::fabs(static_cast<double>(reference[i])));
        const double diff = std::fabs(static_cast<double>(values[i]) - reference[i]);
        if (!(diff <= worst)) worst = diff;  // NaN counts as the worst
      }
      EXPECT_LE(worst, 1e-6 * largest) << table->isa << " vs " << narrowest.isa << ", " << name;
      if (largest > 0.0) worst_relative = std::max(worst_relative, worst / largest);
    }
    std::printf("%s vs %s: largest difference %.2g of an output's largest value\n", table->isa, narrowest.isa,
                worst_relative);
  }
}

}  // namespace
}  // namespace graft::kernels
