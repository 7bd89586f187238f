// GEMM on DistilBERT-base shapes (tokens x in -> out), fp32: OpenBLAS cblas_sgemm against oneDNN's
// dnnl_sgemm, which is what graft's kernels::gemm calls. Run: build/bench/gemm_bench
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <dnnl.h>

#include <vector>

namespace {

// {rows (batch x tokens), in_features, out_features}
struct GemmShape {
  int64_t m, k, n;
};

void set_flops(benchmark::State& state, const GemmShape& shape) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(shape.m * shape.n * shape.k) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

GemmShape shape_of(const benchmark::State& state) { return {state.range(0), state.range(1), state.range(2)}; }

// Y[m,n] = X[m,k] W[n,k]^T, as nn.Linear does.
void BM_OpenBlasSgemm(benchmark::State& state) {
  const GemmShape s = shape_of(state);
  std::vector<float> x(static_cast<size_t>(s.m * s.k), 0.5F), w(static_cast<size_t>(s.n * s.k), 0.25F),
      y(static_cast<size_t>(s.m * s.n));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                static_cast<int>(s.k), 1.0F, x.data(), static_cast<int>(s.k), w.data(), static_cast<int>(s.k), 0.0F,
                y.data(), static_cast<int>(s.n));
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, s);
}

void BM_OneDnnSgemm(benchmark::State& state) {
  const GemmShape s = shape_of(state);
  std::vector<float> x(static_cast<size_t>(s.m * s.k), 0.5F), w(static_cast<size_t>(s.n * s.k), 0.25F),
      y(static_cast<size_t>(s.m * s.n));
  for (auto _ : state) {
    dnnl_sgemm('N', 'T', s.m, s.n, s.k, 1.0F, x.data(), s.k, w.data(), s.k, 0.0F, y.data(), s.n);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, s);
}

// QKV/out projections (768 -> 768), FFN up (768 -> 3072) and down (3072 -> 768), at 32 x 128 tokens
// (a training batch) and 32 tokens (one sentence).
void model_shapes(benchmark::internal::Benchmark* bench) {
  for (int64_t m : {4096, 32}) {
    bench->Args({m, 768, 768});
    bench->Args({m, 768, 3072});
    bench->Args({m, 3072, 768});
  }
  bench->ArgNames({"m", "k", "n"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_OpenBlasSgemm)->Apply(model_shapes);
BENCHMARK(BM_OneDnnSgemm)->Apply(model_shapes);

}  // namespace

BENCHMARK_MAIN();
