#pragma once
// What the inference commands (predict, fill-mask, tag, embed) share: their common options, where
// their input texts come from, and how results are printed.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graft/data/dataset.h"
#include "graft/pipelines/pipeline.h"
#include "graft/train/trainer.h"

namespace graft::cli {

struct InferenceOptions {
  std::string model;               // a folder or a Hub id ORG/NAME[@REVISION]
  std::vector<std::string> texts;  // positional arguments
  std::string file;                // one text per line
  bool json = false;
  int64_t batch_size = 32;
  bool bf16 = false;
  bool int8 = false;
  std::string device = "cpu";
};

// --model, TEXT..., --file, --json, --batch-size, --bf16, --int8 and --device.
void add_inference_options(CLI::App& command, InferenceOptions& options);

// The texts given as arguments, else the lines of --file, else the lines of stdin (blank lines skipped);
// throws graft::Error when there are none.
std::vector<std::string> read_inputs(const InferenceOptions& options);
// The lines of `in` (a trailing \r dropped), each at most kDefaultMaxLineBytes: /dev/zero has no line
// break and would fill memory. Errors name `source`.
std::vector<std::string> text_lines(std::istream& in, const std::string& source);

// The model folder, downloaded first when --model names a Hub repo.
std::string model_folder(const InferenceOptions& options);

PipelineOptions pipeline_options(const InferenceOptions& options, int64_t stride = 0);

// Scores as "0.9812".
std::string format_score(float score);

// Prints each input's block of tab-separated lines; blocks are separated by a blank line as soon as one
// of them has more than one line, so that a reader can tell the inputs apart.
void print_blocks(const std::vector<std::vector<std::string>>& blocks);

// The optimisation options train and pretrain share: --max-steps, --lr, --weight-decay, --scheduler,
// --warmup-steps, --warmup-ratio, --max-grad-norm, --grad-accum, --logging-steps and --no-progress.
void add_optimization_options(CLI::App& command, TrainingArguments& args);

// --device cpu|cuda[:N] into `device`; device_option() reads it (an unknown or unavailable device fails at once).
void add_device_option(CLI::App& command, std::string& device);
// --int8: dynamic int8 quantisation at load (LoadOptions::int8).
void add_int8_option(CLI::App& command, bool& int8);
// How a labelled data file is read: --text-column, --text-pair-column, --label-column, --format,
// --header/--no-header, --skip-bad-rows.
void add_reading_options(CLI::App& command, ReadOptions& read);
Device device_option(const std::string& device);

// One JSON object on one line (JSON Lines).
void print_json_line(const nlohmann::json& value);

}  // namespace graft::cli
