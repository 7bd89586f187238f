#pragma once
// The README.md written next to a fine-tuned model, in the Hugging Face model-card layout: YAML front
// matter the Hub reads (library, base model, pipeline tag, metrics), then what the model is, what it was
// trained on and how, how well it does, and what it should not be trusted with.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace graft {

// One training stage (e.g. "head only" with the encoder frozen, then "full fine-tuning").
struct StageSummary {
  std::string name;
  std::string freeze;              // the freeze spec the stage trained with ("none", "distilbert", ...)
  nlohmann::json hyperparameters;  // TrainingArguments::to_json(), plus "batch_size" when the caller adds it
  double seconds = 0.0;
  double samples_per_second = 0.0;
  int64_t steps = 0;
  int64_t first_step = 0;  // > 0: the run resumed there, and seconds cover only the steps after it
};

struct ModelCardInputs {
  std::string base_model;  // path or Hub id
  std::string base_card;   // text of the base model's README.md when present, else empty
  std::string task;        // task_head_name(): "sequence-classification", ...
  std::string train_file, eval_file;
  std::string train_summary, eval_summary;  // summarize(): sizes and label distribution
  std::vector<StageSummary> stages;
  nlohmann::json eval_results;  // EvalResult::report; null or empty when there was no evaluation
  std::string eval_table;       // EvalResult::table, shown when the report is not a classification report
  std::vector<std::string> labels;
};

std::string render_model_card(const ModelCardInputs& inputs);

// A masked-LM fill: one text with a [MASK], and the model's top fills as (token, probability).
struct FillMaskProbe {
  std::string text;
  std::vector<std::pair<std::string, float>> fills;
};

// The card of a model pretrained with graft pretrain (masked LM).
struct PretrainingCardInputs {
  std::string name;
  std::string base_model;    // the model pretraining continued from; empty: random weights
  std::string architecture;  // "DistilBertForMaskedLM"
  std::string size;          // "4 layers, hidden 256, 4 heads, FFN 1024"
  int64_t parameters = 0;
  std::vector<std::string> corpus_files;
  std::string corpus_summary;  // tokens read, blocks for training and held out
  StageSummary training;
  nlohmann::json eval_results;  // masked-LM loss, perplexity, masked accuracy on the held-out blocks
  nlohmann::json loss_curve;    // [[step, loss], ...]
  std::vector<FillMaskProbe> examples;
  std::vector<FillMaskProbe> bias_probe;
};

std::string render_pretraining_card(const PretrainingCardInputs& inputs);

// model_dir/README.md, or "" when the folder has none.
std::string read_base_card(const std::string& model_dir);

// The sections of a markdown text whose headings mention one of `keywords` (case-insensitive), each up to
// the next heading of the same or a higher level, with their headings re-levelled to start at
// `heading_level`. Headings inside fenced code blocks are ignored.
std::string extract_markdown_sections(const std::string& markdown, const std::vector<std::string>& keywords,
                                      int heading_level);

}  // namespace graft
