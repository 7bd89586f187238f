#include "graft/train/feature_cache.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "graft/core/error.h"
#include "graft/core/grad_mode.h"
#include "graft/data/collator.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

// features[example] = batch_features[row]: the inverse of the gather that batch() does. Host-only: the cache is a
// data set, on the CPU as the token batches are.
void store_row(const Tensor& batch_features, int64_t row, Tensor& features, int64_t example) {
  const int64_t width = batch_features.dim(1);
  std::memcpy(features.data<float>() + example * width, batch_features.data<float>() + row * width,  // host-only
              static_cast<size_t>(width) * sizeof(float));
}

}  // namespace

bool can_cache_features(const TrainableModel& model) {
  const auto* full = dynamic_cast<const Model*>(&model);
  if (full == nullptr || full->task() != TaskHead::SequenceClassification) return false;
  const Head* head = full->head();
  return head != nullptr && head->input() != HeadInput::AllTokens && !full->encoder().has_trainable_parameters();
}

FeatureSource::FeatureSource(Model& model, const EncodedSource& source) : source_(source) {
  check(can_cache_features(model), "train",
        "features can be cached only for a sequence-classification model whose encoder is frozen");
  const std::vector<Encoding>& encodings = source.encodings();
  const std::vector<int64_t> longest_first = longest_first_order(encodings);
  const bool was_training = model.training();
  model.set_training(false);
  const NoGradGuard no_grad;
  features_ = Tensor::empty({source.examples(), model.config().hidden_size});
  const auto batch_size = static_cast<size_t>(source.batch_size());
  for (size_t begin = 0; begin < longest_first.size(); begin += batch_size) {
    const size_t end = std::min(longest_first.size(), begin + batch_size);
    std::vector<const Encoding*> members;
    for (size_t i = begin; i < end; ++i) members.push_back(&encodings[static_cast<size_t>(longest_first[i])]);
    // The encoder alone: the head's logits for these rows would be thrown away.
    ForwardContext nothing_kept;                                 // under NoGradGuard
    const Batch batch = pack_batch(members).to(model.device());  // no padding computed
    const Tensor batch_features = model.head()->read(model.encoder().forward(batch, nothing_kept)).to(kCpu);
    for (size_t i = begin; i < end; ++i) {
      store_row(batch_features, static_cast<int64_t>(i - begin), features_, longest_first[i]);
    }
  }
  model.set_training(was_training);
}

Batch FeatureSource::batch(int64_t epoch, int64_t index) const {
  const std::vector<int64_t> examples = source_.members(epoch, index);
  Batch batch;
  const auto rows = static_cast<int64_t>(examples.size());
  batch.features = ops::gather_rows(features_, Tensor::from_vector(examples, {rows}));
  source_.add_labels(batch, examples);
  return batch;
}

}  // namespace graft
