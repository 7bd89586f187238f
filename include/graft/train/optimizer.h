#pragma once
// Optimizers with torch.optim semantics (single-tensor fp32 path), so that a run matches PyTorch step by
// step. Learning rates and hyperparameters are doubles because torch keeps them as Python floats and
// derives each step's scalars (step size, decay factor) in double before rounding them to fp32.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "graft/core/parameter.h"
#include "graft/core/tensor.h"

namespace graft {

// Hugging Face Trainer's convention: no weight decay on biases and LayerNorm weights.
bool default_decay(const std::string& parameter_name);

// Parameters that share a learning-rate multiplier (layer-wise learning-rate decay, a larger rate for a new
// head). Whether weight decay applies is each Parameter's `decay` flag.
struct ParamGroup {
  ParameterList params;
  double lr_scale = 1.0;
};

// The state of an optimizer for a checkpoint: tensors named "{parameter name}.{buffer}" and the scalars.
struct OptimizerState {
  std::vector<std::pair<std::string, Tensor>> tensors;
  nlohmann::json meta;
};

class Optimizer {
 public:
  Optimizer(std::vector<ParamGroup> groups, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates every parameter that is trainable and has a gradient; others keep their value and get no state.
  virtual void step() = 0;
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  const std::vector<ParamGroup>& groups() const { return groups_; }

  virtual OptimizerState state_dict() const = 0;
  // Replaces the state; parameters the saved state does not mention start afresh.
  virtual void load_state_dict(const OptimizerState& state) = 0;

 protected:
  struct Slot {
    Parameter* param;
    double lr_scale;
  };
  // One slot per parameter, in group order; subclasses keep their per-parameter state at the same index.
  const std::vector<Slot>& slots() const { return slots_; }
  static bool receives_update(const Parameter& param);
  // Index of the slot that holds this parameter (by name or identity); throws naming `optimizer` when none.
  size_t slot_index(const std::string& name, const char* optimizer) const;
  size_t slot_index(const Parameter& param, const char* optimizer) const;
  // Checks that `state` was saved by `optimizer`; returns its learning rate.
  static double saved_lr(const OptimizerState& state, const char* optimizer);
  // The saved buffer "{param.name}.{buffer}" as a new F32 tensor, checked against the parameter's shape.
  static Tensor load_buffer(const OptimizerState& state, const Parameter& param, const std::string& buffer,
                            const char* optimizer);

 private:
  std::vector<ParamGroup> groups_;
  std::vector<Slot> slots_;
  double lr_;
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

// torch.optim.AdamW: decoupled weight decay p *= 1 - lr * wd, then the Adam update with per-parameter bias
// corrections. Each parameter's lr is lr() * its group's lr_scale.
class AdamW final : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options);
  AdamW(const ParameterList& params, const AdamWOptions& options);

  void step() override;
  OptimizerState state_dict() const override;
  void load_state_dict(const OptimizerState& state) override;

  // Steps taken by this parameter (0 while it has no state).
  int64_t step_count(const Parameter& param) const;
  bool has_state(const Parameter& param) const;

 private:
  struct State {
    int64_t step = 0;
    Tensor exp_avg;
    Tensor exp_avg_sq;
  };
  void update(Parameter& param, State& state, double lr) const;

  AdamWOptions options_;
  std::vector<State> states_;
};

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

// torch.optim.SGD with dampening 0: the first step's momentum buffer is the gradient itself.
class SGD final : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);
  SGD(const ParameterList& params, const SGDOptions& options);

  void step() override;
  OptimizerState state_dict() const override;
  void load_state_dict(const OptimizerState& state) override;

  bool has_state(const Parameter& param) const;

 private:
  void update(Parameter& param, Tensor& momentum_buffer, double lr) const;

  SGDOptions options_;
  std::vector<Tensor> momentum_buffers_;  // undefined until the parameter's first step
};

}  // namespace graft
