// torch.optim.AdamW: the scalars of each step derived in double as Python does, and the update applied by the
// parameter's backend one fp32 operation at a time (ops::adamw_update; the CPU's is
// src/kernels/cpu/optimizer_updates.cpp, which lists torch's operations). GCC fuses a * b + c into one fma
// by default in C++; Python rounds each product and sum, so fusing the derivation would break bit parity.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <cmath>

#include "graft/core/error.h"
#include "graft/ops/ops.h"
#include "graft/train/optimizer.h"

namespace graft {
namespace {

void check_options(const AdamWOptions& options) {
  check(options.beta1 >= 0.0 && options.beta1 < 1.0, "AdamW",
        "beta1 must be in [0, 1), got " + std::to_string(options.beta1));
  check(options.beta2 >= 0.0 && options.beta2 < 1.0, "AdamW",
        "beta2 must be in [0, 1), got " + std::to_string(options.beta2));
  check(options.eps >= 0.0, "AdamW", "eps must be >= 0, got " + std::to_string(options.eps));
  check(options.weight_decay >= 0.0, "AdamW", "weight_decay must be >= 0, got " + std::to_string(options.weight_decay));
}

}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options)
    : Optimizer(std::move(groups), options.lr), options_(options), states_(slots().size()) {
  check_options(options);
}

AdamW::AdamW(const ParameterList& params, const AdamWOptions& options)
    : AdamW(std::vector<ParamGroup>{{params, 1.0}}, options) {}

void AdamW::step() {
  for (size_t index = 0; index < slots().size(); ++index) {
    const Slot& slot = slots()[index];
    if (receives_update(*slot.param)) update(*slot.param, states_[index], lr() * slot.lr_scale);
  }
}

void AdamW::update(Parameter& param, State& state, double lr) const {
  if (state.step == 0) {
    state.exp_avg = Tensor::zeros(param.value.shape(), DType::F32, param.value.device());
    state.exp_avg_sq = Tensor::zeros(param.value.shape(), DType::F32, param.value.device());
  }
  ++state.step;
  const double step = static_cast<double>(state.step);
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, step);
  const float lerp_weight = static_cast<float>(1.0 - options_.beta1);
  const bool small_weight = std::abs(lerp_weight) < 0.5f;
  // Multiplying by exactly 1 leaves the value unchanged, which is what skipping the decay does in torch.
  const bool decays = param.decay && options_.weight_decay != 0.0;
  const AdamWScalars scalars{
      decays ? static_cast<float>(1.0 - lr * options_.weight_decay) : 1.0f,
      small_weight ? lerp_weight : lerp_weight - 1.0f,
      small_weight,
      static_cast<float>(options_.beta2),
      static_cast<float>(1.0 - options_.beta2),
      static_cast<float>(std::pow(bias_correction2, 0.5)),
      static_cast<float>(options_.eps),
      static_cast<float>(-(lr / bias_correction1)),
  };
  ops::adamw_update(param.value, param.grad, state.exp_avg, state.exp_avg_sq, scalars);
}

int64_t AdamW::step_count(const Parameter& param) const {
  return states_[slot_index(param, "AdamW")].step;
}

bool AdamW::has_state(const Parameter& param) const {
  return step_count(param) > 0;
}

OptimizerState AdamW::state_dict() const {
  OptimizerState result;
  nlohmann::json steps = nlohmann::json::object();
  for (size_t index = 0; index < slots().size(); ++index) {
    const State& state = states_[index];
    if (state.step == 0) continue;
    const std::string& name = slots()[index].param->name;
    steps[name] = state.step;
    result.tensors.emplace_back(name + ".exp_avg", state.exp_avg.clone());
    result.tensors.emplace_back(name + ".exp_avg_sq", state.exp_avg_sq.clone());
  }
  result.meta = {{"optimizer", "AdamW"}, {"lr", lr()}, {"steps", steps}};
  return result;
}

void AdamW::load_state_dict(const OptimizerState& state) {
  const double lr = saved_lr(state, "AdamW");
  check(state.meta.contains("steps") && state.meta.at("steps").is_object(), "AdamW",
        "optimizer state lacks the step counts");
  std::vector<State> loaded(slots().size());
  for (const auto& [name, step] : state.meta.at("steps").items()) {
    const size_t index = slot_index(name, "AdamW");
    const Parameter& param = *slots()[index].param;
    check(step.is_number_integer() && step.get<int64_t>() > 0, "AdamW",
          "optimizer state has an invalid step count for '" + name + "'");
    loaded[index] = {step.get<int64_t>(), load_buffer(state, param, "exp_avg", "AdamW"),
                     load_buffer(state, param, "exp_avg_sq", "AdamW")};
  }
  states_ = std::move(loaded);
  set_lr(lr);
}

}  // namespace graft
