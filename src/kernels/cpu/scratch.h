#pragma once
// Memory for a kernel's temporaries, freed (to graft's allocator, which keeps large blocks for the next step)
// when it goes out of scope. The kernels compiled once per instruction set (per_isa/) use it rather than
// std::vector or std::shared_ptr: its members are compiled here, once, for the baseline, where those templates'
// inline members would be compiled into every set's objects and the linker could hand an AVX-512 copy to code
// running on an AVX2 CPU.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace graft::kernels {

enum class ScratchFill : uint8_t { Zeros, Uninitialized };

class ScratchBuffer {
 public:
  ScratchBuffer(int64_t count, size_t element_size, ScratchFill fill = ScratchFill::Zeros);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

 private:
  std::shared_ptr<void> storage_;

 public:
  void* const data;
};

}  // namespace graft::kernels
