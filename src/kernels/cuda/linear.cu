// nn.Linear on CUDA: the products through cuBLASLt (the bias in its epilogue), the bias gradient a column sum in
// row order as on the CPU. int8 products have no CUDA kernels yet and say so.
#include "kernels/cuda/cuda_kernels.h"

namespace graft::kernels::gpu {
namespace {

// dbias[o] += sum over rows of dout[r, o], one thread per column adding the rows in order.
__global__ void bias_gradient_kernel(float* dbias, const float* dout, int64_t rows, int64_t out_features) {
  GRAFT_CUDA_FOR(o, out_features) {
    float sum = dbias[o];
    for (int64_t r = 0; r < rows; ++r) sum += dout[r * out_features + o];
    dbias[o] = sum;
  }
}

[[noreturn]] void no_int8(const char* op) {
  throw Error(std::string("[op] ") + op + ": int8 products run on the CPU only (no CUDA kernels yet)");
}

}  // namespace

void linear_forward(float* out, const float* in, const uint16_t* in_bf16, const float* weight, const float* bias,
                    int64_t rows, int64_t in_features, int64_t out_features, DType precision,
                    const uint16_t* weight_bf16, const void* /*packed_weight: none on CUDA*/) {
  gemm(false, true, rows, out_features, in_features, 1.0F, {in, in_bf16, in_features},
       {weight, weight_bf16, in_features}, 0.0F, out, out_features, precision, bias);
}

void linear_backward(float* dinput, float* dweight, float* dbias, const float* dout, const float* in,
                     const uint16_t* in_bf16, const float* weight, int64_t rows, int64_t in_features,
                     int64_t out_features, DType precision, const uint16_t* weight_bf16) {
  // Both products multiply by dout: in bf16, rounded once for the two.
  const bool share_rounded_dout = precision == DType::BF16 && dinput != nullptr && dweight != nullptr;
  const Scratch dout_bf16(share_rounded_dout ? sizeof(uint16_t) * rows * out_features : 0);
  if (share_rounded_dout) round_to_bf16(dout_bf16.as<uint16_t>(), dout, rows * out_features);
  const Operand dy{dout, dout_bf16.as<uint16_t>(), out_features};
  if (dinput != nullptr) {
    gemm(false, false, rows, in_features, out_features, 1.0F, dy, {weight, weight_bf16, in_features}, 0.0F, dinput,
         in_features, precision);
  }
  if (dweight != nullptr) {
    gemm(true, false, out_features, in_features, rows, 1.0F, dy, {in, in_bf16, in_features}, 1.0F, dweight, in_features,
         precision);
  }
  if (dbias != nullptr && out_features > 0) {
    enqueue("linear_backward (bias)", elementwise_launch(out_features), bias_gradient_kernel, dbias, dout, rows,
            out_features);
  }
}

int64_t packed_linear_weight_bytes(int64_t /*in_features*/, int64_t /*out_features*/, DType /*precision*/) {
  return 0;  // cuBLASLt reads the stored layout
}

void pack_linear_weight(void* /*packed*/, const void* /*weight*/, int64_t /*in_features*/, int64_t /*out_features*/,
                        DType /*precision*/) {
  throw Error("[op] pack_linear_weight: CUDA products read the stored weight (packed_linear_weight_bytes is 0)");
}

bool linear_activation_with_packed_weight(void* /*out*/, DType /*output*/, Activation /*activation*/,
                                          const float* /*in*/, const uint16_t* /*in_bf16*/,
                                          const void* /*packed_weight*/, const float* /*bias*/, int64_t /*rows*/,
                                          int64_t /*in_features*/, int64_t /*out_features*/, DType /*precision*/) {
  return false;  // no packed weights on CUDA: the ops layer runs the product, then the activation
}

void quantize_rows_int8(int8_t* /*out*/, float* /*scales*/, const float* /*in*/, int64_t /*rows*/,
                        int64_t /*columns*/) {
  no_int8("quantize_rows_int8");
}

void linear_forward_int8(float* /*out*/, const int8_t* /*in*/, const float* /*in_scales*/, const int8_t* /*weight*/,
                         const float* /*weight_scales*/, const float* /*bias*/, int64_t /*rows*/,
                         int64_t /*in_features*/, int64_t /*out_features*/, const void* /*packed_weight*/) {
  no_int8("linear_forward_int8");
}

}  // namespace graft::kernels::gpu
