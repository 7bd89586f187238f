#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include "graft/core/error.h"
#include "graft/data/dataset.h"

namespace graft {
namespace {

std::optional<double> as_number(const std::string& label) {
  double value = 0.0;
  const char* end = label.data() + label.size();
  const auto [stop, status] = std::from_chars(label.data(), end, value);
  if (label.empty() || status != std::errc() || stop != end) return std::nullopt;
  return value;
}

// GLUE labels are "0", "1", ...; sorting them as numbers keeps "10" after "9".
void sort_labels(std::vector<std::string>& labels) {
  std::vector<std::pair<double, std::string>> numeric;
  for (const auto& label : labels) {
    const auto value = as_number(label);
    if (!value) return std::sort(labels.begin(), labels.end());
    numeric.emplace_back(*value, label);
  }
  std::sort(numeric.begin(), numeric.end());
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = std::move(numeric[i].second);
}

}  // namespace

LabelMap::LabelMap(std::vector<std::string> names) : names_(std::move(names)) {
  for (size_t id = 0; id < names_.size(); ++id) {
    const bool unique = ids_.emplace(names_[id], static_cast<int64_t>(id)).second;
    check(unique, "labels", "label '" + names_[id] + "' appears twice");
  }
}

LabelMap LabelMap::from_labels(const std::vector<std::string>& labels_in_dataset) {
  const std::set<std::string> distinct(labels_in_dataset.begin(), labels_in_dataset.end());
  check(!distinct.empty(), "labels", "no labels");
  std::vector<std::string> names(distinct.begin(), distinct.end());
  sort_labels(names);
  return LabelMap(std::move(names));
}

LabelMap LabelMap::from_id2label(const std::map<int64_t, std::string>& id2label) {
  check(!id2label.empty(), "labels", "id2label is empty");
  std::vector<std::string> names;
  for (const auto& [id, name] : id2label) {
    check(id == static_cast<int64_t>(names.size()), "labels",
          "id2label ids must be 0.." + std::to_string(id2label.size() - 1) + ", found " + std::to_string(id));
    names.push_back(name);
  }
  return LabelMap(std::move(names));
}

int64_t LabelMap::id(const std::string& label, const std::string& where) const {
  const auto it = ids_.find(label);
  if (it != ids_.end()) return it->second;
  std::string known;
  for (const auto& name : names_) known += (known.empty() ? "" : ", ") + name;
  throw Error("[dataset] unknown label '" + label + "' at " + where + "; known labels: " + known);
}

const std::string& LabelMap::name(int64_t id) const {
  check(id >= 0 && id < static_cast<int64_t>(names_.size()), "labels",
        "class id " + std::to_string(id) + " is out of range (" + std::to_string(names_.size()) + " labels)");
  return names_[static_cast<size_t>(id)];
}

}  // namespace graft
