#pragma once
// The kernels compiled once for each instruction set the build targets (per_isa/, CMakeLists.txt's
// GRAFT_CPU), and the choice among them: kernels.h's functions (dispatch.cpp) call the widest set this CPU
// runs, chosen once. Each set is compiled into its own namespace, graft::kernels::<set>, named by the macro
// GRAFT_KERNEL_ISA, so that no function is defined twice with different instructions.
#include <vector>

#include "graft/core/cpu.h"
#include "graft/kernels/kernels.h"

// Every kernel of kernels.h but gemm and gemm_int8, which are oneDNN's (it chooses its own instructions at run
// time), and round_to_bf16, the weight packing and the products with a packed weight, which gemm.cpp shares
// with gemm.
// clang-format off
#define GRAFT_ISA_KERNELS(X)                                                                               \
  X(linear_forward) X(linear_backward) X(layer_norm_forward) X(layer_norm_backward)                        \
  X(activation_forward) X(activation_backward) X(embedding_forward) X(embedding_backward)                  \
  X(attention_forward) X(attention_backward) X(attention_forward_packed) X(cross_entropy) X(binary_cross_entropy_with_logits)          \
  X(mean_squared_error) X(softmax_rows) X(add_inplace) X(apply_dropout) X(quantize_rows_int8)              \
  X(linear_forward_int8)
// clang-format on

namespace graft::kernels {

struct KernelTable {
  const char* isa;           // "avx2", "avx512" or "native": the set's name, as the build and the tests say it
  bool uses_avx512;          // compiled with AVX-512 instructions
  bool CpuFeatures::*needs;  // the CPU feature the set was compiled for (read by baseline code, dispatch.cpp)
#define GRAFT_KERNEL_POINTER(name) decltype(&kernels::name) name;
  GRAFT_ISA_KERNELS(GRAFT_KERNEL_POINTER)
#undef GRAFT_KERNEL_POINTER
};

// The sets this build has, widest first.
std::vector<const KernelTable*> compiled_kernel_tables();

// Whether this CPU has the instructions `table` was compiled for.
bool runs_here(const KernelTable& table);

// The set kernels.h's functions use: the first compiled set that runs here and that ONEDNN_MAX_CPU_ISA
// allows (the variable caps oneDNN's own choice the same way, so one setting runs graft as on a smaller CPU).
const KernelTable& kernel_table();

}  // namespace graft::kernels

#ifdef GRAFT_KERNEL_ISA
// In a set's own files, its kernels are declared in its namespace, so that they call each other rather than
// the dispatch (declared by the public kernels' types: a signature that drifts from kernels.h does not compile).
namespace graft::kernels::GRAFT_KERNEL_ISA {
#define GRAFT_DECLARE_KERNEL(name) decltype(kernels::name) name;
GRAFT_ISA_KERNELS(GRAFT_DECLARE_KERNEL)
#undef GRAFT_DECLARE_KERNEL
}  // namespace graft::kernels::GRAFT_KERNEL_ISA
#endif
