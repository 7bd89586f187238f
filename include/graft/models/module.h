#pragma once
// Modules own parameters and sub-modules under Hugging Face's names, so that named_parameters()
// yields "distilbert.transformer.layer.0.attention.q_lin.weight" exactly as transformers does.
// Modules are neither copied nor moved: parents keep pointers to their children's members.
#include <string>
#include <utility>
#include <vector>

#include "graft/core/parameter.h"

namespace graft {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;

  // Every parameter below this module, depth first in registration order, with dotted names.
  std::vector<std::pair<std::string, Parameter*>> named_parameters(const std::string& prefix = "") const;
  ParameterList parameters() const;
  // This module and every module below it, depth first, with dotted names ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "") const;
  // Stores each parameter's full dotted name in Parameter::name (optimizer state and checkpoints are
  // keyed by it). Call on the root once the tree is built; Model and Trainer do.
  void name_parameters();
  // Training mode turns dropout on; evaluation mode turns it off.
  void set_training(bool training);
  bool training() const { return training_; }
  // True when any parameter below this module is trainable: backward stops below the lowest such module.
  bool has_trainable_parameters() const;
  // Moves every parameter to `device` (its gradient is dropped, and made there at the next backward).
  void to(Device device);
  // Where the parameters are (the CPU for a module without any).
  Device device() const;

 protected:
  void register_parameter(std::string name, Parameter& parameter);
  // An empty name puts the child's parameters directly under this module's prefix (transformers' heads
  // sit at the top level: "classifier.weight" next to "distilbert.embeddings...").
  void register_module(std::string name, Module& module);

 private:
  std::vector<std::pair<std::string, Parameter*>> parameters_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = false;
};

// A named list of modules ("transformer.layer.0", "transformer.layer.1", ...).
class ModuleList : public Module {
 public:
  void add(std::string name, Module& module) { register_module(std::move(name), module); }
};

}  // namespace graft
