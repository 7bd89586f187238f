#pragma once
// Gradient clipping and scaling over the parameters that train (trainable, with a gradient); frozen
// parameters are ignored, as torch ignores parameters whose .grad is None.
#include "graft/core/parameter.h"

namespace graft {

// torch.nn.utils.get_total_norm with norm_type 2: the L2 norm of the per-tensor fp32 L2 norms.
float grad_norm(const ParameterList& params);

// torch.nn.utils.clip_grad_norm_: multiplies every gradient by min(1, max_norm / (norm + 1e-6)) and
// returns the norm before clipping (non-finite norms are not an error, as in torch's default).
float clip_grad_norm(const ParameterList& params, float max_norm);

// Multiplies every gradient by `factor` (e.g. 1 / accumulation steps).
void scale_grads(const ParameterList& params, float factor);

}  // namespace graft
