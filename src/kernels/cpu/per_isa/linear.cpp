#include "graft/core/parallel.h"
#include "kernels/cpu/isa_kernels.h"

namespace graft::kernels::GRAFT_KERNEL_ISA {

void linear_forward(float* out, const float* in, const float* weight, const float* bias, int64_t rows,
                    int64_t in_features, int64_t out_features, DType precision, const uint16_t* weight_bf16) {
  gemm(false, true, rows, out_features, in_features, 1.0F, in, in_features, weight, in_features, 0.0F, out,
       out_features, precision, bias, weight_bf16);
}

void linear_backward(float* dinput, float* dweight, float* dbias, const float* dout, const float* in,
                     const float* weight, int64_t rows, int64_t in_features, int64_t out_features, DType precision,
                     const uint16_t* weight_bf16) {
  if (dinput != nullptr) {
    gemm(false, false, rows, in_features, out_features, 1.0F, dout, out_features, weight, in_features, 0.0F, dinput,
         in_features, precision, nullptr, weight_bf16);
  }
  if (dweight != nullptr) {
    gemm(true, false, out_features, in_features, rows, 1.0F, dout, out_features, in, in_features, 1.0F, dweight,
         in_features, precision);
  }
  if (dbias != nullptr) {
    parallel_for(0, out_features, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = dout + r * out_features;
        for (int64_t o = begin; o < end; ++o) dbias[o] += row[o];
      }
    });
  }
}

}  // namespace graft::kernels::GRAFT_KERNEL_ISA
