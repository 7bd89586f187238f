// Data-parallel training steps equal one process's steps on the same global batches. Run alone, the ranks are
// threads of this process talking through shared memory (ThreadWorld below), which tests the sharding and the
// weighting of the losses; started by `mpirun -np 2` (as ctest does where Open MPI is installed), the ranks are
// processes talking MPI, which tests the transport too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "graft/distributed/communicator.h"
#include "graft/io/safetensors.h"
#include "graft/models/model.h"
#include "graft/train/evaluate.h"
#include "graft/train/optimizer.h"
#include "graft/train/schedule.h"
#include "graft/train/training_step.h"
#include "test_support.h"

namespace graft {
namespace {

// Ranks as threads: each writes its values into its slot, and every rank sums the slots in rank order, so that
// all of them get the same bits.
class ThreadWorld {
 public:
  explicit ThreadWorld(int size) : size_(size), slots_(static_cast<size_t>(size)) {}
  int size() const { return size_; }

  template <typename T>
  void all_reduce_sum(int rank, std::span<T> values) {
    publish(rank, values);
    std::vector<T> total(values.size(), T{0});
    for (const auto& slot : slots_) {
      for (size_t i = 0; i < values.size(); ++i) total[i] += static_cast<T>(slot[i]);
    }
    barrier();  // every rank has read the slots before any writes them again
    std::copy(total.begin(), total.end(), values.begin());
  }
  void broadcast(int rank, std::span<float> values, int root) {
    if (rank == root)
      publish(rank, values);
    else
      publish(rank, std::span<float>());
    const auto& slot = slots_[static_cast<size_t>(root)];
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(slot[i]);
    barrier();
  }
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    const int generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      all_arrived_.notify_all();
    } else {
      all_arrived_.wait(lock, [&] { return generation_ != generation; });
    }
  }

 private:
  template <typename T>
  void publish(int rank, std::span<T> values) {
    slots_[static_cast<size_t>(rank)].assign(values.begin(), values.end());  // doubles hold floats exactly
    barrier();
  }

  int size_;
  std::vector<std::vector<double>> slots_;
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  int arrived_ = 0;
  int generation_ = 0;
};

class ThreadRank final : public Communicator {
 public:
  ThreadRank(ThreadWorld& world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_.size(); }
  void all_reduce_sum(std::span<float> values) override { world_.all_reduce_sum(rank_, values); }
  void all_reduce_sum(std::span<double> values) override { world_.all_reduce_sum(rank_, values); }
  void broadcast(std::span<float> values, int root) override { world_.broadcast(rank_, values, root); }
  void barrier() override { world_.barrier(); }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }

 private:
  ThreadWorld& world_;
  int rank_;
};

// Runs `body` on each rank of MPI's world when mpirun started this test, else on two threads.
void on_every_rank(const std::function<void(Communicator&)>& body) {
  Communicator& mpi = world();
  if (mpi.world_size() > 1) {
    body(mpi);
    return;
  }
  ThreadWorld threads(2);
  ThreadRank first(threads, 0);
  ThreadRank second(threads, 1);
  std::thread other([&] { body(second); });
  body(first);
  other.join();
}

// What the tests write into a tensor they made on the CPU.
float* values_of(Tensor& tensor) {
  return tensor.data<float>();
}

std::string golden(const std::string& name) {
  return test::golden_dir() + "/" + name;
}

std::vector<float> flat_values(const Module& model) {
  std::vector<float> values;
  for (Parameter* parameter : model.parameters()) {
    const std::vector<float> tensor = parameter->value.to_float_vector();
    values.insert(values.end(), tensor.begin(), tensor.end());
  }
  return values;
}

// Whether every rank holds rank 0's parameters bit for bit.
bool identical_on_every_rank(const Module& model, Communicator& communicator) {
  const std::vector<float> mine = flat_values(model);
  std::vector<float> first = mine;
  communicator.broadcast(first, 0);
  std::vector<double> differing{std::memcmp(mine.data(), first.data(), mine.size() * sizeof(float)) == 0 ? 0.0 : 1.0};
  communicator.all_reduce_sum(differing);
  return differing[0] == 0.0;
}

double largest_magnitude(const Tensor& tensor) {
  double largest = 0.0;
  for (const float value : tensor.to_float_vector()) largest = std::max(largest, std::fabs(static_cast<double>(value)));
  return largest;
}

// max |a - b| over max |b|, or over `floor` where that is larger: fp32 sums taken in another order (the rows split
// between ranks change how the GEMMs block them) differ by a few 1e-7 of the values they sum.
double relative_difference(const Tensor& actual, const Tensor& expected, double floor = 0.0) {
  return test::max_abs_diff(actual, expected) / std::max({largest_magnitude(expected), floor, 1e-30});
}

// The golden recipe (README of ../shared/golden): AdamW, linear warmup 2 then decay to 0 at 6, clipping to 1.
struct Recipe {
  AdamWOptions options;
  LRSchedule schedule{ScheduleKind::Linear, 1e-3, 2, 6};
  Recipe() {
    options.lr = 1e-3;
    options.weight_decay = 0.01;
  }
};

Tensor gradient_of(const Model& model, const std::string& name) {
  for (const auto& [parameter_name, parameter] : model.named_parameters()) {
    if (parameter_name == name) return parameter->grad;
  }
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

// Relative to each gradient's largest value, or to a thousandth of the model's largest gradient: the key biases'
// gradients are zero but for rounding (softmax ignores what a key bias adds to every score of a query), and noise
// relative to noise means nothing.
void expect_same_gradients(const Model& actual, const Model& expected, int rank) {
  double model_largest = 0.0;
  for (const auto& [name, parameter] : expected.named_parameters()) {
    if (parameter->grad.numel() > 0) model_largest = std::max(model_largest, largest_magnitude(parameter->grad));
  }
  for (const auto& [name, parameter] : expected.named_parameters()) {
    if (parameter->grad.numel() == 0) continue;
    EXPECT_LE(relative_difference(gradient_of(actual, name), parameter->grad, 1e-3 * model_largest), 4e-6)
        << "rank " << rank << ": " << name;
  }
}

// The checkpoint's model in training mode (the goldens' configs set dropout to 0).
std::unique_ptr<Model> training_copy(const std::string& checkpoint, double dropout = 0.0) {
  LoadOptions options;
  options.dropout = dropout;
  auto model = Model::from_pretrained(checkpoint, options);
  model->set_training(true);
  return model;
}

// The batch of a golden folder's forward and backward (masked LM: 3 rows of 24 tokens, with 5, 5 and 6 masked).
Batch golden_forward_batch(const std::string& folder) {
  const SafetensorsFile inputs = SafetensorsFile::open(folder + "/forward_backward.safetensors");
  Batch batch;
  batch.input_ids = inputs.load("input_ids", DType::I64);
  batch.attention_mask = inputs.load("attention_mask", DType::I64);
  batch.labels = inputs.load("labels", DType::I64);
  return batch;
}

// Buckets of 4 KB: the golden models' gradients fill several, so that sums start during the backward.
constexpr size_t kSmallBuckets = 4096;

// A step at learning rate 0 that leaves each parameter's gradient (unclipped) to compare.
StepResult gradient_step(Model& model, std::span<const Batch> batches, Communicator& communicator) {
  AdamWOptions options;
  options.lr = 0.0;
  AdamW optimizer(trainable_parameters(model), options);
  const LRSchedule still(ScheduleKind::Constant, 0.0, 0, 1);
  return training_step(model, optimizer, still, 0, batches, 0.0, communicator, kSmallBuckets);
}

// One process's gradient step on the whole batches and this rank's share of it, each on a fresh copy of the
// checkpoint: the same (finite) loss and gradients. Returns this rank's model.
std::unique_ptr<Model> expect_one_processs_step(const std::string& checkpoint, std::span<const Batch> batches,
                                                Communicator& communicator) {
  auto alone = training_copy(checkpoint);
  auto shared = training_copy(checkpoint);
  const StepResult one = gradient_step(*alone, batches, single_process());
  const StepResult many = gradient_step(*shared, batches, communicator);
  EXPECT_TRUE(std::isfinite(one.loss));
  EXPECT_NEAR(many.loss, one.loss, 1e-6 * one.loss) << "rank " << communicator.rank();
  expect_same_gradients(*shared, *alone, communicator.rank());
  return shared;
}

TEST(DataParallel, SixGoldenStepsOnTwoRanksEqualOneProcessAndStayIdenticalAcrossRanks) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string folder = golden("distilbert_seqcls");
  const auto batches = load_pretokenized_batches(folder + "/train_batches.safetensors");  // 4, 5 and 3 rows
  on_every_rank([&](Communicator& communicator) {
    const int rank = communicator.rank();
    auto alone = training_copy(folder + "/checkpoint");
    auto shared = training_copy(folder + "/checkpoint");
    if (rank > 0) {  // broadcast_parameters must undo this
      for (Parameter* parameter : shared->parameters()) values_of(parameter->value)[0] += 1.0F;
    }
    broadcast_parameters(*shared, communicator);
    EXPECT_TRUE(identical_on_every_rank(*shared, communicator)) << "rank " << rank << " after the broadcast";
    const Recipe recipe;
    AdamW alone_optimizer(trainable_parameters(*alone), recipe.options);
    AdamW shared_optimizer(trainable_parameters(*shared), recipe.options);
    for (int64_t step = 0; step < 6; ++step) {
      const Batch& batch = batches[static_cast<size_t>(step) % batches.size()];
      const StepResult one = training_step(*alone, alone_optimizer, recipe.schedule, step, batch, 1.0);
      const StepResult many = training_step(*shared, shared_optimizer, recipe.schedule, step, batch, 1.0, communicator);
      EXPECT_NEAR(many.loss, one.loss, 1e-6 * one.loss) << "rank " << rank << ", step " << step;
      EXPECT_NEAR(many.grad_norm, one.grad_norm, 1e-6 * one.grad_norm) << "rank " << rank << ", step " << step;
      EXPECT_TRUE(identical_on_every_rank(*shared, communicator)) << "rank " << rank << ", step " << step;
    }
    for (const auto& [name, parameter] : alone->named_parameters()) {
      for (const auto& [shared_name, shared_parameter] : shared->named_parameters()) {
        if (shared_name != name) continue;
        // AdamW divides by sqrt(v): where a gradient is near zero, rounding moves the update by up to lr, and six
        // steps leave up to 1.7e-6 of a tensor's largest value (measured: the word embeddings).
        EXPECT_LE(relative_difference(shared_parameter->value, parameter->value), 4e-6)
            << "rank " << rank << ": " << name;
      }
    }
  });
}

// The golden masked-LM batch has 5, 5 and 6 masked tokens: rank 0 takes 5 of them, rank 1 11, and the loss is still
// the mean over all 16.
TEST(DataParallel, MaskedLmWithUnevenLabelCountsPerRankGivesOneProcesssLossAndGradients) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string folder = golden("distilbert_mlm");
  const Batch batch = golden_forward_batch(folder);
  on_every_rank([&](Communicator& communicator) {
    expect_one_processs_step(folder + "/checkpoint", {&batch, 1}, communicator);
  });
}

// The first step of a run on a 1-row batch: rank 0 gets no row and has no gradient yet, and still sums the same
// buckets as rank 1 (and ends with the same parameters).
TEST(DataParallel, ARankWithoutRowsStillTakesTheStep) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string folder = golden("distilbert_seqcls");
  const Batch row = shard_rows(load_pretokenized_batches(folder + "/train_batches.safetensors")[0], 0, 4);
  ASSERT_EQ(row.rows(), 1);
  on_every_rank([&](Communicator& communicator) {
    const auto shared = expect_one_processs_step(folder + "/checkpoint", {&row, 1}, communicator);
    EXPECT_TRUE(identical_on_every_rank(*shared, communicator));
  });
}

// Masked LM where rank 0's row has no masked token, then a micro-batch with none on any rank (which adds nothing,
// as in one process): rank 0 computes nothing at all.
TEST(DataParallel, SharesAndMicroBatchesWithNothingToCountAreSkippedAsOneProcessWouldCountThem) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string folder = golden("distilbert_mlm");
  Batch first = golden_forward_batch(folder);
  std::vector<int64_t> labels = first.labels.to_int_vector();
  const int64_t tokens = first.input_ids.dim(1);
  std::fill(labels.begin(), labels.begin() + tokens, -100);  // row 0: rank 0's share
  first.labels = Tensor::from_vector(labels, first.input_ids.shape());
  Batch nothing = first;
  nothing.labels = Tensor::from_vector(std::vector<int64_t>(labels.size(), -100), first.input_ids.shape());
  const std::vector<Batch> micro_batches = {first, nothing};
  on_every_rank([&](Communicator& communicator) {
    expect_one_processs_step(folder + "/checkpoint", micro_batches, communicator);
  });
}

// Buckets far smaller than the gradients (so that several flush, with offsets across parameters), and a parameter
// with a gradient on rank 0 only.
TEST(DataParallel, GradientBucketsSumEveryParameterOverTheRanks) {
  on_every_rank([&](Communicator& communicator) {
    std::vector<Parameter> storage(3);
    const std::vector<int64_t> sizes = {5, 300, 7};
    ParameterList parameters;
    for (size_t p = 0; p < storage.size(); ++p) {
      storage[p].value = Tensor::zeros({sizes[p]}, DType::F32, kCpu);
      const bool computed = p != 2 || communicator.rank() == 0;
      if (computed) {
        storage[p].ensure_grad();
        for (int64_t i = 0; i < sizes[p]; ++i) {
          values_of(storage[p].grad)[i] = static_cast<float>((communicator.rank() + 1) * (i + 1) + 1000 * p);
        }
      }
      parameters.push_back(&storage[p]);
    }
    reduce_gradients(parameters, communicator, 64);  // 16 floats a bucket
    const int ranks = communicator.world_size();
    for (size_t p = 0; p < storage.size(); ++p) {
      ASSERT_EQ(storage[p].grad.numel(), sizes[p]) << "parameter " << p << " on rank " << communicator.rank();
      const std::vector<float> summed = storage[p].grad.to_float_vector();
      for (int64_t i = 0; i < sizes[p]; ++i) {
        const double expected = p == 2 ? (i + 1) + 1000.0 * p
                                       : (i + 1) * ranks * (ranks + 1) / 2.0 + 1000.0 * static_cast<double>(p) * ranks;
        EXPECT_EQ(summed[static_cast<size_t>(i)], expected) << "parameter " << p << "[" << i << "]";
      }
    }
  });
}

TEST(DataParallel, AccumulatingTwoMicroBatchesOnTwoRanksEqualsOneProcess) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string folder = golden("distilbert_seqcls");
  const auto batches = load_pretokenized_batches(folder + "/train_batches.safetensors");
  const std::vector<Batch> micro_batches = {batches[1], batches[2]};  // 5 rows (2 and 3 per rank), then 3 (1 and 2)
  on_every_rank([&](Communicator& communicator) {
    expect_one_processs_step(folder + "/checkpoint", micro_batches, communicator);
  });
}

// A rank that records, as each sum starts, whether the backward has reached the word embeddings yet (the last part it
// computes; their gradient is made there on a model's first step).
class RecordingRank final : public Communicator {
 public:
  RecordingRank(Communicator& ranks, const Parameter& embeddings) : ranks_(ranks), embeddings_(embeddings) {}
  int rank() const override { return ranks_.rank(); }
  int world_size() const override { return ranks_.world_size(); }
  void all_reduce_sum(std::span<float> values) override { ranks_.all_reduce_sum(values); }
  void all_reduce_sum(std::span<double> values) override { ranks_.all_reduce_sum(values); }
  std::future<void> start_all_reduce_sum(std::span<float> values) override {
    (embeddings_.grad.numel() == 0 ? started_before_embeddings : started_after_embeddings) += 1;
    return ranks_.start_all_reduce_sum(values);
  }
  void broadcast(std::span<float> values, int root) override { ranks_.broadcast(values, root); }
  void barrier() override { ranks_.barrier(); }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }

  int started_before_embeddings = 0;
  int started_after_embeddings = 0;

 private:
  Communicator& ranks_;
  const Parameter& embeddings_;
};

// With 4 KB buckets, the sums of the head's and the top blocks' gradients start while the backward goes on (before it
// reaches the embeddings), and the step is still one process's.
TEST(DataParallel, BucketSumsStartWhileTheBackwardGoesOn) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string folder = golden("distilbert_seqcls");
  const auto batches = load_pretokenized_batches(folder + "/train_batches.safetensors");
  on_every_rank([&](Communicator& communicator) {
    auto alone = training_copy(folder + "/checkpoint");
    auto shared = training_copy(folder + "/checkpoint");
    const Parameter& embeddings = shared->encoder().word_embeddings().weight;
    RecordingRank recording(communicator, embeddings);
    AdamWOptions options;
    AdamW alone_optimizer(trainable_parameters(*alone), options);
    AdamW shared_optimizer(trainable_parameters(*shared), options);
    const LRSchedule constant(ScheduleKind::Constant, 1e-3, 0, 1);
    const StepResult one = training_step(*alone, alone_optimizer, constant, 0, batches[1], 1.0);
    const StepResult many =
        training_step(*shared, shared_optimizer, constant, 0, {&batches[1], 1}, 1.0, recording, kSmallBuckets);
    EXPECT_GE(recording.started_before_embeddings, 2) << "rank " << communicator.rank();
    EXPECT_GE(recording.started_after_embeddings, 1) << "rank " << communicator.rank() << ": the embeddings' bucket";
    EXPECT_NEAR(many.loss, one.loss, 1e-6 * one.loss);
    EXPECT_NEAR(many.grad_norm, one.grad_norm, 1e-6 * one.grad_norm);
    expect_same_gradients(*shared, *alone, communicator.rank());
    EXPECT_TRUE(identical_on_every_rank(*shared, communicator));
  });
}

// With dropout on, each rank draws its rows of one process's masks and every generator advances alike, also on a rank
// that computes nothing of a step (rank 0 of 2 on a 1-row batch): the steps stay one process's, over accumulation and
// steps of every size.
TEST(DataParallel, WithDropoutTheRanksDrawOneProcesssMasks) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string folder = golden("distilbert_seqcls");
  const auto batches = load_pretokenized_batches(folder + "/train_batches.safetensors");  // 4, 5 and 3 rows
  const Batch row = shard_rows(batches[0], 0, 4);
  const std::vector<std::vector<Batch>> steps = {{batches[1], batches[2]}, {row}, {batches[0]}, {batches[1]}};
  on_every_rank([&](Communicator& communicator) {
    const int rank = communicator.rank();
    auto alone = training_copy(folder + "/checkpoint", 0.1);
    auto shared = training_copy(folder + "/checkpoint", 0.1);
    auto without_dropout = training_copy(folder + "/checkpoint");
    const Recipe recipe;
    AdamW alone_optimizer(trainable_parameters(*alone), recipe.options);
    AdamW shared_optimizer(trainable_parameters(*shared), recipe.options);
    for (size_t step = 0; step < steps.size(); ++step) {
      const auto index = static_cast<int64_t>(step);
      const StepResult one = training_step(*alone, alone_optimizer, recipe.schedule, index, steps[step], 1.0);
      const StepResult many = training_step(*shared, shared_optimizer, recipe.schedule, index, steps[step], 1.0,
                                            communicator, kSmallBuckets);
      if (step == 0) {  // dropout is on: without it the loss differs by far more than the ranks may
        const double without = gradient_step(*without_dropout, steps[0], single_process()).loss;
        EXPECT_GT(std::fabs(without - one.loss), 100 * 1e-6 * one.loss);
      }
      EXPECT_NEAR(many.loss, one.loss, 1e-6 * one.loss) << "rank " << rank << ", step " << step;
      EXPECT_NEAR(many.grad_norm, one.grad_norm, 1e-6 * one.grad_norm) << "rank " << rank << ", step " << step;
      EXPECT_TRUE(identical_on_every_rank(*shared, communicator)) << "rank " << rank << ", step " << step;
    }
    EXPECT_EQ(shared->generator().state(), alone->generator().state()) << "rank " << rank;
    for (const auto& [name, parameter] : alone->named_parameters()) {
      for (const auto& [shared_name, shared_parameter] : shared->named_parameters()) {
        if (shared_name == name) {
          EXPECT_LE(relative_difference(shared_parameter->value, parameter->value), 4e-6)
              << "rank " << rank << ": " << name;
        }
      }
    }
  });
}

// Under mpirun the ranks are MPI's, as Open MPI numbers them.
// A model that counts the rows it computes.
class RowCounting : public TrainableModel {
 public:
  explicit RowCounting(Model& model) : model_(model) { register_module("", model); }
  ModelOutput forward(const Batch& batch, ForwardContext& context) const override {
    rows_computed += batch.rows();
    return model_.forward(batch, context);
  }
  void backward(ForwardContext& context) override { model_.backward(context); }
  double loss_denominator(const Batch& batch) const override { return model_.loss_denominator(batch); }
  mutable int64_t rows_computed = 0;

 private:
  Model& model_;
};

// Evaluation split between the ranks reports one process's numbers on every rank: the same metrics and report,
// the loss within 1e-6 relative (its sums associate differently); and each rank computes its share of the rows.
void expect_one_processs_evaluation(const std::string& checkpoint, const std::vector<Batch>& batches,
                                    Communicator& communicator) {
  const auto model = Model::from_pretrained(checkpoint);
  RowCounting counted(*model);
  const PretokenizedSource data(batches);
  const EvalResult one = evaluate(*model, data, model->task(), "", {}, single_process());
  const EvalResult many = evaluate(counted, data, model->task(), "", {}, communicator);
  const std::string where = checkpoint + ", rank " + std::to_string(communicator.rank());
  int64_t share = 0;
  for (const Batch& batch : batches) share += shard_rows(batch, communicator.rank(), communicator.world_size()).rows();
  EXPECT_EQ(counted.rows_computed, share) << where;
  EXPECT_LT(counted.rows_computed, one.examples) << where;
  EXPECT_EQ(many.examples, one.examples) << where;
  EXPECT_NEAR(many.loss, one.loss, 1e-6 * one.loss) << where;
  ASSERT_EQ(many.metrics.size(), one.metrics.size()) << where;
  for (const auto& [name, value] : one.metrics) {
    if (name == "perplexity") {
      EXPECT_NEAR(many.metric(name), value, 1e-6 * value) << where;
    } else {
      EXPECT_EQ(many.metric(name), value) << where << ": " << name;
    }
  }
  nlohmann::json many_report = many.report, one_report = one.report;
  for (const char* key : {"loss", "perplexity"}) many_report.erase(key), one_report.erase(key);
  EXPECT_EQ(many_report, one_report) << where;
  std::vector<double> losses(static_cast<size_t>(communicator.world_size()), 0.0);
  losses[static_cast<size_t>(communicator.rank())] = many.loss;
  communicator.all_reduce_sum(std::span<double>(losses));
  for (const double loss : losses) EXPECT_EQ(loss, many.loss) << where << ": the ranks' losses differ";
}

// Sequence classification on the golden batches (4, 5 and 3 rows) and a batch of one row, where rank 0 computes
// nothing; the same batches with multi-label targets; token classification; masked LM with 5 and 11 masked
// tokens on the two ranks.
TEST(DataParallel, EvaluationSplitBetweenTheRanksReportsOneProcesssNumbersOnEveryTask) {
  GRAFT_REQUIRE_GOLDEN();
  const std::string seqcls = golden("distilbert_seqcls");
  std::vector<Batch> classified = load_pretokenized_batches(seqcls + "/train_batches.safetensors");
  classified.push_back(shard_rows(classified[0], 0, 4));
  std::vector<Batch> multi_label = classified;
  for (Batch& batch : multi_label) {
    std::vector<float> targets(static_cast<size_t>(batch.rows() * 3));
    for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<float>((i * 7 + i / 3) % 2);
    batch.labels = Tensor::from_vector(targets, {batch.rows(), 3});
  }
  const std::vector<Batch> tagged = {golden_forward_batch(golden("distilbert_tokcls"))};
  const std::vector<Batch> masked = {golden_forward_batch(golden("distilbert_mlm"))};
  on_every_rank([&](Communicator& communicator) {
    expect_one_processs_evaluation(seqcls + "/checkpoint", classified, communicator);
    expect_one_processs_evaluation(seqcls + "/checkpoint", multi_label, communicator);
    expect_one_processs_evaluation(golden("distilbert_tokcls") + "/checkpoint", tagged, communicator);
    expect_one_processs_evaluation(golden("distilbert_mlm") + "/checkpoint", masked, communicator);
  });
}

TEST(DataParallel, MpirunsRanksAreMpisWorld) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size == nullptr) GTEST_SKIP() << "not started by mpirun: the ranks are threads";
  EXPECT_EQ(world().world_size(), std::stoi(size));
  EXPECT_EQ(world().rank(), std::stoi(std::getenv("OMPI_COMM_WORLD_RANK")));
  EXPECT_EQ(world().message_prefix(), "[rank " + std::string(std::getenv("OMPI_COMM_WORLD_RANK")) + "] ");
}

TEST(DataParallel, ShardsAreContiguousRowsPaddedAsTheWholeBatch) {
  Batch batch;
  batch.input_ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 0, 3, 4, 5, 6, 0, 0}, {3, 3});
  batch.labels = Tensor::from_vector(std::vector<int64_t>{7, 8, 9}, {3});
  const Batch first = shard_rows(batch, 0, 2);
  const Batch second = shard_rows(batch, 1, 2);
  EXPECT_EQ(first.input_ids.to_int_vector(), (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(second.input_ids.to_int_vector(), (std::vector<int64_t>{3, 4, 5, 6, 0, 0}));
  EXPECT_EQ(second.labels.to_int_vector(), (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(shard_rows(batch, 3, 4).rows(), 1);
  EXPECT_EQ(shard_rows(shard_rows(batch, 0, 1), 0, 4).rows(), 0);  // more ranks than rows: some get none
  EXPECT_THROW(shard_rows(batch, 2, 2), Error);
}

}  // namespace
}  // namespace graft
