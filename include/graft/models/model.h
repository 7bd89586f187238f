#pragma once
// An encoder with a task head, chosen from config.json as transformers' Auto classes do
// ("architectures": ["DistilBertForSequenceClassification"]), loaded from and saved to a folder in the
// Hub's layout.
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "graft/core/random.h"
#include "graft/models/config.h"
#include "graft/models/encoder.h"
#include "graft/models/forward_context.h"
#include "graft/models/heads.h"

namespace graft {

class Checkpoint;

struct ModelOutput {
  // Sequence classification [B, C]; token classification [B, T, C]; masked LM [B, T, V] ([M, V] at the
  // M labelled positions, in row-major order, when training with sparse predictions); question answering [B, T, 2]
  // (start, end); base model: undefined. A packed batch's per-token logits are [N, C] over its N tokens.
  Tensor logits;
  Tensor loss;  // F32 [1] when the batch has labels
  EncoderOutput encoder;
};

struct LoadOptions {
  Device device = kCpu;          // where the weights go once loaded
  std::optional<TaskHead> task;  // override the head named by config.json
  // A new label set (its size may differ from the checkpoint's): the classifier is then grafted anew.
  std::optional<std::vector<std::string>> labels;
  std::optional<std::string> problem_type;
  // Overrides every dropout probability of the config (0 makes training deterministic, as the goldens).
  std::optional<double> dropout;
  // Random weights of the same architecture instead of the checkpoint's ("from scratch" baselines).
  bool random_init = false;
  uint64_t seed = 42;  // for newly initialised weights and dropout
  // Quantise the encoder to int8 once loaded (Model::quantize_int8), for inference. A checkpoint saved in int8
  // loads as int8 without it.
  bool int8 = false;
  // Receives what transformers would warn about: newly initialised and unused weights.
  std::function<void(const std::string&)> log;
};

// What the Trainer trains: a Model, or a user's own model around an encoder (examples/custom_head.cpp).
// A forward keeps what its backward needs in the caller's context (models/forward_context.h), never in the
// model, so one model runs forwards on many threads at once.
class TrainableModel : public Module {
 public:
  // Computes the loss when the batch has labels.
  virtual ModelOutput forward(const Batch& batch, ForwardContext& context) const = 0;
  // Back-propagates the loss of the forward that ran with `context` into the trainable parameters.
  virtual void backward(ForwardContext& context) = 0;
  // What the batch's loss is a mean over (its counted labels, or their class weights): a data-parallel step weights
  // each rank's loss by its share of this. By default the batch's rows.
  virtual double loss_denominator(const Batch& batch) const { return static_cast<double>(batch.rows()); }
  // The seeded generator of the model's random draws (dropout), checkpointed with the training state. By default
  // the process-wide one Dropout layers use when given none (models/layers.h).
  virtual Generator& generator() { return default_generator(); }
};

// The loss transformers computes for a head, and its gradient (when dlogits is given):
// cross-entropy (ignore index -100) for single-label classification, token classification and masked LM;
// BCE-with-logits for multi-label; MSE for regression. problem_type "" is inferred as transformers does.
// class_weights (num_labels values, or none) weight the cross-entropy of imbalanced classes. The loss is an
// F32 [1] tensor on the logits' device.
Tensor task_loss(TaskHead task, const std::string& problem_type, int64_t num_labels, const Tensor& logits,
                 const Tensor& labels, Tensor* dlogits, std::span<const float> class_weights = {});
// What task_loss's mean divides by: the labels' count for regression and multi-label, otherwise the labels not
// ignored (-100), each counting its class weight.
double task_loss_denominator(TaskHead task, const std::string& problem_type, int64_t num_labels, const Tensor& labels,
                             std::span<const float> class_weights = {});

class Model : public TrainableModel {
 public:
  // A folder with config.json and model.safetensors (or a sharded index); fp16/bf16 weights are
  // converted to fp32.
  static std::unique_ptr<Model> from_pretrained(const std::string& dir, const LoadOptions& options = {});
  // Weights initialised as transformers' _init_weights does (normal(0, initializer_range)).
  static std::unique_ptr<Model> from_config(const ModelConfig& config, TaskHead task, uint64_t seed = 42);

  ModelOutput forward(const Batch& batch, ForwardContext& context) const override {
    return forward(batch, context, {});
  }
  // `request` asks for the hidden states and attentions of every layer (transformers' output_hidden_states and
  // output_attentions).
  ModelOutput forward(const Batch& batch, ForwardContext& context, OutputRequest request) const;
  // Back-propagates the loss of the forward that ran with `context` (which needs labels) into the trainable
  // parameters.
  void backward(ForwardContext& context) override;
  // Back-propagates a given gradient of the logits instead.
  void backward(const Tensor& dlogits, ForwardContext& context);
  double loss_denominator(const Batch& batch) const override;

  // config.json + model.safetensors, readable by transformers' from_pretrained; the weights stored as
  // F32, F16 or BF16 (config.json's "dtype" says which).
  void save_pretrained(const std::string& dir, DType storage = DType::F32) const;

  // Dynamic int8 quantisation for inference (compressed-tensors' W8A8 int8 scheme; torch's and ONNX Runtime's
  // quantize_dynamic differ in quantising activations per tensor, asymmetrically, and the head too), for faster
  // inference with a quarter of the encoder's weight bytes: the encoder's Linear layers get int8
  // weights per output channel (Linear::quantize_int8) and quantise their inputs per row as they come; the
  // embeddings, LayerNorms, attention products and the head stay fp32. save_pretrained then writes
  // compressed-tensors' int-quantized form (config.json's quantization_config), which from_pretrained reads back.
  // The model can no longer be trained.
  void quantize_int8();
  bool quantized_int8() const { return config_.quantized_int8; }

  // Weights for the classes in the cross-entropy (empty: all 1), for imbalanced labels.
  void set_class_weights(std::vector<float> weights);

  // Masked LM training on a batch with labels: run the prediction head only at the labelled positions. Loss and
  // gradients are unchanged, and the vocabulary projection, the costliest layer of a small model's
  // pretraining step, shrinks to the ~15% of positions that are masked. Evaluation (training off) keeps
  // the full logits. Off by default, as in transformers.
  void set_sparse_predictions(bool on) { sparse_predictions_ = on; }

  const ModelConfig& config() const { return config_; }
  TaskHead task() const { return task_; }
  Encoder& encoder() { return *encoder_; }
  const Encoder& encoder() const { return *encoder_; }
  Head* head() { return head_.get(); }
  const Head* head() const { return head_.get(); }
  Generator& generator() override { return generator_; }

 private:
  Model(ModelConfig config, TaskHead task, uint64_t seed);
  // What backward needs of the model's own forward, besides what its modules keep.
  struct Saved {
    Tensor logits;
    Tensor labels;              // of the logits' rows: the labelled positions' only, when predicting sparsely
    Tensor labelled_positions;  // I64 [M] row-major positions, when predicting sparsely
    Shape hidden_shape;
    bool ran_encoder = true;  // false when the forward read precomputed features
  };
  Tensor loss_and_gradient(const Tensor& logits, const Tensor& labels, Tensor* dlogits) const;
  bool predicts_sparsely(const Batch& batch) const;
  void quantize_linears_stored_as_int8(const Checkpoint& checkpoint);
  void backward_from(const Tensor& dlogits, const Saved& saved, ForwardContext& context);

  ModelConfig config_;
  TaskHead task_;
  Generator generator_;
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<Head> head_;
  std::vector<float> class_weights_;
  bool sparse_predictions_ = false;
};

// Initialises parameters as transformers does: Linear and Embedding weights normal(0, std), biases 0,
// LayerNorm weights 1; the padding row of the word embeddings 0. Frozen (fixed) tables are left alone.
void initialize_parameters(const std::vector<std::pair<std::string, Parameter*>>& parameters, float std,
                           int64_t padding_index, Generator& generator);

}  // namespace graft
