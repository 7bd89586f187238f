#include "graft/models/model.h"

#include <filesystem>
#include <set>

#include "graft/core/allocator.h"
#include "graft/core/error.h"
#include "graft/io/checkpoint.h"
#include "graft/io/file.h"
#include "graft/models/family.h"
#include "graft/ops/ops.h"

namespace graft {
namespace {

// The label of positions that do not count in the loss, as transformers' -100.
constexpr int64_t kIgnoreIndex = -100;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_layer_norm_weight(const std::string& name) {
  return ends_with(name, "LayerNorm.weight") || ends_with(name, "layer_norm.weight");
}

// Is this parameter part of the task head (outside the encoder)?
bool in_head(const std::string& name, const std::string& encoder_prefix) {
  return name.rfind(encoder_prefix + ".", 0) != 0;
}

std::string join(const std::vector<std::string>& names, size_t limit = 8) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < limit; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > limit) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

// Where a parameter's tensor is in a checkpoint: its own name, or, for checkpoints of the bare encoder
// (DistilBertModel), the name without the "distilbert." prefix; BERT's masked-LM decoder bias may be
// stored under either name.
std::optional<std::string> find_in_checkpoint(const Checkpoint& checkpoint, const std::string& name,
                                              const std::string& encoder_prefix) {
  if (checkpoint.contains(name)) return name;
  const std::string dotted = encoder_prefix + ".";
  if (name.rfind(dotted, 0) == 0 && checkpoint.contains(name.substr(dotted.size()))) return name.substr(dotted.size());
  if (name == "cls.predictions.bias" && checkpoint.contains("cls.predictions.decoder.bias")) {
    return "cls.predictions.decoder.bias";
  }
  return std::nullopt;
}

void apply_labels(ModelConfig& config, const LoadOptions& options) {
  if (options.labels) {
    check(!options.labels->empty(), "model", "the label set is empty");
    config.set_labels(*options.labels);
  }
  if (options.problem_type) config.problem_type = *options.problem_type;
  if (options.dropout) {
    config.hidden_dropout = config.attention_dropout = config.classifier_dropout = config.qa_dropout = *options.dropout;
  }
}

}  // namespace

void initialize_parameters(const std::vector<std::pair<std::string, Parameter*>>& parameters, float std,
                           int64_t padding_index, Generator& generator) {
  for (const auto& [name, parameter] : parameters) {
    if (!parameter->trainable) continue;  // sinusoidal position tables are fixed
    if (is_layer_norm_weight(name)) {
      parameter->value.fill(1.0F);
    } else if (ends_with(name, "bias")) {
      parameter->value.zero();
    } else {
      init_normal(parameter->value, std, generator);
      if (ends_with(name, "word_embeddings.weight") && padding_index >= 0 && padding_index < parameter->value.dim(0)) {
        const int64_t width = parameter->value.dim(1);
        // host-only: weights are initialised on the CPU, before Module::to moves them
        std::fill_n(parameter->value.data<float>() + padding_index * width, width, 0.0F);
      }
    }
  }
}

namespace {

// At most how many weights a model of `config` holds (every family's layout fits under this), so that sizes
// are checked before anything is allocated: the encoder, and the head for `task`.
struct ImpliedWeights {
  double encoder;
  double head;
};

ImpliedWeights implied_weights(const ModelConfig& config, TaskHead task) {
  const auto d = static_cast<double>(config.hidden_size);
  const auto ffn = static_cast<double>(config.intermediate_size);
  const auto vocab = static_cast<double>(config.vocab_size);
  const auto labels = static_cast<double>(config.num_labels);
  const double embeddings = (vocab + static_cast<double>(config.max_position_embeddings) +
                             static_cast<double>(config.type_vocab_size) + 2.0) *
                            d;
  const double block = 4.0 * (d * d + d) + 2.0 * d * ffn + ffn + d + 4.0 * d;
  const double pooler = d * d + d;
  const double encoder = embeddings + static_cast<double>(config.num_hidden_layers) * block + pooler;
  switch (task) {
    case TaskHead::SequenceClassification: return {encoder, d * d + d + (d + 1.0) * labels};
    case TaskHead::TokenClassification: return {encoder, (d + 1.0) * labels};
    case TaskHead::QuestionAnswering: return {encoder, 2.0 * d + 2.0};
    case TaskHead::MaskedLM: return {encoder, d * d + 3.0 * d + vocab};
    case TaskHead::Base: return {encoder, 0.0};
  }
  return {encoder, 0.0};
}

void require_memory_for(const ModelConfig& config, TaskHead task) {
  const ImpliedWeights weights = implied_weights(config, task);
  const double bytes = 4.0 * (weights.encoder + weights.head);
  const double available = available_memory_bytes();
  check(bytes <= available, "model",
        "config.json's sizes imply up to " + std::to_string(static_cast<int64_t>(weights.encoder + weights.head)) +
            " weights (" + gigabytes(bytes) + "), more than the " + gigabytes(available) + " of memory available");
}

// A config whose sizes the checkpoint does not hold (n_layers: 100000 over a 2-layer checkpoint, num_labels
// 10000000 over a 3-label head) is refused with the numbers before the model is allocated, not after.
void require_checkpoint_fits(const ModelConfig& config, TaskHead task, bool new_head, const Checkpoint& checkpoint) {
  double stored = 0;
  for (const std::string& name : checkpoint.names()) {
    double elements = 1;
    for (const int64_t extent : checkpoint.info(name).shape) elements *= static_cast<double>(extent);
    stored += elements;
  }
  const ImpliedWeights weights = implied_weights(config, task);
  const double pooler = static_cast<double>(config.hidden_size) * static_cast<double>(config.hidden_size + 1);
  const double encoder = weights.encoder - pooler;  // exact: checkpoints of some heads have no pooler
  check(encoder <= stored + 1024.0, "model",
        checkpoint.path() + ": config.json's sizes imply an encoder of " +
            std::to_string(static_cast<int64_t>(encoder)) + " weights, but the checkpoint holds " +
            std::to_string(static_cast<int64_t>(stored)) + " in all: do config.json and the weights belong together?");
  // What the checkpoint holds beyond the encoder: its pooler, head and unused tensors.
  const double beyond = stored - encoder;
  check(new_head || beyond <= 1024.0 || weights.head <= beyond + pooler + 1024.0, "model",
        checkpoint.path() + ": config.json's sizes imply a head of up to " +
            std::to_string(static_cast<int64_t>(weights.head)) + " weights (num_labels " +
            std::to_string(config.num_labels) + "), but the checkpoint holds " +
            std::to_string(static_cast<int64_t>(beyond)) + " beyond the encoder: does num_labels match the weights?");
}

}  // namespace

Model::Model(ModelConfig config, TaskHead task, uint64_t seed)
    : config_(std::move(config)), task_(task), generator_(seed) {
  require_memory_for(config_, task_);
  const bool with_pooler = task_ == TaskHead::SequenceClassification || task_ == TaskHead::Base;
  encoder_ = model_family(config_.model_type, "model").make_encoder(config_, &generator_, with_pooler);
  register_module(encoder_->prefix(), *encoder_);
  head_ = make_head(task_, config_, *encoder_, &generator_);
  if (head_) register_module("", *head_);
  config_.architectures = {architecture_name(config_.model_type, task_)};
  name_parameters();
}

std::unique_ptr<Model> Model::from_config(const ModelConfig& config, TaskHead task, uint64_t seed) {
  std::unique_ptr<Model> model(new Model(config, task, seed));
  Generator init(seed);
  initialize_parameters(model->named_parameters(), config.initializer_range, config.pad_token_id, init);
  if (config.quantized_int8) model->quantize_int8();
  return model;
}

std::unique_ptr<Model> Model::from_pretrained(const std::string& dir, const LoadOptions& options) {
  check(std::filesystem::is_directory(dir), "model", dir + ": not a model folder (no such directory)");
  ModelConfig config = ModelConfig::from_file(dir + "/config.json");
  const int64_t checkpoint_labels = config.num_labels;
  apply_labels(config, options);
  const TaskHead task = options.task.value_or(head_from_architectures(config));
  if (options.random_init) {
    if (options.log) options.log("Every weight initialised at random (seed " + std::to_string(options.seed) + ")");
    std::unique_ptr<Model> model = from_config(config, task, options.seed);
    if (options.int8) model->quantize_int8();
    model->to(options.device);
    return model;
  }
  const Checkpoint checkpoint = Checkpoint::open(dir);
  // A head of another task or label count is made afresh, as transformers does; only the checkpoint's own
  // head must fit what config.json says of it.
  const bool new_head = task != head_from_architectures(config) || checkpoint_labels != config.num_labels;
  require_checkpoint_fits(config, task, new_head, checkpoint);
  std::unique_ptr<Model> model(new Model(config, task, options.seed));
  const std::string prefix = model->encoder_->prefix();
  if (config.quantized_int8) model->quantize_linears_stored_as_int8(checkpoint);

  std::set<std::string> used;
  std::vector<std::pair<std::string, Parameter*>> fresh;
  for (const auto& [name, parameter] : model->named_parameters()) {
    const auto stored = find_in_checkpoint(checkpoint, name, prefix);
    const bool regrafted_head = in_head(name, prefix) && checkpoint_labels != config.num_labels;
    if (!stored || (regrafted_head && checkpoint.info(*stored).shape != parameter->value.shape())) {
      fresh.emplace_back(name, parameter);
      continue;
    }
    const auto info = checkpoint.info(*stored);
    check(info.shape == parameter->value.shape(), "model",
          dir + ": tensor '" + *stored + "' has shape " + shape_string(info.shape) + " in the checkpoint, but " +
              "config.json implies " + shape_string(parameter->value.shape()));
    // A parameter is I8 only where its stored tensor is (quantize_linears_stored_as_int8); the other way round,
    // an I8 tensor read as F32 would be silent garbage.
    const bool quantized = parameter->value.dtype() == DType::I8;
    check(quantized || info.dtype != DType::I8, "model",
          dir + ": tensor '" + *stored + "' is I8 in the checkpoint, but graft reads int8 weights only under " +
              "config.json's quantization_config");
    parameter->value = checkpoint.load(*stored, quantized ? DType::I8 : DType::F32);
    used.insert(*stored);
  }
  for (const auto& [name, parameter] : fresh) {
    // Like transformers, a missing pooler is created afresh (checkpoints of BERT's tagging and masked-LM
    // heads have none); any other missing encoder tensor means the checkpoint does not fit the config.
    check(in_head(name, prefix) || name.rfind(prefix + ".pooler.", 0) == 0, "model",
          dir + ": the checkpoint has no tensor '" + name + "' (is config.json's model_type right?)");
  }
  if (!fresh.empty()) {
    Generator init(options.seed);
    initialize_parameters(fresh, config.initializer_range, config.pad_token_id, init);
    if (options.log) {
      std::vector<std::string> names;
      for (const auto& entry : fresh) names.push_back(entry.first);
      options.log("Newly initialised (not in the checkpoint; train them before use): " + join(names));
    }
  }
  std::vector<std::string> unused;
  for (const auto& name : checkpoint.names()) {
    if (used.count(name) == 0) unused.push_back(name);
  }
  if (!unused.empty() && options.log) options.log("Unused checkpoint tensors: " + join(unused));
  if (options.int8) model->quantize_int8();
  model->to(options.device);
  return model;
}

ModelOutput Model::forward(const Batch& batch, ForwardContext& context, OutputRequest request) const {
  ModelOutput output;
  Saved saved;
  saved.labels = batch.labels;
  saved.ran_encoder = batch.features.ndim() == 0;
  if (!saved.ran_encoder) {
    check(head_ != nullptr && head_->input() != HeadInput::AllTokens && batch.features.ndim() == 2 &&
              batch.features.dim(1) == config_.hidden_size,
          "model",
          "precomputed features must be F32 [batch, " + std::to_string(config_.hidden_size) +
              "] for a head that reads one vector per sequence, got " + shape_string(batch.features.shape()));
    output.logits = head_->forward(batch.features, context);
  } else {
    check(batch.input_ids.ndim() == (batch.packed() ? 1 : 2) && batch.input_ids.dtype() == DType::I64, "model",
          std::string("input_ids must be I64 ") + (batch.packed() ? "[tokens] in a packed batch" : "[batch, tokens]") +
              ", got " + std::string(dtype_name(batch.input_ids.dtype())) + " " +
              shape_string(batch.input_ids.shape()));
    check(!batch.packed() || batch.labels.numel() == 0, "model",
          "a packed batch carries no labels: training and evaluation take padded batches");
    output.encoder = encoder_->forward(batch, context, request);
    if (!head_) return output;
    saved.hidden_shape = output.encoder.last_hidden_state.shape();
    if (predicts_sparsely(batch)) {
      saved.labelled_positions = ops::labelled_positions(batch.labels, kIgnoreIndex);
      const Tensor labelled = ops::gather_rows(output.encoder.last_hidden_state, saved.labelled_positions);
      output.logits = head_->forward(labelled, context);
      saved.labels = ops::gather(batch.labels, saved.labelled_positions);
    } else {
      output.logits = head_->forward(head_->read(output.encoder), context);
    }
  }
  if (batch.labels.numel() > 0) {
    output.loss = loss_and_gradient(output.logits, saved.labels, nullptr);
  }
  saved.logits = output.logits;
  context.save(this, std::move(saved));
  return output;
}

void Model::backward(ForwardContext& context) {
  check(head_ != nullptr, "model", "a base model has no logits to back-propagate");
  const auto saved = context.take<Saved>(this, "model");
  check(saved.labels.numel() > 0, "model", "backward() needs a forward pass with labels");
  Tensor dlogits = Tensor::empty(saved.logits.shape(), DType::F32, saved.logits.device());
  loss_and_gradient(saved.logits, saved.labels, &dlogits);
  backward_from(dlogits, saved, context);
}

void Model::backward(const Tensor& dlogits, ForwardContext& context) {
  check(head_ != nullptr, "model", "a base model has no logits to back-propagate");
  backward_from(dlogits, context.take<Saved>(this, "model"), context);
}

void Model::backward_from(const Tensor& dlogits, const Saved& saved, ForwardContext& context) {
  const Tensor dfeatures = head_->backward(dlogits, context);
  context.backward_done(*head_);
  if (!encoder_->has_trainable_parameters()) return;
  check(saved.ran_encoder, "model",
        "the encoder has trainable parameters but the forward ran on precomputed "
        "features: freeze the encoder or train on input_ids");
  Tensor dlast_hidden_state;
  Tensor dpooled;
  if (saved.labelled_positions.numel() > 0) {
    dlast_hidden_state = ops::scatter_rows(dfeatures, saved.labelled_positions, saved.hidden_shape);
  } else if (head_->input() == HeadInput::FirstToken) {
    dlast_hidden_state = ops::first_token_backward(dfeatures, saved.hidden_shape);
  } else if (head_->input() == HeadInput::Pooled) {
    dpooled = dfeatures;
  } else {
    dlast_hidden_state = dfeatures;
  }
  encoder_->backward(dlast_hidden_state, dpooled, context);
}

Tensor Model::loss_and_gradient(const Tensor& logits, const Tensor& labels, Tensor* dlogits) const {
  return task_loss(task_, config_.problem_type.value_or(""), config_.num_labels, logits, labels, dlogits,
                   class_weights_);
}

bool Model::predicts_sparsely(const Batch& batch) const {
  return sparse_predictions_ && training() && task_ == TaskHead::MaskedLM && batch.labels.numel() > 0 &&
         batch.labels.dtype() == DType::I64 && batch.labels.numel() == batch.input_ids.numel();
}

void Model::set_class_weights(std::vector<float> weights) {
  check(weights.empty() || static_cast<int64_t>(weights.size()) == config_.num_labels, "model",
        std::to_string(weights.size()) + " class weights for " + std::to_string(config_.num_labels) + " labels");
  class_weights_ = std::move(weights);
}

namespace {

// problem_type "" inferred as transformers infers it.
std::string resolved_problem(TaskHead task, const std::string& problem_type, int64_t num_labels, const Tensor& labels) {
  if (task != TaskHead::SequenceClassification || !problem_type.empty()) return problem_type;
  return num_labels == 1                ? "regression"
         : labels.dtype() == DType::I64 ? "single_label_classification"
                                        : "multi_label_classification";
}

}  // namespace

Tensor task_loss(TaskHead task, const std::string& problem_type, int64_t num_labels, const Tensor& logits,
                 const Tensor& labels, Tensor* dlogits, std::span<const float> class_weights) {
  const int64_t classes = logits.dim(-1);
  const int64_t rows = logits.numel() / classes;
  check(task != TaskHead::QuestionAnswering, "model",
        "training a question-answering head is not supported yet (its logits work for inference)");
  const std::string problem = resolved_problem(task, problem_type, num_labels, labels);
  if (problem == "regression") {
    const Tensor targets = labels.to(DType::F32);
    check(targets.numel() == logits.numel(), "model",
          "regression labels " + shape_string(labels.shape()) + " do not match logits " + shape_string(logits.shape()));
    return ops::mean_squared_error(logits, targets, dlogits);
  }
  if (problem == "multi_label_classification") {
    const Tensor targets = labels.to(DType::F32);
    check(
        targets.numel() == logits.numel(), "model",
        "multi-label targets " + shape_string(labels.shape()) + " do not match logits " + shape_string(logits.shape()));
    return ops::binary_cross_entropy_with_logits(logits, targets, dlogits);
  }
  const Tensor ids = labels.dtype() == DType::I64 ? labels : labels.to(DType::I64);
  check(ids.numel() == rows, "model",
        "labels " + shape_string(labels.shape()) + " do not match logits " + shape_string(logits.shape()));
  Tensor weights;
  if (!class_weights.empty()) {
    const std::vector<float> values(class_weights.begin(), class_weights.end());
    weights = Tensor::from_vector(values, {static_cast<int64_t>(values.size())}).to(logits.device());
  }
  return ops::cross_entropy(logits, ids, dlogits, weights, kIgnoreIndex);
}

double task_loss_denominator(TaskHead task, const std::string& problem_type, int64_t num_labels, const Tensor& labels,
                             std::span<const float> class_weights) {
  const std::string problem = resolved_problem(task, problem_type, num_labels, labels);
  if (problem == "regression" || problem == "multi_label_classification") return static_cast<double>(labels.numel());
  double denominator = 0.0;
  for (const int64_t label : labels.to_int_vector()) {
    if (label == kIgnoreIndex) continue;
    const bool weighted = !class_weights.empty() && label >= 0 && label < static_cast<int64_t>(class_weights.size());
    denominator += weighted ? class_weights[static_cast<size_t>(label)] : 1.0;
  }
  return denominator;
}

double Model::loss_denominator(const Batch& batch) const {
  return task_loss_denominator(task_, config_.problem_type.value_or(""), config_.num_labels, batch.labels,
                               class_weights_);
}

namespace {

std::vector<std::pair<std::string, Linear*>> named_linears(const Module& module) {
  std::vector<std::pair<std::string, Linear*>> linears;
  for (const auto& [name, child] : module.named_modules()) {
    if (auto* linear = dynamic_cast<Linear*>(child)) linears.emplace_back(name, linear);
  }
  return linears;
}

}  // namespace

void Model::quantize_int8() {
  for (const auto& named : named_linears(*encoder_)) named.second->quantize_int8();
  name_parameters();
  config_.quantized_int8 = true;
}

// Which layers are int8 is the checkpoint's to say (a weight stored as I8), so that a compressed-tensors
// checkpoint whose "ignore" list differs from graft's loads too.
void Model::quantize_linears_stored_as_int8(const Checkpoint& checkpoint) {
  const std::string prefix = encoder_->prefix();
  for (const auto& [name, linear] : named_linears(*this)) {
    const auto stored = find_in_checkpoint(checkpoint, name + ".weight", prefix);
    if (stored && checkpoint.info(*stored).dtype == DType::I8) linear->quantize_int8();
  }
  name_parameters();
}

void Model::save_pretrained(const std::string& dir, DType storage) const {
  check(storage == DType::F32 || storage == DType::F16 || storage == DType::BF16, "model",
        "weights are stored as F32, F16 or BF16, not " + std::string(dtype_name(storage)));
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, parameter] : named_parameters()) {
    const Tensor host = parameter->value.to(kCpu);
    // An int8 weight and its scales are stored as they are: they are what the int8 products multiply by.
    const bool keep = storage == DType::F32 || host.dtype() != DType::F32 || name.ends_with(".weight_scale");
    tensors.emplace_back(name, keep ? host : host.to(storage));
  }
  save_checkpoint(dir, tensors);
  nlohmann::json config = config_.to_json();
  config.erase("quantization_config");
  if (quantized_int8()) {
    std::vector<std::string> ignored;
    for (const auto& [name, module] : named_modules()) {
      const auto* linear = dynamic_cast<const Linear*>(module);
      // A tied projection (the masked-LM decoder) is an nn.Linear to transformers: fp32 here, so listed.
      if ((linear != nullptr && !linear->quantized_int8()) || dynamic_cast<const TiedLinear*>(module) != nullptr) {
        ignored.push_back(name);
      }
    }
    config["quantization_config"] = int8_quantization_config(ignored);
  }
  config["dtype"] = storage == DType::F32 ? "float32" : storage == DType::F16 ? "float16" : "bfloat16";
  write_file_atomically(dir + "/config.json", config.dump(2) + "\n");
}

}  // namespace graft
