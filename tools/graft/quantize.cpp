// graft quantize --model M --output DIR [--dtype F32|BF16|F16]: the model with its encoder quantised to int8
// (Model::quantize_int8) and its tokenizer, in compressed-tensors' int-quantized form, which every graft command
// then loads as int8.
#include <iostream>
#include <memory>

#include "command.h"
#include "graft/core/dtype.h"
#include "graft/io/file.h"
#include "graft/io/hub.h"
#include "graft/models/model.h"
#include "graft/tokenizer/tokenizer.h"

namespace graft::cli {
namespace {

struct QuantizeOptions {
  std::string model;
  std::string output;
  std::string dtype = "F32";
};

void run_quantize(const QuantizeOptions& options) {
  const DType storage = dtype_from_name(options.dtype);
  const std::string folder = resolve_model_path(options.model);
  LoadOptions load;
  load.int8 = true;
  const auto model = Model::from_pretrained(folder, load);
  const Tokenizer tokenizer = Tokenizer::from_pretrained(folder);
  write_folder_atomically(options.output, [&](const std::string& dir) {
    model->save_pretrained(dir, storage);
    tokenizer.save_pretrained(dir);
  });
  std::cout << options.output << '\n';
}

void add_quantize_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "quantize", "Write the model with an int8 encoder (dynamic quantisation) for faster inference");
  auto options = std::make_shared<QuantizeOptions>();
  command->add_option("--model", options->model, "Model folder or Hub id ORG/NAME[@REVISION]")->required();
  command->add_option("--output", options->output, "The model folder to write")->required();
  command->add_option("--dtype", options->dtype, "How the weights that stay floating point are stored")
      ->check(CLI::IsMember({"F32", "BF16", "F16"}))
      ->capture_default_str();
  command->callback([options] { run_quantize(*options); });
}

const Registration kQuantize{"quantize", 46, add_quantize_command};

}  // namespace
}  // namespace graft::cli
