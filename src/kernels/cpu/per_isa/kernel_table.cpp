// This instruction set's kernels, gathered into the table that dispatch.cpp chooses from.
#include "graft/core/cpu.h"
#include "kernels/cpu/isa_kernels.h"

#define GRAFT_STRINGIZE_VALUE(x) #x
#define GRAFT_STRINGIZE(x) GRAFT_STRINGIZE_VALUE(x)

namespace graft::kernels::GRAFT_KERNEL_ISA {

namespace {
// GRAFT_KERNEL_NEEDS names the CpuFeatures flag of the instructions this set was compiled for.
bool runs_here() {
  return cpu_features().GRAFT_KERNEL_NEEDS;
}
}  // namespace

#ifdef __AVX512F__
constexpr bool kUsesAvx512 = true;
#else
constexpr bool kUsesAvx512 = false;
#endif

extern const KernelTable table;
const KernelTable table = {GRAFT_STRINGIZE(GRAFT_KERNEL_ISA), kUsesAvx512, &runs_here,
#define GRAFT_KERNEL_ADDRESS(name) &name,
                           GRAFT_ISA_KERNELS(GRAFT_KERNEL_ADDRESS)
#undef GRAFT_KERNEL_ADDRESS
};

}  // namespace graft::kernels::GRAFT_KERNEL_ISA
