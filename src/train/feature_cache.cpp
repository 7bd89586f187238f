#include "graft/train/feature_cache.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "graft/core/error.h"
#include "graft/core/grad_mode.h"
#include "graft/train/collator.h"

namespace graft {
namespace {

void copy_row(const Tensor& from, int64_t from_row, Tensor& to, int64_t to_row) {
  const int64_t width = from.dim(1);
  std::memcpy(to.data<float>() + to_row * width, from.data<float>() + from_row * width,
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
    const Tensor batch_features = model.head()->read(model.encoder().forward(pad_batch(members, source.pad_id())));
    for (size_t i = begin; i < end; ++i) {
      copy_row(batch_features, static_cast<int64_t>(i - begin), features_, longest_first[i]);
    }
  }
  model.set_training(was_training);
}

Batch FeatureSource::batch(int64_t epoch, int64_t index) const {
  const std::vector<int64_t> examples = source_.members(epoch, index);
  Batch batch;
  batch.features = Tensor::empty({static_cast<int64_t>(examples.size()), features_.dim(1)});
  for (size_t i = 0; i < examples.size(); ++i)
    copy_row(features_, examples[i], batch.features, static_cast<int64_t>(i));
  source_.add_labels(batch, examples);
  return batch;
}

}  // namespace graft
