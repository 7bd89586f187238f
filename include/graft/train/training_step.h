#pragma once
// One optimizer step as Hugging Face's Trainer takes it: gradients of the (micro-)batches, averaged,
// clipped by global norm, then the update at the schedule's learning rate for that step.
#include <span>
#include <string>
#include <vector>

#include "graft/models/model.h"
#include "graft/train/optimizer.h"
#include "graft/train/schedule.h"

namespace graft {

struct StepResult {
  double loss;       // mean over the micro-batches
  double grad_norm;  // before clipping
  double lr;
};

// micro_batches.size() > 1 is gradient accumulation: each micro-batch's gradient counts 1/n.
// max_grad_norm <= 0 turns clipping off (the norm is still measured and reported).
StepResult training_step(TrainableModel& model, Optimizer& optimizer, const LRSchedule& schedule, int64_t step,
                         std::span<const Batch> micro_batches, double max_grad_norm);
inline StepResult training_step(TrainableModel& model, Optimizer& optimizer, const LRSchedule& schedule, int64_t step,
                                const Batch& batch, double max_grad_norm) {
  return training_step(model, optimizer, schedule, step, std::span<const Batch>(&batch, 1), max_grad_norm);
}

// The parameters that train, in registration order.
ParameterList trainable_parameters(const Module& model);

// Pre-tokenized batches "batch{i}.input_ids", ".attention_mask", ".labels", ".token_type_ids" (the format
// of ../shared/golden/*/train_batches.safetensors), in order of i.
std::vector<Batch> load_pretokenized_batches(const std::string& path);

}  // namespace graft
