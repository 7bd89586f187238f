// Self-attention, one (batch, head) pair per task: scores = scale * Q K^T, masked softmax, dropout,
// context = P V. Heads are read in place from the [B,T,H*Dh] projections (leading dimension H*Dh), so
// no reshaped copies are made.
#include <cfloat>

#include "graft/core/parallel.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/scratch.h"

namespace graft::kernels::GRAFT_KERNEL_ISA {
namespace {

// Masked keys get the lowest float, as transformers' masked_fill(finfo.min): their probability is 0,
// and a row with every key masked becomes uniform instead of NaN.
void mask_scores(float* row, const int64_t* key_mask, int64_t tokens) {
  for (int64_t j = 0; j < tokens; ++j) {
    if (key_mask[j] == 0) row[j] = -FLT_MAX;
  }
}

struct HeadView {
  int64_t offset;  // of the head's first element in a [B,T,H*Dh] buffer
  int64_t scores;  // of the head's [T,T] block in a [B,H,T,T] buffer
  const int64_t* mask;
};

HeadView head_view(const AttentionShape& shape, const int64_t* key_mask, int64_t task) {
  const int64_t b = task / shape.heads;
  const int64_t h = task % shape.heads;
  return {b * shape.tokens * shape.width() + h * shape.head_dim, task * shape.tokens * shape.tokens,
          key_mask == nullptr ? nullptr : key_mask + b * shape.tokens};
}

}  // namespace

void attention_forward(float* context, float* probs, const float* q, const float* k, const float* v,
                       const int64_t* key_mask, DropoutMask dropout, AttentionShape shape, float scale,
                       DType precision) {
  const int64_t t = shape.tokens;
  const int64_t d = shape.head_dim;
  const int64_t ld = shape.width();
  parallel_for(0, shape.batch * shape.heads, 1, [&](int64_t begin, int64_t end) {
    const ScratchBuffer dropped_buffer(dropout.keep != nullptr ? t * t : 0, sizeof(float));
    auto* dropped = static_cast<float*>(dropped_buffer.data);
    for (int64_t task = begin; task < end; ++task) {
      const HeadView view = head_view(shape, key_mask, task);
      float* p = probs + view.scores;
      gemm(false, true, t, t, d, scale, q + view.offset, ld, k + view.offset, ld, 0.0F, p, t, precision);
      if (view.mask != nullptr) {
        for (int64_t i = 0; i < t; ++i) mask_scores(p + i * t, view.mask, t);
      }
      softmax_rows(p, p, t, t);
      const float* weights = p;
      if (dropout.keep != nullptr) {
        apply_dropout(dropped, p, {dropout.keep + view.scores, dropout.scale}, t * t);
        weights = dropped;
      }
      gemm(false, false, t, d, t, 1.0F, weights, t, v + view.offset, ld, 0.0F, context + view.offset, ld, precision);
    }
  });
}

void attention_forward_packed(float* context, const float* q, const float* k, const float* v, const int64_t* offsets,
                              AttentionShape shape, float scale, DType precision) {
  const int64_t d = shape.head_dim;
  const int64_t ld = shape.width();
  // Tasks head-major: the sequences of a batch differ in length, its heads do not, so the threads' equal
  // ranges of tasks carry equal work whenever they split the heads evenly.
  parallel_for(0, shape.batch * shape.heads, 1, [&](int64_t begin, int64_t end) {
    const ScratchBuffer scores_buffer(shape.tokens * shape.tokens, sizeof(float));
    auto* p = static_cast<float*>(scores_buffer.data);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t sequence = task % shape.batch;
      const int64_t first = offsets[sequence];
      const int64_t t = offsets[sequence + 1] - first;
      if (t == 0) continue;
      const int64_t offset = first * ld + (task / shape.batch) * d;
      gemm(false, true, t, t, d, scale, q + offset, ld, k + offset, ld, 0.0F, p, t, precision);
      softmax_rows(p, p, t, t);
      gemm(false, false, t, d, t, 1.0F, p, t, v + offset, ld, 0.0F, context + offset, ld, precision);
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dcontext, const float* probs, const float* q,
                        const float* k, const float* v, DropoutMask dropout, AttentionShape shape, float scale,
                        DType precision) {
  const int64_t t = shape.tokens;
  const int64_t d = shape.head_dim;
  const int64_t ld = shape.width();
  parallel_for(0, shape.batch * shape.heads, 1, [&](int64_t begin, int64_t end) {
    const ScratchBuffer dscores_buffer(t * t, sizeof(float));
    const ScratchBuffer dropped_buffer(dropout.keep != nullptr ? t * t : 0, sizeof(float));
    auto* dropped = static_cast<float*>(dropped_buffer.data);
    for (int64_t task = begin; task < end; ++task) {
      const HeadView view = head_view(shape, nullptr, task);
      const float* p = probs + view.scores;
      const float* weights = p;
      if (dropout.keep != nullptr) {
        apply_dropout(dropped, p, {dropout.keep + view.scores, dropout.scale}, t * t);
        weights = dropped;
      }
      // dV = P'^T dC ; dP' = dC V^T
      gemm(true, false, t, d, t, 1.0F, weights, t, dcontext + view.offset, ld, 0.0F, dv + view.offset, ld, precision);
      auto* ds = static_cast<float*>(dscores_buffer.data);
      gemm(false, true, t, t, d, 1.0F, dcontext + view.offset, ld, v + view.offset, ld, 0.0F, ds, t, precision);
      // Through dropout, then softmax: dS = P * (dP - sum_j dP_j P_j)
      if (dropout.keep != nullptr) apply_dropout(ds, ds, {dropout.keep + view.scores, dropout.scale}, t * t);
      for (int64_t i = 0; i < t; ++i) {
        float* row = ds + i * t;
        const float* prow = p + i * t;
        float dot = 0.0F;
        for (int64_t j = 0; j < t; ++j) dot += row[j] * prow[j];
        for (int64_t j = 0; j < t; ++j) row[j] = prow[j] * (row[j] - dot);
      }
      // dQ = scale dS K ; dK = scale dS^T Q
      gemm(false, false, t, d, t, scale, ds, t, k + view.offset, ld, 0.0F, dq + view.offset, ld, precision);
      gemm(true, false, t, d, t, scale, ds, t, q + view.offset, ld, 0.0F, dk + view.offset, ld, precision);
    }
  });
}

}  // namespace graft::kernels::GRAFT_KERNEL_ISA
