#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>

#include "graft/core/error.h"
#include "graft/data/dataset.h"

namespace graft {
namespace {

// Fisher-Yates on mt19937_64 directly: std::shuffle and the standard distributions differ between
// standard libraries, and a split must be the same everywhere for a given seed.
void shuffle(std::vector<size_t>& items, std::mt19937_64& random) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[random() % i]);
}

size_t validation_count(size_t label_count, double validation_fraction) {
  if (label_count < 2) return 0;
  const auto rounded = static_cast<size_t>(std::llround(static_cast<double>(label_count) * validation_fraction));
  return std::clamp<size_t>(rounded, 1, label_count - 1);
}

TextDataset subset(const TextDataset& dataset, std::vector<size_t> rows) {
  std::sort(rows.begin(), rows.end());
  TextDataset part;
  part.path = dataset.path;
  part.examples.reserve(rows.size());
  for (const size_t row : rows) part.examples.push_back(dataset.examples[row]);
  return part;
}

std::map<std::string, std::vector<size_t>> rows_by_label(const TextDataset& dataset) {
  std::map<std::string, std::vector<size_t>> rows;
  for (size_t row = 0; row < dataset.examples.size(); ++row) rows[dataset.examples[row].label].push_back(row);
  return rows;
}

}  // namespace

std::pair<TextDataset, TextDataset> stratified_split(const TextDataset& dataset, double validation_fraction,
                                                     uint64_t seed) {
  check(validation_fraction > 0.0 && validation_fraction < 1.0, "dataset",
        "validation fraction must be between 0 and 1, got " + std::to_string(validation_fraction));
  std::mt19937_64 random(seed);
  std::vector<size_t> train_rows, validation_rows;
  for (auto& [label, rows] : rows_by_label(dataset)) {
    shuffle(rows, random);
    const size_t cut = validation_count(rows.size(), validation_fraction);
    validation_rows.insert(validation_rows.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(cut));
    train_rows.insert(train_rows.end(), rows.begin() + static_cast<std::ptrdiff_t>(cut), rows.end());
  }
  return {subset(dataset, std::move(train_rows)), subset(dataset, std::move(validation_rows))};
}

std::string summarize(const TextDataset& dataset) {
  if (dataset.examples.empty()) return "0 examples\n";
  const auto rows = rows_by_label(dataset);
  const LabelMap labels = LabelMap::from_labels(dataset.labels());
  size_t widest = 0;
  for (const auto& name : labels.names()) widest = std::max(widest, name.size());
  const size_t total = dataset.examples.size();
  std::string summary = std::to_string(total) + " examples, " + std::to_string(labels.size()) + " labels";
  if (dataset.skipped_rows > 0) summary += " (" + std::to_string(dataset.skipped_rows) + " bad rows skipped)";
  summary += "\n";
  for (const auto& name : labels.names()) {
    const size_t count = rows.at(name).size();
    char line[64];
    std::snprintf(line, sizeof line, " %8zu  %5.1f%%\n", count,
                  100.0 * static_cast<double>(count) / static_cast<double>(total));
    summary += "  " + name + std::string(widest - name.size(), ' ') + line;
  }
  return summary;
}

}  // namespace graft
