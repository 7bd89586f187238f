#include "graft/data/collator.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_set>

#include "graft/core/error.h"

namespace graft {
namespace {

constexpr const char* kWhere = "collator";

int64_t rows_of(const Batch& batch) {
  check(batch.input_ids.ndim() == 2 || batch.features.ndim() == 2, kWhere,
        "the batch has no input_ids [B, T]; call pad_batch first");
  return batch.rows();
}

int64_t round_up(int64_t length, int64_t multiple) {
  if (multiple <= 0) return length;
  return (length + multiple - 1) / multiple * multiple;
}

void check_encoding(const Encoding* encoding, size_t row) {
  check(encoding != nullptr, kWhere, "encoding " + std::to_string(row) + " is null");
  check(encoding->attention_mask.size() == encoding->size() && encoding->type_ids.size() == encoding->size(), kWhere,
        "encoding " + std::to_string(row) + " has " + std::to_string(encoding->size()) + " ids but " +
            std::to_string(encoding->attention_mask.size()) + " mask values and " +
            std::to_string(encoding->type_ids.size()) + " type ids");
}

// Copies `values` into row `row` of a [B, T] buffer whose padding is already in place.
void copy_row(const std::vector<int64_t>& values, int64_t row, int64_t length, int64_t* out) {
  std::copy(values.begin(), values.end(), out + row * length);
}

}  // namespace

void sort_longest_first(std::vector<int64_t>::iterator first, std::vector<int64_t>::iterator last,
                        const std::vector<Encoding>& encodings) {
  std::stable_sort(first, last, [&](int64_t a, int64_t b) {
    return encodings[static_cast<size_t>(a)].size() > encodings[static_cast<size_t>(b)].size();
  });
}

std::vector<int64_t> longest_first_order(const std::vector<Encoding>& encodings) {
  std::vector<int64_t> indices(encodings.size());
  std::iota(indices.begin(), indices.end(), 0);
  sort_longest_first(indices.begin(), indices.end(), encodings);
  return indices;
}

Batch pad_batch(const std::vector<const Encoding*>& encodings, int64_t pad_id, int64_t pad_to_multiple_of) {
  check(!encodings.empty(), kWhere, "cannot pad an empty batch");
  check(pad_to_multiple_of >= 0, kWhere, "pad_to_multiple_of must be >= 0, got " + std::to_string(pad_to_multiple_of));
  size_t longest = 0;
  for (size_t row = 0; row < encodings.size(); ++row) {
    check_encoding(encodings[row], row);
    longest = std::max(longest, encodings[row]->size());
  }
  const int64_t rows = static_cast<int64_t>(encodings.size());
  const int64_t length = round_up(static_cast<int64_t>(longest), pad_to_multiple_of);
  Batch batch;
  batch.input_ids =
      Tensor::from_vector(std::vector<int64_t>(static_cast<size_t>(rows * length), pad_id), {rows, length});
  batch.attention_mask = Tensor::zeros({rows, length}, DType::I64);
  batch.token_type_ids = Tensor::zeros({rows, length}, DType::I64);
  for (int64_t row = 0; row < rows; ++row) {
    const Encoding& encoding = *encodings[static_cast<size_t>(row)];
    copy_row(encoding.ids, row, length, batch.input_ids.data<int64_t>());
    copy_row(encoding.attention_mask, row, length, batch.attention_mask.data<int64_t>());
    copy_row(encoding.type_ids, row, length, batch.token_type_ids.data<int64_t>());
  }
  return batch;
}

Batch pack_batch(const std::vector<const Encoding*>& encodings) {
  check(!encodings.empty(), kWhere, "cannot pack an empty batch");
  std::vector<int64_t> ids;
  std::vector<int64_t> types;
  std::vector<int64_t> offsets{0};
  for (size_t row = 0; row < encodings.size(); ++row) {
    check_encoding(encodings[row], row);
    const Encoding& encoding = *encodings[row];
    for (size_t t = 0; t < encoding.size(); ++t) {
      if (encoding.attention_mask[t] == 0) continue;  // padding, wherever the tokenizer put it
      ids.push_back(encoding.ids[t]);
      types.push_back(encoding.type_ids[t]);
    }
    check(static_cast<int64_t>(ids.size()) > offsets.back(), kWhere,
          "encoding " + std::to_string(row) + " has no tokens to pack");
    offsets.push_back(static_cast<int64_t>(ids.size()));
  }
  const auto tokens = static_cast<int64_t>(ids.size());
  Batch batch;
  batch.input_ids = Tensor::from_vector(ids, {tokens});
  batch.token_type_ids = Tensor::from_vector(types, {tokens});
  batch.sequence_offsets = Tensor::from_vector(offsets, {static_cast<int64_t>(offsets.size())});
  return batch;
}

void set_class_labels(Batch& batch, const std::vector<int64_t>& labels) {
  const int64_t rows = rows_of(batch);
  check(static_cast<int64_t>(labels.size()) == rows, kWhere,
        std::to_string(labels.size()) + " labels for a batch of " + std::to_string(rows));
  batch.labels = Tensor::from_vector(labels, {rows});
}

void set_float_labels(Batch& batch, const std::vector<float>& values, int64_t columns) {
  const int64_t rows = rows_of(batch);
  check(columns >= 1, kWhere, "float labels need at least one column, got " + std::to_string(columns));
  check(static_cast<int64_t>(values.size()) == rows * columns, kWhere,
        std::to_string(values.size()) + " label values for a batch of " + std::to_string(rows) + " x " +
            std::to_string(columns));
  batch.labels = Tensor::from_vector(values, columns == 1 ? Shape{rows} : Shape{rows, columns});
}

void set_token_labels(Batch& batch, const std::vector<std::vector<int64_t>>& per_token_labels) {
  const int64_t rows = rows_of(batch);
  const int64_t length = batch.input_ids.dim(1);
  check(static_cast<int64_t>(per_token_labels.size()) == rows, kWhere,
        std::to_string(per_token_labels.size()) + " label rows for a batch of " + std::to_string(rows));
  std::vector<int64_t> labels(static_cast<size_t>(rows * length), kIgnoreIndex);
  for (int64_t row = 0; row < rows; ++row) {
    const auto& row_labels = per_token_labels[static_cast<size_t>(row)];
    check(static_cast<int64_t>(row_labels.size()) <= length, kWhere,
          "row " + std::to_string(row) + " has " + std::to_string(row_labels.size()) +
              " token labels, more than the batch's " + std::to_string(length) + " tokens");
    copy_row(row_labels, row, length, labels.data());
  }
  batch.labels = Tensor::from_vector(labels, {rows, length});
}

void mask_tokens(Batch& batch, const std::vector<int64_t>& special_token_ids, int64_t mask_id, int64_t vocab_size,
                 Generator& generator, const MaskingOptions& options) {
  rows_of(batch);
  check(vocab_size > 0 && mask_id >= 0 && mask_id < vocab_size, kWhere,
        "mask id " + std::to_string(mask_id) + " is outside the vocabulary of " + std::to_string(vocab_size));
  check(options.mlm_probability >= 0.0 && options.mlm_probability <= 1.0, kWhere,
        "mlm_probability must be in [0, 1], got " + std::to_string(options.mlm_probability));
  check(options.mask_replace >= 0.0 && options.random_replace >= 0.0 &&
            options.mask_replace + options.random_replace <= 1.0,
        kWhere, "mask_replace and random_replace must be >= 0 and sum to at most 1");
  const Tensor mask = attention_mask_or_ones(batch);
  check(mask.shape() == batch.input_ids.shape(), kWhere,
        "attention_mask " + shape_string(mask.shape()) + " does not match input_ids " +
            shape_string(batch.input_ids.shape()));
  // transformers draws "random" only among the chosen positions not already replaced by [MASK].
  const double unmasked_share = 1.0 - options.mask_replace;
  const float random_given_unmasked =
      unmasked_share > 0.0 ? static_cast<float>(options.random_replace / unmasked_share) : 0.0f;
  const std::unordered_set<int64_t> specials(special_token_ids.begin(), special_token_ids.end());

  batch.input_ids = batch.input_ids.clone();
  int64_t* ids = batch.input_ids.data<int64_t>();
  const int64_t* attended = mask.data<int64_t>();
  std::vector<int64_t> labels(static_cast<size_t>(batch.input_ids.numel()), kIgnoreIndex);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (attended[i] == 0 || specials.contains(ids[i])) continue;
    if (!generator.bernoulli(static_cast<float>(options.mlm_probability))) continue;
    labels[i] = ids[i];
    if (generator.bernoulli(static_cast<float>(options.mask_replace))) {
      ids[i] = mask_id;
    } else if (generator.bernoulli(random_given_unmasked)) {
      // The modulo bias is below vocab_size / 2^64: immaterial for any vocabulary.
      ids[i] = static_cast<int64_t>(generator.next_u64() % static_cast<uint64_t>(vocab_size));
    }
  }
  batch.labels = Tensor::from_vector(labels, batch.input_ids.shape());
}

}  // namespace graft
