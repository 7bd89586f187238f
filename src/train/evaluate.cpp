#include "graft/train/evaluate.h"

#include <algorithm>
#include <cmath>

#include "graft/core/error.h"
#include "graft/core/grad_mode.h"

namespace graft {
namespace {

int64_t argmax(const float* values, int64_t count) {
  return static_cast<int64_t>(std::max_element(values, values + count) - values);
}

// Predicted and true classes of every counted row (label != -100) of logits [..., C].
void collect_classes(const Tensor& logits, const Tensor& labels, std::vector<int64_t>& truth,
                     std::vector<int64_t>& predicted) {
  const int64_t classes = logits.dim(-1);
  const int64_t rows = logits.numel() / classes;
  const auto ids = labels.to_int_vector();
  for (int64_t r = 0; r < rows; ++r) {
    if (ids[static_cast<size_t>(r)] == -100) continue;
    truth.push_back(ids[static_cast<size_t>(r)]);
    predicted.push_back(argmax(logits.data<float>() + r * classes, classes));  // host-only: a CPU copy
  }
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
                    const std::vector<std::string>& label_names) {
  const bool was_training = model.training();
  model.set_training(false);
  const NoGradGuard no_grad;
  EvalResult result;
  double loss_sum = 0.0;
  std::vector<int64_t> truth, predicted;
  std::vector<double> targets, outputs;
  std::vector<std::vector<int64_t>> multi_truth, multi_predicted;
  int64_t classes = 0;
  std::string problem = problem_type;
  for (int64_t index = 0; index < data.batches_per_epoch(); ++index) {
    const Batch batch = data.batch(0, index);
    ForwardContext nothing_kept;  // under NoGradGuard
    ModelOutput output = model.forward(batch.to(model.device()), nothing_kept);
    output.logits = output.logits.to(kCpu);
    const int64_t rows = batch.input_ids.dim(0);
    check(output.loss.numel() == 1, "evaluate", "the evaluation data has no labels");
    loss_sum += static_cast<double>(output.loss.item()) * static_cast<double>(rows);
    result.examples += rows;
    classes = output.logits.dim(-1);
    if (problem.empty() && task == TaskHead::SequenceClassification) {
      problem = classes == 1                         ? "regression"
                : batch.labels.dtype() == DType::I64 ? "single_label_classification"
                                                     : "multi_label_classification";
    }
    if (problem == "regression") {
      for (float v : batch.labels.to_float_vector()) targets.push_back(v);
      for (float v : output.logits.to_float_vector()) outputs.push_back(v);
    } else if (problem == "multi_label_classification") {
      const auto values = batch.labels.to_float_vector();
      const auto logits = output.logits.to_float_vector();
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<int64_t> row_truth, row_predicted;
        for (int64_t c = 0; c < classes; ++c) {
          row_truth.push_back(values[static_cast<size_t>(r * classes + c)] > 0.5F);
          row_predicted.push_back(logits[static_cast<size_t>(r * classes + c)] > 0.0F);  // sigmoid > 0.5
        }
        multi_truth.push_back(row_truth);
        multi_predicted.push_back(row_predicted);
      }
    } else {
      collect_classes(output.logits, batch.labels, truth, predicted);
    }
  }
  model.set_training(was_training);
  check(result.examples > 0, "evaluate", "the evaluation data is empty");
  result.loss = loss_sum / static_cast<double>(result.examples);
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
