#pragma once
// graft's own fp32 product for a layer's x W^T over few rows, with W packed once in panels: what runs where
// oneDNN has no pre-packed fp32 layout (AVX2 CPUs, on which oneDNN 2.6's matmul is its sgemm, packing W again
// on every call). A panel holds kPanelColumns consecutive output columns, k-major, so that the product reads
// it front to back; the last is padded with zeros. Each output column's sum runs over k in order, whatever the
// row count or the threads, so that the product of a weight packed on the fly (training) and of one packed
// once (inference) are the same numbers.
#include <cstdint>
#include <optional>

#include "graft/core/kernel_types.h"

namespace graft::kernels {

inline constexpr int64_t kPanelColumns = 24;

// Floats of a [out_features, in_features] weight in panels.
int64_t panel_floats(int64_t in_features, int64_t out_features);

// weight: [out_features, in_features], rows ld_weight apart; int8 values become the floats they are.
void pack_panels(float* panels, const float* weight, int64_t ld_weight, int64_t in_features, int64_t out_features);
void pack_panels(float* panels, const int8_t* weight, int64_t ld_weight, int64_t in_features, int64_t out_features);

// out [rows, out_features] (rows ld_out apart) = in [rows, in_features] (ld_in apart) W^T + bias (may be null),
// then the activation (when given) over each thread's columns while they are in its cache: activation_forward's
// numbers after the product's.
void panel_product(float* out, int64_t ld_out, const float* in, int64_t ld_in, const float* panels, const float* bias,
                   int64_t rows, int64_t in_features, int64_t out_features,
                   std::optional<Activation> activation = std::nullopt);

}  // namespace graft::kernels
