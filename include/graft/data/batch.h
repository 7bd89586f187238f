#pragma once
// What a model takes: the data layer makes batches (collator.h, batch_source.h), models read them.
#include <cstdint>

#include "graft/core/tensor.h"

namespace graft {

// A padded batch of model inputs, named as transformers names them.
struct Batch {
  Tensor input_ids;       // I64 [B, T]
  Tensor attention_mask;  // I64 [B, T]: 1 = token, 0 = padding; all ones when undefined
  Tensor token_type_ids;  // I64 [B, T]: BERT segment ids; zeros when undefined
  Tensor labels;          // optional: I64 [B] or [B, T] class ids (-100 = ignore); F32 [B] or [B, C] targets
  // F32 [B, D]: what the head reads, computed beforehand by a frozen encoder (feature extraction,
  // train/feature_cache.h). When set, the model runs only its head and input_ids may be empty.
  Tensor features;

  // Sequences in the batch.
  int64_t rows() const { return features.ndim() == 2 ? features.dim(0) : input_ids.dim(0); }
  // The batch copied to `device` (data sets make batches on the CPU; a model on another device takes them there).
  Batch to(Device device) const;
};

// The batch's attention mask as I64 [B, T], or ones (on the batch's device) when it has none.
Tensor attention_mask_or_ones(const Batch& batch);

}  // namespace graft
