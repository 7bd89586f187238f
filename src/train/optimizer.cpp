#include "graft/train/optimizer.h"

#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "graft/core/error.h"

namespace graft {

bool default_decay(const std::string& parameter_name) {
  std::string lower = parameter_name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool is_bias = lower.ends_with("bias");
  const bool is_layer_norm =
      lower.find("layernorm") != std::string::npos || lower.find("layer_norm") != std::string::npos;
  return !is_bias && !is_layer_norm;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr) : groups_(std::move(groups)), lr_(lr) {
  check(lr >= 0.0, "optimizer", "learning rate must be >= 0, got " + std::to_string(lr));
  std::unordered_set<std::string> names;
  for (const ParamGroup& group : groups_) {
    check(group.lr_scale >= 0.0, "optimizer",
          "learning-rate multiplier must be >= 0, got " + std::to_string(group.lr_scale));
    for (Parameter* param : group.params) {
      check(param != nullptr, "optimizer", "parameter list holds a null parameter");
      // Checkpoints key the state by name, so two parameters with one name would share it.
      check(names.insert(param->name).second, "optimizer", "parameter '" + param->name + "' is listed twice");
      slots_.push_back({param, group.lr_scale});
    }
  }
}

void Optimizer::zero_grad() {
  for (const Slot& slot : slots_) slot.param->zero_grad();
}

bool Optimizer::receives_update(const Parameter& param) {
  return param.trainable && param.value.numel() > 0 && param.grad.numel() == param.value.numel();
}

size_t Optimizer::slot_index(const std::string& name, const char* optimizer) const {
  const auto found =
      std::find_if(slots_.begin(), slots_.end(), [&](const Slot& slot) { return slot.param->name == name; });
  check(found != slots_.end(), optimizer, "no parameter named '" + name + "' in this optimizer");
  return static_cast<size_t>(found - slots_.begin());
}

size_t Optimizer::slot_index(const Parameter& param, const char* optimizer) const {
  const auto found = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& slot) { return slot.param == &param; });
  check(found != slots_.end(), optimizer, "parameter '" + param.name + "' is not in this optimizer");
  return static_cast<size_t>(found - slots_.begin());
}

double Optimizer::saved_lr(const OptimizerState& state, const char* optimizer) {
  const std::string saved_by = state.meta.value("optimizer", "?");
  check(saved_by == optimizer, optimizer, "optimizer state was saved by " + saved_by);
  check(state.meta.contains("lr") && state.meta.at("lr").is_number(), optimizer,
        "optimizer state lacks the learning rate");
  return state.meta.at("lr").get<double>();
}

Tensor Optimizer::load_buffer(const OptimizerState& state, const Parameter& param, const std::string& buffer,
                              const char* optimizer) {
  const std::string key = param.name + "." + buffer;
  const auto found =
      std::find_if(state.tensors.begin(), state.tensors.end(), [&](const auto& named) { return named.first == key; });
  check(found != state.tensors.end(), optimizer, "optimizer state lacks tensor '" + key + "'");
  check(found->second.shape() == param.value.shape(), optimizer,
        "optimizer state tensor '" + key + "' has shape " + shape_string(found->second.shape()) +
            ", the parameter has " + shape_string(param.value.shape()));
  return found->second.to(DType::F32).to(param.value.device());
}

}  // namespace graft
