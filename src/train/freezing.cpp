#include "graft/train/freezing.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "graft/core/error.h"
#include "graft/models/family.h"

namespace graft {
namespace {

constexpr const char* kWhere = "freeze";
// Module paths down to this depth are offered when a pattern names nothing.
constexpr size_t kSuggestionDepth = 2;

std::vector<std::string> split_dotted(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream stream(name);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
  return parts;
}

std::string join_dotted(const std::vector<std::string>& parts, size_t count) {
  std::string joined;
  for (size_t i = 0; i < count; ++i) joined += (i == 0 ? "" : ".") + parts[i];
  return joined;
}

bool glob_matches(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

bool pattern_names(const std::string& pattern, const std::string& parameter_name) {
  return pattern == "all" || glob_matches(pattern, parameter_name) || glob_matches(pattern + ".*", parameter_name);
}

bool under_prefix(const std::string& name, const std::string& prefix) {
  return name.size() > prefix.size() && name.starts_with(prefix) && name[prefix.size()] == '.';
}

// DistilBERT's sinusoidal position table is a constant (transformers sets requires_grad=False on it), so no
// pattern may make it train. Its name depends on whether the module is the whole model or the encoder.
std::string fixed_parameter_name(const Module& module) {
  if (const auto* model = dynamic_cast<const Model*>(&module)) {
    return model->config().sinusoidal_pos_embds ? model->config().model_type + ".embeddings.position_embeddings.weight"
                                                : "";
  }
  if (const auto* encoder = dynamic_cast<const Encoder*>(&module)) {
    return encoder->config().sinusoidal_pos_embds ? "embeddings.position_embeddings.weight" : "";
  }
  return "";
}

std::string module_path_suggestions(const Module& model) {
  std::vector<std::string> paths;
  for (const auto& [name, parameter] : model.named_parameters()) {
    const std::vector<std::string> parts = split_dotted(name);
    for (size_t depth = 1; depth < parts.size() && depth <= kSuggestionDepth; ++depth) {
      std::string path = join_dotted(parts, depth);
      if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(std::move(path));
    }
  }
  std::string listed;
  for (const std::string& path : paths) listed += (listed.empty() ? "" : ", ") + path;
  return listed;
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

// "66362880" -> "66,362,880"
std::string with_thousands(int64_t value) {
  const std::string digits = std::to_string(value);
  std::string grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped.push_back(',');
    grouped.push_back(digits[i]);
  }
  return grouped;
}

struct TreeNode {
  std::string name;
  int64_t trainable = 0;
  int64_t frozen = 0;
  std::vector<TreeNode> children;  // in registration order

  TreeNode& child(const std::string& child_name) {
    auto found =
        std::find_if(children.begin(), children.end(), [&](const TreeNode& node) { return node.name == child_name; });
    if (found != children.end()) return *found;
    children.push_back(TreeNode{child_name, 0, 0, {}});
    return children.back();
  }
  void add(const Parameter& parameter) { (parameter.trainable ? trainable : frozen) += parameter.value.numel(); }
};

struct TreeLine {
  std::string label;
  int64_t trainable;
  int64_t frozen;
};

void flatten(const TreeNode& node, int depth, std::vector<TreeLine>& lines) {
  for (const TreeNode& child : node.children) {
    lines.push_back({std::string(static_cast<size_t>(2 * depth), ' ') + child.name, child.trainable, child.frozen});
    flatten(child, depth + 1, lines);
  }
}

std::string layer_root(const Model& model) {
  const ModelFamily& family = model_family(model.config().model_type, "model");
  return std::string(family.model_type) + "." + family.blocks_path;
}

bool in_group(const std::string& name, const std::vector<std::string>& group) {
  return std::any_of(group.begin(), group.end(),
                     [&](const std::string& prefix) { return name == prefix || under_prefix(name, prefix); });
}

}  // namespace

int64_t set_trainable(Module& model, const std::string& pattern, bool trainable) {
  const std::string fixed = fixed_parameter_name(model);
  int64_t named = 0;
  for (const auto& [name, parameter] : model.named_parameters()) {
    if (!pattern_names(pattern, name)) continue;
    ++named;
    if (name == fixed) continue;
    parameter->trainable = trainable;
    // A frozen parameter never receives a gradient, so its buffer is only memory.
    if (!trainable) parameter->grad = Tensor();
  }
  check(named > 0, kWhere,
        "'" + pattern + "' names no parameter; module paths include: " + module_path_suggestions(model));
  return named;
}

void freeze(Module& model, const std::vector<std::string>& patterns) {
  for (const std::string& pattern : patterns) set_trainable(model, pattern, false);
}

void unfreeze(Module& model, const std::vector<std::string>& patterns) {
  for (const std::string& pattern : patterns) set_trainable(model, pattern, true);
}

void apply_freeze_spec(Module& model, const std::string& spec) {
  const std::string trimmed = trim(spec);
  check(!trimmed.empty(), kWhere, "empty freeze spec (use 'none' to train everything)");
  set_trainable(model, "all", true);
  if (trimmed == "none") return;
  std::stringstream stream(trimmed);
  for (std::string pattern; std::getline(stream, pattern, ',');) {
    pattern = trim(pattern);
    check(!pattern.empty(), kWhere, "empty pattern in freeze spec '" + spec + "'");
    set_trainable(model, pattern, false);
  }
}

std::string parameter_tree(const Module& model, int max_depth) {
  check(max_depth >= 1, kWhere, "parameter tree depth must be >= 1, got " + std::to_string(max_depth));
  TreeNode root;
  for (const auto& [name, parameter] : model.named_parameters()) {
    root.add(*parameter);
    const std::vector<std::string> parts = split_dotted(name);
    const size_t module_depth = std::min(parts.size() - 1, static_cast<size_t>(max_depth));
    TreeNode* node = &root;
    for (size_t depth = 0; depth < module_depth; ++depth) {
      node = &node->child(parts[depth]);
      node->add(*parameter);
    }
  }
  std::vector<TreeLine> lines;
  flatten(root, 0, lines);

  const std::string module_header = "Module";
  const std::string trainable_header = "Trainable";
  const std::string frozen_header = "Frozen";
  size_t label_width = module_header.size();
  size_t number_width = trainable_header.size();
  for (const TreeLine& line : lines) {
    label_width = std::max(label_width, line.label.size());
    number_width = std::max({number_width, with_thousands(line.trainable).size(), with_thousands(line.frozen).size()});
  }
  std::ostringstream out;
  const auto write_row = [&](const std::string& label, const std::string& first, const std::string& second) {
    out << label << std::string(label_width - label.size(), ' ');
    for (const std::string* cell : {&first, &second})
      out << "  " << std::string(number_width - cell->size(), ' ') << *cell;
    out << '\n';
  };
  write_row(module_header, trainable_header, frozen_header);
  for (const TreeLine& line : lines) write_row(line.label, with_thousands(line.trainable), with_thousands(line.frozen));
  out << "Trainable: " << with_thousands(root.trainable) << " | Frozen: " << with_thousands(root.frozen)
      << " | Total: " << with_thousands(root.trainable + root.frozen) << '\n';
  return out.str();
}

std::vector<std::vector<std::string>> layer_groups(const Model& model) {
  const std::string encoder = model.config().model_type;
  const std::string layers = layer_root(model);
  const std::string embeddings = encoder + ".embeddings";

  std::vector<std::string> head;
  for (const auto& [name, parameter] : model.named_parameters()) {
    const std::vector<std::string> parts = split_dotted(name);
    std::string path;
    if (!under_prefix(name, encoder)) {
      path = parts.front();
    } else if (!under_prefix(name, embeddings) && !under_prefix(name, layers)) {
      path = join_dotted(parts, std::min<size_t>(2, parts.size()));  // BERT's pooler
    }
    if (!path.empty() && std::find(head.begin(), head.end(), path) == head.end()) head.push_back(std::move(path));
  }

  std::vector<std::vector<std::string>> groups;
  if (!head.empty()) groups.push_back(std::move(head));
  for (int64_t layer = model.config().num_hidden_layers - 1; layer >= 0; --layer) {
    groups.push_back({layers + "." + std::to_string(layer)});
  }
  groups.push_back({embeddings});
  return groups;
}

void unfreeze_top_groups(Model& model, int64_t count) {
  check(count >= 0, kWhere, "cannot unfreeze " + std::to_string(count) + " groups");
  const std::vector<std::vector<std::string>> groups = layer_groups(model);
  set_trainable(model, "all", false);
  const size_t unfrozen = std::min(static_cast<size_t>(count), groups.size());
  for (size_t group = 0; group < unfrozen; ++group) unfreeze(model, groups[group]);
}

std::vector<ParamGroup> layerwise_lr_groups(const Model& model, double decay) {
  check(decay > 0.0, kWhere, "layer-wise learning-rate decay must be > 0, got " + std::to_string(decay));
  const std::vector<std::vector<std::string>> groups = layer_groups(model);
  const auto named = model.named_parameters();
  std::vector<ParamGroup> param_groups;
  for (size_t group = 0; group < groups.size(); ++group) {
    ParamGroup param_group{{}, std::pow(decay, static_cast<double>(group))};
    for (const auto& [name, parameter] : named) {
      if (parameter->trainable && in_group(name, groups[group])) param_group.params.push_back(parameter);
    }
    if (!param_group.params.empty()) param_groups.push_back(std::move(param_group));
  }
  return param_groups;
}

}  // namespace graft
