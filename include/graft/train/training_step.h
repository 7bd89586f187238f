#pragma once
// One optimizer step as Hugging Face's Trainer takes it: gradients of the (micro-)batches, averaged,
// clipped by global norm, then the update at the schedule's learning rate for that step.
#include <span>
#include <string>
#include <vector>

#include "graft/distributed/communicator.h"
#include "graft/models/model.h"
#include "graft/train/optimizer.h"
#include "graft/train/schedule.h"

namespace graft {

// PyTorch DistributedDataParallel's bucket_cap_mb.
inline constexpr size_t kGradientBucketBytes = 25 * 1024 * 1024;

struct StepResult {
  double loss;       // mean over the micro-batches
  double grad_norm;  // before clipping
  double lr;
  double communication_seconds = 0.0;  // in the sums between ranks (0 for one process)
};

// micro_batches.size() > 1 is gradient accumulation: each micro-batch's gradient counts 1/n.
// max_grad_norm <= 0 turns clipping off (the norm is still measured and reported).
//
// With several ranks, every rank passes the same (global) micro-batches and computes its share of their rows
// (shard_rows); the gradients and the loss are summed over the ranks so that the step is the one a single process
// takes on the whole batches, up to fp32 rounding, dropout included: micro-batch m's masks come from fork m of one
// draw of model.generator() a step, each rank drawing its rows of them (ForwardContext::Draws). Each rank's
// mean loss on a micro-batch counts its share of that micro-batch's loss denominator
// (TrainableModel::loss_denominator), so that uneven counts of labels per rank (masked LM) average as in one
// process (transformers' average_tokens_across_devices). The gradients are summed as reduce_gradients does, each
// bucket's sum started as soon as the backward of the last micro-batch has finished the parts of the model that hold
// it (ForwardContext::backward_done), so that it runs while the backward goes on.
StepResult training_step(TrainableModel& model, Optimizer& optimizer, const LRSchedule& schedule, int64_t step,
                         std::span<const Batch> micro_batches, double max_grad_norm,
                         Communicator& communicator = single_process(), size_t bucket_bytes = kGradientBucketBytes);
inline StepResult training_step(TrainableModel& model, Optimizer& optimizer, const LRSchedule& schedule, int64_t step,
                                const Batch& batch, double max_grad_norm,
                                Communicator& communicator = single_process()) {
  return training_step(model, optimizer, schedule, step, std::span<const Batch>(&batch, 1), max_grad_norm,
                       communicator);
}

// Sums the gradients of `parameters` over the ranks, in buckets of about `bucket_bytes` taken from the last parameter
// backwards (the order backward produces them), as PyTorch's DistributedDataParallel does. Every rank must call
// it (as every collective), so a rank that throws anywhere in a step must abort() the others.
void reduce_gradients(const ParameterList& parameters, Communicator& communicator,
                      size_t bucket_bytes = kGradientBucketBytes);

// Rank 0's values of every parameter on every rank: identical starting points.
void broadcast_parameters(const Module& model, Communicator& communicator);

// The parameters that train, in registration order.
ParameterList trainable_parameters(const Module& model);

// Pre-tokenized batches "batch{i}.input_ids", ".attention_mask", ".labels", ".token_type_ids" (the format
// of ../shared/golden/*/train_batches.safetensors), in order of i.
std::vector<Batch> load_pretokenized_batches(const std::string& path);

}  // namespace graft
