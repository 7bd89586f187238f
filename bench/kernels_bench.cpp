// The kernels of a distilbert-base layer, each next to the machine's own limit measured the same way.
// - Elementwise and row kernels at b32 x 128 (4096 rows of 768 or 3072 channels), in GB/s of memory read and
//   written, next to BM_Copy: the same bytes copied by the same threads. These do a few operations per byte,
//   so the copy's rate is the ceiling they can approach.
// - The layer products (x W^T with the weight packed as inference packs it) at one sentence (32 rows) and a
//   batch (4096 rows), in GFLOP/s, next to BM_PeakFma: independent fused multiply-adds from registers on the
//   same threads, the most fp32 arithmetic the cores can do (bf16 dot products do twice as much per
//   instruction where the CPU has them).
// Run: build/bench/kernels_bench (threads: OMP_NUM_THREADS, default all cores).
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <vector>

#include "graft/core/allocator.h"
#include "graft/core/parallel.h"
#include "graft/kernels/kernels.h"

namespace {

constexpr int64_t kRows = 4096;

void set_bytes(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<float> values(int64_t count) {
  std::vector<float> out(static_cast<size_t>(count));
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(i % 97) * 0.03F - 1.4F;
  return out;
}

// out = kernel(in) over `count` floats, each read once and its result written once.
template <typename Out, typename Kernel>
void time_one_pass(benchmark::State& state, int64_t count, Kernel kernel) {
  const std::vector<float> in = values(count);
  std::vector<Out> out(in.size());
  for (auto _ : state) {
    kernel(out.data(), in.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, static_cast<double>(count) * static_cast<double>(sizeof(float) + sizeof(Out)));
}

// The ceiling: read `channels` floats a row and write them, split over the threads as the kernels split rows.
void BM_Copy(benchmark::State& state) {
  const int64_t count = kRows * state.range(0);
  time_one_pass<float>(state, count, [count](float* out, const float* in) {
    graft::parallel_for(0, count, 1 << 16, [&](int64_t begin, int64_t end) {
      std::memcpy(out + begin, in + begin, static_cast<size_t>(end - begin) * sizeof(float));
    });
  });
}

void BM_LayerNormForward(benchmark::State& state) {
  const int64_t channels = state.range(0);
  const std::vector<float> in = values(kRows * channels);
  const std::vector<float> gamma = values(channels), beta = values(channels);
  std::vector<float> out(in.size()), mean(kRows), rstd(kRows);
  for (auto _ : state) {
    graft::kernels::layer_norm_forward(out.data(), mean.data(), rstd.data(), in.data(), gamma.data(), beta.data(),
                                       kRows, channels, 1e-12F);
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, 2.0 * static_cast<double>(in.size()) * sizeof(float));
}

void BM_LayerNormBackward(benchmark::State& state) {
  const int64_t channels = state.range(0);
  const std::vector<float> in = values(kRows * channels), dout = values(kRows * channels);
  const std::vector<float> gamma = values(channels), mean(kRows, 0.1F), rstd(kRows, 1.3F);
  std::vector<float> dinput(in.size()), dgamma(static_cast<size_t>(channels)), dbeta(static_cast<size_t>(channels));
  for (auto _ : state) {
    graft::kernels::layer_norm_backward(dinput.data(), dgamma.data(), dbeta.data(), dout.data(), in.data(), mean.data(),
                                        rstd.data(), gamma.data(), kRows, channels);
    benchmark::DoNotOptimize(dinput.data());
  }
  // dinput's pass reads x and dy and writes dx; the parameter gradients' pass reads x and dy again.
  set_bytes(state, 5.0 * static_cast<double>(in.size()) * sizeof(float));
}

void BM_Gelu(benchmark::State& state) {
  const int64_t count = kRows * state.range(0);
  time_one_pass<float>(state, count, [count](float* out, const float* in) {
    graft::kernels::activation_forward(graft::Activation::Gelu, out, in, count);
  });
}

// Attention's softmax over the scores of one (sequence, head): 128 x 128, for all 32 x 12 of them.
void BM_SoftmaxRows(benchmark::State& state) {
  const int64_t tokens = state.range(0);
  const int64_t rows = 32 * 12 * tokens;
  time_one_pass<float>(state, rows * tokens, [rows, tokens](float* out, const float* in) {
    graft::kernels::softmax_rows(out, in, rows, tokens);
  });
}

// What every bf16 product does to its activations: 4 bytes read and 2 written per value.
void BM_RoundToBf16(benchmark::State& state) {
  const int64_t count = kRows * state.range(0);
  time_one_pass<uint16_t>(state, count,
                          [count](uint16_t* out, const float* in) { graft::kernels::round_to_bf16(out, in, count); });
}

void set_flops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

constexpr int64_t kFmaRounds = 1 << 20;
constexpr int kAccumulators = 12;  // enough independent chains to hide the FMA latency on two ports

// kAccumulators chains of fused multiply-adds (GCC vectors: a * b + c contracts to an FMA), inlined
// into a caller compiled for the vector width; returns their sum, so that the compiler keeps the loop.
using Floats16 = float __attribute__((vector_size(64)));
using Floats8 = float __attribute__((vector_size(32)));

template <typename Vector>
[[gnu::always_inline]] inline float fma_rounds() {
  constexpr int kLanes = sizeof(Vector) / sizeof(float);
  const Vector factor = Vector{} + 0.999F;
  std::array<Vector, kAccumulators> accumulators;
  accumulators.fill(factor);
  for (int64_t round = 0; round < kFmaRounds; ++round) {
    for (Vector& accumulator : accumulators) accumulator = accumulator * factor + factor;
  }
  float total = 0.0F;
  for (const Vector& accumulator : accumulators) {
    for (int lane = 0; lane < kLanes; ++lane) total += accumulator[lane];
  }
  return total;
}

__attribute__((target("avx512f"))) float fma_rounds_avx512() {
  return fma_rounds<Floats16>();
}
__attribute__((target("avx2,fma"))) float fma_rounds_avx2() {
  return fma_rounds<Floats8>();
}

// The ceiling of the products: fp32 FMAs in the widest vectors this CPU has, one chain set per thread.
void BM_PeakFma(benchmark::State& state) {
  const bool avx512 = __builtin_cpu_supports("avx512f") != 0;
  const int threads = graft::num_threads();
  std::vector<float> sums(static_cast<size_t>(threads));
  for (auto _ : state) {
    graft::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t)
        sums[static_cast<size_t>(t)] = avx512 ? fma_rounds_avx512() : fma_rounds_avx2();
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetLabel(avx512 ? "avx512" : "avx2");
  set_flops(state, 2.0 * (avx512 ? 16 : 8) * kAccumulators * static_cast<double>(kFmaRounds) * threads);
}

// out[rows, out] = in[rows, in] W[out, in]^T + b, W packed once as inference packs it (ops::linear under
// NoGradGuard).
void BM_LinearForward(benchmark::State& state) {
  const int64_t rows = state.range(0), in_features = state.range(1), out_features = state.range(2);
  const graft::DType precision = state.range(3) == 16 ? graft::DType::BF16 : graft::DType::F32;
  const std::vector<float> in = values(rows * in_features), weight = values(out_features * in_features),
                           bias = values(out_features);
  std::vector<float> out(static_cast<size_t>(rows * out_features));
  const int64_t packed_bytes = graft::kernels::packed_linear_weight_bytes(in_features, out_features, precision);
  const std::shared_ptr<void> packed =
      packed_bytes > 0 ? graft::allocate_storage(static_cast<size_t>(packed_bytes)) : nullptr;
  if (packed != nullptr) {
    graft::kernels::pack_linear_weight(packed.get(), weight.data(), in_features, out_features, precision);
  }
  for (auto _ : state) {
    graft::kernels::linear_forward(out.data(), in.data(), nullptr, weight.data(), bias.data(), rows, in_features,
                                   out_features, precision, nullptr, packed.get());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(packed != nullptr ? "packed" : "stored");
  set_flops(state, 2.0 * static_cast<double>(rows * in_features * out_features));
}

// The FFN's up product with GELU in its epilogue, as inference runs it (ops::linear_activation): fp32 out for an
// fp32 product, bf16 for a bf16 one (what the down product reads). Unfused, the same work is BM_LinearForward's
// product, BM_Gelu's pass and, in bf16, BM_RoundToBf16's.
void BM_LinearGeluForward(benchmark::State& state) {
  const int64_t rows = state.range(0), in_features = 768, out_features = 3072;
  const graft::DType precision = state.range(1) == 16 ? graft::DType::BF16 : graft::DType::F32;
  const std::vector<float> in = values(rows * in_features), weight = values(out_features * in_features),
                           bias = values(out_features);
  std::vector<float> out(static_cast<size_t>(rows * out_features));
  const int64_t packed_bytes = graft::kernels::packed_linear_weight_bytes(in_features, out_features, precision);
  if (packed_bytes == 0) {
    state.SkipWithError("no packed weight on this CPU");
    return;
  }
  const std::shared_ptr<void> packed = graft::allocate_storage(static_cast<size_t>(packed_bytes));
  graft::kernels::pack_linear_weight(packed.get(), weight.data(), in_features, out_features, precision);
  for (auto _ : state) {
    if (!graft::kernels::linear_activation_with_packed_weight(out.data(), precision, graft::Activation::Gelu, in.data(),
                                                              nullptr, packed.get(), bias.data(), rows, in_features,
                                                              out_features, precision)) {
      state.SkipWithError("the product cannot apply the activation at this row count");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state, 2.0 * static_cast<double>(rows * in_features * out_features));
}

// {rows, in, out, precision bits}: QKV/out projections, FFN up and down; one sentence and a b32 x 128 batch.
void product_shapes(benchmark::internal::Benchmark* bench) {
  for (const int64_t bits : {32, 16}) {
    for (const int64_t rows : {32, 4096}) {
      bench->Args({rows, 768, 768, bits});
      bench->Args({rows, 768, 3072, bits});
      bench->Args({rows, 3072, 768, bits});
    }
  }
  bench->ArgNames({"rows", "in", "out", "bits"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

void channel_shapes(benchmark::internal::Benchmark* bench) {
  bench->Arg(768)->Arg(3072)->ArgName("channels")->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Copy)->Apply(channel_shapes);
BENCHMARK(BM_LayerNormForward)->Arg(768)->ArgName("channels")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LayerNormBackward)->Arg(768)->ArgName("channels")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Gelu)->Arg(3072)->ArgName("channels")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SoftmaxRows)->Arg(128)->ArgName("tokens")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RoundToBf16)->Apply(channel_shapes);
BENCHMARK(BM_PeakFma)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearForward)->Apply(product_shapes);
BENCHMARK(BM_LinearGeluForward)
    ->ArgsProduct({{32, 256, 4096}, {32, 16}})
    ->ArgNames({"rows", "bits"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
