#pragma once
// Evaluation of a model on a batch source: the mean loss and the task's metrics
// (classification report, regression report, or token-level accuracy for tagging and masked LM).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graft/data/batch_source.h"
#include "graft/distributed/communicator.h"
#include "graft/models/model.h"
#include "graft/train/metrics.h"

namespace graft {

struct EvalResult {
  double loss = 0.0;
  int64_t examples = 0;
  // Flat metrics ("accuracy", "macro_f1", "mse", ...) for logs, early stopping and the best checkpoint.
  std::map<std::string, double> metrics;
  // The full report (per-class precision/recall/F1, confusion matrix) as JSON.
  nlohmann::json report;
  // Human-readable table (with the confusion matrix for classification).
  std::string table;

  // metrics["loss"] is the loss; other names as above. Throws naming the known metrics for an unknown one.
  double metric(const std::string& name) const;
};

// Runs the model in evaluation mode (no dropout) over every batch of epoch 0; restores the mode after.
// problem_type "" is inferred from the labels as transformers does. With several ranks, every rank passes the
// same data and computes its share of each batch's rows (shard_rows); the predictions are summed into every
// rank's copy of the batch, so each rank reports one process's metrics, and the loss within rounding of it.
EvalResult evaluate(TrainableModel& model, const BatchSource& data, TaskHead task, const std::string& problem_type,
                    const std::vector<std::string>& label_names, Communicator& communicator = single_process());

}  // namespace graft
