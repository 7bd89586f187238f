#include "graft/train/training_step.h"

#include "graft/core/error.h"
#include "graft/io/safetensors.h"
#include "graft/train/clipping.h"

namespace graft {

StepResult training_step(TrainableModel& model, Optimizer& optimizer, const LRSchedule& schedule, int64_t step,
                         std::span<const Batch> micro_batches, double max_grad_norm) {
  check(!micro_batches.empty(), "train", "a training step needs at least one batch");
  const ParameterList parameters = trainable_parameters(model);
  for (Parameter* parameter : parameters) parameter->zero_grad();
  double loss = 0.0;
  for (const Batch& batch : micro_batches) {
    ForwardContext context;
    const ModelOutput output = model.forward(batch.to(model.device()), context);
    check(output.loss.numel() == 1, "train", "the model returned no loss: the batch needs labels");
    loss += output.loss.item();
    model.backward(context);
  }
  const auto count = static_cast<double>(micro_batches.size());
  if (micro_batches.size() > 1) scale_grads(parameters, static_cast<float>(1.0 / count));
  const double norm =
      max_grad_norm > 0.0 ? clip_grad_norm(parameters, static_cast<float>(max_grad_norm)) : grad_norm(parameters);
  const double lr = schedule.lr_at(step);
  optimizer.set_lr(lr);
  optimizer.step();
  return {loss / count, norm, lr};
}

ParameterList trainable_parameters(const Module& model) {
  ParameterList trainable;
  for (Parameter* parameter : model.parameters()) {
    if (parameter->trainable) trainable.push_back(parameter);
  }
  return trainable;
}

std::vector<Batch> load_pretokenized_batches(const std::string& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::vector<Batch> batches;
  for (size_t i = 0;; ++i) {
    const std::string prefix = "batch" + std::to_string(i) + ".";
    if (!file.contains(prefix + "input_ids")) break;
    Batch batch;
    batch.input_ids = file.load(prefix + "input_ids", DType::I64);
    if (file.contains(prefix + "attention_mask"))
      batch.attention_mask = file.load(prefix + "attention_mask", DType::I64);
    if (file.contains(prefix + "token_type_ids"))
      batch.token_type_ids = file.load(prefix + "token_type_ids", DType::I64);
    if (file.contains(prefix + "labels")) {
      const DType stored = file.info(prefix + "labels").dtype;
      const bool integer = stored == DType::I64 || stored == DType::I32;
      batch.labels = file.load(prefix + "labels", integer ? DType::I64 : DType::F32);
    }
    batches.push_back(std::move(batch));
  }
  check(!batches.empty(), "train",
        path + ": no batch0.input_ids (expected batch{i}.input_ids, .attention_mask, .labels)");
  return batches;
}

}  // namespace graft
