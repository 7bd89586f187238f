#include "graft/data/batch.h"

#include "graft/core/error.h"

namespace graft {

Tensor attention_mask_or_ones(const Batch& batch) {
  if (batch.attention_mask.numel() > 0) {
    check(batch.attention_mask.shape() == batch.input_ids.shape(), "model",
          "attention_mask " + shape_string(batch.attention_mask.shape()) + " does not match input_ids " +
              shape_string(batch.input_ids.shape()));
    return batch.attention_mask.dtype() == DType::I64 ? batch.attention_mask : batch.attention_mask.to(DType::I64);
  }
  Tensor ones = Tensor::empty(batch.input_ids.shape(), DType::I64);
  int64_t* values = ones.data<int64_t>();
  for (int64_t i = 0; i < ones.numel(); ++i) values[i] = 1;
  return ones;
}

}  // namespace graft
