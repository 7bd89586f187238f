#pragma once
// Evaluation metrics with scikit-learn's conventions, so that numbers can be compared with a
// Python baseline: a class that is never predicted has precision 0, a class that never occurs has
// recall 0, and macro averages run over every class whether it occurs or not.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace graft {

struct ClassificationReport {
  double accuracy = 0.0;
  std::vector<double> precision, recall, f1;  // per class
  std::vector<int64_t> support;               // true examples per class
  double macro_precision = 0.0, macro_recall = 0.0, macro_f1 = 0.0;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]

  // label_names: one per class, or empty for "0", "1", ...
  nlohmann::json to_json(const std::vector<std::string>& label_names) const;
  // The per-class table of sklearn's classification_report followed by the confusion matrix.
  std::string to_table(const std::vector<std::string>& label_names) const;
};

// truth and predicted hold class ids in [0, num_labels).
ClassificationReport classification_report(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                                           int64_t num_labels);

struct RegressionReport {
  double mse = 0.0;
  double mae = 0.0;
  double pearson = 0.0;   // NaN when either side is constant (scipy does the same); JSON null
  double spearman = 0.0;  // Pearson of the ranks, ties ranked by their average

  nlohmann::json to_json() const;
};

RegressionReport regression_report(const std::vector<double>& truth, const std::vector<double>& predicted);

// Multi-label classification: one row per example, one 0/1 entry per label.
struct MultiLabelReport {
  double subset_accuracy = 0.0;  // rows whose every label is right
  double hamming_loss = 0.0;     // wrong entries over all entries
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;
  double micro_precision = 0.0, micro_recall = 0.0, micro_f1 = 0.0;
  double macro_precision = 0.0, macro_recall = 0.0, macro_f1 = 0.0;

  nlohmann::json to_json(const std::vector<std::string>& label_names) const;
};

MultiLabelReport multilabel_report(const std::vector<std::vector<int64_t>>& truth,
                                   const std::vector<std::vector<int64_t>>& predicted);

}  // namespace graft
