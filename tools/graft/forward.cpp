// graft forward --model M --inputs IN.safetensors --out OUT.safetensors [--backward]: one forward (and
// backward) pass on given tensors, written under the names of the Hugging Face goldens, so graft can be
// compared with transformers tensor by tensor.
#include <iostream>
#include <memory>

#include "cli_common.h"
#include "command.h"
#include "graft/core/error.h"
#include "graft/io/hub.h"
#include "graft/io/safetensors.h"
#include "graft/models/model.h"

namespace graft::cli {
namespace {

struct ForwardOptions {
  std::string model;
  std::string inputs;
  std::string out;
  bool backward = false;
  std::string device = "cpu";
};

bool is_floating(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

Batch read_batch(const SafetensorsFile& file) {
  check(file.contains("input_ids"), "forward", file.path() + ": no 'input_ids' tensor");
  const auto optional_ids = [&](const std::string& name) {
    return file.contains(name) ? file.load(name, DType::I64) : Tensor();
  };
  Batch batch;
  batch.input_ids = file.load("input_ids", DType::I64);
  batch.attention_mask = optional_ids("attention_mask");
  batch.token_type_ids = optional_ids("token_type_ids");
  if (file.contains("labels")) {
    // Class ids stay integers; regression and multi-label targets are floating.
    batch.labels = file.load("labels", is_floating(file.info("labels").dtype) ? DType::F32 : DType::I64);
  }
  return batch;
}

std::vector<std::pair<std::string, Tensor>> output_tensors(const ModelOutput& output) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  const auto& encoder = output.encoder;
  for (size_t i = 0; i < encoder.hidden_states.size(); ++i) {
    tensors.emplace_back("hidden_states." + std::to_string(i), encoder.hidden_states[i]);
  }
  for (size_t i = 0; i < encoder.attentions.size(); ++i) {
    tensors.emplace_back("attentions." + std::to_string(i), encoder.attentions[i]);
  }
  if (output.logits.numel() > 0) tensors.emplace_back("logits", output.logits);
  if (output.loss.numel() > 0) tensors.emplace_back("loss", output.loss);
  for (auto& [name, tensor] : tensors) tensor = tensor.to(kCpu);
  return tensors;
}

void run_forward(const ForwardOptions& options) {
  LoadOptions load;
  load.device = device_option(options.device);
  auto model = Model::from_pretrained(resolve_model_path(options.model), load);
  // Dropout off, so the pass is deterministic (and equal to the train-mode goldens, whose dropout is 0).
  model->set_training(false);
  const SafetensorsFile inputs = SafetensorsFile::open(options.inputs);
  const Batch batch = read_batch(inputs);
  check(!options.backward || batch.labels.numel() > 0, "forward",
        "--backward needs a 'labels' tensor in " + options.inputs);
  ForwardContext context;
  const ModelOutput output =
      model->forward(batch.to(model->device()), context, {.hidden_states = true, .attentions = true});
  auto tensors = output_tensors(output);
  if (options.backward) {
    for (const auto& [name, parameter] : model->named_parameters()) parameter->trainable = true;
    model->backward(context);
    for (const auto& [name, parameter] : model->named_parameters())
      tensors.emplace_back("grad." + name, parameter->grad.to(kCpu));
  }
  save_safetensors(options.out, tensors);
  std::cerr << "wrote " << tensors.size() << " tensors to " << options.out << '\n';
}

void add_forward_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "forward", "Run a model on the tensors of a safetensors file and save every output (and gradient)");
  auto options = std::make_shared<ForwardOptions>();
  command->add_option("--model", options->model, "Model folder or Hub id ORG/NAME[@REVISION]")->required();
  add_device_option(*command, options->device);
  command->add_option("--inputs", options->inputs, "input_ids, attention_mask, token_type_ids, labels")->required();
  command->add_option("--out", options->out, "Where to write hidden_states.i, attentions.i, logits, loss")->required();
  command->add_flag("--backward", options->backward, "Also back-propagate the loss and write grad.{parameter}");
  command->callback([options] { run_forward(*options); });
}

const Registration kForward{"forward", 60, add_forward_command};

}  // namespace
}  // namespace graft::cli
