#include "graft/core/parameter.h"

namespace graft {

void Parameter::ensure_grad() {
  if (grad.numel() != value.numel() || grad.dtype() != DType::F32)
    grad = Tensor::zeros(value.shape(), DType::F32, value.device());
}

void Parameter::zero_grad() {
  if (grad.numel() > 0) grad.zero();
}

}  // namespace graft
