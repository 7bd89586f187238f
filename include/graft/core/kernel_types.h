#pragma once
// The small value types that pass between the layers and the kernels: which activation, and the scalars of
// one optimizer update (derived in double by the optimizer, train/, and applied by a backend).
#include <cstdint>

namespace graft {

enum class Activation { Gelu, Relu, Tanh };

// One step of torch.optim.AdamW for one tensor (kernels.h: adamw_update).
struct AdamWScalars {
  float decay_factor;
  float lerp_coeff;      // torch's vectorised lerp: weight, or weight - 1 for weights >= 0.5
  bool lerp_from_start;  // lerp base is the old average (small weight) or the gradient
  float beta2;
  float one_minus_beta2;
  float bias_correction2_sqrt;
  float eps;
  float neg_step_size;
};

// One step of torch.optim.SGD (dampening 0) for one tensor (kernels.h: sgd_update).
struct SGDScalars {
  float weight_decay;
  float momentum;
  float neg_lr;
  bool nesterov;
  bool first_step;
};

}  // namespace graft
