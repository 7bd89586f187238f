#include "graft/data/batch_source.h"

#include <algorithm>
#include <numeric>

#include "graft/core/error.h"
#include "graft/data/collator.h"

namespace graft {

PretokenizedSource::PretokenizedSource(std::vector<Batch> batches) : batches_(std::move(batches)) {
  check(!batches_.empty(), "train", "no training batches");
}

Batch PretokenizedSource::batch(int64_t /*epoch*/, int64_t index) const {
  return batches_[static_cast<size_t>(index % batches_per_epoch())];
}

int64_t PretokenizedSource::examples() const {
  int64_t count = 0;
  for (const Batch& batch : batches_) count += batch.input_ids.dim(0);
  return count;
}

EncodedSource::EncodedSource(std::vector<Encoding> encodings, Labels labels, int64_t batch_size, int64_t pad_id,
                             BatchOrder order, uint64_t seed, int64_t pad_to_multiple_of)
    : encodings_(std::move(encodings)),
      labels_(std::move(labels)),
      batch_size_(batch_size),
      pad_id_(pad_id),
      batch_order_(order),
      seed_(seed),
      pad_to_multiple_of_(pad_to_multiple_of) {
  check(!encodings_.empty(), "train", "the dataset is empty");
  check(batch_size_ > 0, "train", "batch size must be positive, got " + std::to_string(batch_size_));
}

int64_t EncodedSource::batches_per_epoch() const {
  return (static_cast<int64_t>(encodings_.size()) + batch_size_ - 1) / batch_size_;
}

std::vector<int64_t> shuffled_order(int64_t count, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> indices(static_cast<size_t>(count));
  std::iota(indices.begin(), indices.end(), 0);
  Generator generator = Generator(seed).fork(static_cast<uint64_t>(epoch));
  for (size_t i = indices.size(); i > 1; --i) {
    const auto j = static_cast<size_t>(generator.next_u64() % i);
    std::swap(indices[i - 1], indices[j]);
  }
  return indices;
}

namespace {

// transformers' LengthGroupedSampler uses windows of 50 batches ("megabatches").
constexpr int64_t kBatchesPerLengthWindow = 50;

void sort_windows_longest_first(std::vector<int64_t>& indices, const std::vector<Encoding>& encodings, int64_t window) {
  for (size_t begin = 0; begin < indices.size(); begin += static_cast<size_t>(window)) {
    const size_t end = std::min(indices.size(), begin + static_cast<size_t>(window));
    sort_longest_first(indices.begin() + static_cast<std::ptrdiff_t>(begin),
                       indices.begin() + static_cast<std::ptrdiff_t>(end), encodings);
  }
}

}  // namespace

std::vector<int64_t> EncodedSource::make_order(int64_t epoch) const {
  const auto count = static_cast<int64_t>(encodings_.size());
  switch (batch_order_) {
    case BatchOrder::Shuffled: return shuffled_order(count, seed_, epoch);
    case BatchOrder::GroupedByLength: {
      std::vector<int64_t> indices = shuffled_order(count, seed_, epoch);
      sort_windows_longest_first(indices, encodings_, kBatchesPerLengthWindow * batch_size_);
      return indices;
    }
    case BatchOrder::LongestFirst: return longest_first_order(encodings_);
    case BatchOrder::InOrder: break;
  }
  std::vector<int64_t> indices(static_cast<size_t>(count));
  std::iota(indices.begin(), indices.end(), 0);
  return indices;
}

std::vector<int64_t> EncodedSource::members(int64_t epoch, int64_t index) const {
  const std::lock_guard<std::mutex> lock(order_mutex_);
  if (epoch != ordered_epoch_) {  // every batch of an epoch needs the epoch's order: make it once
    ordered_ = make_order(epoch);
    ordered_epoch_ = epoch;
  }
  const auto begin = static_cast<size_t>(index * batch_size_);
  const size_t end = std::min(ordered_.size(), begin + static_cast<size_t>(batch_size_));
  check(index >= 0 && begin < end, "train", "batch " + std::to_string(index) + " is past the end of the dataset");
  return {ordered_.begin() + static_cast<std::ptrdiff_t>(begin), ordered_.begin() + static_cast<std::ptrdiff_t>(end)};
}

void EncodedSource::add_labels(Batch& batch, const std::vector<int64_t>& examples) const {
  if (!labels_.classes.empty()) {
    std::vector<int64_t> classes;
    for (const int64_t example : examples) classes.push_back(labels_.classes[static_cast<size_t>(example)]);
    set_class_labels(batch, classes);
  } else if (!labels_.targets.empty()) {
    std::vector<float> targets;
    for (const int64_t example : examples) {
      const auto row = labels_.targets.begin() + static_cast<std::ptrdiff_t>(example * labels_.columns);
      targets.insert(targets.end(), row, row + static_cast<std::ptrdiff_t>(labels_.columns));
    }
    set_float_labels(batch, targets, labels_.columns);
  } else if (!labels_.per_token.empty()) {
    std::vector<std::vector<int64_t>> rows;
    for (const int64_t example : examples) rows.push_back(labels_.per_token[static_cast<size_t>(example)]);
    set_token_labels(batch, rows);
  }
}

Batch EncodedSource::batch(int64_t epoch, int64_t index) const {
  const std::vector<int64_t> examples = members(epoch, index);
  std::vector<const Encoding*> encodings;
  for (const int64_t example : examples) encodings.push_back(&encodings_[static_cast<size_t>(example)]);
  Batch batch = pad_batch(encodings, pad_id_, pad_to_multiple_of_);
  add_labels(batch, examples);
  return batch;
}

}  // namespace graft
