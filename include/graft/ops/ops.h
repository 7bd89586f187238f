#pragma once
// The ops: tensor-level computations that check their arguments (element types, shapes, and that every tensor
// is on one device: copies between devices are the caller's, Tensor::to) and dispatch once to the backend of
// that device (kernels/backend.h). Errors say "[op] NAME: ...". Above this layer, models, training and
// pipelines compute only through these functions; they read values only after an explicit copy to the CPU.
//
// Backward ops ACCUMULATE into parameter gradients (given as pointers, null when frozen) and return the input
// gradient, as kernels.h's functions do.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "graft/core/kernel_types.h"
#include "graft/core/random.h"
#include "graft/core/tensor.h"

namespace graft::ops {

// y[..., O] = x[..., I] W[O, I]^T + b[O] (bias may be undefined), multiplied in `precision` (core/autocast.h).
// For a BF16 product x may be BF16, rounded beforehand (round_to_bf16): then several products read one rounding
// of it, and a backward keeps half the bytes.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, DType precision);
Tensor linear_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, Tensor* dweight, Tensor* dbias,
                       DType precision);
// activation(linear(x, weight, bias, precision)) as `output`: F32, or BF16 for a BF16 product to read next. For
// inference (under NoGradGuard), where nothing keeps the product for a backward: with the weight packed, the
// product's epilogue applies the activation and rounds (kernels.h: linear_activation_with_packed_weight);
// elsewhere linear, activation and round_to_bf16 run one after the other.
Tensor linear_activation(const Tensor& x, const Tensor& weight, const Tensor& bias, DType precision,
                         Activation activation, DType output);

// Symmetric int8 quantisation of each row of x[..., C] (kernels.h: quantize_rows_int8): values I8 [..., C],
// scales F32 [..., 1], x ~ values * scales.
struct QuantizedRows {
  Tensor values, scales;
};
QuantizedRows quantize_rows_int8(const Tensor& x);

// x (F32) rounded to BF16, to nearest even   [x.to(torch.bfloat16)]
Tensor round_to_bf16(const Tensor& x);
// y[..., O] = x[..., I] W[O, I]^T + b[O] with W quantised per output channel (weight I8 [O, I], weight_scale F32
// [O, 1]) and x quantised per row as it comes, summed exactly in int32: inference only.
Tensor linear_int8(const Tensor& x, const Tensor& weight, const Tensor& weight_scale, const Tensor& bias);

struct LayerNormOutput {
  Tensor y, mean, rstd;  // mean and rstd: [rows], for the backward
};
LayerNormOutput layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);
Tensor layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                           const Tensor& gamma, Tensor* dgamma, Tensor* dbeta);

// x by value: a tensor moved in whose storage is nobody else's (Tensor::donatable) receives the result.
Tensor activation(Activation activation, Tensor x);
// `saved` is the forward's output for Tanh, its input otherwise.
Tensor activation_backward(Activation activation, const Tensor& dy, const Tensor& saved);

// table[ids] for I64 ids of any shape -> [..., D]; an id outside the table is an error naming `what`.
Tensor embedding(const Tensor& ids, const Tensor& table, const char* what);
void embedding_backward(const Tensor& dy, const Tensor& ids, Tensor& dtable);

// A U8 dropout mask for `shape` on `device` (1: kept, 0: dropped with probability p), drawn from `generator`: the
// values a draw of a larger mask gives from its value `first` on (kernels::draw_dropout_keep).
Tensor dropout_keep(const Shape& shape, float p, Generator& generator, Device device, int64_t first = 0);
// x * keep * scale (inverted dropout).
Tensor apply_dropout(const Tensor& x, const Tensor& keep, float scale);

// Multi-head self-attention over q, k, v [B, T, H*Dh] with key_mask I64 [B, T] (1 = attend); keep (U8
// [B, H, T, T], or undefined: no dropout) drops probabilities after the softmax, kept ones times keep_scale.
struct AttentionOutput {
  Tensor attended;  // [B, T, H*Dh]
  Tensor probs;     // [B, H, T, T], before dropout
};
AttentionOutput attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, int64_t heads,
                          const Tensor& keep, float keep_scale, DType precision);
std::array<Tensor, 3> attention_backward(const Tensor& dattended, const Tensor& probs, const Tensor& q, const Tensor& k,
                                         const Tensor& v, int64_t heads, const Tensor& keep, float keep_scale,
                                         DType precision);
// The lengths of the sequences a packed (unpadded) batch's offsets mark (I64 [B+1]: 0, then the end of each
// sequence in its `tokens` rows). graft::Error naming `where` unless they start at 0, rise at every sequence
// (none is empty) and end at `tokens`.
std::vector<int64_t> sequence_lengths(const Tensor& offsets, int64_t tokens, const char* where);
// Self-attention for inference over packed sequences, each attending to its own tokens only: q, k, v
// [N, H*Dh] with the sequences' rows at `offsets` (I64 [B+1]). Returns the attended values [N, H*Dh].
Tensor attention_packed(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& offsets, int64_t heads,
                        DType precision);

// a by value, as activation's x.
Tensor add(Tensor a, const Tensor& b);
void add_inplace(Tensor& y, const Tensor& x);

// hidden[:, 0] of [B, T, D] -> [B, D], and its backward (zeros but at the first tokens).
Tensor first_token(const Tensor& hidden);
Tensor first_token_backward(const Tensor& dfirst, const Shape& hidden_shape);
// The mean over the tokens attention_mask (I64 [B, T]) keeps, [B, T, D] -> [B, D], and its backward.
Tensor mean_pool(const Tensor& hidden, const Tensor& attention_mask);
Tensor mean_pool_backward(const Tensor& dpooled, const Tensor& attention_mask);

// The row-major positions (I64 [M]) of labels (I64) that are not ignore_index.
Tensor labelled_positions(const Tensor& labels, int64_t ignore_index);
// rows[positions] of a [..., C] tensor as [M, C], and its backward: `shape` of zeros with the rows added back.
Tensor gather_rows(const Tensor& values, const Tensor& positions);
Tensor scatter_rows(const Tensor& rows, const Tensor& positions, const Shape& shape);
// values[positions] of I64 values.
Tensor gather(const Tensor& values, const Tensor& positions);

// The losses of kernels.h as an F32 [1] tensor on the logits' device; dlogits (when given) receives the
// gradient of the mean loss. Cross-entropy takes I64 labels (ignore_index rows do not count; any other label
// outside [0, C) is an error) and optional class weights (F32 [C], or undefined).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Tensor* dlogits, const Tensor& class_weights,
                     int64_t ignore_index);
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, Tensor* dlogits);
Tensor mean_squared_error(const Tensor& predictions, const Tensor& targets, Tensor* dpredictions);

// The optimizers' updates of one parameter (buffer: SGD's momentum buffer, null without momentum).
void adamw_update(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, AdamWScalars scalars);
void sgd_update(Tensor& param, const Tensor& grad, Tensor* buffer, SGDScalars scalars);
// The L2 norm of an F32 tensor, returned to the host; values *= factor.
float l2_norm(const Tensor& values);
void scale(Tensor& values, float factor);

}  // namespace graft::ops
