// GEMM through oneDNN: on this machine's CPU it measured 4-5x OpenBLAS 0.3.21 on the model's shapes
// (docs/design.md has the figures).
#include <dnnl.h>

#include "graft/core/error.h"
#include "graft/kernels/kernels.h"

namespace graft::kernels {

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const dnnl_status_t status = dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda,
                                          b, ldb, beta, c, ldc);
  check(status == dnnl_success, "gemm", "oneDNN sgemm failed with status " + std::to_string(status));
}

}  // namespace graft::kernels
