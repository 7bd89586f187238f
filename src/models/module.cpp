#include "graft/models/module.h"

namespace graft {

std::vector<std::pair<std::string, Parameter*>> Module::named_parameters(const std::string& prefix) const {
  std::vector<std::pair<std::string, Parameter*>> named;
  const std::string dotted = prefix.empty() ? "" : prefix + ".";
  for (const auto& [name, parameter] : parameters_) named.emplace_back(dotted + name, parameter);
  for (const auto& [name, child] : children_) {
    auto below = child->named_parameters(name.empty() ? prefix : dotted + name);
    named.insert(named.end(), below.begin(), below.end());
  }
  return named;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) const {
  std::vector<std::pair<std::string, Module*>> named = {{prefix, const_cast<Module*>(this)}};
  const std::string dotted = prefix.empty() ? "" : prefix + ".";
  for (const auto& [name, child] : children_) {
    auto below = child->named_modules(name.empty() ? prefix : dotted + name);
    named.insert(named.end(), below.begin(), below.end());
  }
  return named;
}

ParameterList Module::parameters() const {
  ParameterList list;
  for (const auto& [name, parameter] : named_parameters()) list.push_back(parameter);
  return list;
}

void Module::name_parameters() {
  for (const auto& [name, parameter] : named_parameters()) parameter->name = name;
}

void Module::set_training(bool training) {
  training_ = training;
  for (const auto& [name, child] : children_) child->set_training(training);
}

bool Module::has_trainable_parameters() const {
  for (const auto& [name, parameter] : named_parameters()) {
    if (parameter->trainable) return true;
  }
  return false;
}

void Module::to(Device device) {
  for (Parameter* parameter : parameters()) {
    if (parameter->value.device() == device) continue;  // its gradient stays too
    parameter->value = parameter->value.to(device);
    parameter->grad = Tensor();
  }
}

Device Module::device() const {
  const ParameterList list = parameters();
  return list.empty() ? kCpu : list.front()->value.device();
}

void Module::register_parameter(std::string name, Parameter& parameter) {
  parameters_.emplace_back(std::move(name), &parameter);
}

void Module::register_module(std::string name, Module& module) {
  children_.emplace_back(std::move(name), &module);
}

}  // namespace graft
