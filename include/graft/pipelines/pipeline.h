#pragma once
// Inference pipelines in the manner of transformers.pipeline(...): a model in evaluation mode and its
// tokenizer, run over many texts in batches. Batches are packed (data/batch.h): a text costs its own tokens,
// no padding is computed, and its result does not depend on the batch it lands in.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graft/models/model.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft {

struct PipelineOptions {
  int64_t batch_size = 32;
  // 0: texts longer than max_length() are truncated. > 0: they are split into overlapping windows
  // (Tokenizer::encode_windows, `stride` tokens shared by neighbours) whose predictions are combined;
  // supported by text and token classification.
  int64_t stride = 0;
  // bf16 matmuls (core/autocast.h): fast on CPUs with AVX512-BF16 or AMX, emulated and slower elsewhere.
  bool bf16 = false;
  // Dynamic int8 quantisation of the encoder at load (Model::quantize_int8): fast with VNNI or AMX, at fp32
  // speed elsewhere.
  bool int8 = false;
  // Where from_pretrained loads the model (a borrowed model runs where it is); inputs are copied there and
  // outputs back.
  Device device = kCpu;
};

class Pipeline {
 public:
  Model& model() { return *model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const PipelineOptions& options() const { return options_; }
  // The longest sequence the model accepts, specials included:
  // min(tokenizer model_max_length, config max_position_embeddings).
  int64_t max_length() const;

 protected:
  // Borrows the model (which must outlive the pipeline) and puts it in evaluation mode.
  Pipeline(Model& model, Tokenizer tokenizer, PipelineOptions options);
  // Takes ownership of the model the pipeline was built on (one loaded from a folder).
  void adopt(std::unique_ptr<Model> model);

  // One encoding per text (and pair), truncated to max_length(), unpadded.
  std::vector<Encoding> encode_truncated(const std::vector<std::string>& texts,
                                         const std::vector<std::string>* pairs = nullptr) const;
  // One packed batch's output, on the host. Row r is the encoding members[r]; per-token outputs (the last
  // hidden state, token classification's and masked LM's logits) are [N, C] over the batch's tokens, and
  // token() finds a row's.
  struct BatchOutput {
    std::vector<size_t> members;
    ModelOutput model;
    std::vector<int64_t> starts;  // each row's first token in the per-token outputs
    std::vector<int64_t> ends;    // and one past its last
    const float* token(const Tensor& per_token, size_t row, int64_t t) const {
      return per_token.data<float>() + (starts[row] + t) * per_token.dim(-1);  // host-only: copied to the CPU
    }
    // Row r's tokens in the per-token outputs (its encoding's, padding left out).
    int64_t tokens(size_t row) const { return ends[row] - starts[row]; }
  };
  // Runs the model over the encodings, options().batch_size at a time, and hands each batch's output to
  // `consume`. Batches are cut from the encodings sorted longest first (equal lengths in their given order),
  // so that a batch's sequences take similar time in attention.
  using BatchConsumer = std::function<void(const BatchOutput& batch)>;
  void run_batches(const std::vector<Encoding>& encodings, const BatchConsumer& consume);
  // Throws unless the model has the head this pipeline reads.
  void require_task(TaskHead task, const char* pipeline) const;

 private:
  std::shared_ptr<Model> owned_model_;
  Model* model_;
  Tokenizer tokenizer_;
  PipelineOptions options_;
};

}  // namespace graft
