#include "graft/pipelines/pipeline.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "graft/core/autocast.h"
#include "graft/core/error.h"
#include "graft/core/grad_mode.h"
#include "graft/data/collator.h"
#include "pipelines/pipeline_support.h"

namespace graft {
namespace pipelines {

std::unique_ptr<Model> load_model(const std::string& dir, const PipelineOptions& options) {
  LoadOptions load;
  load.device = options.device;
  load.int8 = options.int8;
  return Model::from_pretrained(dir, load);
}

std::vector<float> softmax(std::span<const float> logits) {
  std::vector<float> probabilities(logits.size());
  if (logits.empty()) return probabilities;
  const float largest = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    probabilities[i] = std::exp(logits[i] - largest);
    sum += probabilities[i];
  }
  for (float& value : probabilities) value = static_cast<float>(value / sum);
  return probabilities;
}

std::vector<float> sigmoid(std::span<const float> logits) {
  std::vector<float> scores(logits.size());
  std::transform(logits.begin(), logits.end(), scores.begin(), [](float x) { return 1.0F / (1.0F + std::exp(-x)); });
  return scores;
}

std::vector<int64_t> top_indices(std::span<const float> values, int64_t k) {
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  const auto count = static_cast<size_t>(std::clamp<int64_t>(k, 0, static_cast<int64_t>(values.size())));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count), order.end(),
                    [&](int64_t a, int64_t b) { return values[a] > values[b] || (values[a] == values[b] && a < b); });
  order.resize(count);
  return order;
}

std::vector<std::string> label_names(const ModelConfig& config) {
  std::vector<std::string> names;
  for (int64_t id = 0; id < config.num_labels; ++id) {
    const auto found = config.id2label.find(id);
    names.push_back(found != config.id2label.end() ? found->second : "LABEL_" + std::to_string(id));
  }
  return names;
}

}  // namespace pipelines

Pipeline::Pipeline(Model& model, Tokenizer tokenizer, PipelineOptions options)
    : model_(&model), tokenizer_(std::move(tokenizer)), options_(options) {
  check(options_.batch_size > 0, "pipeline", "batch_size must be positive, got " + std::to_string(options_.batch_size));
  check(options_.stride >= 0, "pipeline", "stride must not be negative, got " + std::to_string(options_.stride));
  check(tokenizer_.vocab_size() <= model_->config().vocab_size, "pipeline",
        "the tokenizer has " + std::to_string(tokenizer_.vocab_size()) + " tokens but the model only " +
            std::to_string(model_->config().vocab_size));
  check(options_.stride == 0 || options_.stride < max_length() - 2, "pipeline",
        "stride " + std::to_string(options_.stride) + " must be smaller than the " + std::to_string(max_length() - 2) +
            " text tokens a window holds");
  model_->set_training(false);
}

void Pipeline::adopt(std::unique_ptr<Model> model) {
  check(model.get() == model_, "pipeline", "adopt() takes the model the pipeline runs");
  owned_model_ = std::move(model);
}

int64_t Pipeline::max_length() const {
  return std::min(tokenizer_.model_max_length(), model_->config().max_position_embeddings);
}

std::vector<Encoding> Pipeline::encode_truncated(const std::vector<std::string>& texts,
                                                 const std::vector<std::string>* pairs) const {
  check(pairs == nullptr || pairs->size() == texts.size(), "pipeline",
        std::to_string(texts.size()) + " texts but " + std::to_string(pairs ? pairs->size() : 0) + " pairs");
  EncodeOptions encode;
  encode.max_length = max_length();
  encode.truncation = Truncation::LongestFirst;
  return tokenizer_.encode_batch(texts, encode, pairs);
}

namespace {

// Finite weights can still overflow on some input; a NaN must not be printed as a score or an embedding.
void require_finite(const Tensor& host_output) {
  if (const auto bad = first_non_finite(host_output)) {
    throw Error(std::string("[pipeline] the model's output is not finite (") + bad->spelling +
                ") for an input of this call: its weights overflow on it");
  }
}

}  // namespace

void Pipeline::run_batches(const std::vector<Encoding>& encodings, const BatchConsumer& consume) {
  const std::vector<int64_t> order = longest_first_order(encodings);
  const auto step = static_cast<size_t>(options_.batch_size);
  for (size_t first = 0; first < order.size(); first += step) {
    const size_t end = std::min(order.size(), first + step);
    BatchOutput batch;
    std::vector<const Encoding*> rows;
    for (size_t i = first; i < end; ++i) {
      batch.members.push_back(static_cast<size_t>(order[i]));
      rows.push_back(&encodings[batch.members.back()]);
    }
    const Batch packed = pack_batch(rows);
    const int64_t* offsets = packed.sequence_offsets.data<int64_t>();  // host-only: made on the CPU
    batch.starts.assign(offsets, offsets + rows.size());
    batch.ends.assign(offsets + 1, offsets + rows.size() + 1);
    const NoGradGuard no_grad;
    const AutocastGuard autocast(matmul_dtype(options_.bf16));
    ForwardContext nothing_kept;  // under NoGradGuard: this call shares nothing with others on the model
    batch.model = model_->forward(packed.to(model_->device()), nothing_kept);
    // What the pipelines read, copied to the host (no copy on the CPU).
    ModelOutput& output = batch.model;
    output.logits = output.logits.to(kCpu);
    output.encoder.last_hidden_state = output.encoder.last_hidden_state.to(kCpu);
    require_finite(output.encoder.last_hidden_state);
    if (output.logits.numel() > 0) require_finite(output.logits);
    consume(batch);
  }
}

void Pipeline::require_task(TaskHead task, const char* pipeline) const {
  check(model_->task() == task, pipeline,
        "the model's architecture (" + model_->config().architectures.front() + ") does not fit this pipeline");
}

}  // namespace graft
