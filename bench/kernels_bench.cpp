// The elementwise and row kernels of a distilbert-base layer at b32 x 128 (4096 rows of 768 or 3072 channels),
// in GB/s of memory read and written, next to the machine's own limit measured the same way: BM_Copy, the same
// bytes copied by the same threads. These kernels do a few operations per byte, so the copy's rate is the
// ceiling they can approach. Run: build/bench/kernels_bench (threads: OMP_NUM_THREADS, default all cores).
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

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

void channel_shapes(benchmark::internal::Benchmark* bench) {
  bench->Arg(768)->Arg(3072)->ArgName("channels")->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Copy)->Apply(channel_shapes);
BENCHMARK(BM_LayerNormForward)->Arg(768)->ArgName("channels")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LayerNormBackward)->Arg(768)->ArgName("channels")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Gelu)->Arg(3072)->ArgName("channels")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SoftmaxRows)->Arg(128)->ArgName("tokens")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RoundToBf16)->Apply(channel_shapes);

}  // namespace

BENCHMARK_MAIN();
