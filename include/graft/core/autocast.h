#pragma once
// torch.autocast("cpu", torch.bfloat16) for graft. While an AutocastGuard for BF16 lives on a thread, the
// matrix products of the layers it runs (linear layers and attention, forward and backward) multiply their
// operands rounded to bf16 and accumulate in fp32. Everything else stays fp32: the weights (the optimizer's
// master copy), activations, LayerNorm, softmax, GELU and the loss. That is bf16 mixed precision: the GEMMs,
// which are nearly all of a step's work, run at the bf16 rate of CPUs with AVX512-BF16 or AMX.
#include "graft/core/dtype.h"

namespace graft {

// F32 (the default) or BF16: the precision of the matrix products started on this thread.
DType autocast_dtype();

// BF16 for a `bf16` switch (TrainingArguments, PipelineOptions), else F32.
inline DType matmul_dtype(bool bf16) {
  return bf16 ? DType::BF16 : DType::F32;
}
// graft::Error naming `where` unless `dtype` is one that matrix products run in (F32, BF16).
void check_matmul_dtype(DType dtype, const char* where);

class AutocastGuard {
 public:
  explicit AutocastGuard(DType matmul_dtype);  // F32 or BF16
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
  AutocastGuard(AutocastGuard&&) = delete;
  AutocastGuard& operator=(AutocastGuard&&) = delete;

 private:
  DType previous_;
};

}  // namespace graft
