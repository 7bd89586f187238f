// This instruction set's kernels, gathered into the table that dispatch.cpp chooses from. Nothing here runs:
// the table is constant data, so no code compiled for this set runs before the set is chosen.
#include "kernels/cpu/isa_kernels.h"

#define GRAFT_STRINGIZE_VALUE(x) #x
#define GRAFT_STRINGIZE(x) GRAFT_STRINGIZE_VALUE(x)

namespace graft::kernels::GRAFT_KERNEL_ISA {

#ifdef __AVX512F__
constexpr bool kUsesAvx512 = true;
#else
constexpr bool kUsesAvx512 = false;
#endif

// GRAFT_KERNEL_NEEDS names the CpuFeatures flag of the instructions this set was compiled for.
extern const KernelTable table;
constinit const KernelTable table = {GRAFT_STRINGIZE(GRAFT_KERNEL_ISA), kUsesAvx512, &CpuFeatures::GRAFT_KERNEL_NEEDS,
#define GRAFT_KERNEL_ADDRESS(name) &name,
                                     GRAFT_ISA_KERNELS(GRAFT_KERNEL_ADDRESS)
#undef GRAFT_KERNEL_ADDRESS
};

}  // namespace graft::kernels::GRAFT_KERNEL_ISA
