#include "graft/train/training_step.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "graft/core/error.h"
#include "graft/io/safetensors.h"
#include "graft/train/clipping.h"

namespace graft {
namespace {

// `draws` gives the masks of the micro-batch whose rows from `first_row` on `batch` holds.
double forward_backward(TrainableModel& model, const Batch& batch, Generator draws, int64_t first_row) {
  ForwardContext context;
  context.draw_from(draws, first_row);
  const ModelOutput output = model.forward(batch.to(model.device()), context);
  check(output.loss.numel() == 1, "train", "the model returned no loss: the batch needs labels");
  model.backward(context);
  return output.loss.item();
}

// One process: each micro-batch's gradient counts 1/n. Returns the mean loss.
double accumulate(TrainableModel& model, const ParameterList& parameters, std::span<const Batch> micro_batches,
                  const Generator& step_draws) {
  double loss = 0.0;
  for (size_t m = 0; m < micro_batches.size(); ++m)
    loss += forward_backward(model, micro_batches[m], step_draws.fork(m), 0);
  const auto count = static_cast<double>(micro_batches.size());
  if (micro_batches.size() > 1) scale_grads(parameters, static_cast<float>(1.0 / count));
  return loss / count;
}

// Several ranks: this rank's share of micro-batch m, whose mean loss is over d_m of the D_m counted labels of all
// ranks, weighs w_m = d_m / D_m / n, so that the weighted sum over ranks and micro-batches is one process's mean of
// micro-batch means. The gradients accumulate in place, so before each micro-batch they are rescaled to carry its
// weight (they hold the weighted sum so far divided by the weight of the last micro-batch computed); a share with
// nothing counted is skipped, and a micro-batch with nothing counted on any rank adds nothing, as in one process
// (whose cross-entropy over no label is 0). Returns the loss, summed over the ranks.
double accumulate_shards(TrainableModel& model, const ParameterList& parameters, std::span<const Batch> micro_batches,
                         const Generator& step_draws, Communicator& communicator, double& communication_seconds) {
  const auto timed = [&communication_seconds](const auto& exchange) {
    const auto started = std::chrono::steady_clock::now();
    exchange();
    communication_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  std::vector<Batch> shards;
  std::vector<double> shares;
  for (const Batch& batch : micro_batches) {
    shards.push_back(shard_rows(batch, communicator.rank(), communicator.world_size()));
    shares.push_back(shards.back().rows() > 0 ? model.loss_denominator(shards.back()) : 0.0);
  }
  std::vector<double> totals = shares;
  timed([&] { communicator.all_reduce_sum(totals); });
  const auto count = static_cast<double>(micro_batches.size());
  double loss = 0.0;
  double carried = 0.0;  // the weight the gradients carry
  for (size_t m = 0; m < shards.size(); ++m) {
    if (shares[m] == 0.0) continue;
    const double weight = shares[m] / totals[m] / count;
    if (carried > 0.0 && carried != weight) scale_grads(parameters, static_cast<float>(carried / weight));
    const int64_t first_row = shard_first_row(micro_batches[m].rows(), communicator.rank(), communicator.world_size());
    loss += weight * forward_backward(model, shards[m], step_draws.fork(m), first_row);
    carried = weight;
  }
  if (carried > 0.0) scale_grads(parameters, static_cast<float>(carried));
  std::vector<double> total{loss};
  timed([&] {
    reduce_gradients(parameters, communicator);
    communicator.all_reduce_sum(total);
  });
  return total[0];
}

}  // namespace

StepResult training_step(TrainableModel& model, Optimizer& optimizer, const LRSchedule& schedule, int64_t step,
                         std::span<const Batch> micro_batches, double max_grad_norm, Communicator& communicator) {
  check(!micro_batches.empty(), "train", "a training step needs at least one batch");
  const ParameterList parameters = trainable_parameters(model);
  for (Parameter* parameter : parameters) parameter->zero_grad();
  // Micro-batch m's masks come from fork m of one draw a step: on every rank the same masks as in one process,
  // and the generators advance alike, also on a rank that computes nothing of a micro-batch.
  Generator& generator = model.generator();
  const Generator step_draws = generator.fork(generator.next_u64());
  double communication_seconds = 0.0;
  const double loss = communicator.world_size() > 1 ? accumulate_shards(model, parameters, micro_batches, step_draws,
                                                                        communicator, communication_seconds)
                                                    : accumulate(model, parameters, micro_batches, step_draws);
  const double norm =
      max_grad_norm > 0.0 ? clip_grad_norm(parameters, static_cast<float>(max_grad_norm)) : grad_norm(parameters);
  const double lr = schedule.lr_at(step);
  optimizer.set_lr(lr);
  optimizer.step();
  return {loss, norm, lr, communication_seconds};
}

void reduce_gradients(const ParameterList& parameters, Communicator& communicator, size_t bucket_bytes) {
  if (communicator.world_size() == 1) return;
  // A rank that computed nothing this step (no rows, or nothing counted) holds no gradients yet: every rank must sum
  // the same buckets, so a parameter with a gradient on any rank gets one (zeros) on all.
  std::vector<float> present;
  for (const Parameter* parameter : parameters) present.push_back(parameter->grad.numel() > 0 ? 1.0F : 0.0F);
  communicator.all_reduce_sum(present);
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (present[i] > 0.0F) parameters[i]->ensure_grad();
  }
  const size_t bucket_floats = std::max<size_t>(1, bucket_bytes / sizeof(float));
  std::vector<float> bucket;
  std::vector<Parameter*> members;
  const auto flush = [&] {
    communicator.all_reduce_sum(bucket);
    size_t offset = 0;
    for (Parameter* parameter : members) {
      float* grad = parameter->grad.data<float>();  // host-only: gradients live on the CPU
      const auto size = static_cast<size_t>(parameter->grad.numel());
      std::copy(bucket.begin() + static_cast<std::ptrdiff_t>(offset),
                bucket.begin() + static_cast<std::ptrdiff_t>(offset + size), grad);
      offset += size;
    }
    bucket.clear();
    members.clear();
  };
  for (auto parameter = parameters.rbegin(); parameter != parameters.rend(); ++parameter) {
    const Tensor& grad = (*parameter)->grad;
    if (grad.numel() == 0) continue;
    const float* values = grad.data<float>();  // host-only: gradients live on the CPU
    bucket.insert(bucket.end(), values, values + grad.numel());
    members.push_back(*parameter);
    if (bucket.size() >= bucket_floats) flush();
  }
  if (!members.empty()) flush();
}

void broadcast_parameters(const Module& model, Communicator& communicator) {
  if (communicator.world_size() == 1) return;
  for (Parameter* parameter : model.parameters()) {
    float* values = parameter->value.data<float>();  // host-only: parameters live on the CPU
    communicator.broadcast({values, static_cast<size_t>(parameter->value.numel())}, 0);
  }
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
