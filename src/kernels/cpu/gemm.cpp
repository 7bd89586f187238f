// GEMM through oneDNN: its matmul primitive, each shape's primitive created once and kept (MatmulCache, as
// creating one costs tens of microseconds), and its sgemm. In fp32 each wins somewhere (distilbert-base's
// shapes, a 2-core Xeon with AVX-512): the primitive on a layer's x W^T at up to 256 rows, 1.2-2x sgemm (which
// packs the weight on every call); sgemm everywhere else, where the primitive ran dy W at a third to a half of
// sgemm's rate and dy^T x at 4096 rows at 0.5-0.9x. bf16 products are the primitive's (AMX, AVX512-BF16).
// The primitive's scratch memory is graft's, one buffer per thread.
//
// BF16 is torch's bf16 matmul: the operands are rounded to bf16 (to nearest even) and the products summed in
// fp32. Where the CPU multiplies bf16 itself (AVX512-BF16, AMX) oneDNN's bf16 matmul does it at the bf16 rate;
// elsewhere the rounded operands go through the fp32 product, which gives the same numbers up to the order of
// the sums: bf16 x bf16 products are exact in fp32.
//
// int8 products (gemm_int8) are oneDNN's s8 x s8 -> s32 matmul where the CPU multiplies int8 itself (VNNI,
// AMX): exact sums. Without VNNI oneDNN adds pairs of products in 16 bits, which saturate (its documented
// "intermediate saturation": logits off by 4.7 on a test model), so there the int8 values go through the fp32
// GEMM, exact while the sums stay below 2^24 and within fp32 rounding of them beyond: the same numbers, at fp32
// speed.
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>

#include "graft/core/allocator.h"
#include "graft/core/autocast.h"
#include "graft/core/dtype.h"
#include "graft/core/error.h"
#include "graft/core/parallel.h"
#include "graft/kernels/kernels.h"
#include "kernels/cpu/panel_gemm.h"
#include "kernels/cpu/scratch.h"

namespace graft::kernels {

bool cpu_multiplies_int8() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}

namespace {

using dnnl::memory;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A product's shape, layout and constants: what its primitive is made for.
struct MatmulKey {
  bool transpose_a, transpose_b;
  int64_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
  bool biased;
  memory::data_type operands;
  int threads;    // a primitive divides its work by the threads it was made for: 1 inside a parallel region
  bool packed_b;  // B is a weight packed by pack_linear_weight, in the layout the primitive chose
  dnnl::algorithm activation;  // applied to the product plus bias (undef: none)
  memory::data_type output;    // of C: f32, s32 for int8 operands, or bf16 after an activation
  bool operator==(const MatmulKey&) const = default;
};

struct MatmulKeyHash {
  size_t operator()(const MatmulKey& key) const {
    size_t seed = 0;
    const auto mix = [&seed](auto value) {
      seed ^= std::hash<decltype(value)>{}(value) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    };
    mix(key.transpose_a), mix(key.transpose_b), mix(key.m), mix(key.n), mix(key.k), mix(key.lda), mix(key.ldb);
    mix(key.ldc), mix(key.alpha), mix(key.beta), mix(key.biased), mix(static_cast<int>(key.operands));
    mix(key.threads), mix(key.packed_b);
    mix(static_cast<int>(key.activation)), mix(static_cast<int>(key.output));
    return seed;
  }
};

struct Matmul {
  dnnl::matmul primitive;
  memory::desc a, b, c, bias, scratch;
};

// Transposes become strides: op(A)[i, j] is A[j, i].
std::shared_ptr<const Matmul> make_matmul(const MatmulKey& key) {
  const memory::desc a({key.m, key.k}, key.operands,
                       key.transpose_a ? memory::dims{1, key.lda} : memory::dims{key.lda, 1});
  const memory::desc b = key.packed_b
                             ? memory::desc({key.k, key.n}, key.operands, memory::format_tag::any)
                             : memory::desc({key.k, key.n}, key.operands,
                                            key.transpose_b ? memory::dims{1, key.ldb} : memory::dims{key.ldb, 1});
  const memory::desc c({key.m, key.n}, key.output, memory::dims{key.ldc, 1});
  const memory::desc bias =
      key.biased ? memory::desc({1, key.n}, memory::data_type::f32, memory::dims{key.n, 1}) : memory::desc();
  dnnl::primitive_attr attributes;
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (key.alpha != 1.0F) attributes.set_output_scales(0, {key.alpha});
  dnnl::post_ops after_product;
  if (key.beta != 0.0F) after_product.append_sum(key.beta);
  if (key.activation != dnnl::algorithm::undef) after_product.append_eltwise(1.0F, key.activation, 0.0F, 0.0F);
  attributes.set_post_ops(after_product);
  try {
    const dnnl::matmul::primitive_desc description(dnnl::matmul::desc(a, b, bias, c), attributes, cpu_engine());
    return std::make_shared<const Matmul>(
        Matmul{dnnl::matmul(description), a, description.weights_desc(), c, bias, description.scratchpad_desc()});
  } catch (const dnnl::error&) {
    return nullptr;  // no implementation for this shape and type: the caller falls back
  }
}

// The primitives made so far, the least recently used dropped beyond kCapacity (training with dynamic padding
// meets many row counts). Shared by all threads: a primitive may execute on several threads at once.
class MatmulCache {
 public:
  std::shared_ptr<const Matmul> get(const MatmulKey& key) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      const auto found = index_.find(key);
      if (found != index_.end()) {
        order_.splice(order_.begin(), order_, found->second);
        return found->second->second;
      }
    }
    std::shared_ptr<const Matmul> made = make_matmul(key);  // outside the lock: JIT compilation takes a while
    const std::lock_guard<std::mutex> lock(mutex_);
    if (index_.find(key) == index_.end()) {
      order_.emplace_front(key, made);
      index_.emplace(key, order_.begin());
      if (order_.size() > kCapacity) {
        index_.erase(order_.back().first);
        order_.pop_back();
      }
    }
    return made;
  }

 private:
  static constexpr size_t kCapacity = 2048;
  using Entry = std::pair<MatmulKey, std::shared_ptr<const Matmul>>;
  std::mutex mutex_;
  std::list<Entry> order_;
  std::unordered_map<MatmulKey, std::list<Entry>::iterator, MatmulKeyHash> index_;
};

// Never destroyed: its primitives would outlive the engine, a static made after it.
MatmulCache& matmul_cache() {
  static auto* cache = new MatmulCache;
  return *cache;
}

// This thread's scratch memory for oneDNN, grown to the largest product it has run.
void* thread_scratch(size_t bytes) {
  struct Scratch {
    void* data = nullptr;
    size_t bytes = 0;
    ~Scratch() { std::free(data); }
  };
  thread_local Scratch scratch;
  if (bytes > scratch.bytes) {
    std::free(scratch.data);
    scratch.data = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    check(scratch.data != nullptr, "gemm", "out of memory allocating " + std::to_string(bytes) + " scratch bytes");
    scratch.bytes = bytes;
  }
  return scratch.data;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

const memory::desc& packed_weight_layout(int64_t in_features, int64_t out_features, memory::data_type operands);

// False when oneDNN has no matmul for the layout, or the product is empty (k = 0: C = beta C, which sgemm does),
// or B is packed in a layout other than the one this primitive reads.
bool run_matmul(const MatmulKey& key, const void* a, const void* b, const float* bias, void* c) {
  if (key.k == 0) return false;
  const std::shared_ptr<const Matmul> matmul = matmul_cache().get(key);
  if (matmul == nullptr) return false;
  if (key.packed_b && matmul->b != packed_weight_layout(key.k, key.n, key.operands)) return false;
  const dnnl::engine& engine = cpu_engine();
  dnnl::stream& stream = thread_stream();
  std::unordered_map<int, memory> arguments = {{DNNL_ARG_SRC, memory(matmul->a, engine, const_cast<void*>(a))},
                                               {DNNL_ARG_WEIGHTS, memory(matmul->b, engine, const_cast<void*>(b))},
                                               {DNNL_ARG_DST, memory(matmul->c, engine, c)}};
  if (bias != nullptr) arguments.emplace(DNNL_ARG_BIAS, memory(matmul->bias, engine, const_cast<float*>(bias)));
  const size_t scratch_bytes = matmul->scratch.get_size();
  if (scratch_bytes > 0) {
    arguments.emplace(DNNL_ARG_SCRATCHPAD, memory(matmul->scratch, engine, thread_scratch(scratch_bytes)));
  }
  matmul->primitive.execute(stream, arguments);
  stream.wait();
  return true;
}

// With a bias, C starts from it and the product is added (beta = 1): one pass less than adding it after.
void sgemm(const MatmulKey& key, const float* a, const float* b, const float* bias, float* c) {
  float beta = key.beta;
  if (bias != nullptr) {  // gemm() checked that beta is 0
    parallel_for(0, key.m, 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) std::copy(bias, bias + key.n, c + i * key.ldc);
    });
    beta = 1.0F;
  }
  const dnnl_status_t status = dnnl_sgemm(key.transpose_a ? 'T' : 'N', key.transpose_b ? 'T' : 'N', key.m, key.n, key.k,
                                          key.alpha, a, key.lda, b, key.ldb, beta, c, key.ldc);
  check(status == dnnl_success, "gemm", "oneDNN sgemm failed with status " + std::to_string(status));
}

constexpr int64_t kMostRowsForThePrimitive = 256;
constexpr int64_t kLeastWeightForThePrimitive = 65536;

// x W^T of a layer (B a weight-sized matrix, read transposed) over few rows: where the primitive is faster.
bool primitive_wins_in_fp32(const MatmulKey& key) {
  return !key.transpose_a && key.transpose_b && key.m <= kMostRowsForThePrimitive &&
         key.n * key.k >= kLeastWeightForThePrimitive;
}

// Where oneDNN has no pre-packed fp32 layout for the weight (AVX2), graft's panel product (panel_gemm.h) takes
// the primitive's place: a 32-row product of distilbert-base ran at 1.2-1.6x oneDNN's there.
bool fp32_weight_in_panels(int64_t in_features, int64_t out_features) {
  return packed_weight_layout(in_features, out_features, memory::data_type::f32).get_size() == 0;
}

bool panels_take_the_product(const MatmulKey& key) {
  return primitive_wins_in_fp32(key) && key.alpha == 1.0F && key.beta == 0.0F && fp32_weight_in_panels(key.k, key.n);
}

// The stored weight packed on the fly: inference's product of the packed weight gives the same numbers.
void panel_product_of_stored_weight(const MatmulKey& key, const float* a, const float* b, const float* bias, float* c) {
  const ScratchBuffer panels(panel_floats(key.k, key.n), sizeof(float), ScratchFill::Uninitialized);
  pack_panels(static_cast<float*>(panels.data), b, key.ldb, key.k, key.n);
  panel_product(c, key.ldc, a, key.lda, static_cast<const float*>(panels.data), bias, key.m, key.k, key.n);
}

void fp32_gemm(const MatmulKey& key, const float* a, const float* b, const float* bias, float* c) {
  if (panels_take_the_product(key)) {
    panel_product_of_stored_weight(key, a, b, bias, c);
  } else if (!primitive_wins_in_fp32(key) || !run_matmul(key, a, b, bias, c)) {
    sgemm(key, a, b, bias, c);
  }
}

// A stored [rows, columns] matrix with leading dimension `ld`, as the GEMM reads it.
struct Operand {
  const float* data;
  int64_t rows, columns, ld;
};

Operand stored_operand(const float* data, bool transposed, int64_t op_rows, int64_t op_columns, int64_t ld) {
  return transposed ? Operand{data, op_columns, op_rows, ld} : Operand{data, op_rows, op_columns, ld};
}

// The operand packed (leading dimension = columns), each value rounded to bf16 by `round`.
template <typename Element, typename Round>
std::shared_ptr<void> rounded_copy(const Operand& operand, Round round) {
  std::shared_ptr<void> storage =
      allocate_storage(static_cast<size_t>(operand.rows * operand.columns) * sizeof(Element));
  auto* packed = static_cast<Element*>(storage.get());
  parallel_for(0, operand.rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = operand.data + r * operand.ld;
      Element* out = packed + r * operand.columns;
      for (int64_t c = 0; c < operand.columns; ++c) out[c] = round(row[c]);
    }
  });
  return storage;
}

// A packed bf16 matrix widened to fp32: the values that rounding its fp32 source gives, exactly.
std::shared_ptr<void> widened_copy(const uint16_t* values, int64_t count) {
  std::shared_ptr<void> storage = allocate_storage(static_cast<size_t>(count) * sizeof(float));
  auto* widened = static_cast<float*>(storage.get());
  parallel_for(0, count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) widened[i] = bfloat16_to_float(values[i]);
  });
  return storage;
}

bool cpu_multiplies_bf16() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

void bf16_gemm(MatmulKey key, const float* a, const uint16_t* a_bf16, const float* b, const uint16_t* b_bf16,
               const float* bias, float* c) {
  const Operand a_operand = stored_operand(a, key.transpose_a, key.m, key.k, key.lda);
  const Operand b_operand = stored_operand(b, key.transpose_b, key.k, key.n, key.ldb);
  key.lda = a_operand.columns;  // the rounded copies are packed
  key.ldb = b_operand.columns;
  static const bool native = cpu_multiplies_bf16();
  if (native) {
    key.operands = memory::data_type::bf16;
    const auto bf16 = [](const float value) { return float_to_bfloat16(value); };
    const std::shared_ptr<void> a16 = a_bf16 == nullptr ? rounded_copy<uint16_t>(a_operand, bf16) : nullptr;
    const std::shared_ptr<void> b16 = b_bf16 == nullptr ? rounded_copy<uint16_t>(b_operand, bf16) : nullptr;
    if (run_matmul(key, a_bf16 != nullptr ? a_bf16 : a16.get(), b_bf16 != nullptr ? b_bf16 : b16.get(), bias, c)) {
      return;
    }
    key.operands = memory::data_type::f32;
  }
  const auto round = [](const float value) { return bfloat16_to_float(float_to_bfloat16(value)); };
  const std::shared_ptr<void> a_rounded = a_bf16 != nullptr ? widened_copy(a_bf16, a_operand.rows * a_operand.columns)
                                                            : rounded_copy<float>(a_operand, round);
  const std::shared_ptr<void> b_rounded = b_bf16 != nullptr ? widened_copy(b_bf16, b_operand.rows * b_operand.columns)
                                                            : rounded_copy<float>(b_operand, round);
  fp32_gemm(key, static_cast<const float*>(a_rounded.get()), static_cast<const float*>(b_rounded.get()), bias, c);
}

// Packed weights (pack_linear_weight): the B of a layer's x W^T in the blocked layout that oneDNN's matmul
// primitive chooses for it, made once, instead of the stored weight, which the primitive re-packs on every call.
// On a Zen 5 with AVX-512 and distilbert-base's shapes the packed product ran at 1.1-1.3x the unpacked one at 32
// rows and 1.03-1.08x at 4096 in fp32, and in int8 (whose packed form also holds the sums of the weight's
// columns that the s8 x s8 product on VNNI needs) at 1.35-2.4x at 32 rows and 0.95-1.2x at 4096. The layout a
// primitive chooses does not depend on the row count there; a primitive that chooses another one multiplies by
// the stored weight instead. int8 sums are exact either way. An fp32
// product reads the packed weight only where it would run the primitive on the stored one (fp32_gemm), so
// that it gives the same numbers, bit for bit, as in training, where weights are not packed.

// None for a bf16 (int8) product on a CPU without bf16 (int8) multiplies: it goes through the fp32 GEMM.
std::optional<memory::data_type> packed_operand_type(DType precision) {
  static const bool bf16 = cpu_multiplies_bf16();
  static const bool int8 = cpu_multiplies_int8();
  switch (precision) {
    case DType::BF16: return bf16 ? std::optional(memory::data_type::bf16) : std::nullopt;
    case DType::I8: return int8 ? std::optional(memory::data_type::s8) : std::nullopt;
    default: return memory::data_type::f32;
  }
}

MatmulKey packed_linear_key(int64_t rows, int64_t in_features, int64_t out_features, memory::data_type operands,
                            bool biased) {
  const int threads = omp_in_parallel() != 0 ? 1 : num_threads();
  const memory::data_type output = operands == memory::data_type::s8 ? memory::data_type::s32 : memory::data_type::f32;
  return {false,       true,        rows,         out_features, in_features,
          in_features, in_features, out_features, 1.0F,         0.0F,
          biased,      operands,    threads,      true,         dnnl::algorithm::undef,
          output};
}

// The layout of the weight [out_features, in_features] that the primitive for one row chooses; an empty desc
// where oneDNN has no such primitive or the layout is not blocked: a plain one is the stored layout or its
// transpose, which oneDNN's gemm-based matmul (AVX2) chose and then ran at 0.7-1.2x the stored weight's rate
// and with other sums. There an fp32 weight is packed in graft's panels instead (fp32_weight_in_panels).
const memory::desc& packed_weight_layout(int64_t in_features, int64_t out_features, memory::data_type operands) {
  static std::mutex mutex;
  static std::map<std::tuple<int64_t, int64_t, memory::data_type>, memory::desc> layouts;
  const std::lock_guard<std::mutex> lock(mutex);
  const auto key = std::make_tuple(in_features, out_features, operands);
  auto found = layouts.find(key);
  if (found == layouts.end()) {
    memory::desc layout;
    const std::shared_ptr<const Matmul> matmul =
        in_features > 0 ? matmul_cache().get(packed_linear_key(1, in_features, out_features, operands, false))
                        : nullptr;
    if (matmul != nullptr && matmul->b.data.format_kind == dnnl_blocked &&
        matmul->b.data.format_desc.blocking.inner_nblks > 0) {
      layout = matmul->b;
    }
    found = layouts.emplace(key, layout).first;
  }
  return found->second;
}

// Where oneDNN has no int8 matmul (or k = 0), the sums as the definition gives them: exact either way.
void reference_gemm_int8(int64_t m, int64_t n, int64_t k, const int8_t* a, const int8_t* b, int32_t* c) {
  parallel_for(0, m, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        int32_t sum = 0;
        for (int64_t p = 0; p < k; ++p) sum += static_cast<int32_t>(a[i * k + p]) * b[j * k + p];
        c[i * n + j] = sum;
      }
    }
  });
}

std::shared_ptr<void> as_floats(const int8_t* values, int64_t count) {
  std::shared_ptr<void> storage = allocate_storage(static_cast<size_t>(count) * sizeof(float));
  auto* floats = static_cast<float*>(storage.get());
  parallel_for(0, count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) floats[i] = values[i];
  });
  return storage;
}

// The fp32 sums of int8 products, whole numbers while below 2^24, as the int32 sums.
void round_sums_to_int32(const float* sums, int32_t* c, int64_t count) {
  parallel_for(0, count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) c[i] = static_cast<int32_t>(std::lrint(sums[i]));
  });
}

void emulated_gemm_int8(const MatmulKey& key, const int8_t* a, const int8_t* b, int32_t* c) {
  const std::shared_ptr<void> a_floats = as_floats(a, key.m * key.k);
  const std::shared_ptr<void> b_floats = as_floats(b, key.n * key.k);
  const std::shared_ptr<void> sums = allocate_storage(static_cast<size_t>(key.m * key.n) * sizeof(float));
  MatmulKey fp32 = key;
  fp32.operands = memory::data_type::f32;
  fp32_gemm(fp32, static_cast<const float*>(a_floats.get()), static_cast<const float*>(b_floats.get()), nullptr,
            static_cast<float*>(sums.get()));
  round_sums_to_int32(static_cast<const float*>(sums.get()), c, key.m * key.n);
}

// Without int8 multiplies the packed weight is its values as floats in panels, which the panel product reads as
// it reads an fp32 layer's: the int8 product at the fp32 one's speed, not slower by a conversion of the weight
// on every call.
void emulated_gemm_int8_with_panels(const MatmulKey& key, const int8_t* a, const void* panels, int32_t* c) {
  const std::shared_ptr<void> a_floats = as_floats(a, key.m * key.k);
  const ScratchBuffer sums(key.m * key.n, sizeof(float), ScratchFill::Uninitialized);
  auto* rounded = static_cast<float*>(sums.data);
  panel_product(rounded, key.n, static_cast<const float*>(a_floats.get()), key.k, static_cast<const float*>(panels),
                nullptr, key.m, key.k, key.n);
  round_sums_to_int32(rounded, c, key.m * key.n);
}

}  // namespace

void gemm_int8(int64_t m, int64_t n, int64_t k, const int8_t* a, const int8_t* b, int32_t* c, const void* packed_b) {
  if (m == 0 || n == 0) return;
  const MatmulKey key = packed_linear_key(m, k, n, memory::data_type::s8, false);
  MatmulKey unpacked = key;
  unpacked.packed_b = false;
  static const bool native = cpu_multiplies_int8();
  MatmulKey fp32 = unpacked;
  fp32.operands = memory::data_type::f32;
  if (k == 0) {
    reference_gemm_int8(m, n, k, a, b, c);
  } else if (!native && packed_b != nullptr && panels_take_the_product(fp32)) {
    emulated_gemm_int8_with_panels(fp32, a, packed_b, c);
  } else if (!native) {
    emulated_gemm_int8(unpacked, a, b, c);
  } else if ((packed_b == nullptr || !run_matmul(key, a, packed_b, nullptr, c)) &&
             !run_matmul(unpacked, a, b, nullptr, c)) {
    reference_gemm_int8(m, n, k, a, b, c);
  }
}

namespace {

// An fp32 weight, or an int8 one on a CPU without int8 multiplies, that the panel product reads (its values as
// floats): where oneDNN has no packed fp32 layout for it and it is not too small for the product to take it.
bool packed_in_panels(int64_t in_features, int64_t out_features, DType precision) {
  static const bool int8 = cpu_multiplies_int8();
  return (precision == DType::F32 || (precision == DType::I8 && !int8)) &&
         in_features * out_features >= kLeastWeightForThePrimitive && fp32_weight_in_panels(in_features, out_features);
}

}  // namespace

int64_t packed_linear_weight_bytes(int64_t in_features, int64_t out_features, DType precision) {
  if (packed_in_panels(in_features, out_features, precision)) {
    return panel_floats(in_features, out_features) * static_cast<int64_t>(sizeof(float));
  }
  const std::optional<memory::data_type> operands = packed_operand_type(precision);
  if (!operands) return 0;
  if (precision == DType::F32 && in_features * out_features < kLeastWeightForThePrimitive) return 0;
  return static_cast<int64_t>(packed_weight_layout(in_features, out_features, *operands).get_size());
}

void pack_linear_weight(void* packed, const void* weight, int64_t in_features, int64_t out_features, DType precision) {
  check(packed_linear_weight_bytes(in_features, out_features, precision) > 0, "pack_linear_weight",
        "no packed layout for a " + std::to_string(out_features) + " x " + std::to_string(in_features) + " " +
            std::string(dtype_name(precision)) + " weight on this CPU");
  if (packed_in_panels(in_features, out_features, precision)) {
    auto* panels = static_cast<float*>(packed);
    if (precision == DType::I8) {
      pack_panels(panels, static_cast<const int8_t*>(weight), in_features, in_features, out_features);
    } else {
      pack_panels(panels, static_cast<const float*>(weight), in_features, in_features, out_features);
    }
    return;
  }
  const memory::data_type operands = *packed_operand_type(precision);
  std::shared_ptr<void> rounded;  // rounded by graft, as every other bf16 operand is; the reorder only moves
  const void* stored = weight;
  if (operands == memory::data_type::bf16) {
    rounded = allocate_storage(static_cast<size_t>(in_features * out_features) * sizeof(uint16_t));
    round_to_bf16(static_cast<uint16_t*>(rounded.get()), static_cast<const float*>(weight), in_features * out_features);
    stored = rounded.get();
  }
  const dnnl::engine& engine = cpu_engine();
  memory source(memory::desc({in_features, out_features}, operands, memory::dims{1, in_features}), engine,
                const_cast<void*>(stored));
  memory destination(packed_weight_layout(in_features, out_features, operands), engine, packed);
  dnnl::reorder(source, destination).execute(thread_stream(), source, destination);
  thread_stream().wait();
}

namespace {

dnnl::algorithm onednn_activation(Activation activation) {
  switch (activation) {
    case Activation::Gelu: return dnnl::algorithm::eltwise_gelu_erf;
    case Activation::Relu: return dnnl::algorithm::eltwise_relu;
    case Activation::Tanh: return dnnl::algorithm::eltwise_tanh;
  }
  throw Error("[op] linear_activation: unknown activation");
}

// in * packed_weight^T + bias, then the activation when given, through graft's panel product or the
// primitive of `key` (packed_linear_key's, output added).
bool run_with_packed_weight(MatmulKey key, std::optional<Activation> activation, void* out, const float* in,
                            const uint16_t* in_bf16, const void* packed_weight, const float* bias) {
  if (key.operands == memory::data_type::f32 && key.output == memory::data_type::f32 && panels_take_the_product(key)) {
    panel_product(static_cast<float*>(out), key.ldc, in, key.lda, static_cast<const float*>(packed_weight), bias, key.m,
                  key.k, key.n, activation);
    return true;
  }
  if (activation) key.activation = onednn_activation(*activation);
  if (key.operands == memory::data_type::f32)
    return primitive_wins_in_fp32(key) && run_matmul(key, in, packed_weight, bias, out);
  if (in_bf16 != nullptr) return run_matmul(key, in_bf16, packed_weight, bias, out);
  const auto bf16 = [](const float value) { return float_to_bfloat16(value); };
  const std::shared_ptr<void> rounded = rounded_copy<uint16_t>(Operand{in, key.m, key.k, key.k}, bf16);
  return run_matmul(key, rounded.get(), packed_weight, bias, out);
}

}  // namespace

bool linear_with_packed_weight(float* out, const float* in, const uint16_t* in_bf16, const void* packed_weight,
                               const float* bias, int64_t rows, int64_t in_features, int64_t out_features,
                               DType precision) {
  const std::optional<memory::data_type> operands = packed_operand_type(precision);
  if (!operands) return false;
  if (rows == 0 || out_features == 0) return true;
  return run_with_packed_weight(packed_linear_key(rows, in_features, out_features, *operands, bias != nullptr),
                                std::nullopt, out, in, in_bf16, packed_weight, bias);
}

bool linear_activation_with_packed_weight(void* out, DType output, Activation activation, const float* in,
                                          const uint16_t* in_bf16, const void* packed_weight, const float* bias,
                                          int64_t rows, int64_t in_features, int64_t out_features, DType precision) {
  check(output == DType::F32 || output == DType::BF16, "linear_activation",
        "output must be F32 or BF16, not " + std::string(dtype_name(output)));
  const std::optional<memory::data_type> operands = packed_operand_type(precision);
  if (!operands || precision == DType::I8) return false;
  if (rows == 0 || out_features == 0) return true;
  MatmulKey key = packed_linear_key(rows, in_features, out_features, *operands, bias != nullptr);
  key.output = output == DType::BF16 ? memory::data_type::bf16 : memory::data_type::f32;
  return run_with_packed_weight(key, activation, out, in, in_bf16, packed_weight, bias);
}

void round_to_bf16(uint16_t* out, const float* in, int64_t count) {
  parallel_for(0, count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = float_to_bfloat16(in[i]);
  });
}

void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, DType precision, const float* row_bias,
          const uint16_t* b_bf16, const uint16_t* a_bf16) {
  if (m == 0 || n == 0) return;
  check_matmul_dtype(precision, "gemm");
  check(row_bias == nullptr || (alpha == 1.0F && beta == 0.0F), "gemm",
        "a bias is added only to an unscaled product that overwrites C (alpha = 1, beta = 0)");
  const int threads = omp_in_parallel() != 0 ? 1 : num_threads();
  const MatmulKey key{transpose_a,
                      transpose_b,
                      m,
                      n,
                      k,
                      lda,
                      ldb,
                      ldc,
                      alpha,
                      beta,
                      row_bias != nullptr,
                      memory::data_type::f32,
                      threads,
                      false,
                      dnnl::algorithm::undef,
                      memory::data_type::f32};
  if (precision == DType::BF16) {
    bf16_gemm(key, a, a_bf16, b, b_bf16, row_bias, c);
  } else {
    fp32_gemm(key, a, b, row_bias, c);
  }
}

}  // namespace graft::kernels
