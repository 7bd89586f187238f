#pragma once
// The compute interface every backend implements: plain functions over contiguous fp32 buffers, each
// forward next to its backward, with the activations that backward needs passed explicitly (llm.c
// style). Shapes are in the comments, row-major, torch's names in brackets.
//
// Backward functions ACCUMULATE into parameter gradients (dweight += ...), as autograd does, and
// OVERWRITE input gradients (dinput = ...), unless the name says otherwise.
//
// The matrix products take the precision they multiply in: F32, or BF16 (operands rounded to bf16, sums in
// fp32; core/autocast.h says who chooses it).
#include <cstdint>
#include <string>

#include "graft/core/dtype.h"
#include "graft/core/kernel_types.h"
#include "graft/core/random.h"

namespace graft::kernels {

// Where the kernels run and with which instructions, for reports and failure messages: "CPU: <model>
// (<instruction sets>); graft kernels: avx512; oneDNN 2.6.3: avx512_core_amx".
std::string describe_backend();

// C[M,N] = alpha * op(A) * op(B) + beta * C (+ row_bias[N] on every row, when given; alpha must be 1 then),
// op = transpose when the flag is set. Row-major. b_bf16 (a_bf16), when given, is B's (A's) stored matrix
// already rounded to bf16 and packed (leading dimension: its columns), which a BF16 product multiplies by instead
// of rounding B (A) again.
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, DType precision,
          const float* row_bias = nullptr, const uint16_t* b_bf16 = nullptr, const uint16_t* a_bf16 = nullptr);

// out[N,O] = in[N,I] * weight[O,I]^T + bias[O]   [nn.Linear]
// in_bf16 (may be null; only for BF16 products): the input already rounded to bf16 (round_to_bf16), which the
// product reads instead of rounding `in` (which may then be null). weight_bf16 (may be null): the weight rounded
// to bf16, for BF16 products. packed_weight (may be null): the weight packed for this precision
// (pack_linear_weight), which the product reads instead of it.
void linear_forward(float* out, const float* in, const uint16_t* in_bf16, const float* weight, const float* bias,
                    int64_t rows, int64_t in_features, int64_t out_features, DType precision,
                    const uint16_t* weight_bf16, const void* packed_weight);

// A weight [out_features, in_features] in the layout that the GEMM of in * weight^T reads fastest on this CPU
// (rounded to bf16 for BF16 products), for linear_forward (precision F32 or BF16, an F32 weight) and
// linear_forward_int8 (precision I8, an I8 weight): made once per version of the weight instead of on every
// call. The packed form's size in bytes, 0 where there is none (the GEMM reads the stored layout, or small fp32
// weights: sgemm's). The product gives the numbers of the one on the stored weight, bit for bit.
int64_t packed_linear_weight_bytes(int64_t in_features, int64_t out_features, DType precision);
void pack_linear_weight(void* packed, const void* weight, int64_t in_features, int64_t out_features, DType precision);
// linear_forward with a packed weight; false (nothing written) where the product cannot read it.
bool linear_with_packed_weight(float* out, const float* in, const uint16_t* in_bf16, const void* packed_weight,
                               const float* bias, int64_t rows, int64_t in_features, int64_t out_features,
                               DType precision);
// activation(in * weight^T + bias) with a packed weight, the activation applied in the product's epilogue and
// the result written as `output`: F32, or BF16 (rounded to nearest even) for a BF16 product to read next. No pass
// over the activations follows the product: at b32 x 128 that pass wrote and read 50 MB, and rounding them for the
// next product read 50 more, in every distilbert-base layer. For inference: the activation's backward reads the
// product, which is not kept. False (nothing written) where the product cannot read the packed weight. The
// numbers are linear_forward's and activation_forward's up to the activation's rounding where oneDNN computes it
// (AVX-512), exactly theirs where graft's panel product does (AVX2: activation_forward on each thread's columns).
bool linear_activation_with_packed_weight(void* out, DType output, Activation activation, const float* in,
                                          const uint16_t* in_bf16, const void* packed_weight, const float* bias,
                                          int64_t rows, int64_t in_features, int64_t out_features, DType precision);
// dinput may be null (nothing below needs it); dweight/dbias may be null (frozen). in/in_bf16 as for
// linear_forward.
void linear_backward(float* dinput, float* dweight, float* dbias, const float* dout, const float* in,
                     const uint16_t* in_bf16, const float* weight, int64_t rows, int64_t in_features,
                     int64_t out_features, DType precision, const uint16_t* weight_bf16);

// Dynamic int8 quantisation, symmetric (zero point 0) per row: scales[r] = max |in[r, :]| / 127, out[r, c] =
// in[r, c] * (127 / max |in[r, :]|) rounded to nearest even (within [-127, 127]). A row of zeros (or of values
// below 127 / FLT_MAX) has scale 0; a row with a NaN or infinity has scale NaN and zeros, so that what is
// computed from it is NaN, as in fp32.
// [compressed-tensors' int8 "channel" weights and "token" activations]
void quantize_rows_int8(int8_t* out, float* scales, const float* in, int64_t rows, int64_t columns);

// C[M,N] = A[M,K] B[N,K]^T in int32 (row-major, packed): exact with VNNI or AMX, and on other CPUs while the
// sums stay below 2^24 in magnitude (gemm.cpp says why). packed_b (may be null): B packed by
// pack_linear_weight(..., I8), which the product reads instead of b where it can.
void gemm_int8(int64_t m, int64_t n, int64_t k, const int8_t* a, const int8_t* b, int32_t* c,
               const void* packed_b = nullptr);
// Whether this CPU (as ONEDNN_MAX_CPU_ISA leaves it) multiplies int8 itself: gemm_int8 exact at every size.
bool cpu_multiplies_int8();

// out[N,O] = (in[N,I] * weight[O,I]^T) * in_scales[N] * weight_scales[O] + bias[O], the sums exact in int32:
// the input quantised per row as it comes, the weight per output channel beforehand (quantize_rows_int8)
// [W8A8 dynamic]. packed_weight (may be null): the weight packed by pack_linear_weight(..., I8).
void linear_forward_int8(float* out, const int8_t* in, const float* in_scales, const int8_t* weight,
                         const float* weight_scales, const float* bias, int64_t rows, int64_t in_features,
                         int64_t out_features, const void* packed_weight);

// out[i] = in[i] rounded to bf16, to nearest even (NaN stays NaN)   [tensor.to(torch.bfloat16)]
void round_to_bf16(uint16_t* out, const float* in, int64_t count);

// out[N,C] = (in - mean) * rstd * gamma + beta; saves mean[N], rstd[N]   [nn.LayerNorm]
void layer_norm_forward(float* out, float* mean, float* rstd, const float* in, const float* gamma, const float* beta,
                        int64_t rows, int64_t channels, float eps);
void layer_norm_backward(float* dinput, float* dgamma, float* dbeta, const float* dout, const float* in,
                         const float* mean, const float* rstd, const float* gamma, int64_t rows, int64_t channels);

// out = act(in), elementwise. For Tanh, backward uses the output; for the others, the input.
void activation_forward(Activation activation, float* out, const float* in, int64_t count);
// dinput = dout * act'(...) where `saved` is the input (Gelu, Relu) or the output (Tanh).
void activation_backward(Activation activation, float* dinput, const float* dout, const float* saved, int64_t count);

// out[N,C] = table[ids[N], C]   [nn.Embedding]
void embedding_forward(float* out, const int64_t* ids, const float* table, int64_t rows, int64_t channels);
// dtable[ids[n]] += dout[n]
void embedding_backward(float* dtable, const int64_t* ids, const float* dout, int64_t rows, int64_t channels);

// Multi-head scaled dot-product self-attention over a padded batch. q, k, v, context: [B,T,H*Dh], the
// head h in columns [h*Dh, (h+1)*Dh). key_mask[B,T]: 1 = attend, 0 = padding (never attended).
// probs[B,H,T,T] are the softmax probabilities after the mask (before dropout); dropout.keep[B,H,T,T] (may
// be null: no dropout) is 1 where a probability is kept, 0 where it is dropped.
struct DropoutMask {
  const uint8_t* keep = nullptr;
  float scale = 1.0F;  // 1 / (1 - p), for the kept values
};
struct AttentionShape {
  int64_t batch, tokens, heads, head_dim;
  int64_t width() const { return heads * head_dim; }
};
void attention_forward(float* context, float* probs, const float* q, const float* k, const float* v,
                       const int64_t* key_mask, DropoutMask dropout, AttentionShape shape, float scale,
                       DType precision);
void attention_backward(float* dq, float* dk, float* dv, const float* dcontext, const float* probs, const float* q,
                        const float* k, const float* v, DropoutMask dropout, AttentionShape shape, float scale,
                        DType precision);
// The same attention over packed (unpadded) sequences, for inference: q, k, v, context [N,H*Dh] hold the tokens
// of shape.batch sequences one after another, sequence b in rows [offsets[b], offsets[b+1]), and each sequence
// attends to its own tokens only, so no padding is computed. shape.tokens is the longest sequence. Neither
// probabilities nor dropout.
void attention_forward_packed(float* context, const float* q, const float* k, const float* v, const int64_t* offsets,
                              AttentionShape shape, float scale, DType precision);

// Softmax cross-entropy over logits[N,C]; rows whose label is ignore_index do not count.
// Returns the mean loss over counted rows (0 when none); dlogits (may be null) gets d(mean)/dlogits * scale.
float cross_entropy(const float* logits, const int64_t* labels, float* dlogits, int64_t rows, int64_t classes,
                    int64_t ignore_index = -100, const float* class_weights = nullptr, float scale = 1.0F);
// Mean binary cross-entropy with logits over N*C values   [BCEWithLogitsLoss]
float binary_cross_entropy_with_logits(const float* logits, const float* targets, float* dlogits, int64_t count,
                                       float scale = 1.0F);
// Mean squared error   [MSELoss]
float mean_squared_error(const float* predictions, const float* targets, float* dpredictions, int64_t count,
                         float scale = 1.0F);

// Row-wise softmax of in[N,C] into out (may alias in).
void softmax_rows(float* out, const float* in, int64_t rows, int64_t columns);

// y += x, elementwise.
void add_inplace(float* y, const float* x, int64_t count);

// out = in * keep * scale, elementwise (out may alias in): inverted dropout with a drawn mask.
void apply_dropout(float* out, const float* in, DropoutMask dropout, int64_t count);

// The primitives that training and the models need besides the layers' kernels.

// keep[count]: 0 with probability p, else 1, drawn in fixed chunks so that the mask does not depend on the
// thread count (core/random.h: parallel_fill); the values [first, first + count) of the call's draw, so that a part
// of a mask (a rank's rows) is drawn alone.
void draw_dropout_keep(uint8_t* keep, int64_t first, int64_t count, float p, Generator& generator);

// out[r * out_stride + c] = in[r * in_stride + c] for r < rows, c < width: [CLS] rows out of [B, T, D] and back.
void copy_rows(float* out, int64_t out_stride, const float* in, int64_t in_stride, int64_t rows, int64_t width);

// pooled[B, D] = the mean of hidden[b, t] over the t with mask[b, t] != 0 (zeros for a row with none), and its
// backward: dhidden[b, t] = dpooled[b] / (kept tokens) where the mask keeps t, 0 elsewhere.
void mean_pool_forward(float* pooled, const float* hidden, const int64_t* mask, int64_t batch, int64_t tokens,
                       int64_t width);
void mean_pool_backward(float* dhidden, const float* dpooled, const int64_t* mask, int64_t batch, int64_t tokens,
                        int64_t width);

// False, with the first offending value in *bad, when an id is outside [0, limit); ids equal to *skip (when skip
// is given: an ignore index) are allowed.
bool indices_in_range(const int64_t* ids, int64_t count, int64_t limit, const int64_t* skip, int64_t* bad);
// The indices i < count with labels[i] != ignore_index, in order, into positions (room for count); returns how
// many there are.
int64_t labelled_positions(int64_t* positions, const int64_t* labels, int64_t count, int64_t ignore_index);
// out[i] = values[positions[i]]
void gather_indices(int64_t* out, const int64_t* values, const int64_t* positions, int64_t count);

// torch.optim.AdamW's and SGD's updates of one tensor, bit for bit (optimizer_updates.cpp); buffer is the
// momentum buffer, null without momentum.
void adamw_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t count,
                  AdamWScalars scalars);
void sgd_update(float* param, const float* grad, float* buffer, int64_t count, SGDScalars scalars);

// The L2 norm of values[count], summed in double in fixed chunks (independent of the thread count) and rounded to
// fp32, as torch's fp32 norm; values *= factor.
float l2_norm(const float* values, int64_t count);
void scale_inplace(float* values, float factor, int64_t count);

}  // namespace graft::kernels
