#include "graft/train/training_step.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "graft/core/error.h"
#include "graft/io/safetensors.h"
#include "graft/train/clipping.h"

namespace graft {
namespace {

// The gradients of `parameters` times `scale`, summed over the ranks in buckets of about `bucket_bytes` taken from the
// last parameter backwards (the order backward produces them), as PyTorch's DistributedDataParallel does. A bucket's
// sum starts once the backward has finished the parts that hold all its parameters (backward_done), in bucket order on
// every rank; finish() starts the rest and writes the sums into the gradients. Each bucket carries one flag per
// parameter, 1 where this rank has a gradient: a parameter gets one (the sum) where any rank has one, so a rank that
// computed nothing this step sums the same buckets and ends with the same gradients.
class GradientBuckets {
 public:
  GradientBuckets(const ParameterList& parameters, Communicator& communicator, size_t bucket_bytes, float scale)
      : communicator_(communicator), scale_(scale) {
    const size_t bucket_floats = std::max<size_t>(1, bucket_bytes / sizeof(float));
    for (auto parameter = parameters.rbegin(); parameter != parameters.rend(); ++parameter) {
      if (buckets_.empty() || buckets_.back().floats >= bucket_floats) buckets_.emplace_back();
      Bucket& bucket = buckets_.back();
      bucket.members.push_back(*parameter);
      bucket.floats += static_cast<size_t>((*parameter)->value.numel()) + 1;
      bucket_of_[*parameter] = buckets_.size() - 1;
    }
    for (Bucket& bucket : buckets_) bucket.waiting = bucket.members.size();
  }
  // A step that throws leaves no sum running into the buckets' freed values.
  ~GradientBuckets() {
    for (Bucket& bucket : buckets_) {
      if (bucket.sum.valid()) bucket.sum.wait();
    }
  }
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  void backward_done(const Module& part) {
    for (Parameter* parameter : part.parameters()) {
      const auto found = bucket_of_.find(parameter);
      if (found != bucket_of_.end() && done_.insert(parameter).second) --buckets_[found->second].waiting;
    }
    while (started_ < buckets_.size() && buckets_[started_].waiting == 0) start(buckets_[started_++]);
  }

  void finish() {
    while (started_ < buckets_.size()) start(buckets_[started_++]);
    for (Bucket& bucket : buckets_) {
      bucket.sum.get();
      size_t offset = 0;
      const size_t flags = bucket.floats - bucket.members.size();
      for (size_t i = 0; i < bucket.members.size(); ++i) {
        Parameter* parameter = bucket.members[i];
        const auto size = static_cast<size_t>(parameter->value.numel());
        if (bucket.values[flags + i] > 0.0F) {
          parameter->ensure_grad();
          const auto first = bucket.values.begin() + static_cast<std::ptrdiff_t>(offset);
          std::copy(first, first + static_cast<std::ptrdiff_t>(size), parameter->grad.data<float>());  // host-only
        }
        offset += size;
      }
    }
  }

 private:
  struct Bucket {
    std::vector<Parameter*> members;
    size_t floats = 0;   // the members' values, then their flags
    size_t waiting = 0;  // members whose part's backward is not done
    std::vector<float> values;
    std::future<void> sum;
  };

  void start(Bucket& bucket) {
    bucket.values.assign(bucket.floats, 0.0F);
    const size_t flags = bucket.floats - bucket.members.size();
    size_t offset = 0;
    for (size_t i = 0; i < bucket.members.size(); ++i) {
      const Tensor& grad = bucket.members[i]->grad;
      if (grad.numel() > 0) {
        const float* values = grad.data<float>();  // host-only: gradients live on the CPU
        for (int64_t j = 0; j < grad.numel(); ++j) bucket.values[offset + static_cast<size_t>(j)] = values[j] * scale_;
        bucket.values[flags + i] = 1.0F;
      }
      offset += static_cast<size_t>(bucket.members[i]->value.numel());
    }
    bucket.sum = communicator_.start_all_reduce_sum(bucket.values);
  }

  Communicator& communicator_;
  float scale_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const Parameter*, size_t> bucket_of_;
  std::unordered_set<const Parameter*> done_;
  size_t started_ = 0;  // buckets started, in order
};

// `draws` gives the masks of the micro-batch whose rows from `first_row` on `batch` holds; `buckets` (when given)
// start summing the gradients of each part of the model as the backward finishes it.
double forward_backward(TrainableModel& model, const Batch& batch, Generator draws, int64_t first_row,
                        GradientBuckets* buckets = nullptr) {
  ForwardContext context;
  context.draw_from(draws, first_row);
  if (buckets != nullptr) context.on_backward_done([buckets](const Module& part) { buckets->backward_done(part); });
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
// (whose cross-entropy over no label is 0). The gradients of the last micro-batch computed are summed over the ranks
// as its backward goes, times the weight they carry. Returns the loss, summed over the ranks.
double accumulate_shards(TrainableModel& model, const ParameterList& parameters, std::span<const Batch> micro_batches,
                         const Generator& step_draws, Communicator& communicator, size_t bucket_bytes,
                         double& communication_seconds) {
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
  const auto weight_of = [&](size_t m) { return shares[m] / totals[m] / count; };
  size_t last = shards.size();  // the last micro-batch this rank computes
  for (size_t m = 0; m < shards.size(); ++m) {
    if (shares[m] != 0.0) last = m;
  }
  GradientBuckets buckets(parameters, communicator, bucket_bytes,
                          last < shards.size() ? static_cast<float>(weight_of(last)) : 1.0F);
  double loss = 0.0;
  double carried = 0.0;  // the weight the gradients carry
  for (size_t m = 0; m < shards.size(); ++m) {
    if (shares[m] == 0.0) continue;
    const double weight = weight_of(m);
    if (carried > 0.0 && carried != weight) scale_grads(parameters, static_cast<float>(carried / weight));
    const int64_t first_row = shard_first_row(micro_batches[m].rows(), communicator.rank(), communicator.world_size());
    loss += weight * forward_backward(model, shards[m], step_draws.fork(m), first_row, m == last ? &buckets : nullptr);
    carried = weight;
  }
  std::vector<double> total{loss};
  timed([&] {
    buckets.finish();
    communicator.all_reduce_sum(total);
  });
  return total[0];
}

}  // namespace

StepResult training_step(TrainableModel& model, Optimizer& optimizer, const LRSchedule& schedule, int64_t step,
                         std::span<const Batch> micro_batches, double max_grad_norm, Communicator& communicator,
                         size_t bucket_bytes) {
  check(!micro_batches.empty(), "train", "a training step needs at least one batch");
  const ParameterList parameters = trainable_parameters(model);
  for (Parameter* parameter : parameters) parameter->zero_grad();
  // Micro-batch m's masks come from fork m of one draw a step: on every rank the same masks as in one process,
  // and the generators advance alike, also on a rank that computes nothing of a micro-batch.
  Generator& generator = model.generator();
  const Generator step_draws = generator.fork(generator.next_u64());
  double communication_seconds = 0.0;
  const double loss = communicator.world_size() > 1
                          ? accumulate_shards(model, parameters, micro_batches, step_draws, communicator, bucket_bytes,
                                              communication_seconds)
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
  GradientBuckets buckets(parameters, communicator, bucket_bytes, 1.0F);
  buckets.finish();
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
