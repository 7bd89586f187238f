#pragma once
// Zero-filled memory for a kernel's temporaries, freed when it goes out of scope. The kernels compiled once
// per instruction set (per_isa/) use it rather than std::vector: its members are compiled here, once, for
// the baseline, where std::vector's inline members would be compiled into every set's objects and the
// linker could hand an AVX-512 copy to code running on an AVX2 CPU.
#include <cstddef>
#include <cstdint>

namespace graft::kernels {

class ScratchBuffer {
 public:
  ScratchBuffer(int64_t count, size_t element_size);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

  void* const data;
};

}  // namespace graft::kernels
