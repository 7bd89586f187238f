// GEMM through oneDNN: on this machine's CPU it measured 4-5x OpenBLAS 0.3.21 on the model's shapes
// (docs/design.md has the figures).
//
// BF16 is torch's bf16 matmul: the operands are rounded to bf16 (to nearest even) and the products summed in
// fp32. Where the CPU multiplies bf16 itself (AVX512-BF16, AMX) oneDNN's bf16 matmul does it at the bf16 rate;
// elsewhere the rounded operands go through the fp32 GEMM, which gives the same numbers up to the order of the
// sums: bf16 x bf16 products are exact in fp32.
#include <dnnl.h>

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

#include "graft/core/allocator.h"
#include "graft/core/autocast.h"
#include "graft/core/dtype.h"
#include "graft/core/error.h"
#include "graft/core/parallel.h"
#include "graft/kernels/kernels.h"

namespace graft::kernels {
namespace {

void fp32_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
               int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t status =
      dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  check(status == dnnl_success, "gemm", "oneDNN sgemm failed with status " + std::to_string(status));
}

// A stored [rows, columns] matrix with leading dimension `ld`, as the GEMM reads it.
struct Operand {
  const float* data;
  int64_t rows, columns, ld;
};

Operand stored_operand(const float* data, bool transposed, int64_t op_rows, int64_t op_columns, int64_t ld) {
  return transposed ? Operand{data, op_columns, op_rows, ld} : Operand{data, op_rows, op_columns, ld};
}

// The operand packed (leading dimension = columns), each value rounded to bf16 by `round`.
template <typename Element, typename Round>
std::shared_ptr<void> rounded_copy(const Operand& operand, Round round) {
  std::shared_ptr<void> storage =
      allocate_storage(static_cast<size_t>(operand.rows * operand.columns) * sizeof(Element));
  auto* packed = static_cast<Element*>(storage.get());
  parallel_for(0, operand.rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = operand.data + r * operand.ld;
      Element* out = packed + r * operand.columns;
      for (int64_t c = 0; c < operand.columns; ++c) out[c] = round(row[c]);
    }
  });
  return storage;
}

bool cpu_multiplies_bf16() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN's bf16 matmul (bf16 operands, fp32 C). False when oneDNN has no implementation for the shape.
bool native_bf16_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const Operand& a, const Operand& b, float beta, float* c, int64_t ldc) {
  using dnnl::memory;
  const auto bf16 = [](const float value) { return float_to_bfloat16(value); };
  // Transposes become strides over the packed copies: op(A)[i, j] is A[j, i].
  const memory::desc a_desc({m, k}, memory::data_type::bf16, transpose_a ? memory::dims{1, m} : memory::dims{k, 1});
  const memory::desc b_desc({k, n}, memory::data_type::bf16, transpose_b ? memory::dims{1, k} : memory::dims{n, 1});
  const memory::desc c_desc({m, n}, memory::data_type::f32, memory::dims{ldc, 1});
  dnnl::primitive_attr attributes;
  if (alpha != 1.0F) attributes.set_output_scales(0, {alpha});
  if (beta != 0.0F) {
    dnnl::post_ops accumulate;
    accumulate.append_sum(beta);
    attributes.set_post_ops(accumulate);
  }
  dnnl::matmul::primitive_desc matmul_desc;
  try {
    matmul_desc = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_desc, b_desc, c_desc), attributes, cpu_engine());
  } catch (const dnnl::error&) {
    return false;
  }
  const std::shared_ptr<void> a16 = rounded_copy<uint16_t>(a, bf16);
  const std::shared_ptr<void> b16 = rounded_copy<uint16_t>(b, bf16);
  memory a_memory(a_desc, cpu_engine(), a16.get());
  memory b_memory(b_desc, cpu_engine(), b16.get());
  memory c_memory(c_desc, cpu_engine(), c);
  thread_local dnnl::stream stream(cpu_engine());
  dnnl::matmul(matmul_desc)
      .execute(stream, {{DNNL_ARG_SRC, a_memory}, {DNNL_ARG_WEIGHTS, b_memory}, {DNNL_ARG_DST, c_memory}});
  stream.wait();
  return true;
}

void bf16_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
               int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const Operand a_operand = stored_operand(a, transpose_a, m, k, lda);
  const Operand b_operand = stored_operand(b, transpose_b, k, n, ldb);
  static const bool native = cpu_multiplies_bf16();
  if (native && native_bf16_gemm(transpose_a, transpose_b, m, n, k, alpha, a_operand, b_operand, beta, c, ldc)) return;
  const auto round = [](const float value) { return bfloat16_to_float(float_to_bfloat16(value)); };
  const std::shared_ptr<void> a_rounded = rounded_copy<float>(a_operand, round);
  const std::shared_ptr<void> b_rounded = rounded_copy<float>(b_operand, round);
  fp32_gemm(transpose_a, transpose_b, m, n, k, alpha, static_cast<const float*>(a_rounded.get()), a_operand.columns,
            static_cast<const float*>(b_rounded.get()), b_operand.columns, beta, c, ldc);
}

}  // namespace

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, DType precision) {
  if (m == 0 || n == 0) return;
  check_matmul_dtype(precision, "gemm");
  if (precision == DType::BF16) {
    bf16_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    fp32_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

}  // namespace graft::kernels
