#include "graft/train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <utility>

#include "graft/core/error.h"
#include "graft/core/grad_mode.h"

namespace graft {
namespace {

int64_t argmax(const float* values, int64_t count) {
  return static_cast<int64_t>(std::max_element(values, values + count) - values);
}

// What the metrics read of a batch, one value per label: the predicted class (the logits' argmax) of a counted
// integer label (0 for an ignored one, -100), the logit for float labels and one-wide logits (regression,
// multi-label).
std::vector<float> predictions(const Tensor& logits, const Tensor& labels) {
  const Tensor host = logits.to(kCpu);
  const float* values = host.data<float>();  // host-only: a CPU copy
  const int64_t classes = host.dim(-1);
  const bool class_ids = labels.dtype() == DType::I64 && classes > 1;
  check(host.numel() == labels.numel() * (class_ids ? classes : 1), "evaluate",
        "logits " + shape_string(host.shape()) + " do not match the labels " + shape_string(labels.shape()));
  if (!class_ids) return {values, values + host.numel()};
  const std::vector<int64_t> ids = labels.to_int_vector();
  std::vector<float> classes_predicted(ids.size(), 0.0F);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != -100)
      classes_predicted[i] = static_cast<float>(argmax(values + static_cast<int64_t>(i) * classes, classes));
  }
  return classes_predicted;
}

// A batch as the metrics read it: its rows, its labels and, one per label, the predictions of every rank's rows.
struct EvaluatedBatch {
  int64_t rows;
  Tensor labels;
  std::vector<float> predicted;
};

// This rank's share of `batch`: its predictions where one process would have them and zeros elsewhere, summed
// over the ranks (x + 0 is x, so every rank gets one process's values); and {loss x denominator, denominator}
// of its rows (one process: {loss, 1}), and the logits' width (0 without rows).
struct Share {
  EvaluatedBatch batch;
  double weighted_loss = 0.0, denominator = 0.0;
  int64_t classes = 0;
};

Share evaluate_share(TrainableModel& model, const Batch& batch, Communicator& communicator) {
  const int rank = communicator.rank(), world = communicator.world_size();
  const int64_t rows = batch.rows();
  const int64_t labels_per_row = rows > 0 ? batch.labels.numel() / rows : 0;
  Share share{{rows, batch.labels, std::vector<float>(static_cast<size_t>(batch.labels.numel()), 0.0F)}};
  const Batch mine = world == 1 ? batch : shard_rows(batch, rank, world);
  if (mine.rows() > 0) {
    ForwardContext nothing_kept;  // under NoGradGuard
    const ModelOutput output = model.forward(mine.to(model.device()), nothing_kept);
    check(output.loss.numel() == 1, "evaluate", "the evaluation data has no labels");
    const double denominator = world == 1 ? 1.0 : model.loss_denominator(mine);
    share.weighted_loss = static_cast<double>(output.loss.item()) * denominator;
    share.denominator = denominator;
    share.classes = output.logits.dim(-1);
    const std::vector<float> predicted = predictions(output.logits, mine.labels);
    std::copy(predicted.begin(), predicted.end(),
              share.batch.predicted.begin() + shard_first_row(rows, rank, world) * labels_per_row);
  }
  communicator.all_reduce_sum(std::span<float>(share.batch.predicted));
  return share;
}

std::vector<std::string> names_or_numbers(const std::vector<std::string>& names, int64_t count) {
  std::vector<std::string> result = names;
  for (auto i = static_cast<int64_t>(result.size()); i < count; ++i) result.push_back(std::to_string(i));
  return result;
}

}  // namespace

double EvalResult::metric(const std::string& name) const {
  if (name == "loss") return loss;
  const auto found = metrics.find(name);
  if (found != metrics.end()) return found->second;
  std::string known = "loss";
  for (const auto& [key, value] : metrics) known += ", " + key;
  throw Error("[evaluate] unknown metric '" + name + "' (this evaluation has: " + known + ")");
}

EvalResult evaluate(TrainableModel& model, const BatchSource& data, TaskHead task, const std::string& problem_type,
                    const std::vector<std::string>& label_names, Communicator& communicator) {
  const bool was_training = model.training();
  model.set_training(false);
  const NoGradGuard no_grad;
  EvalResult result;
  std::vector<EvaluatedBatch> batches;
  std::vector<double> sums;  // per batch {loss x denominator, denominator}, then {classes, ranks with rows}
  int64_t classes_here = 0;  // the logits' width, where this rank computed rows
  for (int64_t index = 0; index < data.batches_per_epoch(); ++index) {
    const Batch batch = data.batch(0, index);
    check(batch.labels.numel() > 0, "evaluate", "the evaluation data has no labels");
    Share share = evaluate_share(model, batch, communicator);
    result.examples += batch.rows();
    batches.push_back(std::move(share.batch));
    sums.insert(sums.end(), {share.weighted_loss, share.denominator});
    classes_here = std::max(classes_here, share.classes);
  }
  sums.insert(sums.end(), {static_cast<double>(classes_here), classes_here > 0 ? 1.0 : 0.0});
  model.set_training(was_training);
  check(result.examples > 0, "evaluate", "the evaluation data is empty");
  communicator.all_reduce_sum(std::span<double>(sums));
  double loss_sum = 0.0;
  for (size_t b = 0; b < batches.size(); ++b) {  // a batch with nothing to count adds nothing
    if (sums[2 * b + 1] > 0.0) loss_sum += sums[2 * b] / sums[2 * b + 1] * static_cast<double>(batches[b].rows);
  }
  result.loss = loss_sum / static_cast<double>(result.examples);
  const double ranks_with_rows = sums.back();
  const auto classes = static_cast<int64_t>(ranks_with_rows > 0.0 ? sums[sums.size() - 2] / ranks_with_rows : 0.0);
  std::string problem = problem_type;
  if (problem.empty() && task == TaskHead::SequenceClassification) {
    problem = classes == 1                                   ? "regression"
              : batches.front().labels.dtype() == DType::I64 ? "single_label_classification"
                                                             : "multi_label_classification";
  }
  std::vector<int64_t> truth, predicted;
  std::vector<double> targets, outputs;
  std::vector<std::vector<int64_t>> multi_truth, multi_predicted;
  for (const EvaluatedBatch& batch : batches) {
    if (problem == "regression") {
      for (float v : batch.labels.to_float_vector()) targets.push_back(v);
      for (float v : batch.predicted) outputs.push_back(v);
    } else if (problem == "multi_label_classification") {
      const auto values = batch.labels.to_float_vector();
      for (size_t row = 0; row < values.size(); row += static_cast<size_t>(classes)) {
        std::vector<int64_t> row_truth, row_predicted;
        for (size_t c = row; c < row + static_cast<size_t>(classes); ++c) {
          row_truth.push_back(values[c] > 0.5F);
          row_predicted.push_back(batch.predicted[c] > 0.0F);  // sigmoid > 0.5
        }
        multi_truth.push_back(row_truth);
        multi_predicted.push_back(row_predicted);
      }
    } else {
      const auto ids = batch.labels.to_int_vector();
      for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == -100) continue;
        truth.push_back(ids[i]);
        predicted.push_back(static_cast<int64_t>(batch.predicted[i]));
      }
    }
  }
  const auto names = names_or_numbers(label_names, classes);
  if (problem == "regression") {
    const RegressionReport report = regression_report(targets, outputs);
    result.metrics = {{"mse", report.mse}, {"mae", report.mae}, {"pearson", report.pearson}};
    result.report = report.to_json();
    result.table = result.report.dump(2);
  } else if (problem == "multi_label_classification") {
    const MultiLabelReport report = multilabel_report(multi_truth, multi_predicted);
    result.metrics = {
        {"subset_accuracy", report.subset_accuracy}, {"micro_f1", report.micro_f1}, {"macro_f1", report.macro_f1}};
    result.report = report.to_json(names);
    result.table = result.report.dump(2);
  } else if (task == TaskHead::MaskedLM) {
    int64_t right = 0;
    for (size_t i = 0; i < truth.size(); ++i) right += truth[i] == predicted[i];
    const double accuracy = truth.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(truth.size());
    result.metrics = {{"accuracy", accuracy}, {"perplexity", std::exp(result.loss)}};
    result.report = {{"masked_accuracy", accuracy}, {"perplexity", std::exp(result.loss)}};
    result.table = result.report.dump(2);
  } else {
    const ClassificationReport report = classification_report(truth, predicted, classes);
    result.metrics = {{"accuracy", report.accuracy},
                      {"macro_f1", report.macro_f1},
                      {"macro_precision", report.macro_precision},
                      {"macro_recall", report.macro_recall}};
    result.report = report.to_json(names);
    result.table = report.to_table(names);
  }
  result.report["loss"] = result.loss;
  return result;
}

}  // namespace graft
