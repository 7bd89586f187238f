// Self-attention on CUDA, as on the CPU (per_isa/attention.cpp): scores = scale Q K^T through batched cuBLASLt
// products (the heads of one sequence in one call, read in place from [B,T,H*Dh]), a masked softmax one block per
// row, dropout, context = P V. A fused attention kernel is the next step; this is its reference.
#include <cfloat>

#include "kernels/cuda/cuda_kernels.h"

namespace graft::kernels::gpu {
namespace {

// Masked keys get the lowest float, as transformers' masked_fill(finfo.min).
// key_mask: the one sequence's [T] (every row is one of its heads' queries), or null.
__global__ void masked_softmax_kernel(float* scores, const int64_t* key_mask, int64_t rows, int64_t tokens) {
  GRAFT_CUDA_FOR_ROWS(r, rows) {
    float* row = scores + r * tokens;
    float largest = -INFINITY;
    for (int64_t j = threadIdx.x; j < tokens; j += blockDim.x) {
      if (key_mask != nullptr && key_mask[j] == 0) row[j] = -FLT_MAX;
      largest = fmaxf(largest, row[j]);
    }
    largest = block_max(largest);
    double sum = 0.0;
    for (int64_t j = threadIdx.x; j < tokens; j += blockDim.x) {
      row[j] = expf(row[j] - largest);
      sum += row[j];
    }
    const float inverse = 1.0F / static_cast<float>(block_sum(sum));
    for (int64_t j = threadIdx.x; j < tokens; j += blockDim.x) row[j] *= inverse;
  }
}

// dS = P * (dP' - sum_j dP'_j P_j), with dP' = dP through dropout; in place in ds.
__global__ void softmax_backward_kernel(float* ds, const float* probs, const uint8_t* keep, float keep_scale,
                                        int64_t rows, int64_t tokens) {
  GRAFT_CUDA_FOR_ROWS(r, rows) {
    float* row = ds + r * tokens;
    const float* p = probs + r * tokens;
    float dot = 0.0F;
    for (int64_t j = threadIdx.x; j < tokens; j += blockDim.x) {
      if (keep != nullptr) row[j] = row[j] * (keep_scale * static_cast<float>(keep[r * tokens + j]));
      dot += row[j] * p[j];
    }
    dot = block_sum(dot);
    for (int64_t j = threadIdx.x; j < tokens; j += blockDim.x) row[j] = p[j] * (row[j] - dot);
  }
}

void masked_softmax(float* scores, const int64_t* key_mask, int64_t rows, int64_t tokens) {
  enqueue("attention softmax", row_launch(rows), masked_softmax_kernel, scores, key_mask, rows, tokens);
}

// The heads of one sequence as a batch: head h starts h * Dh columns into the [T, H*Dh] rows. For BF16 products
// gemm rounds the rows it reads, once per product, as the CPU's gemm does.
Operand heads(const float* x, AttentionShape shape) {
  return {x, nullptr, shape.width(), shape.head_dim};
}

}  // namespace

void attention_forward(float* context, float* probs, const float* q, const float* k, const float* v,
                       const int64_t* key_mask, DropoutMask dropout, AttentionShape shape, float scale,
                       DType precision) {
  const int64_t t = shape.tokens;
  const int64_t h = shape.heads;
  const int64_t d = shape.head_dim;
  const int64_t sequence = t * shape.width();
  if (shape.batch * t == 0) return;
  const Scratch dropped(dropout.keep != nullptr ? sizeof(float) * h * t * t : 0);
  for (int64_t b = 0; b < shape.batch; ++b) {
    const int64_t at = b * sequence;
    float* p = probs + b * h * t * t;
    gemm(false, true, t, t, d, scale, heads(q + at, shape), heads(k + at, shape), 0.0F, p, t, precision, nullptr, h,
         t * t);
    masked_softmax(p, key_mask == nullptr ? nullptr : key_mask + b * t, h * t, t);
    const float* weights = p;
    if (dropout.keep != nullptr) {
      apply_dropout(dropped.as<float>(), p, {dropout.keep + b * h * t * t, dropout.scale}, h * t * t);
      weights = dropped.as<float>();
    }
    gemm(false, false, t, d, t, 1.0F, {weights, nullptr, t, t * t}, heads(v + at, shape), 0.0F, context + at,
         shape.width(), precision, nullptr, h, d);
  }
}

void attention_forward_packed(float* context, const float* q, const float* k, const float* v, const int64_t* offsets,
                              AttentionShape shape, float scale, DType precision) {
  const std::vector<int64_t> starts = to_host(offsets, shape.batch + 1);
  const int64_t h = shape.heads;
  const int64_t d = shape.head_dim;
  const int64_t longest = shape.tokens;
  const Scratch scores(sizeof(float) * h * longest * longest);
  for (int64_t b = 0; b < shape.batch; ++b) {
    const int64_t t = starts[static_cast<size_t>(b) + 1] - starts[static_cast<size_t>(b)];
    if (t == 0) continue;
    const int64_t at = starts[static_cast<size_t>(b)] * shape.width();
    float* p = scores.as<float>();
    gemm(false, true, t, t, d, scale, heads(q + at, shape), heads(k + at, shape), 0.0F, p, t, precision, nullptr, h,
         t * t);
    masked_softmax(p, nullptr, h * t, t);
    gemm(false, false, t, d, t, 1.0F, {p, nullptr, t, t * t}, heads(v + at, shape), 0.0F, context + at, shape.width(),
         precision, nullptr, h, d);
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dcontext, const float* probs, const float* q,
                        const float* k, const float* v, DropoutMask dropout, AttentionShape shape, float scale,
                        DType precision) {
  const int64_t t = shape.tokens;
  const int64_t h = shape.heads;
  const int64_t d = shape.head_dim;
  const int64_t sequence = t * shape.width();
  if (shape.batch * t == 0) return;
  const Scratch dropped(dropout.keep != nullptr ? sizeof(float) * h * t * t : 0);
  const Scratch dscores(sizeof(float) * h * t * t);
  float* ds = dscores.as<float>();
  for (int64_t b = 0; b < shape.batch; ++b) {
    const int64_t at = b * sequence;
    const float* p = probs + b * h * t * t;
    const uint8_t* keep = dropout.keep == nullptr ? nullptr : dropout.keep + b * h * t * t;
    const float* weights = p;
    if (keep != nullptr) {
      apply_dropout(dropped.as<float>(), p, {keep, dropout.scale}, h * t * t);
      weights = dropped.as<float>();
    }
    // dV = P'^T dC ; dP' = dC V^T
    gemm(true, false, t, d, t, 1.0F, {weights, nullptr, t, t * t}, heads(dcontext + at, shape), 0.0F, dv + at,
         shape.width(), precision, nullptr, h, d);
    gemm(false, true, t, t, d, 1.0F, heads(dcontext + at, shape), heads(v + at, shape), 0.0F, ds, t, precision, nullptr,
         h, t * t);
    enqueue("attention softmax backward", row_launch(h * t), softmax_backward_kernel, ds, p, keep, dropout.scale, h * t,
            t);
    // dQ = scale dS K ; dK = scale dS^T Q
    gemm(false, false, t, d, t, scale, {ds, nullptr, t, t * t}, heads(k + at, shape), 0.0F, dq + at, shape.width(),
         precision, nullptr, h, d);
    gemm(true, false, t, d, t, scale, {ds, nullptr, t, t * t}, heads(q + at, shape), 0.0F, dk + at, shape.width(),
         precision, nullptr, h, d);
  }
}

}  // namespace graft::kernels::gpu
