// Matrix products through cuBLASLt. graft's products are row-major; cuBLASLt's column-major, so C = op(A) op(B)
// is computed as C^T = op(B)^T op(A)^T, which reads the same memory with the operands swapped.
#include <cublasLt.h>

#include <array>
#include <mutex>
#include <string>

#include "kernels/cuda/cuda_kernels.h"

namespace graft::kernels::gpu {
namespace {

void check_blas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw Error(std::string("[cuda] ") + what + ": cuBLASLt status " + std::to_string(static_cast<int>(status)));
  }
}

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // what cuBLAS recommends for Hopper
constexpr int kMaxDevices = 64;

struct Blas {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
};

// One handle and workspace per device, made on first use; every product of a device runs on its one stream, so
// they share the workspace in turn.
const Blas& blas() {
  static std::array<Blas, kMaxDevices> devices;
  static std::array<std::once_flag, kMaxDevices> made;
  int index = 0;
  check(cudaGetDevice(&index), "cudaGetDevice");
  std::call_once(made[static_cast<size_t>(index)], [index] {
    Blas& entry = devices[static_cast<size_t>(index)];
    check_blas(cublasLtCreate(&entry.handle), "cublasLtCreate");
    check(cudaMalloc(&entry.workspace, kWorkspaceBytes), "the cuBLASLt workspace");
  });
  return devices[static_cast<size_t>(index)];
}

__global__ void round_kernel(uint16_t* out, const float* in, int64_t count) {
  GRAFT_CUDA_FOR(i, count) out[i] = to_bfloat16(in[i]);
}

// A column-major matrix layout (rows x columns, leading dimension ld), `batch` of them `stride` apart.
struct Layout {
  cublasLtMatrixLayout_t layout = nullptr;
  Layout(cudaDataType type, int64_t rows, int64_t columns, int64_t ld, int64_t batch, int64_t stride) {
    check_blas(
        cublasLtMatrixLayoutCreate(&layout, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(columns), ld),
        "cublasLtMatrixLayoutCreate");
    if (batch > 1) {
      const auto count = static_cast<int32_t>(batch);
      check_blas(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count),
                 "batch count");
      check_blas(
          cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride),
          "batch stride");
    }
  }
  ~Layout() { cublasLtMatrixLayoutDestroy(layout); }
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;
};

__global__ void empty_product_kernel(float* c, int64_t ldc, int64_t c_stride, int64_t m, int64_t n, int64_t batch,
                                     float beta, const float* row_bias) {
  GRAFT_CUDA_FOR(i, batch * m * n) {
    float* element = c + i / (m * n) * c_stride + i / n % m * ldc + i % n;
    const float bias = row_bias != nullptr ? row_bias[i % n] : 0.0F;
    *element = (beta == 0.0F ? 0.0F : beta * *element) + bias;
  }
}

struct Operation {
  cublasLtMatmulDesc_t descriptor = nullptr;
  Operation(bool transpose_a, bool transpose_b, const float* row_bias) {
    check_blas(cublasLtMatmulDescCreate(&descriptor, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    // Column-major: the first operand is B (transposed as B is), the second A.
    const cublasOperation_t first = transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t second = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    set(CUBLASLT_MATMUL_DESC_TRANSA, first);
    set(CUBLASLT_MATMUL_DESC_TRANSB, second);
    if (row_bias == nullptr) return;
    // The bias runs along D's column-major rows (graft's columns) and is added to every column.
    set(CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS);
    set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, row_bias);
    set(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, CUDA_R_32F);
  }
  template <class T>
  void set(cublasLtMatmulDescAttributes_t attribute, const T& value) {
    check_blas(cublasLtMatmulDescSetAttribute(descriptor, attribute, &value, sizeof value), "matmul attribute");
  }
  ~Operation() { cublasLtMatmulDescDestroy(descriptor); }
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;
};

// The largest power of two up to 256 that divides an operand's address, leading dimension and batch stride in
// bytes: attention reads heads in place, Dh floats apart, which the heuristic's default (256) would assume away.
uint32_t alignment_of(const void* data, int64_t ld, int64_t batch_stride, int64_t element_bytes) {
  const auto bits = reinterpret_cast<uintptr_t>(data) | static_cast<uintptr_t>(ld * element_bytes) |
                    static_cast<uintptr_t>(batch_stride * element_bytes) | uintptr_t{256};
  return static_cast<uint32_t>(bits & (~bits + 1));
}

struct Alignments {
  uint32_t first, second, c;
};

struct Preference {
  cublasLtMatmulPreference_t preference = nullptr;
  explicit Preference(Alignments alignments) {
    check_blas(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate");
    set(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t{kWorkspaceBytes});
    set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignments.first);
    set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignments.second);
    set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignments.c);
    set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignments.c);
  }
  template <class T>
  void set(cublasLtMatmulPreferenceAttributes_t attribute, const T& value) {
    check_blas(cublasLtMatmulPreferenceSetAttribute(preference, attribute, &value, sizeof value), "preference");
  }
  ~Preference() { cublasLtMatmulPreferenceDestroy(preference); }
  Preference(const Preference&) = delete;
  Preference& operator=(const Preference&) = delete;
};

// The elements an operand's matrices span: what rounding it to bf16 must cover.
int64_t span_of(int64_t rows, int64_t columns, const Operand& operand, int64_t batch) {
  return (batch - 1) * operand.batch_stride + (rows - 1) * operand.ld + columns;
}

// The bytes of the bf16 copy a BF16 product must make of an operand given in fp32 only (0 when none is needed).
size_t rounding_bytes(bool bf16, const Operand& operand, int64_t rows, int64_t columns, int64_t batch) {
  return bf16 && operand.bf16 == nullptr ? sizeof(uint16_t) * span_of(rows, columns, operand, batch) : 0;
}

}  // namespace

void round_to_bf16(uint16_t* out, const float* in, int64_t count) {
  if (count == 0) return;
  enqueue("round_to_bf16", elementwise_launch(count), round_kernel, out, in, count);
}

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b,
          float beta, float* c, int64_t ldc, DType precision, const float* row_bias, int64_t batch, int64_t c_stride) {
  if (m == 0 || n == 0 || batch == 0) return;
  if (k == 0) {  // no products: C = beta C (+ bias), as sgemm gives; cuBLASLt is not asked
    enqueue("gemm (k = 0)", elementwise_launch(batch * m * n), empty_product_kernel, c, ldc, c_stride, m, n, batch,
            beta, row_bias);
    return;
  }
  graft::check(row_bias == nullptr || (alpha == 1.0F && beta == 0.0F), "gemm",
               "a bias is added only to an unscaled product that overwrites C (alpha = 1, beta = 0)");
  const bool bf16 = precision == DType::BF16;
  // A row-major [rows, columns] operand, as stored.
  const int64_t a_rows = transpose_a ? k : m;
  const int64_t a_columns = transpose_a ? m : k;
  const int64_t b_rows = transpose_b ? n : k;
  const int64_t b_columns = transpose_b ? k : n;
  // An operand given in fp32 only is rounded into its scratch copy (none was made otherwise).
  const auto round_into = [batch](Operand& operand, int64_t rows, int64_t columns, const Scratch& copy) {
    if (copy.as<uint16_t>() == nullptr) return;
    round_to_bf16(copy.as<uint16_t>(), operand.f32, span_of(rows, columns, operand, batch));
    operand.bf16 = copy.as<uint16_t>();
  };
  const Scratch a_rounded(rounding_bytes(bf16, a, a_rows, a_columns, batch));
  const Scratch b_rounded(rounding_bytes(bf16, b, b_rows, b_columns, batch));
  round_into(a, a_rows, a_columns, a_rounded);
  round_into(b, b_rows, b_columns, b_rounded);
  const cudaDataType operand_type = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const void* a_data = bf16 ? static_cast<const void*>(a.bf16) : a.f32;
  const void* b_data = bf16 ? static_cast<const void*>(b.bf16) : b.f32;

  const Operation operation(transpose_a, transpose_b, row_bias);
  // Row-major [rows, columns] with leading dimension ld is column-major [columns, rows].
  const Layout first_layout(operand_type, b_columns, b_rows, b.ld, batch, b.batch_stride);
  const Layout second_layout(operand_type, a_columns, a_rows, a.ld, batch, a.batch_stride);
  const Layout c_layout(CUDA_R_32F, n, m, ldc, batch, c_stride);
  const int64_t operand_bytes = bf16 ? 2 : 4;
  const Preference preference({alignment_of(b_data, b.ld, b.batch_stride, operand_bytes),
                               alignment_of(a_data, a.ld, a.batch_stride, operand_bytes),
                               alignment_of(c, ldc, c_stride, 4)});
  const Blas& lt = blas();
  cublasLtMatmulHeuristicResult_t choice{};
  int found = 0;
  check_blas(
      cublasLtMatmulAlgoGetHeuristic(lt.handle, operation.descriptor, first_layout.layout, second_layout.layout,
                                     c_layout.layout, c_layout.layout, preference.preference, 1, &choice, &found),
      "cublasLtMatmulAlgoGetHeuristic");
  graft::check(found > 0, "gemm", "cuBLASLt has no algorithm for this product");
  check_blas(cublasLtMatmul(lt.handle, operation.descriptor, &alpha, b_data, first_layout.layout, a_data,
                            second_layout.layout, &beta, c, c_layout.layout, c, c_layout.layout, &choice.algo,
                            lt.workspace, kWorkspaceBytes, current_stream()),
             "cublasLtMatmul");
}

}  // namespace graft::kernels::gpu
