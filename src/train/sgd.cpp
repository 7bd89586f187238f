// torch.optim.SGD's single-tensor path (torch/optim/sgd.py, _sgd), dampening 0: the step's scalars, applied by
// the parameter's backend (ops::sgd_update; the CPU's is src/kernels/cpu/optimizer_updates.cpp).

#include "graft/core/error.h"
#include "graft/ops/ops.h"
#include "graft/train/optimizer.h"

namespace graft {
namespace {

void check_options(const SGDOptions& options) {
  check(options.momentum >= 0.0, "SGD", "momentum must be >= 0, got " + std::to_string(options.momentum));
  check(options.weight_decay >= 0.0, "SGD", "weight_decay must be >= 0, got " + std::to_string(options.weight_decay));
  check(!options.nesterov || options.momentum > 0.0, "SGD", "nesterov momentum requires momentum > 0");
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(std::move(groups), options.lr), options_(options), momentum_buffers_(slots().size()) {
  check_options(options);
}

SGD::SGD(const ParameterList& params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{{params, 1.0}}, options) {}

void SGD::step() {
  for (size_t index = 0; index < slots().size(); ++index) {
    const Slot& slot = slots()[index];
    if (receives_update(*slot.param)) update(*slot.param, momentum_buffers_[index], lr() * slot.lr_scale);
  }
}

void SGD::update(Parameter& param, Tensor& momentum_buffer, double lr) const {
  const bool uses_momentum = options_.momentum != 0.0;
  const bool first_step = uses_momentum && momentum_buffer.numel() == 0;
  if (first_step) momentum_buffer = Tensor::empty(param.value.shape(), DType::F32, param.value.device());
  // Adding 0 * param leaves the gradient unchanged, which is what skipping the decay does in torch.
  const SGDScalars scalars{param.decay ? static_cast<float>(options_.weight_decay) : 0.0f,
                           static_cast<float>(options_.momentum), static_cast<float>(-lr), options_.nesterov,
                           first_step};
  ops::sgd_update(param.value, param.grad, uses_momentum ? &momentum_buffer : nullptr, scalars);
}

bool SGD::has_state(const Parameter& param) const {
  return momentum_buffers_[slot_index(param, "SGD")].numel() > 0;
}

OptimizerState SGD::state_dict() const {
  OptimizerState result;
  for (size_t index = 0; index < slots().size(); ++index) {
    if (momentum_buffers_[index].numel() == 0) continue;
    result.tensors.emplace_back(slots()[index].param->name + ".momentum_buffer", momentum_buffers_[index].clone());
  }
  result.meta = {{"optimizer", "SGD"}, {"lr", lr()}};
  return result;
}

void SGD::load_state_dict(const OptimizerState& state) {
  const double lr = saved_lr(state, "SGD");
  const std::string suffix = ".momentum_buffer";
  std::vector<Tensor> loaded(slots().size());
  for (const auto& [key, tensor] : state.tensors) {
    check(key.ends_with(suffix), "SGD", "unexpected tensor '" + key + "' in SGD state");
    const size_t index = slot_index(key.substr(0, key.size() - suffix.size()), "SGD");
    loaded[index] = load_buffer(state, *slots()[index].param, "momentum_buffer", "SGD");
  }
  momentum_buffers_ = std::move(loaded);
  set_lr(lr);
}

}  // namespace graft
