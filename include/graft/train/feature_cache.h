#pragma once
// Feature extraction, the first workflow of Keras' transfer-learning guide: while the encoder is frozen,
// what it gives the head for an example never changes, so run it once per example (in inference mode:
// dropout off, no activations kept) and train the head on the stored vectors. Every epoch then costs the
// head alone. The Trainer does this by itself (TrainingArguments::cache_frozen_features); turn it off when
// the frozen encoder must see dropped-out or augmented inputs.
#include <cstdint>

#include "graft/data/batch_source.h"
#include "graft/models/model.h"

namespace graft {

// True when `model` is a Model whose encoder has no trainable parameter and whose head reads one vector
// per sequence ([CLS] or the pooler output): sequence classification, regression, multi-label.
bool can_cache_features(const TrainableModel& model);

// The batches of an EncodedSource, in the same order and with the same labels, carrying the head's input
// instead of token ids.
class FeatureSource : public BatchSource {
 public:
  // Runs the encoder over every example of `source`, longest first so that batches carry little padding.
  FeatureSource(Model& model, const EncodedSource& source);
  int64_t batches_per_epoch() const override { return source_.batches_per_epoch(); }
  Batch batch(int64_t epoch, int64_t index) const override;
  int64_t examples() const override { return source_.examples(); }
  const Tensor& features() const { return features_; }  // F32 [N, D], example order

 private:
  const EncodedSource& source_;
  Tensor features_;
};

}  // namespace graft
