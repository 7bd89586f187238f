#include "cli_common.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "graft/core/error.h"
#include "graft/io/hub.h"

namespace graft::cli {
std::vector<std::string> text_lines(std::istream& in, const std::string& source) {
  std::vector<std::string> lines;
  std::string line;
  const auto finish = [&] {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    line.clear();
  };
  for (std::istreambuf_iterator<char> next(in), end; next != end; ++next) {
    if (*next == '\n') {
      finish();
      continue;
    }
    line.push_back(*next);
    check(static_cast<int64_t>(line.size()) <= kDefaultMaxLineBytes, "input",
          source + ":" + std::to_string(lines.size() + 1) + ": a line longer than " +
              std::to_string(kDefaultMaxLineBytes) + " bytes (is this a text file?)");
  }
  if (!line.empty()) finish();
  return lines;
}

void add_inference_options(CLI::App& command, InferenceOptions& options) {
  command.add_option("--model", options.model, "Model folder or Hub id ORG/NAME[@REVISION]")->required();
  command.add_option("texts", options.texts, "Input texts (else --file, else one per line on stdin)");
  command.add_option("--file", options.file, "Read the input texts from this file, one per line");
  command.add_flag("--json", options.json, "Print one JSON object per input");
  command.add_option("--batch-size", options.batch_size, "Texts per forward pass")->check(CLI::PositiveNumber);
  command.add_flag("--bf16", options.bf16,
                   "bf16 matmuls (fast with AVX512-BF16 or AMX, emulated and slower elsewhere)");
  add_int8_option(command, options.int8);
  add_device_option(command, options.device);
}

void add_reading_options(CLI::App& command, ReadOptions& read) {
  command.add_option("--text-column", read.text_column, "Text column (header name, or 0-based index)");
  command.add_option("--text-pair-column", read.text_pair_column, "Second text column, for sentence pairs");
  command.add_option("--label-column", read.label_column, "Label column (header name, or 0-based index)");
  command.add_option("--format", read.format, "csv | tsv | jsonl | phrasebank | auto")
      ->check(CLI::IsMember({"csv", "tsv", "jsonl", "phrasebank", "auto"}))
      ->capture_default_str();
  auto* no_header = command.add_flag_callback(
      "--no-header", [&read] { read.header = false; },
      "The first row is data (columns are then 0-based indices); default: a first row of column names is a header");
  command
      .add_flag_callback(
          "--header", [&read] { read.header = true; }, "The first row is a header")
      ->excludes(no_header);
  command.add_flag("--skip-bad-rows", read.skip_bad_rows, "Skip (and count) malformed rows");
  command.add_option("--max-line-bytes", read.max_line_bytes, "Refuse a file with a longer line (no line breaks)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

void add_int8_option(CLI::App& command, bool& int8) {
  command.add_flag("--int8", int8,
                   "Quantise the encoder to int8 at load (weights per channel, activations per token): fastest with "
                   "VNNI or AMX");
}

void add_device_option(CLI::App& command, std::string& device) {
  command
      .add_option("--device", device, "Where the model runs: cpu, cuda or cuda:N (checked: the checking host device)")
      ->capture_default_str();
}

Device device_option(const std::string& device) {
  const Device parsed = parse_device(device);
  require_available(parsed);
  return parsed;
}

std::vector<std::string> read_inputs(const InferenceOptions& options) {
  check(options.texts.empty() || options.file.empty(), "input", "give texts as arguments or with --file, not both");
  std::vector<std::string> texts = options.texts;
  if (!options.file.empty()) {
    std::ifstream in(options.file, std::ios::binary);
    check(in.good(), "input", options.file + ": cannot open");
    texts = text_lines(in, options.file);
  } else if (texts.empty()) {
    texts = text_lines(std::cin, "standard input");
  }
  std::erase_if(texts, [](const std::string& text) { return text.find_first_not_of(" \t") == std::string::npos; });
  check(!texts.empty(), "input", "no input texts (give them as arguments, with --file, or on stdin)");
  return texts;
}

std::string model_folder(const InferenceOptions& options) {
  return resolve_model_path(options.model);
}

PipelineOptions pipeline_options(const InferenceOptions& options, int64_t stride) {
  PipelineOptions pipeline;
  pipeline.batch_size = options.batch_size;
  pipeline.stride = stride;
  pipeline.bf16 = options.bf16;
  pipeline.int8 = options.int8;
  pipeline.device = device_option(options.device);
  return pipeline;
}

std::string format_score(float score) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", static_cast<double>(score));
  return text;
}

void print_blocks(const std::vector<std::vector<std::string>>& blocks) {
  bool separate = false;
  for (const auto& block : blocks) separate = separate || block.size() > 1;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (separate && i > 0) std::cout << '\n';
    for (const auto& line : blocks[i]) std::cout << line << '\n';
  }
}

void add_optimization_options(CLI::App& command, TrainingArguments& args) {
  command.add_option("--max-steps", args.max_steps, "Stop after this many optimizer steps");
  command.add_option("--lr", args.learning_rate, "Peak learning rate")->capture_default_str();
  command.add_option("--weight-decay", args.weight_decay, "Decoupled weight decay (not on biases/LayerNorm)")
      ->capture_default_str();
  command.add_option("--scheduler", args.lr_scheduler, "constant, constant_with_warmup, linear, cosine")
      ->capture_default_str();
  command.add_option("--warmup-steps", args.warmup_steps, "Linear warmup steps");
  command.add_option("--warmup-ratio", args.warmup_ratio, "Warmup as a fraction of the steps")->capture_default_str();
  command.add_option("--max-grad-norm", args.max_grad_norm, "Clip the global gradient norm (0: off)")
      ->capture_default_str();
  command.add_option("--grad-accum", args.gradient_accumulation_steps, "Gradient accumulation steps");
  command.add_flag("--bf16", args.bf16,
                   "bf16 mixed precision: bf16 matmuls, fp32 weights and loss (fast with AVX512-BF16 or AMX)");
  command.add_option("--logging-steps", args.logging_steps, "Log every N steps")->capture_default_str();
  command.add_flag("!--no-progress", args.progress_bar, "No progress bar");
}

void print_json_line(const nlohmann::json& value) {
  // Invalid UTF-8 in an input is replaced (U+FFFD) rather than aborting the whole run.
  std::cout << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace graft::cli
