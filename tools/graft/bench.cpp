// graft bench: graft's side of the CPU yardstick of issue 5. The same workloads in PyTorch are
// bench/reference.py, and bench/run.sh runs both, one workload at a time, and prints the ratios. Each
// workload runs after a warm-up, several times, and prints one JSON line with its median seconds and the
// process's peak RSS so far (run.sh starts one process per workload, so that figure is the workload's own).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "command.h"
#include "graft/core/autocast.h"
#include "graft/core/error.h"
#include "graft/core/grad_mode.h"
#include "graft/core/parallel.h"
#include "graft/data/batch_source.h"
#include "graft/data/collator.h"
#include "graft/kernels/kernels.h"
#include "graft/models/model.h"
#include "graft/train/feature_cache.h"
#include "graft/train/freezing.h"
#include "graft/train/optimizer.h"
#include "graft/train/schedule.h"
#include "graft/train/training_step.h"

namespace graft::cli {
namespace {

using nlohmann::json;
// The output keeps its keys in the order written: workload and median first, as a reader scans them.
using Line = nlohmann::ordered_json;

constexpr double kLearningRate = 2e-5;
constexpr double kMaxGradNorm = 1.0;  // Hugging Face Trainer's default, as in reference.py
// A latency is short and noisy: it gets this many times the repetitions of the other workloads.
constexpr int64_t kLatencyRepeatFactor = 10;
constexpr int64_t kLatencyTokens = 32;
// The GEMM of the FFN's lin1 at b32 x 128 (tokens x dim x hidden): the rate that EFFICIENCY divides by.
constexpr int64_t kGemmM = 4096, kGemmK = 768, kGemmN = 3072;

struct BenchOptions {
  std::vector<std::string> workloads;  // empty: all (the FPB epochs only with --fpb-ids)
  bool tiny = false;
  int64_t repeats = 3;
  int64_t epoch_repeats = 0;  // 0: --repeats
  int64_t batch = 0;          // 0: 32 (tiny: 8)
  int64_t tokens = 0;         // 0: 128 (tiny: 32)
  std::string fpb_ids;
  int64_t fpb_batch = 32;
  int threads = 2;
  uint64_t seed = 42;
  bool fp32 = false;  // the bf16 workloads in fp32 too, as reference.py --fp32
};

// As reference.py decides it: the *_bf16 workloads and the head-only epoch run with bf16 matmuls.
DType precision_of(const std::string& workload, const BenchOptions& options) {
  const bool bf16 = workload.ends_with("_bf16") || workload == "frozen_head_epoch";
  return bf16 && !options.fp32 ? DType::BF16 : DType::F32;
}

// distilbert-base-uncased, or a model small enough to check the harness in seconds. reference.py has the
// same table.
struct Shapes {
  int64_t layers, dim, heads, ffn, vocab, batch, tokens;
};

Shapes shapes_for(const BenchOptions& options) {
  Shapes shapes = options.tiny ? Shapes{2, 64, 4, 256, 30522, 8, 32} : Shapes{6, 768, 12, 3072, 30522, 32, 128};
  if (options.batch > 0) shapes.batch = options.batch;
  if (options.tokens > 0) shapes.tokens = options.tokens;
  return shapes;
}

ModelConfig bench_config(const Shapes& shapes) {
  const json config = {{"model_type", "distilbert"},
                       {"architectures", {"DistilBertForSequenceClassification"}},
                       {"dim", shapes.dim},
                       {"n_layers", shapes.layers},
                       {"n_heads", shapes.heads},
                       {"hidden_dim", shapes.ffn},
                       {"vocab_size", shapes.vocab},
                       {"max_position_embeddings", 512},
                       {"dropout", 0.1},
                       {"attention_dropout", 0.1},
                       {"seq_classif_dropout", 0.2},
                       {"id2label", {{"0", "negative"}, {"1", "neutral"}, {"2", "positive"}}},
                       {"label2id", {{"negative", 0}, {"neutral", 1}, {"positive", 2}}}};
  return ModelConfig::from_json(config, "graft bench");
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

std::vector<double> time_runs(int64_t warmups, int64_t repeats, const std::function<void()>& run) {
  for (int64_t i = 0; i < warmups; ++i) run();
  std::vector<double> seconds;
  for (int64_t i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return seconds;
}

void report(const std::string& workload, DType precision, const std::vector<double>& seconds, const Line& extra) {
  Line line = {{"side", "graft"},
               {"workload", workload},
               {"precision", workload.ends_with("_int8") ? "int8"
                             : precision == DType::BF16  ? "bf16"
                                                         : "fp32"},
               {"median_s", median(seconds)},
               {"times_s", seconds},
               {"peak_rss_mb", peak_rss_mb()}};
  line.update(extra);
  std::cout << line.dump() << std::endl;  // flushed, so a failing later workload leaves the earlier lines
}

Line shape_fields(const Shapes& shapes, int64_t batch, int64_t tokens) {
  return {{"layers", shapes.layers}, {"dim", shapes.dim}, {"heads", shapes.heads}, {"ffn", shapes.ffn},
          {"vocab", shapes.vocab},   {"batch", batch},    {"tokens", tokens}};
}

// Token ids away from the special ones, a full attention mask and (for training) class labels.
Batch random_batch(int64_t batch, int64_t tokens, int64_t vocab, bool labelled, std::mt19937_64& random) {
  std::uniform_int_distribution<int64_t> token(1000, vocab - 1);
  std::uniform_int_distribution<int64_t> label(0, 2);
  std::vector<int64_t> ids(static_cast<size_t>(batch * tokens));
  for (auto& id : ids) id = token(random);
  Batch result;
  result.input_ids = Tensor::from_vector(ids, {batch, tokens});
  result.attention_mask = Tensor::from_vector(std::vector<int64_t>(ids.size(), 1), {batch, tokens});
  if (labelled) {
    std::vector<int64_t> labels(static_cast<size_t>(batch));
    for (auto& value : labels) value = label(random);
    result.labels = Tensor::from_vector(labels, {batch});
  }
  return result;
}

// What a server's batch holds: lengths spread evenly from tokens / 8 to tokens (reference.py has the same).
std::vector<int64_t> mixed_lengths(int64_t batch, int64_t tokens) {
  if (batch == 1) return {tokens};
  const int64_t shortest = std::max<int64_t>(1, tokens / 8);
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < batch; ++i) lengths.push_back(shortest + (tokens - shortest) * i / (batch - 1));
  return lengths;
}

// The same sequences packed (the timed batch) and padded to the longest with their mask (the padded figure).
std::pair<Batch, Batch> mixed_batches(int64_t batch, int64_t tokens, int64_t vocab, std::mt19937_64& random) {
  std::uniform_int_distribution<int64_t> token(1000, vocab - 1);
  std::vector<Encoding> encodings;
  for (const int64_t length : mixed_lengths(batch, tokens)) {
    Encoding encoding;
    for (int64_t t = 0; t < length; ++t) encoding.ids.push_back(token(random));
    encoding.attention_mask.assign(encoding.ids.size(), 1);
    encoding.type_ids.assign(encoding.ids.size(), 0);
    encodings.push_back(std::move(encoding));
  }
  std::vector<const Encoding*> rows;
  for (const Encoding& encoding : encodings) rows.push_back(&encoding);
  return {pack_batch(rows), pad_batch(rows, 0)};
}

// A model with its optimizer, as the Trainer would set them up for full fine-tuning (or head-only, when
// the base is frozen first).
struct Trainee {
  std::unique_ptr<Model> model;
  std::unique_ptr<AdamW> optimizer;
  LRSchedule schedule;
  int64_t step = 0;

  Trainee(const Shapes& shapes, uint64_t seed, int64_t total_steps, const std::string& freeze_spec)
      : model(Model::from_config(bench_config(shapes), TaskHead::SequenceClassification, seed)),
        schedule(ScheduleKind::Linear, kLearningRate, 0, total_steps) {
    apply_freeze_spec(*model, freeze_spec);
    model->set_training(true);  // dropout on, as in the reference
    AdamWOptions adamw;
    adamw.lr = kLearningRate;
    optimizer = std::make_unique<AdamW>(trainable_parameters(*model), adamw);
  }

  void train_on(const Batch& batch) { training_step(*model, *optimizer, schedule, step++, batch, kMaxGradNorm); }
};

void bench_gemm(const std::string& workload, const BenchOptions& options) {
  std::mt19937_64 random(options.seed);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  std::vector<float> a(static_cast<size_t>(kGemmM * kGemmK));
  std::vector<float> b(static_cast<size_t>(kGemmN * kGemmK));
  std::vector<float> c(static_cast<size_t>(kGemmM * kGemmN));
  for (auto& value : a) value = normal(random);
  for (auto& value : b) value = normal(random);
  // As Linear computes it: out[M, N] = in[M, K] * weight[N, K]^T. A bf16 product includes the rounding of its
  // operands, as every bf16 product in a training step does.
  const DType precision = precision_of(workload, options);
  const auto seconds = time_runs(1, std::max<int64_t>(options.repeats, 5), [&] {
    kernels::gemm(false, true, kGemmM, kGemmN, kGemmK, 1.0F, a.data(), kGemmK, b.data(), kGemmK, 0.0F, c.data(), kGemmN,
                  precision);
  });
  const double flops = 2.0 * kGemmM * kGemmN * kGemmK;
  report(workload, precision, seconds,
         {{"m", kGemmM}, {"k", kGemmK}, {"n", kGemmN}, {"gflops", flops / median(seconds) / 1e9}});
}

void bench_train(const std::string& workload, const BenchOptions& options) {
  const Shapes shapes = shapes_for(options);
  std::mt19937_64 random(options.seed);
  const Batch batch = random_batch(shapes.batch, shapes.tokens, shapes.vocab, true, random);
  Trainee trainee(shapes, options.seed, 1 + options.repeats, "none");
  const AutocastGuard autocast(precision_of(workload, options));
  // The warm-up step also creates AdamW's state, which the timed steps then reuse.
  const auto seconds = time_runs(1, options.repeats, [&] { trainee.train_on(batch); });
  report(workload, autocast_dtype(), seconds, shape_fields(shapes, shapes.batch, shapes.tokens));
}

void bench_inference(const std::string& workload, const BenchOptions& options, int64_t batch_size, int64_t tokens,
                     int64_t warmups, int64_t repeats) {
  const Shapes shapes = shapes_for(options);
  std::mt19937_64 random(options.seed);
  const Batch batch = random_batch(batch_size, tokens, shapes.vocab, false, random);
  const auto model = Model::from_config(bench_config(shapes), TaskHead::SequenceClassification, options.seed);
  if (workload.ends_with("_int8")) model->quantize_int8();
  model->set_training(false);
  const NoGradGuard no_grad;
  const AutocastGuard autocast(precision_of(workload, options));
  const auto seconds = time_runs(warmups, repeats, [&] {
    ForwardContext nothing_kept;  // under NoGradGuard
    model->forward(batch, nothing_kept);
  });
  report(workload, autocast_dtype(), seconds, shape_fields(shapes, batch_size, tokens));
}

// A batch of mixed lengths, packed as the pipelines and the server run it; the same batch padded is timed
// beside it, so the line says what padding would have cost.
void bench_mixed(const std::string& workload, const BenchOptions& options) {
  const Shapes shapes = shapes_for(options);
  std::mt19937_64 random(options.seed);
  const auto [packed, padded] = mixed_batches(shapes.batch, shapes.tokens, shapes.vocab, random);
  const auto model = Model::from_config(bench_config(shapes), TaskHead::SequenceClassification, options.seed);
  model->set_training(false);
  const NoGradGuard no_grad;
  const auto time_forward = [&](const Batch& batch) {
    return time_runs(1, options.repeats, [&] {
      ForwardContext nothing_kept;  // under NoGradGuard
      model->forward(batch, nothing_kept);
    });
  };
  const std::vector<double> seconds = time_forward(packed);
  const double padded_s = median(time_forward(padded));
  Line extra = shape_fields(shapes, shapes.batch, shapes.tokens);
  extra.update({{"packed_tokens", packed.input_ids.numel()},
                {"padded_batch_tokens", padded.input_ids.numel()},
                {"padded_median_s", padded_s},
                {"padded_over_packed", padded_s / median(seconds)}});
  report(workload, DType::F32, seconds, extra);
}

void bench_throughput(const std::string& workload, const BenchOptions& options) {
  const Shapes shapes = shapes_for(options);
  bench_inference(workload, options, shapes.batch, shapes.tokens, 1, options.repeats);
}

void bench_latency(const std::string& workload, const BenchOptions& options) {
  bench_inference(workload, options, 1, kLatencyTokens, 3, kLatencyRepeatFactor * options.repeats);
}

// bench/run.sh's token-id file: one {"label": k, "input_ids": [...]} per line, tokenized once by
// `graft tokenize` so that both sides train on exactly the same ids.
EncodedSource read_fpb_ids(const std::string& path, int64_t batch_size, uint64_t seed) {
  std::ifstream in(path);
  check(in.good(), "bench", "cannot read the token-id file " + path);
  std::vector<Encoding> encodings;
  Labels labels;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const json row = json::parse(line);
    Encoding encoding;
    encoding.ids = row.at("input_ids").get<std::vector<int64_t>>();
    encoding.attention_mask.assign(encoding.ids.size(), 1);
    encoding.type_ids.assign(encoding.ids.size(), 0);
    encodings.push_back(std::move(encoding));
    labels.classes.push_back(row.at("label").get<int64_t>());
  }
  // graft train's default: batches of similar length. reference.py pads batches cut in file order, as
  // transformers' Trainer does by default (group_by_length=False); both report their padded token counts.
  return {std::move(encodings), std::move(labels), batch_size, 0, BatchOrder::GroupedByLength, seed};
}

Line epoch_fields(const EncodedSource& source) {
  int64_t real = 0, padded = 0;
  for (int64_t i = 0; i < source.batches_per_epoch(); ++i) padded += source.batch(0, i).input_ids.numel();
  for (const Encoding& encoding : source.encodings()) real += static_cast<int64_t>(encoding.size());
  return {{"examples", source.examples()},
          {"batches", source.batches_per_epoch()},
          {"real_tokens", real},
          {"padded_tokens", padded}};
}

// One epoch of Financial PhraseBank: full fine-tuning, or head-only with the base frozen. Head-only runs
// as the Trainer runs it: the frozen base once per example (its features computed inside the timed epoch),
// then the head on the stored features.
void bench_epoch(const std::string& workload, const BenchOptions& options, const std::string& freeze_spec) {
  check(!options.fpb_ids.empty(), "bench", workload + " needs --fpb-ids (bench/run.sh writes that file)");
  const Shapes shapes = shapes_for(options);
  const EncodedSource source = read_fpb_ids(options.fpb_ids, options.fpb_batch, options.seed);
  const int64_t repeats = options.epoch_repeats > 0 ? options.epoch_repeats : options.repeats;
  Trainee trainee(shapes, options.seed, 1 + repeats * source.batches_per_epoch(), freeze_spec);
  const AutocastGuard autocast(precision_of(workload, options));
  trainee.train_on(source.batch(0, 0));  // warm-up: a whole epoch would double the cost of the slowest workload
  const auto seconds = time_runs(0, repeats, [&] {
    std::unique_ptr<FeatureSource> features;
    if (can_cache_features(*trainee.model)) features = std::make_unique<FeatureSource>(*trainee.model, source);
    const BatchSource& batches = features ? static_cast<const BatchSource&>(*features) : source;
    for (int64_t i = 0; i < batches.batches_per_epoch(); ++i) trainee.train_on(batches.batch(0, i));
  });
  Line extra = shape_fields(shapes, options.fpb_batch, 0);
  extra.update(epoch_fields(source));
  report(workload, autocast_dtype(), seconds, extra);
}

void bench_full_epoch(const std::string& workload, const BenchOptions& options) {
  bench_epoch(workload, options, "none");
}

void bench_frozen_epoch(const std::string& workload, const BenchOptions& options) {
  bench_epoch(workload, options, "distilbert");
}

using Workload = std::function<void(const std::string&, const BenchOptions&)>;

// In the order run.sh prints them. The *_bf16 names are the workloads PyTorch runs under autocast; the *_int8
// ones quantise the model as Model::quantize_int8 does (ONNX Runtime's quantize_dynamic is their peer).
const std::vector<std::pair<std::string, Workload>>& workloads() {
  static const std::vector<std::pair<std::string, Workload>> table = {
      {"gemm_fp32", bench_gemm},
      {"gemm_bf16", bench_gemm},
      {"train_fp32", bench_train},
      {"train_bf16", bench_train},
      {"infer_b32_fp32", bench_throughput},
      {"infer_b32_bf16", bench_throughput},
      {"infer_b32_int8", bench_throughput},
      {"infer_mixed_b32_fp32", bench_mixed},
      {"latency_b1_s32_fp32", bench_latency},
      {"latency_b1_s32_bf16", bench_latency},
      {"latency_b1_s32_int8", bench_latency},
      {"fpb_epoch_bf16", bench_full_epoch},
      {"frozen_head_epoch", bench_frozen_epoch},
  };
  return table;
}

bool is_epoch(const std::string& workload) {
  return workload == "fpb_epoch_bf16" || workload == "frozen_head_epoch";
}

void run_bench(const BenchOptions& options) {
  check(options.repeats > 0, "bench", "--repeats must be positive");
  set_num_threads(options.threads);
  std::map<std::string, Workload> by_name(workloads().begin(), workloads().end());
  std::vector<std::string> chosen = options.workloads;
  if (chosen.empty()) {
    for (const auto& [name, workload] : workloads()) {
      if (!is_epoch(name) || !options.fpb_ids.empty()) chosen.push_back(name);
    }
  }
  for (const std::string& name : chosen) {
    const auto found = by_name.find(name);
    check(found != by_name.end(), "bench", "unknown workload '" + name + "' (see graft bench --help)");
    std::cerr << "graft bench: " << name << '\n';
    found->second(name, options);
  }
}

std::string workload_names() {
  std::string names;
  for (const auto& [name, workload] : workloads()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  auto* command = app.add_subcommand(
      "bench", "Time graft on DistilBERT workloads (random weights); one JSON line each (see bench/run.sh)");
  command->add_option("--workload", options->workloads, "Workloads to run (default: all): " + workload_names());
  command->add_flag("--tiny", options->tiny, "A 2-layer, dim-64 model and 8 x 32 batches, to check the harness");
  command->add_option("--repeats", options->repeats, "Timed repetitions after the warm-up")->capture_default_str();
  command->add_option("--epoch-repeats", options->epoch_repeats,
                      "Timed epochs of the FPB workloads (default: --repeats)");
  command->add_option("--batch", options->batch, "Training and throughput batch size (default 32, tiny 8)");
  command->add_option("--tokens", options->tokens, "Tokens per sequence (default 128, tiny 32)");
  command->add_option("--fpb-ids", options->fpb_ids, "Token ids of Financial PhraseBank's train.csv (JSON lines)");
  command->add_option("--fpb-batch", options->fpb_batch, "Batch size of the FPB epochs")->capture_default_str();
  command->add_option("--threads", options->threads, "Threads")->capture_default_str();
  command->add_option("--seed", options->seed, "Seed of the weights and inputs")->capture_default_str();
  command->add_flag("--fp32", options->fp32, "Run the bf16 workloads in fp32 too (for CPUs without bf16 units)");
  command->callback([options] { run_bench(*options); });
}

const Registration kBench{"bench", 70, add_bench_command};

}  // namespace
}  // namespace graft::cli
