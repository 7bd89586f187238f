#include "graft/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "graft/core/error.h"

namespace graft {
namespace {

double ratio(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

double mean(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// Per-class precision, recall and F1 from true-positive, false-positive and false-negative counts.
// F1 as 2tp / (2tp + fp + fn) equals 2pr / (p + r) and is 0, not undefined, when p + r = 0.
struct ClassScores {
  double precision, recall, f1;
};
ClassScores scores(int64_t true_positives, int64_t false_positives, int64_t false_negatives) {
  return {ratio(true_positives, true_positives + false_positives),
          ratio(true_positives, true_positives + false_negatives),
          ratio(2 * true_positives, 2 * true_positives + false_positives + false_negatives)};
}

std::vector<std::string> names_or_numbers(const std::vector<std::string>& label_names, size_t count) {
  if (label_names.empty()) {
    std::vector<std::string> numbers;
    for (size_t i = 0; i < count; ++i) numbers.push_back(std::to_string(i));
    return numbers;
  }
  check(label_names.size() == count, "metrics",
        std::to_string(label_names.size()) + " label names for " + std::to_string(count) + " classes");
  return label_names;
}

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json per_label_json(const std::vector<std::string>& names, const std::vector<double>& precision,
                              const std::vector<double>& recall, const std::vector<double>& f1,
                              const std::vector<int64_t>& support) {
  nlohmann::json per_label = nlohmann::json::object();
  for (size_t c = 0; c < names.size(); ++c)
    per_label[names[c]] = {{"precision", precision[c]}, {"recall", recall[c]}, {"f1", f1[c]}, {"support", support[c]}};
  return per_label;
}

double pearson_of(const std::vector<double>& x, const std::vector<double>& y) {
  const double mean_x = mean(x), mean_y = mean(y);
  double covariance = 0.0, variance_x = 0.0, variance_y = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    covariance += (x[i] - mean_x) * (y[i] - mean_y);
    variance_x += (x[i] - mean_x) * (x[i] - mean_x);
    variance_y += (y[i] - mean_y) * (y[i] - mean_y);
  }
  if (variance_x == 0.0 || variance_y == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return covariance / std::sqrt(variance_x * variance_y);
}

// 1-based ranks; tied values share the average of the ranks they span.
std::vector<double> ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> rank(values.size());
  for (size_t start = 0; start < order.size();) {
    size_t end = start + 1;
    while (end < order.size() && values[order[end]] == values[order[start]]) ++end;
    const double shared = (static_cast<double>(start + end) + 1.0) / 2.0;
    for (size_t k = start; k < end; ++k) rank[order[k]] = shared;
    start = end;
  }
  return rank;
}

void check_multilabel_shapes(const std::vector<std::vector<int64_t>>& truth,
                             const std::vector<std::vector<int64_t>>& predicted) {
  check(!truth.empty(), "metrics", "no examples");
  check(truth.size() == predicted.size(), "metrics",
        std::to_string(truth.size()) + " true rows but " + std::to_string(predicted.size()) + " predicted");
  const size_t labels = truth.front().size();
  check(labels > 0, "metrics", "rows have no labels");
  for (size_t row = 0; row < truth.size(); ++row) {
    check(truth[row].size() == labels && predicted[row].size() == labels, "metrics",
          "row " + std::to_string(row) + " does not have " + std::to_string(labels) + " labels");
    for (size_t label = 0; label < labels; ++label) {
      const bool binary = (truth[row][label] == 0 || truth[row][label] == 1) &&
                          (predicted[row][label] == 0 || predicted[row][label] == 1);
      check(binary, "metrics", "row " + std::to_string(row) + " holds a value other than 0 or 1");
    }
  }
}

}  // namespace

ClassificationReport classification_report(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                                           int64_t num_labels) {
  check(num_labels > 0, "metrics", "num_labels must be positive");
  check(!truth.empty(), "metrics", "no examples");
  check(truth.size() == predicted.size(), "metrics",
        std::to_string(truth.size()) + " true labels but " + std::to_string(predicted.size()) + " predictions");
  const auto classes = static_cast<size_t>(num_labels);
  ClassificationReport report;
  report.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const bool in_range = truth[i] >= 0 && truth[i] < num_labels && predicted[i] >= 0 && predicted[i] < num_labels;
    check(in_range, "metrics",
          "example " + std::to_string(i) + ": class ids " + std::to_string(truth[i]) + ", " +
              std::to_string(predicted[i]) + " outside [0, " + std::to_string(num_labels) + ")");
    ++report.confusion[static_cast<size_t>(truth[i])][static_cast<size_t>(predicted[i])];
    correct += truth[i] == predicted[i];
  }
  report.accuracy = ratio(correct, static_cast<int64_t>(truth.size()));
  for (size_t c = 0; c < classes; ++c) {
    int64_t predicted_as_c = 0;
    for (size_t t = 0; t < classes; ++t) predicted_as_c += report.confusion[t][c];
    const int64_t support = std::accumulate(report.confusion[c].begin(), report.confusion[c].end(), int64_t{0});
    const int64_t hits = report.confusion[c][c];
    const ClassScores s = scores(hits, predicted_as_c - hits, support - hits);
    report.precision.push_back(s.precision);
    report.recall.push_back(s.recall);
    report.f1.push_back(s.f1);
    report.support.push_back(support);
  }
  report.macro_precision = mean(report.precision);
  report.macro_recall = mean(report.recall);
  report.macro_f1 = mean(report.f1);
  return report;
}

nlohmann::json ClassificationReport::to_json(const std::vector<std::string>& label_names) const {
  const auto names = names_or_numbers(label_names, support.size());
  return {{"accuracy", accuracy},
          {"macro_precision", macro_precision},
          {"macro_recall", macro_recall},
          {"macro_f1", macro_f1},
          {"labels", names},
          {"per_label", per_label_json(names, precision, recall, f1, support)},
          {"confusion", confusion}};
}

std::string ClassificationReport::to_table(const std::vector<std::string>& label_names) const {
  const auto names = names_or_numbers(label_names, support.size());
  int width = static_cast<int>(std::string("macro avg").size());
  for (const auto& name : names) width = std::max(width, static_cast<int>(name.size()));
  const int64_t total = std::accumulate(support.begin(), support.end(), int64_t{0});
  char text[256];
  std::snprintf(text, sizeof text, "%*s %10s %10s %10s %10s\n\n", width, "", "precision", "recall", "f1-score",
                "support");
  std::string table = text;
  for (size_t c = 0; c < names.size(); ++c) {
    std::snprintf(text, sizeof text, "%*s %10.4f %10.4f %10.4f %10lld\n", width, names[c].c_str(), precision[c],
                  recall[c], f1[c], static_cast<long long>(support[c]));
    table += text;
  }
  std::snprintf(text, sizeof text, "\n%*s %10s %10s %10.4f %10lld\n", width, "accuracy", "", "", accuracy,
                static_cast<long long>(total));
  table += text;
  std::snprintf(text, sizeof text, "%*s %10.4f %10.4f %10.4f %10lld\n", width, "macro avg", macro_precision,
                macro_recall, macro_f1, static_cast<long long>(total));
  table += text;

  table += "\nconfusion matrix (rows: true label, columns: predicted label)\n";
  int cell = 8;
  for (const auto& name : names) cell = std::max(cell, static_cast<int>(name.size()));
  std::snprintf(text, sizeof text, "%*s", width, "");
  table += text;
  for (const auto& name : names) {
    std::snprintf(text, sizeof text, " %*s", cell, name.c_str());
    table += text;
  }
  table += "\n";
  for (size_t t = 0; t < names.size(); ++t) {
    std::snprintf(text, sizeof text, "%*s", width, names[t].c_str());
    table += text;
    for (const int64_t count : confusion[t]) {
      std::snprintf(text, sizeof text, " %*lld", cell, static_cast<long long>(count));
      table += text;
    }
    table += "\n";
  }
  return table;
}

RegressionReport regression_report(const std::vector<double>& truth, const std::vector<double>& predicted) {
  check(!truth.empty(), "metrics", "no examples");
  check(truth.size() == predicted.size(), "metrics",
        std::to_string(truth.size()) + " true values but " + std::to_string(predicted.size()) + " predictions");
  RegressionReport report;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double error = predicted[i] - truth[i];
    report.mse += error * error;
    report.mae += std::fabs(error);
  }
  report.mse /= static_cast<double>(truth.size());
  report.mae /= static_cast<double>(truth.size());
  report.pearson = pearson_of(truth, predicted);
  report.spearman = pearson_of(ranks(truth), ranks(predicted));
  return report;
}

nlohmann::json RegressionReport::to_json() const {
  return {{"mse", mse}, {"mae", mae}, {"pearson", number_or_null(pearson)}, {"spearman", number_or_null(spearman)}};
}

MultiLabelReport multilabel_report(const std::vector<std::vector<int64_t>>& truth,
                                   const std::vector<std::vector<int64_t>>& predicted) {
  check_multilabel_shapes(truth, predicted);
  const size_t labels = truth.front().size();
  std::vector<int64_t> true_positives(labels), false_positives(labels), false_negatives(labels);
  int64_t exact_rows = 0;
  for (size_t row = 0; row < truth.size(); ++row) {
    exact_rows += truth[row] == predicted[row];
    for (size_t label = 0; label < labels; ++label) {
      const bool is_true = truth[row][label] == 1, is_predicted = predicted[row][label] == 1;
      true_positives[label] += is_true && is_predicted;
      false_positives[label] += !is_true && is_predicted;
      false_negatives[label] += is_true && !is_predicted;
    }
  }
  MultiLabelReport report;
  for (size_t label = 0; label < labels; ++label) {
    const ClassScores s = scores(true_positives[label], false_positives[label], false_negatives[label]);
    report.precision.push_back(s.precision);
    report.recall.push_back(s.recall);
    report.f1.push_back(s.f1);
    report.support.push_back(true_positives[label] + false_negatives[label]);
  }
  const auto sum = [](const std::vector<int64_t>& counts) {
    return std::accumulate(counts.begin(), counts.end(), int64_t{0});
  };
  const ClassScores micro = scores(sum(true_positives), sum(false_positives), sum(false_negatives));
  report.micro_precision = micro.precision;
  report.micro_recall = micro.recall;
  report.micro_f1 = micro.f1;
  report.macro_precision = mean(report.precision);
  report.macro_recall = mean(report.recall);
  report.macro_f1 = mean(report.f1);
  const auto rows = static_cast<int64_t>(truth.size());
  report.subset_accuracy = ratio(exact_rows, rows);
  report.hamming_loss = ratio(sum(false_positives) + sum(false_negatives), rows * static_cast<int64_t>(labels));
  return report;
}

nlohmann::json MultiLabelReport::to_json(const std::vector<std::string>& label_names) const {
  const auto names = names_or_numbers(label_names, support.size());
  return {{"subset_accuracy", subset_accuracy},
          {"hamming_loss", hamming_loss},
          {"micro_precision", micro_precision},
          {"micro_recall", micro_recall},
          {"micro_f1", micro_f1},
          {"macro_precision", macro_precision},
          {"macro_recall", macro_recall},
          {"macro_f1", macro_f1},
          {"labels", names},
          {"per_label", per_label_json(names, precision, recall, f1, support)}};
}

}  // namespace graft
