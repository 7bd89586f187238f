#include "graft/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "graft/core/autocast.h"
#include "graft/core/error.h"
#include "graft/core/json.h"
#include "graft/io/checkpoint.h"
#include "graft/io/file.h"
#include "graft/io/safetensors.h"
#include "graft/train/feature_cache.h"
#include "graft/train/freezing.h"
#include "graft/train/progress.h"
#include "graft/train/schedule.h"
#include "graft/train/training_step.h"

namespace graft {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The step of a folder named checkpoint-N (N decimal digits, as transformers' checkpoint pattern); others
// (a user's "checkpoint-best", a copy) are not checkpoints of the run.
std::optional<int64_t> checkpoint_step(const std::string& name) {
  constexpr std::string_view kPrefix = "checkpoint-";
  if (!name.starts_with(kPrefix) || name.size() == kPrefix.size() || name.size() > kPrefix.size() + 18) return {};
  int64_t step = 0;
  for (const char digit : std::string_view(name).substr(kPrefix.size())) {
    if (digit < '0' || digit > '9') return {};
    step = step * 10 + (digit - '0');
  }
  return step;
}

// checkpoint-N folders of output_dir, newest last.
std::vector<std::pair<int64_t, std::string>> checkpoints_in(const std::string& output_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  if (output_dir.empty() || !fs::is_directory(output_dir)) return found;
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    const auto step = checkpoint_step(entry.path().filename().string());
    if (step && fs::exists(entry.path() / "trainer_state.json")) found.emplace_back(*step, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// A checkpoint written while the process was killed never moved into place; it is of no use.
void remove_unfinished_checkpoints(const std::string& output_dir) {
  if (output_dir.empty() || !fs::is_directory(output_dir)) return;
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".checkpoint-") && name.ends_with(".partial")) fs::remove_all(entry.path());
  }
}

void load_weights(Module& model, const std::string& dir) {
  const Checkpoint checkpoint = Checkpoint::open(dir);
  for (const auto& [name, parameter] : model.named_parameters()) {
    check(checkpoint.contains(name), "trainer", dir + ": checkpoint has no tensor '" + name + "'");
    const Shape stored = checkpoint.info(name).shape;
    check(stored == parameter->value.shape(), "trainer",
          dir + ": tensor '" + name + "' is " + shape_string(stored) + " in the checkpoint but " +
              shape_string(parameter->value.shape()) +
              " in the model: the checkpoint belongs to a model of another configuration");
    parameter->value = checkpoint.load(name, DType::F32).to(parameter->value.device());
  }
}

void save_weights(const TrainableModel& model, const std::string& dir) {
  if (const auto* full = dynamic_cast<const Model*>(&model)) {
    full->save_pretrained(dir);
    return;
  }
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, parameter] : model.named_parameters()) tensors.emplace_back(name, parameter->value.to(kCpu));
  save_checkpoint(dir, tensors);
}

// Layer-wise decay needs every parameter in a group, also those that gradual unfreezing thaws later.
std::vector<ParamGroup> all_layerwise_groups(Model& model, double decay) {
  std::vector<std::pair<Parameter*, bool>> flags;
  for (Parameter* parameter : model.parameters()) {
    flags.emplace_back(parameter, parameter->trainable);
    parameter->trainable = true;
  }
  std::vector<ParamGroup> groups = layerwise_lr_groups(model, decay);
  for (auto& [parameter, trainable] : flags) parameter->trainable = trainable;
  return groups;
}

}  // namespace

struct Trainer::Run {
  std::unique_ptr<Optimizer> optimizer;
  int64_t global_step = 0;
  int64_t steps_per_epoch = 1;
  int64_t total_steps = 0;
  double loss_sum = 0.0;  // over the run, for the mean training loss
  double loss_since_log = 0.0;
  int64_t steps_since_log = 0;
  double step_seconds_since_log = 0.0;
  double communication_since_log = 0.0;  // seconds of those steps in the sums between ranks
  int64_t examples_seen = 0;
  double best_metric = 0.0;
  bool has_best = false;
  std::string best_checkpoint;
  int64_t evals_without_improvement = 0;
  bool stop = false;
  std::optional<EvalResult> best_eval, last_eval;
  std::vector<nlohmann::json> history;
  Clock::time_point started = Clock::now();

  double epoch() const { return static_cast<double>(global_step) / static_cast<double>(steps_per_epoch); }
};

nlohmann::json TrainingArguments::to_json() const {
  nlohmann::json json = {{"output_dir", output_dir},
                         {"num_train_epochs", epochs},
                         {"max_steps", max_steps},
                         {"gradient_accumulation_steps", gradient_accumulation_steps},
                         {"optim", optimizer},
                         {"learning_rate", learning_rate},
                         {"weight_decay", weight_decay},
                         {"lr_scheduler_type", lr_scheduler},
                         {"warmup_steps", warmup_steps},
                         {"warmup_ratio", warmup_ratio},
                         {"max_grad_norm", max_grad_norm},
                         {"layerwise_lr_decay", layerwise_lr_decay},
                         {"gradual_unfreezing", gradual_unfreezing},
                         {"cache_frozen_features", cache_frozen_features},
                         {"group_by_length", group_by_length},
                         {"bf16", bf16},
                         {"eval_strategy", eval_strategy},
                         {"eval_steps", eval_steps},
                         {"metric_for_best_model", metric_for_best_model},
                         {"early_stopping_patience", early_stopping_patience},
                         {"load_best_model_at_end", load_best_model_at_end},
                         {"save_total_limit", save_total_limit},
                         {"logging_steps", logging_steps},
                         {"seed", seed}};
  // Only the chosen optimizer's settings: a card listing momentum for an AdamW run misleads.
  if (optimizer == "sgd") {
    json["momentum"] = momentum;
  } else {
    json["adam_beta1"] = adam_beta1;
    json["adam_beta2"] = adam_beta2;
    json["adam_epsilon"] = adam_epsilon;
  }
  return json;
}

bool TrainingArguments::greater_is_better() const {
  return metric_for_best_model != "loss" && metric_for_best_model != "mse" && metric_for_best_model != "mae" &&
         metric_for_best_model != "perplexity";
}

Trainer::Trainer(TrainableModel& model, TrainingArguments args, TaskHead task, std::string problem_type,
                 std::vector<std::string> label_names)
    : model_(model),
      args_(std::move(args)),
      task_(task),
      problem_type_(std::move(problem_type)),
      label_names_(std::move(label_names)) {
  model_.name_parameters();
  if (const auto* full = dynamic_cast<const Model*>(&model_)) {
    task_ = full->task();
    problem_type_ = full->config().problem_type.value_or("");
    label_names_.clear();
    for (const auto& [id, name] : full->config().id2label) label_names_.push_back(name);
  }
  check(args_.gradient_accumulation_steps >= 1, "trainer", "gradient_accumulation_steps must be at least 1");
  check(args_.epochs >= 1 || args_.max_steps > 0, "trainer", "train for at least one epoch or one step");
  check(args_.eval_strategy == "no" || args_.eval_strategy == "epoch" || args_.eval_strategy == "steps", "trainer",
        "eval_strategy must be no, epoch or steps, got '" + args_.eval_strategy + "'");
  check(args_.eval_strategy != "steps" || args_.eval_steps > 0, "trainer", "eval_strategy steps needs eval_steps > 0");
}

std::unique_ptr<Optimizer> Trainer::make_optimizer() const {
  std::vector<ParamGroup> groups;
  if (args_.layerwise_lr_decay < 1.0) {
    auto* full = dynamic_cast<Model*>(&model_);
    check(full != nullptr, "trainer", "layer-wise learning-rate decay needs a Model (it reads its layer structure)");
    groups = all_layerwise_groups(*full, args_.layerwise_lr_decay);
  } else {
    // Every parameter: frozen ones get no state, and thaw later (gradual unfreezing) without a new optimizer.
    groups.push_back({model_.parameters(), 1.0});
  }
  if (args_.optimizer == "adamw") {
    return std::make_unique<AdamW>(
        std::move(groups),
        AdamWOptions{args_.learning_rate, args_.adam_beta1, args_.adam_beta2, args_.adam_epsilon, args_.weight_decay});
  }
  check(args_.optimizer == "sgd", "trainer", "unknown optimizer '" + args_.optimizer + "' (adamw or sgd)");
  return std::make_unique<SGD>(std::move(groups),
                               SGDOptions{args_.learning_rate, args_.momentum, false, args_.weight_decay});
}

void Trainer::log(Run& run, nlohmann::json entry) {
  entry["step"] = run.global_step;
  entry["epoch"] = std::round(run.epoch() * 1000.0) / 1000.0;
  run.history.push_back(entry);
  if (communicator->rank() != 0) return;
  if (!args_.output_dir.empty()) {
    fs::create_directories(args_.output_dir);
    std::ofstream(args_.output_dir + "/log.jsonl", std::ios::app) << entry.dump() << '\n';
  }
  if (on_log) on_log(entry);
}

EvalResult Trainer::evaluate(const BatchSource& data) {
  const AutocastGuard autocast(matmul_dtype(args_.bf16));
  return graft::evaluate(model_, data, task_, problem_type_, label_names_, *communicator);
}

bool Trainer::evaluate_and_checkpoint(Run& run, const BatchSource* eval_data) {
  bool improved = true;
  if (eval_data != nullptr) {
    const EvalResult result = evaluate(*eval_data);
    nlohmann::json entry = {{"eval_loss", result.loss}};
    for (const auto& [name, value] : result.metrics) entry["eval_" + name] = value;
    log(run, entry);
    const double value = result.metric(args_.metric_for_best_model);
    improved = !run.has_best || (args_.greater_is_better() ? value > run.best_metric : value < run.best_metric);
    run.last_eval = result;
    if (improved) {
      run.best_metric = value;
      run.has_best = true;
      run.best_eval = result;
      run.evals_without_improvement = 0;
    } else if (args_.early_stopping_patience > 0 && ++run.evals_without_improvement >= args_.early_stopping_patience) {
      run.stop = true;
    }
  }
  if (!args_.output_dir.empty()) {
    if (improved) run.best_checkpoint = checkpoint_path(run.global_step);
    if (communicator->rank() == 0) save_checkpoint(run);
  }
  return improved;
}

void Trainer::save_checkpoint(Run& run) {
  const std::string final_dir = checkpoint_path(run.global_step);
  const std::string staging = args_.output_dir + "/.checkpoint-" + std::to_string(run.global_step) + ".partial";
  fs::remove_all(staging);
  fs::create_directories(staging);
  save_weights(model_, staging);
  if (save_alongside) save_alongside(staging);
  OptimizerState optimizer_state = run.optimizer->state_dict();
  for (auto& [name, tensor] : optimizer_state.tensors) tensor = tensor.to(kCpu);
  save_safetensors(staging + "/optimizer.safetensors", optimizer_state.tensors);
  nlohmann::json state = {{"global_step", run.global_step},
                          {"epoch", run.epoch()},
                          {"loss_sum", run.loss_sum},
                          {"examples_seen", run.examples_seen},
                          {"best_metric", run.has_best ? nlohmann::json(run.best_metric) : nlohmann::json()},
                          {"best_model_checkpoint", run.best_checkpoint},
                          {"evals_without_improvement", run.evals_without_improvement},
                          {"optimizer", optimizer_state.meta},
                          {"log_history", run.history}};
  state["rng_state"] = model_.generator().state();
  write_file_atomically(staging + "/trainer_state.json", state.dump(1));
  write_file_atomically(staging + "/training_args.json", args_.to_json().dump(2));
  replace_directory_atomically(staging, final_dir);

  auto existing = checkpoints_in(args_.output_dir);
  auto excess = static_cast<int64_t>(existing.size()) - std::max<int64_t>(args_.save_total_limit, 1);
  for (const auto& [step, path] : existing) {
    if (excess <= 0) break;
    if (path == run.best_checkpoint || path == final_dir) continue;
    fs::remove_all(path);
    --excess;
  }
}

std::string Trainer::checkpoint_path(int64_t step) const {
  return args_.output_dir + "/checkpoint-" + std::to_string(step);
}

bool Trainer::resume_from_latest(Run& run) {
  const auto existing = checkpoints_in(args_.output_dir);
  if (existing.empty()) return false;
  const std::string dir = existing.back().second;
  const std::string file = dir + "/trainer_state.json";
  const nlohmann::json state = read_json_file(file);
  check(state.is_object(), "trainer", file + ": must be a JSON object, got " + state.dump());
  const JsonFields fields(state, "trainer", file);
  const auto field = [&](const char* key, bool (nlohmann::json::*is_type)() const noexcept,
                         const char* type) -> const nlohmann::json& { return fields.required(key, is_type, type); };
  using json = nlohmann::json;
  run.global_step = field("global_step", &json::is_number_unsigned, "a step count").get<int64_t>();
  run.loss_sum = field("loss_sum", &json::is_number, "a number").get<double>();
  run.examples_seen = field("examples_seen", &json::is_number_unsigned, "a count").get<int64_t>();
  const json& best_metric = state.contains("best_metric") ? state["best_metric"] : json();
  check(best_metric.is_null() || best_metric.is_number(), "trainer",
        file + ": field \"best_metric\" must be a number or null, got " + best_metric.dump());
  run.has_best = best_metric.is_number();
  if (run.has_best) run.best_metric = best_metric.get<double>();
  run.best_checkpoint = field("best_model_checkpoint", &json::is_string, "a path").get<std::string>();
  run.evals_without_improvement =
      field("evals_without_improvement", &json::is_number_unsigned, "a count").get<int64_t>();
  for (const auto& entry : field("log_history", &json::is_array, "a list")) run.history.push_back(entry);
  OptimizerState optimizer_state;
  optimizer_state.meta = field("optimizer", &json::is_object, "an object");
  load_weights(model_, dir);
  const SafetensorsFile optimizer_file = SafetensorsFile::open(dir + "/optimizer.safetensors");
  for (const auto& name : optimizer_file.names()) optimizer_state.tensors.emplace_back(name, optimizer_file.load(name));
  try {
    run.optimizer->load_state_dict(optimizer_state);
  } catch (const json::exception& error) {
    throw Error("[trainer] " + file + ": field \"optimizer\" is not an optimizer state (" + error.what() + ")");
  }
  if (state.contains("rng_state")) {
    const json& rng = state["rng_state"];
    const bool words = rng.is_array() &&
                       std::all_of(rng.begin(), rng.end(), [](const json& word) { return word.is_number_unsigned(); });
    check(words, "trainer", file + ": field \"rng_state\" must be a list of unsigned integers");
    model_.generator().set_state(rng.get<std::vector<uint64_t>>());
  }
  // Entries logged after this checkpoint will be logged again as the steps are redone.
  std::string log_lines;
  for (const json& entry : run.history) log_lines += entry.dump() + "\n";
  write_file_atomically(args_.output_dir + "/log.jsonl", log_lines);
  return true;
}

TrainResult Trainer::train(const BatchSource& train_data, const BatchSource* eval_data, bool resume) {
  const AutocastGuard autocast(matmul_dtype(args_.bf16));
  Run run;
  run.optimizer = make_optimizer();
  const int64_t accumulation = args_.gradient_accumulation_steps;
  run.steps_per_epoch = std::max<int64_t>(1, (train_data.batches_per_epoch() + accumulation - 1) / accumulation);
  run.total_steps = args_.max_steps > 0 ? args_.max_steps : args_.epochs * run.steps_per_epoch;
  const LRSchedule schedule(parse_schedule(args_.lr_scheduler), args_.learning_rate,
                            warmup_steps_for(args_.warmup_steps, args_.warmup_ratio, run.total_steps), run.total_steps);
  const bool first_rank = communicator->rank() == 0;
  if (first_rank) remove_unfinished_checkpoints(args_.output_dir);
  communicator->barrier();
  if (resume && resume_from_latest(run) && first_rank) {
    std::cerr << "Resuming from step " << run.global_step << " of " << run.total_steps << '\n';
  }
  broadcast_parameters(model_, *communicator);
  auto* full = dynamic_cast<Model*>(&model_);
  check(!args_.gradual_unfreezing || full != nullptr, "trainer", "gradual unfreezing needs a Model");
  const auto* encoded = dynamic_cast<const EncodedSource*>(&train_data);
  std::unique_ptr<FeatureSource> cached;
  if (args_.cache_frozen_features && !args_.gradual_unfreezing && encoded != nullptr && can_cache_features(model_)) {
    const auto extraction_started = Clock::now();
    cached = std::make_unique<FeatureSource>(*full, *encoded);
    if (first_rank) {
      std::cerr << "Encoder frozen: features of " << encoded->examples() << " examples computed once in "
                << static_cast<int64_t>(seconds_since(extraction_started) * 1000.0)
                << " ms; the head trains on them (cache_frozen_features)\n";
    }
  }
  const BatchSource& batches = cached ? *cached : train_data;
  ProgressBar progress(run.total_steps, args_.progress_bar && first_rank);
  model_.set_training(true);
  const int64_t examples_at_start = run.examples_seen;
  const int64_t first_step = run.global_step;
  const auto started = Clock::now();
  while (run.global_step < run.total_steps && !run.stop) {
    const int64_t epoch = run.global_step / run.steps_per_epoch;
    const int64_t step_in_epoch = run.global_step % run.steps_per_epoch;
    if (args_.gradual_unfreezing && step_in_epoch == 0) unfreeze_top_groups(*full, epoch + 1);
    std::vector<Batch> micro_batches;
    for (int64_t i = 0; i < accumulation; ++i) {
      const int64_t index = step_in_epoch * accumulation + i;
      if (index >= batches.batches_per_epoch() && i > 0) break;
      micro_batches.push_back(batches.batch(epoch, index % batches.batches_per_epoch()));
      run.examples_seen += micro_batches.back().rows();
    }
    const auto step_started = Clock::now();
    const StepResult step = training_step(model_, *run.optimizer, schedule, run.global_step, micro_batches,
                                          args_.max_grad_norm, *communicator);
    run.step_seconds_since_log += seconds_since(step_started);
    ++run.global_step;
    run.loss_sum += step.loss;
    run.loss_since_log += step.loss;
    run.communication_since_log += step.communication_seconds;
    ++run.steps_since_log;
    const double throughput = static_cast<double>(run.examples_seen - examples_at_start) / seconds_since(started);
    progress.update(run.global_step, step.loss, throughput, epoch + 1);
    if (run.global_step % std::max<int64_t>(args_.logging_steps, 1) == 0 || run.global_step == run.total_steps) {
      nlohmann::json entry = {{"loss", run.loss_since_log / static_cast<double>(run.steps_since_log)},
                              {"grad_norm", step.grad_norm},
                              {"learning_rate", step.lr},
                              {"samples_per_second", throughput}};
      if (communicator->world_size() > 1) {  // the share of the steps the ranks spent summing
        entry["communication_share"] = run.communication_since_log / run.step_seconds_since_log;
      }
      log(run, entry);
      run.loss_since_log = 0.0;
      run.steps_since_log = 0;
      run.communication_since_log = 0.0;
      run.step_seconds_since_log = 0.0;
    }
    const bool epoch_done = run.global_step % run.steps_per_epoch == 0;
    const bool evaluate_now = (args_.eval_strategy == "epoch" && epoch_done) ||
                              (args_.eval_strategy == "steps" && run.global_step % args_.eval_steps == 0);
    if (evaluate_now) {
      progress.pause();
      evaluate_and_checkpoint(run, eval_data);
      model_.set_training(true);
    }
  }
  progress.finish();
  if (args_.eval_strategy == "no" && !args_.output_dir.empty()) evaluate_and_checkpoint(run, nullptr);
  if (args_.load_best_model_at_end && !run.best_checkpoint.empty() && run.has_best) {
    if (first_rank) load_weights(model_, run.best_checkpoint);  // rank 0 wrote it
    broadcast_parameters(model_, *communicator);
  }
  model_.set_training(false);

  TrainResult result;
  result.global_step = run.global_step;
  result.first_step = first_step;
  result.train_loss = run.global_step > 0 ? run.loss_sum / static_cast<double>(run.global_step) : 0.0;
  result.seconds = seconds_since(started);
  result.samples_per_second = static_cast<double>(run.examples_seen - examples_at_start) / result.seconds;
  result.best_eval = run.best_eval;
  result.last_eval = run.last_eval;
  result.best_checkpoint = run.best_checkpoint;
  result.stopped_early = run.stop;
  result.log_history = run.history;
  return result;
}

std::string data_parallel_summary(const Communicator& ranks, const std::string& batch, int64_t accumulation) {
  return "Data-parallel: " + std::to_string(ranks.world_size()) + " ranks, each computing its share of every global " +
         "batch (" + batch + " x " + std::to_string(accumulation) + " accumulated), as one process would train on it";
}

}  // namespace graft
