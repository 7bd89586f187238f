// graft tokenize: shows how the model's tokenizer splits texts (ids, tokens, offsets), with the
// truncation and padding options of transformers' tokenizer call.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "graft/core/error.h"
#include "graft/io/hub.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::vector<std::string> texts;
  std::string pair;
  int64_t max_length = 0;
  std::string truncation;
  std::string padding;
  bool json = false;
};

Truncation parse_truncation(const std::string& name) {
  if (name.empty()) return Truncation::None;
  if (name == "longest_first") return Truncation::LongestFirst;
  if (name == "only_first") return Truncation::OnlyFirst;
  if (name == "only_second") return Truncation::OnlySecond;
  throw Error("[tokenize] unknown --truncation '" + name + "' (longest_first, only_first or only_second)");
}

Padding parse_padding(const std::string& name) {
  if (name.empty()) return Padding::None;
  if (name == "longest") return Padding::Longest;
  if (name == "max_length") return Padding::MaxLength;
  throw Error("[tokenize] unknown --padding '" + name + "' (longest or max_length)");
}

std::vector<std::string> input_texts(const TokenizeOptions& options) {
  if (!options.texts.empty()) return options.texts;
  const std::vector<std::string> lines = text_lines(std::cin, "standard input");
  check(!lines.empty(), "tokenize", "no input texts (give them as arguments or one per line on stdin)");
  return lines;
}

nlohmann::json to_json(const Encoding& encoding) {
  nlohmann::json offsets = nlohmann::json::array();
  for (const auto& [start, end] : encoding.offsets) offsets.push_back({start, end});
  return {{"input_ids", encoding.ids},
          {"tokens", encoding.tokens},
          {"offsets", offsets},
          {"token_type_ids", encoding.type_ids},
          {"attention_mask", encoding.attention_mask}};
}

void print_readable(const Encoding& encoding) {
  std::string tokens;
  std::string ids;
  for (size_t i = 0; i < encoding.size(); ++i) {
    tokens += (i ? " " : "") + encoding.tokens[i];
    ids += (i ? " " : "") + std::to_string(encoding.ids[i]);
  }
  std::cout << tokens << '\n' << ids << '\n';
}

void run_tokenize(const TokenizeOptions& options) {
  const Tokenizer tokenizer = Tokenizer::from_pretrained(resolve_model_path(options.model));
  EncodeOptions encode_options;
  if (options.max_length > 0) encode_options.max_length = options.max_length;
  encode_options.truncation = parse_truncation(options.truncation);
  encode_options.padding = parse_padding(options.padding);
  const auto texts = input_texts(options);
  const std::vector<std::string> pairs(options.pair.empty() ? 0 : texts.size(), options.pair);
  const auto encodings = tokenizer.encode_batch(texts, encode_options, pairs.empty() ? nullptr : &pairs);
  for (const auto& encoding : encodings) {
    if (options.json) {
      std::cout << to_json(encoding).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    } else {
      print_readable(encoding);
    }
  }
}

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  auto* command = app.add_subcommand("tokenize", "Split texts into the model's tokens and ids");
  command->add_option("--model", options->model, "Model folder (or Hub id) with the tokenizer files")->required();
  command->add_option("texts", options->texts, "Texts to tokenize (else one per line on stdin)");
  command->add_option("--pair", options->pair, "Second sequence, paired with every text");
  command->add_option("--max-length", options->max_length, "Truncate / pad to this many tokens")
      ->check(CLI::PositiveNumber);
  command->add_option("--truncation", options->truncation, "longest_first, only_first or only_second");
  command->add_option("--padding", options->padding, "longest or max_length");
  command->add_flag("--json", options->json, "Print one JSON object per input (ids, tokens, offsets, masks)");
  command->callback([options] { run_tokenize(*options); });
}

const Registration kTokenize{"tokenize", 10, add_tokenize_command};

}  // namespace
}  // namespace graft::cli
