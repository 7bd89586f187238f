#pragma once
// The backend interface: what one kind of device computes with, as a table of functions over its memory (in the
// spirit of ggml's backend interface). Each entry has the signature of the kernel of the same name in
// kernels.h, which the CPU backend is; a CUDA backend fills the same table with its own functions. The ops
// layer (graft/ops/ops.h) checks arguments and calls backend_for(device) once per op.
#include "graft/core/device.h"
#include "graft/kernels/kernels.h"

// clang-format off
#define GRAFT_BACKEND_FUNCTIONS(X)                                                                         \
  X(linear_forward) X(linear_backward) X(layer_norm_forward) X(layer_norm_backward)                        \
  X(activation_forward) X(activation_backward) X(embedding_forward) X(embedding_backward)                  \
  X(attention_forward) X(attention_backward) X(attention_forward_packed) X(cross_entropy) X(binary_cross_entropy_with_logits)          \
  X(mean_squared_error) X(add_inplace) X(apply_dropout) X(draw_dropout_keep) X(copy_rows)                  \
  X(mean_pool_forward) X(mean_pool_backward) X(indices_in_range) X(labelled_positions) X(gather_indices)   \
  X(adamw_update) X(sgd_update) X(l2_norm) X(scale_inplace) X(round_to_bf16)                               \
  X(quantize_rows_int8) X(linear_forward_int8) X(packed_linear_weight_bytes) X(pack_linear_weight)              \
  X(linear_activation_with_packed_weight)
// clang-format on

namespace graft {

struct Backend {
  const char* name;
#define GRAFT_BACKEND_ENTRY(function) decltype(&kernels::function) function;
  GRAFT_BACKEND_FUNCTIONS(GRAFT_BACKEND_ENTRY)
#undef GRAFT_BACKEND_ENTRY
};

// The CPU backend for the CPU and the checked device (host memory both), the CUDA backend (kernels/cuda/) for a
// CUDA device; in a build without CUDA, or on a machine without the device, graft::Error "[op] graft was built
// without CUDA" or "[op] no CUDA device: ...".
const Backend& backend_for(Device device);

}  // namespace graft
