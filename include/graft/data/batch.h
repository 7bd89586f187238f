#pragma once
// What a model takes: the data layer makes batches (collator.h, batch_source.h), models read them.
#include <cstdint>

#include "graft/core/tensor.h"

namespace graft {

// A batch of model inputs, named as transformers names them: padded ([B, T] rows, the shorter sequences
// padded and masked) or, for inference, packed (the sequences' tokens one after another, [N], with no padding
// at all, as text-embeddings-inference's unpadded backends take them; collator.h's pack_batch).
struct Batch {
  Tensor input_ids;       // I64 [B, T]; packed: [N]
  Tensor attention_mask;  // I64 [B, T]: 1 = token, 0 = padding; all ones when undefined; packed: undefined
  Tensor token_type_ids;  // I64 [B, T]: BERT segment ids; zeros when undefined; packed: [N] or undefined
  Tensor labels;          // optional: I64 [B] or [B, T] class ids (-100 = ignore); F32 [B] or [B, C] targets
  // F32 [B, D]: what the head reads, computed beforehand by a frozen encoder (feature extraction,
  // train/feature_cache.h). When set, the model runs only its head and input_ids may be empty.
  Tensor features;
  // Packed batches only: I64 [B+1], 0 and then the end of each sequence, which is rows
  // [sequence_offsets[b], sequence_offsets[b+1]) of input_ids (flash attention's cu_seqlens).
  Tensor sequence_offsets;

  bool packed() const { return sequence_offsets.numel() > 0; }
  // Sequences in the batch.
  int64_t rows() const {
    if (packed()) return sequence_offsets.numel() - 1;
    return features.ndim() == 2 ? features.dim(0) : input_ids.dim(0);
  }
  // The batch copied to `device` (data sets make batches on the CPU; a model on another device takes them there).
  Batch to(Device device) const;
};

// Rank `rank` of `world`'s share of a padded batch: rows [shard_first_row(B, rank, world), shard_first_row(B, rank + 1,
// world)), padded as the whole batch is, so that each row is computed as it would be in one process (data-parallel
// training). May be empty.
Batch shard_rows(const Batch& batch, int rank, int world);
// rank B / world.
int64_t shard_first_row(int64_t rows, int rank, int world);

// The batch's attention mask as I64 [B, T], or ones (on the batch's device) when it has none. graft::Error for a
// packed batch, which has no mask.
Tensor attention_mask_or_ones(const Batch& batch);

}  // namespace graft
