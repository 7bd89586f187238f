// torch.optim.SGD's single-tensor path (torch/optim/sgd.py, _sgd), dampening 0. Every `add(x, alpha=a)` of
// torch's CPU kernels is fma(x, a, self), so the updates use fma where torch's do:
//   grad = grad.add(param, alpha=weight_decay)
//   buf = grad.clone() on the first step, else buf.mul_(momentum).add_(grad)
//   grad = grad.add(buf, alpha=momentum) if nesterov else buf
//   param.add_(grad, alpha=-lr)
// GCC fuses a * b + c into one fma by default in C++; torch's kernels round each product and sum
// separately except where they call fma themselves, so fusing here would break bit parity.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <cmath>

#include "graft/core/error.h"
#include "graft/core/parallel.h"
#include "graft/train/optimizer.h"

namespace graft {
namespace {

constexpr int64_t kUpdateGrain = 1 << 15;

struct SGDScalars {
  float weight_decay;
  float momentum;
  float neg_lr;
  bool nesterov;
  bool first_step;
};

float decayed_grad(float grad, float param, float weight_decay) {
  return std::fma(param, weight_decay, grad);
}

void sgd_update(float* __restrict param, const float* __restrict grad, int64_t begin, int64_t end, SGDScalars s) {
  for (int64_t i = begin; i < end; ++i)
    param[i] = std::fma(decayed_grad(grad[i], param[i], s.weight_decay), s.neg_lr, param[i]);
}

void sgd_momentum_update(float* __restrict param, const float* __restrict grad, float* __restrict buffer, int64_t begin,
                         int64_t end, SGDScalars s) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = decayed_grad(grad[i], param[i], s.weight_decay);
    const float b = s.first_step ? g : buffer[i] * s.momentum + g;
    const float direction = s.nesterov ? std::fma(b, s.momentum, g) : b;
    buffer[i] = b;
    param[i] = std::fma(direction, s.neg_lr, param[i]);
  }
}

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
  if (first_step) momentum_buffer = Tensor::empty(param.value.shape());
  // Adding 0 * param leaves the gradient unchanged, which is what skipping the decay does in torch.
  const SGDScalars scalars{param.decay ? static_cast<float>(options_.weight_decay) : 0.0f,
                           static_cast<float>(options_.momentum), static_cast<float>(-lr), options_.nesterov,
                           first_step};
  float* values = param.value.data<float>();
  const float* grads = param.grad.data<float>();
  float* buffer = uses_momentum ? momentum_buffer.data<float>() : nullptr;
  parallel_for(0, param.value.numel(), kUpdateGrain, [&](int64_t begin, int64_t end) {
    if (uses_momentum) {
      sgd_momentum_update(values, grads, buffer, begin, end, scalars);
    } else {
      sgd_update(values, grads, begin, end, scalars);
    }
  });
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
