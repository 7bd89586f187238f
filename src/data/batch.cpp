#include "graft/data/batch.h"

#include "graft/core/error.h"

namespace graft {

Batch Batch::to(Device device) const {
  const auto moved = [device](const Tensor& tensor) { return tensor.numel() > 0 ? tensor.to(device) : tensor; };
  return {moved(input_ids), moved(attention_mask), moved(token_type_ids),
          moved(labels),    moved(features),       moved(sequence_offsets)};
}

Batch shard_rows(const Batch& batch, int rank, int world) {
  check(!batch.packed(), "data", "a packed batch cannot be split between ranks");
  check(world > 0 && rank >= 0 && rank < world, "data",
        "rank " + std::to_string(rank) + " is outside a world of " + std::to_string(world));
  const int64_t rows = batch.rows();
  const int64_t begin = shard_first_row(rows, rank, world);
  const int64_t end = shard_first_row(rows, rank + 1, world);
  const auto share = [&](const Tensor& tensor) { return tensor.numel() > 0 ? tensor.slice_rows(begin, end) : tensor; };
  return {share(batch.input_ids), share(batch.attention_mask), share(batch.token_type_ids),
          share(batch.labels),    share(batch.features),       Tensor()};
}

int64_t shard_first_row(int64_t rows, int rank, int world) {
  return rows * rank / world;
}

Tensor attention_mask_or_ones(const Batch& batch) {
  check(!batch.packed(), "model", "a packed batch has no attention mask: this model reads padded batches");
  if (batch.attention_mask.numel() > 0) {
    check(batch.attention_mask.shape() == batch.input_ids.shape(), "model",
          "attention_mask " + shape_string(batch.attention_mask.shape()) + " does not match input_ids " +
              shape_string(batch.input_ids.shape()));
    return batch.attention_mask.dtype() == DType::I64 ? batch.attention_mask : batch.attention_mask.to(DType::I64);
  }
  Tensor ones = Tensor::empty(batch.input_ids.shape(), DType::I64, batch.input_ids.device());
  ones.fill(1.0F);
  return ones;
}

}  // namespace graft
