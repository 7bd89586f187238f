#include "graft/ops/ops.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "graft/core/allocator.h"
#include "graft/core/error.h"
#include "graft/core/grad_mode.h"
#include "graft/kernels/backend.h"

namespace graft::ops {
namespace {

// The backend of the device every given (defined) tensor is on; graft::Error naming the op when they differ.
const Backend& backend_of(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* tensor : tensors) {
    if (tensor == nullptr || !tensor->defined() || tensor->numel() == 0) continue;
    if (first == nullptr) {
      first = tensor;
      continue;
    }
    check(tensor->device() == first->device(), "op",
          std::string(op) + ": tensors on " + device_name(first->device()) + " and " + device_name(tensor->device()) +
              " (copy them to one device with Tensor::to)");
  }
  return backend_for(first != nullptr ? first->device() : kCpu);
}

void expect_dtype(const Tensor& tensor, DType dtype, const char* op, const char* name) {
  check(tensor.dtype() == dtype, "op",
        std::string(op) + ": " + name + " must be " + std::string(dtype_name(dtype)) + ", got " +
            std::string(dtype_name(tensor.dtype())));
}

// The device addresses the backends take, after checking the element type (an F16 tensor read as F32 would be
// garbage). Undefined or empty tensors give null.
const void* address(const Tensor& tensor, DType dtype) {
  if (tensor.numel() == 0) return nullptr;
  check(tensor.dtype() == dtype, "op",
        "expected a tensor of " + std::string(dtype_name(dtype)) + ", got " + std::string(dtype_name(tensor.dtype())) +
            " " + shape_string(tensor.shape()));
  return tensor.raw_data();
}
// The writable addresses note the write (Tensor::version), so that caches of derived forms see it.
float* f32(Tensor& tensor) {
  return address(tensor, DType::F32) != nullptr ? static_cast<float*>(tensor.raw_data()) : nullptr;
}
const float* f32(const Tensor& tensor) {
  return static_cast<const float*>(address(tensor, DType::F32));
}
float* f32(Tensor* tensor) {
  return tensor != nullptr ? f32(*tensor) : nullptr;
}
const int64_t* i64(const Tensor& tensor) {
  return static_cast<const int64_t*>(address(tensor, DType::I64));
}
int64_t* i64(Tensor& tensor) {
  return address(tensor, DType::I64) != nullptr ? static_cast<int64_t*>(tensor.raw_data()) : nullptr;
}
const uint8_t* u8(const Tensor& tensor) {
  return static_cast<const uint8_t*>(address(tensor, DType::U8));
}
const int8_t* i8(const Tensor& tensor) {
  return static_cast<const int8_t*>(address(tensor, DType::I8));
}

int64_t rows_of(const Tensor& x) {
  return x.dim(-1) == 0 ? 0 : x.numel() / x.dim(-1);
}

Shape with_last(const Shape& shape, int64_t last) {
  Shape result = shape;
  result.back() = last;
  return result;
}

kernels::AttentionShape attention_shape(const Tensor& q, int64_t heads) {
  check(q.ndim() == 3 && heads > 0 && q.dim(2) % heads == 0, "op",
        "attention: width " + std::to_string(q.dim(-1)) + " is not divisible by " + std::to_string(heads) + " heads");
  return {q.dim(0), q.dim(1), heads, q.dim(2) / heads};
}

kernels::DropoutMask dropout_of(const Tensor& keep, float keep_scale) {
  if (keep.numel() == 0) return {};
  return {u8(keep), keep_scale};
}

// The forms of a weight that products read instead of the weight itself, each made once per version of its
// weight (core/tensor.h): once for inference, once per optimizer step in training. A bf16 copy, which rounding
// the weight in every product made three times a step (forward, and the backward's dinput and dweight); the
// weight packed for the forward product, which the GEMM otherwise packs on every call.
enum class WeightForm { Bf16Copy, PackedF32, PackedBf16, PackedInt8 };

class WeightFormCache {
 public:
  // `make` fills the form's `bytes` bytes from the weight.
  template <typename Make>
  std::shared_ptr<const void> get(const Tensor& weight, WeightForm form, size_t bytes, const Make& make) {
    const uint64_t version = weight.version();
    const std::weak_ptr<const void> identity = weight.storage_identity();
    const std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = entries_[{weight.raw_data(), form}];
    const bool same_storage = !entry.identity.owner_before(identity) && !identity.owner_before(entry.identity);
    if (!same_storage || entry.version != version || entry.copy == nullptr || entry.identity.expired()) {
      std::shared_ptr<void> copy = allocate_storage(bytes, weight.device());
      make(copy.get());
      entry = {identity, version, std::move(copy)};
    }
    std::shared_ptr<const void> copy = entry.copy;
    forget_dead_weights();  // may erase `entry` itself, for a weight without storage of its own
    return copy;
  }

 private:
  struct Entry {
    std::weak_ptr<const void> identity;
    uint64_t version = 0;
    std::shared_ptr<void> copy;
  };

  void forget_dead_weights() {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.identity.expired() ? entries_.erase(it) : std::next(it);
    }
  }

  std::mutex mutex_;
  std::map<std::pair<const void*, WeightForm>, Entry> entries_;  // by the weight's address
};

WeightFormCache& weight_forms() {
  static WeightFormCache cache;
  return cache;
}

// The weight in bf16 for a BF16 product; none for F32 (or an empty weight).
std::shared_ptr<const void> bf16_weight(const Tensor& weight, DType precision, const Backend& backend) {
  if (precision != DType::BF16 || weight.numel() == 0) return nullptr;
  expect_dtype(weight, DType::F32, "linear", "weight");
  return weight_forms().get(weight, WeightForm::Bf16Copy, static_cast<size_t>(weight.numel()) * 2, [&](void* copy) {
    backend.round_to_bf16(static_cast<uint16_t*>(copy), f32(weight), weight.numel());
  });
}

// The weight packed for the forward product at this precision (I8 for an int8 weight), in inference: under
// NoGradGuard, and always for an int8 weight, which is never trained (Linear::quantize_int8). None where the
// backend has no packed form. Not in training: there the weight changes every step, and packing it (a copy as
// large as the weight, made again each step) gained 1% of a step where it gains 10-25% of inference.
std::shared_ptr<const void> packed_weight(const Tensor& weight, DType precision, const Backend& backend) {
  const bool int8 = precision == DType::I8;
  if ((grad_enabled() && !int8) || weight.ndim() != 2) return nullptr;  // the op says what is wrong
  expect_dtype(weight, int8 ? DType::I8 : DType::F32, int8 ? "linear_int8" : "linear", "weight");
  const void* values = weight.raw_data();
  const int64_t bytes = backend.packed_linear_weight_bytes(weight.dim(1), weight.dim(0), precision);
  if (bytes == 0) return nullptr;
  const WeightForm form = int8                       ? WeightForm::PackedInt8
                          : precision == DType::BF16 ? WeightForm::PackedBf16
                                                     : WeightForm::PackedF32;
  return weight_forms().get(weight, form, static_cast<size_t>(bytes), [&](void* packed) {
    backend.pack_linear_weight(packed, values, weight.dim(1), weight.dim(0), precision);
  });
}

// A product's input as the backend reads it: F32 values, or BF16 ones already rounded for a BF16 product.
struct ProductInput {
  const float* values;
  const uint16_t* bf16;
};

ProductInput product_input(const Tensor& x, DType precision, const char* op) {
  if (x.dtype() != DType::BF16) return {f32(x), nullptr};
  check(
      precision == DType::BF16, "op",
      std::string(op) + ": a BF16 input is for a BF16 product, not an " + std::string(dtype_name(precision)) + " one");
  return {nullptr, static_cast<const uint16_t*>(address(x, DType::BF16))};
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, DType precision) {
  const Backend& backend = backend_of("linear", {&x, &weight, &bias});
  Tensor y = Tensor::empty(with_last(x.shape(), weight.dim(0)), DType::F32, x.device());
  const std::shared_ptr<const void> packed = packed_weight(weight, precision, backend);
  const std::shared_ptr<const void> weight_bf16 = packed != nullptr ? nullptr : bf16_weight(weight, precision, backend);
  const ProductInput input = product_input(x, precision, "linear");
  backend.linear_forward(f32(y), input.values, input.bf16, f32(weight), f32(bias), rows_of(x), weight.dim(1),
                         weight.dim(0), precision, static_cast<const uint16_t*>(weight_bf16.get()), packed.get());
  return y;
}

Tensor linear_activation(const Tensor& x, const Tensor& weight, const Tensor& bias, DType precision,
                         Activation activation, DType output) {
  const Backend& backend = backend_of("linear_activation", {&x, &weight, &bias});
  check(output == DType::F32 || (output == DType::BF16 && precision == DType::BF16), "op",
        "linear_activation: the output is F32, or BF16 for a BF16 product, not " + std::string(dtype_name(output)) +
            " after an " + std::string(dtype_name(precision)) + " one");
  check(weight.ndim() == 2, "op", "linear_activation: weight " + shape_string(weight.shape()) + " is not 2-D");
  const std::shared_ptr<const void> packed = packed_weight(weight, precision, backend);
  if (packed != nullptr) {
    Tensor y = Tensor::empty(with_last(x.shape(), weight.dim(0)), output, x.device());
    const ProductInput input = product_input(x, precision, "linear_activation");
    if (backend.linear_activation_with_packed_weight(y.raw_data(), output, activation, input.values, input.bf16,
                                                     packed.get(), f32(bias), rows_of(x), weight.dim(1), weight.dim(0),
                                                     precision)) {
      return y;
    }
  }
  Tensor y = ops::activation(activation, linear(x, weight, bias, precision));
  return output == DType::BF16 ? round_to_bf16(y) : y;
}

Tensor linear_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, Tensor* dweight, Tensor* dbias,
                       DType precision) {
  const Backend& backend = backend_of("linear_backward", {&dy, &x, &weight, dweight, dbias});
  Tensor dx = Tensor::empty(x.shape(), DType::F32, x.device());
  const std::shared_ptr<const void> weight_bf16 = bf16_weight(weight, precision, backend);
  const ProductInput input = product_input(x, precision, "linear_backward");
  backend.linear_backward(f32(dx), f32(dweight), f32(dbias), f32(dy), input.values, input.bf16, f32(weight), rows_of(x),
                          weight.dim(1), weight.dim(0), precision, static_cast<const uint16_t*>(weight_bf16.get()));
  return dx;
}

Tensor round_to_bf16(const Tensor& x) {
  const Backend& backend = backend_of("round_to_bf16", {&x});
  Tensor rounded = Tensor::empty(x.shape(), DType::BF16, x.device());
  if (x.numel() > 0) backend.round_to_bf16(static_cast<uint16_t*>(rounded.raw_data()), f32(x), x.numel());
  return rounded;
}

QuantizedRows quantize_rows_int8(const Tensor& x) {
  const Backend& backend = backend_of("quantize_rows_int8", {&x});
  check(x.ndim() > 0, "op", "quantize_rows_int8: needs a tensor of rows, got a scalar");
  QuantizedRows out{Tensor::empty(x.shape(), DType::I8, x.device()),
                    Tensor::empty(with_last(x.shape(), 1), DType::F32, x.device())};
  if (x.numel() == 0) return out;
  backend.quantize_rows_int8(static_cast<int8_t*>(out.values.raw_data()), f32(out.scales), f32(x), rows_of(x),
                             x.dim(-1));
  return out;
}

Tensor linear_int8(const Tensor& x, const Tensor& weight, const Tensor& weight_scale, const Tensor& bias) {
  const Backend& backend = backend_of("linear_int8", {&x, &weight, &weight_scale, &bias});
  check(weight.ndim() == 2 && weight_scale.shape() == Shape{weight.dim(0), 1} &&
            (bias.numel() == 0 || bias.shape() == Shape{weight.dim(0)}) && x.ndim() > 0 && x.dim(-1) == weight.dim(1),
        "op",
        "linear_int8: x " + shape_string(x.shape()) + ", weight " + shape_string(weight.shape()) + ", weight_scale " +
            shape_string(weight_scale.shape()) + " and bias " + shape_string(bias.shape()) + " do not fit together");
  expect_dtype(weight, DType::I8, "linear_int8", "weight");
  expect_dtype(weight_scale, DType::F32, "linear_int8", "weight_scale");
  Tensor y = Tensor::empty(with_last(x.shape(), weight.dim(0)), DType::F32, x.device());
  const QuantizedRows input = quantize_rows_int8(x);
  const std::shared_ptr<const void> packed = packed_weight(weight, DType::I8, backend);
  backend.linear_forward_int8(f32(y), i8(input.values), f32(input.scales), i8(weight), f32(weight_scale), f32(bias),
                              rows_of(x), weight.dim(1), weight.dim(0), packed.get());
  return y;
}

LayerNormOutput layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  const Backend& backend = backend_of("layer_norm", {&x, &gamma, &beta});
  LayerNormOutput out{Tensor::empty(x.shape(), DType::F32, x.device()),
                      Tensor::empty({rows_of(x)}, DType::F32, x.device()),
                      Tensor::empty({rows_of(x)}, DType::F32, x.device())};
  backend.layer_norm_forward(f32(out.y), f32(out.mean), f32(out.rstd), f32(x), f32(gamma), f32(beta), rows_of(x),
                             gamma.numel(), eps);
  return out;
}

Tensor layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                           const Tensor& gamma, Tensor* dgamma, Tensor* dbeta) {
  const Backend& backend = backend_of("layer_norm_backward", {&dy, &x, &mean, &rstd, &gamma, dgamma, dbeta});
  Tensor dx = Tensor::empty(x.shape(), DType::F32, x.device());
  backend.layer_norm_backward(f32(dx), f32(dgamma), f32(dbeta), f32(dy), f32(x), f32(mean), f32(rstd), f32(gamma),
                              rows_of(x), gamma.numel());
  return dx;
}

// A donated input spares an inference forward of distilbert-base its largest buffer, the FFN's activations
// (50 MB a layer at b32 x 128), which the allocator's cache could not keep for the next layer and the kernel
// faulted in afresh: three quarters of the forward's page faults.
Tensor activation(Activation activation, Tensor x) {
  const Backend& backend = backend_of("activation", {&x});
  Tensor y = x.donatable() ? x : Tensor::empty(x.shape(), DType::F32, x.device());
  backend.activation_forward(activation, f32(y), f32(x), x.numel());
  return y;
}

Tensor activation_backward(Activation activation, const Tensor& dy, const Tensor& saved) {
  const Backend& backend = backend_of("activation_backward", {&dy, &saved});
  Tensor dx = Tensor::empty(dy.shape(), DType::F32, dy.device());
  backend.activation_backward(activation, f32(dx), f32(dy), f32(saved), dy.numel());
  return dx;
}

Tensor embedding(const Tensor& ids, const Tensor& table, const char* what) {
  const Backend& backend = backend_of("embedding", {&ids, &table});
  expect_dtype(ids, DType::I64, "embedding", "ids");
  int64_t bad = 0;
  // Asked before the message is made: the order in which a call's arguments are evaluated is unspecified.
  const bool in_range = backend.indices_in_range(i64(ids), ids.numel(), table.dim(0), nullptr, &bad);
  check(in_range, "op",
        std::string(what) + ": index " + std::to_string(bad) + " out of range for a table of " +
            std::to_string(table.dim(0)) + " rows");
  Shape shape = ids.shape();
  shape.push_back(table.dim(1));
  Tensor y = Tensor::empty(shape, DType::F32, table.device());
  backend.embedding_forward(f32(y), i64(ids), f32(table), ids.numel(), table.dim(1));
  return y;
}

void embedding_backward(const Tensor& dy, const Tensor& ids, Tensor& dtable) {
  const Backend& backend = backend_of("embedding_backward", {&dy, &ids, &dtable});
  backend.embedding_backward(f32(dtable), i64(ids), f32(dy), ids.numel(), dtable.dim(1));
}

Tensor dropout_keep(const Shape& shape, float p, Generator& generator, Device device, int64_t first) {
  check(first >= 0, "dropout", "a mask cannot start at value " + std::to_string(first));
  Tensor keep = Tensor::empty(shape, DType::U8, device);
  backend_for(device).draw_dropout_keep(static_cast<uint8_t*>(keep.raw_data()), first, keep.numel(), p, generator);
  return keep;
}

Tensor apply_dropout(const Tensor& x, const Tensor& keep, float scale) {
  const Backend& backend = backend_of("dropout", {&x, &keep});
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  backend.apply_dropout(f32(y), f32(x), {u8(keep), scale}, x.numel());
  return y;
}

AttentionOutput attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, int64_t heads,
                          const Tensor& keep, float keep_scale, DType precision) {
  const Backend& backend = backend_of("attention", {&q, &k, &v, &key_mask, &keep});
  const kernels::AttentionShape shape = attention_shape(q, heads);
  AttentionOutput out{Tensor::empty(q.shape(), DType::F32, q.device()),
                      Tensor::empty({shape.batch, shape.heads, shape.tokens, shape.tokens}, DType::F32, q.device())};
  const float scale = 1.0F / std::sqrt(static_cast<float>(shape.head_dim));
  backend.attention_forward(f32(out.attended), f32(out.probs), f32(q), f32(k), f32(v), i64(key_mask),
                            dropout_of(keep, keep_scale), shape, scale, precision);
  return out;
}

std::array<Tensor, 3> attention_backward(const Tensor& dattended, const Tensor& probs, const Tensor& q, const Tensor& k,
                                         const Tensor& v, int64_t heads, const Tensor& keep, float keep_scale,
                                         DType precision) {
  const Backend& backend = backend_of("attention_backward", {&dattended, &probs, &q, &k, &v, &keep});
  const kernels::AttentionShape shape = attention_shape(q, heads);
  std::array<Tensor, 3> grads{Tensor::empty(q.shape(), DType::F32, q.device()),
                              Tensor::empty(k.shape(), DType::F32, q.device()),
                              Tensor::empty(v.shape(), DType::F32, q.device())};
  const float scale = 1.0F / std::sqrt(static_cast<float>(shape.head_dim));
  backend.attention_backward(f32(grads[0]), f32(grads[1]), f32(grads[2]), f32(dattended), f32(probs), f32(q), f32(k),
                             f32(v), dropout_of(keep, keep_scale), shape, scale, precision);
  return grads;
}

std::vector<int64_t> sequence_lengths(const Tensor& offsets, int64_t tokens, const char* where) {
  check(offsets.ndim() == 1 && offsets.dim(0) >= 2 && offsets.dtype() == DType::I64, where,
        "sequence_offsets must be I64 [B+1] with B >= 1, got " + std::string(dtype_name(offsets.dtype())) + " " +
            shape_string(offsets.shape()));
  const Tensor host = offsets.to(kCpu);
  const int64_t* ends = host.data<int64_t>();  // host-only: a copy on the CPU
  check(ends[0] == 0, where, "sequence_offsets must start at 0, got " + std::to_string(ends[0]));
  std::vector<int64_t> lengths;
  for (int64_t b = 1; b < host.numel(); ++b) {
    check(ends[b] >= ends[b - 1], where,
          "sequence_offsets fall from " + std::to_string(ends[b - 1]) + " to " + std::to_string(ends[b]) +
              " at sequence " + std::to_string(b - 1));
    // An empty sequence has no first token for a head to read.
    check(ends[b] > ends[b - 1], where,
          "sequence " + std::to_string(b - 1) + " is empty (sequence_offsets repeat " + std::to_string(ends[b]) + ")");
    lengths.push_back(ends[b] - ends[b - 1]);
  }
  check(ends[host.numel() - 1] == tokens, where,
        "sequence_offsets end at " + std::to_string(ends[host.numel() - 1]) + " but the batch has " +
            std::to_string(tokens) + " tokens");
  return lengths;
}

Tensor attention_packed(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& offsets, int64_t heads,
                        DType precision) {
  const Backend& backend = backend_of("attention", {&q, &k, &v, &offsets});
  check(q.ndim() == 2 && k.shape() == q.shape() && v.shape() == q.shape() && heads > 0 && q.dim(1) % heads == 0, "op",
        "packed attention needs q, k, v of one shape [N, H*Dh] with a width divisible by " + std::to_string(heads) +
            " heads, got " + shape_string(q.shape()) + ", " + shape_string(k.shape()) + ", " + shape_string(v.shape()));
  const std::vector<int64_t> lengths = sequence_lengths(offsets, q.dim(0), "attention");
  const kernels::AttentionShape shape{static_cast<int64_t>(lengths.size()),
                                      *std::max_element(lengths.begin(), lengths.end()), heads, q.dim(1) / heads};
  Tensor attended = Tensor::empty(q.shape(), DType::F32, q.device());
  const float scale = 1.0F / std::sqrt(static_cast<float>(shape.head_dim));
  backend.attention_forward_packed(f32(attended), f32(q), f32(k), f32(v), i64(offsets), shape, scale, precision);
  return attended;
}

Tensor add(Tensor a, const Tensor& b) {
  check(a.shape() == b.shape(), "op",
        "add: shapes " + shape_string(a.shape()) + " and " + shape_string(b.shape()) + " differ");
  Tensor sum = a.donatable() ? a : a.clone();
  add_inplace(sum, b);
  return sum;
}

void add_inplace(Tensor& y, const Tensor& x) {
  const Backend& backend = backend_of("add", {&y, &x});
  check(y.numel() == x.numel(), "op",
        "add: shapes " + shape_string(y.shape()) + " and " + shape_string(x.shape()) + " differ");
  backend.add_inplace(f32(y), f32(x), y.numel());
}

Tensor first_token(const Tensor& hidden) {
  const Backend& backend = backend_of("first_token", {&hidden});
  const int64_t width = hidden.dim(2);
  Tensor first = Tensor::empty({hidden.dim(0), width}, DType::F32, hidden.device());
  backend.copy_rows(f32(first), width, f32(hidden), hidden.dim(1) * width, hidden.dim(0), width);
  return first;
}

Tensor first_token_backward(const Tensor& dfirst, const Shape& hidden_shape) {
  const Backend& backend = backend_of("first_token_backward", {&dfirst});
  Tensor dhidden = Tensor::zeros(hidden_shape, DType::F32, dfirst.device());
  const int64_t width = hidden_shape[2];
  backend.copy_rows(f32(dhidden), hidden_shape[1] * width, f32(dfirst), width, hidden_shape[0], width);
  return dhidden;
}

namespace {

void check_mask(const Shape& hidden_shape, const Tensor& attention_mask) {
  check(hidden_shape.size() == 3 && attention_mask.ndim() == 2 && attention_mask.dtype() == DType::I64 &&
            attention_mask.dim(0) == hidden_shape[0] && attention_mask.dim(1) == hidden_shape[1],
        "op",
        "mean_pool: hidden " + shape_string(hidden_shape) + " and attention mask " +
            shape_string(attention_mask.shape()) + " do not fit ([B, T, D] and I64 [B, T])");
}

}  // namespace

Tensor mean_pool(const Tensor& hidden, const Tensor& attention_mask) {
  check_mask(hidden.shape(), attention_mask);
  const Backend& backend = backend_of("mean_pool", {&hidden, &attention_mask});
  Tensor pooled = Tensor::empty({hidden.dim(0), hidden.dim(2)}, DType::F32, hidden.device());
  backend.mean_pool_forward(f32(pooled), f32(hidden), i64(attention_mask), hidden.dim(0), hidden.dim(1), hidden.dim(2));
  return pooled;
}

Tensor mean_pool_backward(const Tensor& dpooled, const Tensor& attention_mask) {
  const Shape shape = {attention_mask.dim(0), attention_mask.dim(1), dpooled.dim(1)};
  check_mask(shape, attention_mask);
  const Backend& backend = backend_of("mean_pool_backward", {&dpooled, &attention_mask});
  Tensor dhidden = Tensor::empty(shape, DType::F32, dpooled.device());
  backend.mean_pool_backward(f32(dhidden), f32(dpooled), i64(attention_mask), shape[0], shape[1], shape[2]);
  return dhidden;
}

Tensor labelled_positions(const Tensor& labels, int64_t ignore_index) {
  const Backend& backend = backend_of("labelled_positions", {&labels});
  expect_dtype(labels, DType::I64, "labelled_positions", "labels");
  Tensor positions = Tensor::empty({labels.numel()}, DType::I64, labels.device());
  const int64_t found = backend.labelled_positions(i64(positions), i64(labels), labels.numel(), ignore_index);
  return positions.slice_rows(0, found);
}

Tensor gather_rows(const Tensor& values, const Tensor& positions) {
  const Backend& backend = backend_of("gather_rows", {&values, &positions});
  const int64_t channels = values.dim(-1);
  Tensor rows = Tensor::empty({positions.numel(), channels}, DType::F32, values.device());
  backend.embedding_forward(f32(rows), i64(positions), f32(values), positions.numel(), channels);
  return rows;
}

Tensor scatter_rows(const Tensor& rows, const Tensor& positions, const Shape& shape) {
  const Backend& backend = backend_of("scatter_rows", {&rows, &positions});
  Tensor out = Tensor::zeros(shape, DType::F32, rows.device());
  backend.embedding_backward(f32(out), i64(positions), f32(rows), positions.numel(), shape.back());
  return out;
}

Tensor gather(const Tensor& values, const Tensor& positions) {
  const Backend& backend = backend_of("gather", {&values, &positions});
  expect_dtype(values, DType::I64, "gather", "values");
  Tensor out = Tensor::empty({positions.numel()}, DType::I64, values.device());
  backend.gather_indices(i64(out), i64(values), i64(positions), positions.numel());
  return out;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Tensor* dlogits, const Tensor& class_weights,
                     int64_t ignore_index) {
  const Backend& backend = backend_of("cross_entropy", {&logits, &labels, dlogits, &class_weights});
  expect_dtype(labels, DType::I64, "cross_entropy", "labels");
  const int64_t classes = logits.dim(-1);
  const int64_t rows = logits.numel() / classes;
  int64_t bad = 0;
  const bool in_range = backend.indices_in_range(i64(labels), rows, classes, &ignore_index, &bad);
  check(in_range, "op",
        "cross_entropy: label " + std::to_string(bad) + " is outside [0, " + std::to_string(classes) + ")");
  const float loss = backend.cross_entropy(f32(logits), i64(labels), f32(dlogits), rows, classes, ignore_index,
                                           f32(class_weights), 1.0F);
  return Tensor::full({1}, loss, logits.device());
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, Tensor* dlogits) {
  const Backend& backend = backend_of("binary_cross_entropy_with_logits", {&logits, &targets, dlogits});
  const float loss =
      backend.binary_cross_entropy_with_logits(f32(logits), f32(targets), f32(dlogits), logits.numel(), 1.0F);
  return Tensor::full({1}, loss, logits.device());
}

Tensor mean_squared_error(const Tensor& predictions, const Tensor& targets, Tensor* dpredictions) {
  const Backend& backend = backend_of("mean_squared_error", {&predictions, &targets, dpredictions});
  const float loss =
      backend.mean_squared_error(f32(predictions), f32(targets), f32(dpredictions), predictions.numel(), 1.0F);
  return Tensor::full({1}, loss, predictions.device());
}

void adamw_update(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, AdamWScalars scalars) {
  const Backend& backend = backend_of("adamw_update", {&param, &grad, &exp_avg, &exp_avg_sq});
  backend.adamw_update(f32(param), f32(grad), f32(exp_avg), f32(exp_avg_sq), param.numel(), scalars);
}

void sgd_update(Tensor& param, const Tensor& grad, Tensor* buffer, SGDScalars scalars) {
  const Backend& backend = backend_of("sgd_update", {&param, &grad, buffer});
  backend.sgd_update(f32(param), f32(grad), f32(buffer), param.numel(), scalars);
}

float l2_norm(const Tensor& values) {
  return backend_of("l2_norm", {&values}).l2_norm(f32(values), values.numel());
}

void scale(Tensor& values, float factor) {
  backend_of("scale", {&values}).scale_inplace(f32(values), factor, values.numel());
}

}  // namespace graft::ops
