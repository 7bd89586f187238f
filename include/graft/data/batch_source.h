#pragma once
// Where the Trainer's batches come from. A batch is a pure function of (epoch, index), so a resumed run
// sees exactly the batches the interrupted one would have seen.
#include <cstdint>
#include <mutex>
#include <vector>

#include "graft/core/random.h"
#include "graft/data/batch.h"
#include "graft/data/collator.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft {

// 0..count-1, shuffled (Fisher-Yates) by a generator forked for the epoch: the order of an epoch never
// depends on earlier epochs.
std::vector<int64_t> shuffled_order(int64_t count, uint64_t seed, int64_t epoch);

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t batches_per_epoch() const = 0;
  virtual Batch batch(int64_t epoch, int64_t index) const = 0;
  // Examples in one epoch (for throughput figures).
  virtual int64_t examples() const = 0;
};

// Batches stored ready-made (load_pretokenized_batches): step s of any epoch uses batch s % n.
class PretokenizedSource : public BatchSource {
 public:
  explicit PretokenizedSource(std::vector<Batch> batches);
  int64_t batches_per_epoch() const override { return static_cast<int64_t>(batches_.size()); }
  Batch batch(int64_t epoch, int64_t index) const override;
  int64_t examples() const override;

 private:
  std::vector<Batch> batches_;
};

// Labels of a tokenized dataset: class ids (sequence classification), float targets (regression,
// multi-label: `columns` values per example) or per-token class ids (token classification).
struct Labels {
  std::vector<int64_t> classes;
  std::vector<float> targets;
  int64_t columns = 1;
  std::vector<std::vector<int64_t>> per_token;
};

// How an epoch's examples are dealt into batches. A batch is padded to its longest member, so the order
// decides how many pad tokens the model computes on.
enum class BatchOrder {
  InOrder,   // dataset order
  Shuffled,  // a fresh seeded permutation each epoch
  // Shuffled, then sorted longest-first within windows of 50 batches (transformers' group_by_length):
  // a batch holds examples of similar length, while the windows keep the epoch random.
  GroupedByLength,
  // Longest first, for evaluation and inference, where order does not matter and padding is waste.
  LongestFirst,
};

// Tokenized examples in the given order, padded per batch to the batch's longest.
class EncodedSource : public BatchSource {
 public:
  EncodedSource(std::vector<Encoding> encodings, Labels labels, int64_t batch_size, int64_t pad_id, BatchOrder order,
                uint64_t seed, int64_t pad_to_multiple_of = 0);
  int64_t batches_per_epoch() const override;
  Batch batch(int64_t epoch, int64_t index) const override;
  int64_t examples() const override { return static_cast<int64_t>(encodings_.size()); }
  const std::vector<Encoding>& encodings() const { return encodings_; }
  const Labels& labels() const { return labels_; }
  int64_t batch_size() const { return batch_size_; }
  int64_t pad_id() const { return pad_id_; }
  // The examples (indices into encodings()) of batch `index` of `epoch`, in batch order.
  std::vector<int64_t> members(int64_t epoch, int64_t index) const;
  // Sets batch.labels to the labels of `examples`, collated as batch() collates them.
  void add_labels(Batch& batch, const std::vector<int64_t>& examples) const;

 private:
  std::vector<int64_t> make_order(int64_t epoch) const;

  std::vector<Encoding> encodings_;
  Labels labels_;
  int64_t batch_size_;
  int64_t pad_id_;
  BatchOrder batch_order_;
  uint64_t seed_;
  int64_t pad_to_multiple_of_;
  mutable std::mutex order_mutex_;  // guards the cached order of the latest epoch asked for
  mutable int64_t ordered_epoch_ = -1;
  mutable std::vector<int64_t> ordered_;
};

}  // namespace graft
